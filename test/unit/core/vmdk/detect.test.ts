// SPDX-License-Identifier: MIT
// Detection against files made by the real tools (qemu-img, mkfs, sfdisk, sgdisk, archivers).
import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DETECT_PREFIX_BYTES, describeNonVmdk, detectVmdkKind } from '../../../../src/core/index.js';
import { ascii, bytes, u32le, u64le, zeros } from '../../../helpers/bytes.js';
import { runSync } from '../../../helpers/run.js';
import { makeTempDir } from '../../../helpers/temp-dir.js';

let dir = '';
let cleanup: () => Promise<void> = async () => {};

beforeAll(async () => {
	({ dir, cleanup } = await makeTempDir('vmdk-detect-'));
});
afterAll(async () => {
	await cleanup();
});

async function head(name: string): Promise<Uint8Array> {
	const fh = await open(join(dir, name), 'r');
	try {
		const buf = new Uint8Array(DETECT_PREFIX_BYTES);
		const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
		return buf.subarray(0, bytesRead);
	} finally {
		await fh.close();
	}
}

describe('detectVmdkKind', () => {
	it('recognises every VMDK subformat qemu-img writes', async () => {
		runSync('qemu-img', ['create', '-f', 'raw', 'r.raw', '1M'], { cwd: dir });
		const expected: [string, string, string][] = [
			['monolithicSparse', 'ms.vmdk', 'hosted-sparse'],
			['streamOptimized', 'so.vmdk', 'hosted-sparse'],
			['monolithicFlat', 'mf.vmdk', 'descriptor'],
			['twoGbMaxExtentSparse', 'ts.vmdk', 'descriptor'],
			['twoGbMaxExtentFlat', 'tf.vmdk', 'descriptor'],
		];
		for (const [subformat, name, kind] of expected) {
			runSync('qemu-img', ['convert', '-O', 'vmdk', '-o', `subformat=${subformat}`, 'r.raw', name], {
				cwd: dir,
			});
			expect(detectVmdkKind(await head(name)), subformat).toBe(kind);
		}
		// The split sparse extent of twoGbMaxExtentSparse is itself a KDMV file.
		expect(detectVmdkKind(await head('ts-s001.vmdk'))).toBe('hosted-sparse');
		// The flat data file is not a VMDK by itself.
		expect(detectVmdkKind(await head('mf-flat.vmdk'))).toBeUndefined();
	});

	it('recognises COWD and seSparse magics and descriptor text variants', () => {
		expect(detectVmdkKind(bytes(ascii('COWD'), u32le(1), u32le(3), zeros(500)))).toBe('cowd');
		expect(detectVmdkKind(bytes(u64le(0xcafebaben), u64le(0x200000001n), zeros(496)))).toBe('sesparse');
		expect(detectVmdkKind(ascii('\r\n# Disk Descriptor File\r\nversion=1\r\n'))).toBe('descriptor');
		expect(detectVmdkKind(ascii('# disk descriptorfile\n'))).toBe('descriptor');
		expect(detectVmdkKind(bytes([0xef, 0xbb, 0xbf], ascii('# Disk DescriptorFile\n')))).toBe('descriptor');
		expect(detectVmdkKind(ascii('# hand-made\n\nversion = 1\ncreateType="custom"\n'))).toBe('descriptor');
		expect(detectVmdkKind(ascii('# notes\nsomething=1\n'))).toBeUndefined();
		expect(detectVmdkKind(ascii('KDM'))).toBeUndefined();
		expect(detectVmdkKind(new Uint8Array(0))).toBeUndefined();
	});
});

describe('describeNonVmdk', () => {
	it('names other disk image formats made by qemu-img', async () => {
		const cases: [string, RegExp][] = [
			['qcow2', /QCOW2 image/],
			['qcow', /a QCOW image/],
			['vpc', /VHD image/],
			['vhdx', /VHDX image/],
			['vdi', /VDI image/],
			['parallels', /Parallels image/],
		];
		for (const [format, phrase] of cases) {
			runSync('qemu-img', ['create', '-f', format, `x.${format}`, '1M'], { cwd: dir });
			const first = await head(`x.${format}`);
			expect(detectVmdkKind(first), format).toBeUndefined();
			expect(describeNonVmdk(first), format).toMatch(phrase);
		}
	});

	it('names raw disks and filesystems made by sfdisk, sgdisk and mkfs', async () => {
		runSync('truncate', ['-s', '4M', 'mbr.raw', 'gpt.raw', 'ext.raw', 'ntfs.raw', 'fat.raw', 'zero.raw'], {
			cwd: dir,
		});
		runSync('sfdisk', ['-q', 'mbr.raw'], { cwd: dir, input: 'start=2048, type=83\n' });
		runSync('sgdisk', ['-n', '1:2048:0', 'gpt.raw'], { cwd: dir });
		runSync('mkfs.ext4', ['-q', '-F', 'ext.raw'], { cwd: dir });
		runSync('mkntfs', ['-q', '-F', '-f', 'ntfs.raw'], { cwd: dir });
		runSync('mkfs.vfat', ['fat.raw'], { cwd: dir });
		runSync('genisoimage', ['-quiet', '-o', 'cd.iso', 'mbr.raw'], { cwd: dir });
		expect(describeNonVmdk(await head('mbr.raw'))).toBe('a raw disk image with an MBR');
		expect(describeNonVmdk(await head('gpt.raw'))).toBe('a raw disk image with a GPT partition table');
		expect(describeNonVmdk(await head('ext.raw'))).toMatch(/ext2\/3\/4 filesystem/);
		expect(describeNonVmdk(await head('ntfs.raw'))).toMatch(/NTFS filesystem/);
		expect(describeNonVmdk(await head('fat.raw'))).toMatch(/FAT filesystem/);
		expect(describeNonVmdk(await head('cd.iso'))).toMatch(/ISO 9660/);
		expect(describeNonVmdk(await head('zero.raw'))).toMatch(/all zero bytes/);
	});

	it('names archives, text, .vmx files and empty files', async () => {
		await writeFile(join(dir, 'note.txt'), 'hello, this is a note\n');
		runSync('gzip', ['-k', 'note.txt'], { cwd: dir });
		runSync('xz', ['-k', 'note.txt'], { cwd: dir });
		runSync('bzip2', ['-k', 'note.txt'], { cwd: dir });
		runSync('zip', ['-q', 'note.zip', 'note.txt'], { cwd: dir });
		runSync('tar', ['-cf', 'note.ova', 'note.txt'], { cwd: dir });
		expect(describeNonVmdk(await head('note.txt.gz'))).toMatch(/gzip archive/);
		expect(describeNonVmdk(await head('note.txt.xz'))).toMatch(/xz archive/);
		expect(describeNonVmdk(await head('note.txt.bz2'))).toMatch(/bzip2 archive/);
		expect(describeNonVmdk(await head('note.zip'))).toMatch(/zip archive/);
		expect(describeNonVmdk(await head('note.ova'))).toMatch(/tar archive/);
		expect(describeNonVmdk(await head('note.txt'))).toBe('text that is not a VMDK descriptor');
		expect(
			describeNonVmdk(ascii('.encoding = "UTF-8"\nconfig.version = "8"\nvirtualHW.version = "19"\n')),
		).toMatch(/\.vmx configuration file/);
		expect(describeNonVmdk(new Uint8Array(0))).toBe('empty');
		expect(describeNonVmdk(Uint8Array.of(1, 2, 3, 4, 0, 0xff, 0x80, 9, 0))).toMatch(
			/unknown kind \(starts 01 02 03 04/,
		);
	});
});
