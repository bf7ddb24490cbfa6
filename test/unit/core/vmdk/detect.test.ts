// SPDX-License-Identifier: MIT
// Detection against files made by the real tools (qemu-img, mkfs, sfdisk, sgdisk, archivers).
import { execFileSync } from 'node:child_process';
import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DETECT_PREFIX_BYTES, describeNonVmdk, detectVmdkKind } from '../../../../src/core/index.js';
import { ascii, bytes, u32le, u64le, zeros } from '../../../helpers/bytes.js';
import { makeTempDir } from '../../../helpers/temp-dir.js';

let dir = '';
let cleanup: () => Promise<void> = async () => {};

beforeAll(async () => {
	({ dir, cleanup } = await makeTempDir('vmdk-detect-'));
});
afterAll(async () => {
	await cleanup();
});

function run(cmd: string, args: string[]): void {
	execFileSync(cmd, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

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
		run('qemu-img', ['create', '-f', 'raw', 'r.raw', '1M']);
		const expected: [string, string, string][] = [
			['monolithicSparse', 'ms.vmdk', 'hosted-sparse'],
			['streamOptimized', 'so.vmdk', 'hosted-sparse'],
			['monolithicFlat', 'mf.vmdk', 'descriptor'],
			['twoGbMaxExtentSparse', 'ts.vmdk', 'descriptor'],
			['twoGbMaxExtentFlat', 'tf.vmdk', 'descriptor'],
		];
		for (const [subformat, name, kind] of expected) {
			run('qemu-img', ['convert', '-O', 'vmdk', '-o', `subformat=${subformat}`, 'r.raw', name]);
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
			run('qemu-img', ['create', '-f', format, `x.${format}`, '1M']);
			const first = await head(`x.${format}`);
			expect(detectVmdkKind(first), format).toBeUndefined();
			expect(describeNonVmdk(first), format).toMatch(phrase);
		}
	});

	it('names raw disks and filesystems made by sfdisk, sgdisk and mkfs', async () => {
		run('truncate', ['-s', '4M', 'mbr.raw', 'gpt.raw', 'ext.raw', 'ntfs.raw', 'fat.raw', 'zero.raw']);
		execFileSync('sfdisk', ['-q', join(dir, 'mbr.raw')], { input: 'start=2048, type=83\n' });
		run('sgdisk', ['-n', '1:2048:0', 'gpt.raw']);
		run('mkfs.ext4', ['-q', '-F', 'ext.raw']);
		run('mkntfs', ['-q', '-F', '-f', 'ntfs.raw']);
		run('mkfs.vfat', ['fat.raw']);
		run('genisoimage', ['-quiet', '-o', 'cd.iso', 'mbr.raw']);
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
		run('gzip', ['-k', 'note.txt']);
		run('xz', ['-k', 'note.txt']);
		run('bzip2', ['-k', 'note.txt']);
		run('zip', ['-q', 'note.zip', 'note.txt']);
		run('tar', ['-cf', 'note.ova', 'note.txt']);
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
