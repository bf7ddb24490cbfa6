// SPDX-License-Identifier: MIT
// Differential tests: every VMDK subformat and snapshot chains that qemu-img / qemu-io write,
// read through openDisk, must equal `qemu-img convert -O raw` of the same file. No FUSE.
import { createHash } from 'node:crypto';
import { copyFile, mkdir, open, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VmdkError, openDisk, type OpenDiskOptions, type VirtualDisk } from '../../src/core/index.js';
import { nodePlatform } from '../../src/host/node/node-platform.js';
import { prng } from '../helpers/prng.js';
import { run } from '../helpers/run.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const KiB = 1024;
const MiB = 1024 * KiB;
/** The reference disk: 6 MiB with random and zero regions, some not grain-aligned. */
const REF_SIZE_BYTES = 6 * MiB;
const RANDOM_REGIONS: [number, number][] = [
	[0, 1 * MiB],
	[2 * MiB + 12_345, 100 * KiB],
	[3 * MiB + 64 * KiB, 64 * KiB],
	[REF_SIZE_BYTES - 70 * KiB, 70 * KiB],
];

let dir = '';
let cleanup: () => Promise<void> = async () => {};
let reference = new Uint8Array(0);

/** Byte equality without vitest's slow element-by-element diff of large arrays. */
function expectBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
	if (Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength).equals(expected)) return;
	const at = actual.findIndex((b, i) => b !== expected[i]);
	throw new Error(`${what}: ${actual.length} bytes vs ${expected.length}, first difference at ${at}`);
}

function sha256(bytes: Uint8Array): string {
	return createHash('sha256').update(bytes).digest('hex');
}

async function qemuImg(...args: string[]): Promise<void> {
	await run('qemu-img', args, { cwd: dir });
}

async function qemuIo(file: string, ...commands: string[]): Promise<void> {
	await run('qemu-io', ['-f', 'vmdk', ...commands.flatMap((c) => ['-c', c]), file], { cwd: dir });
}

/** What QEMU reads from `name`: `qemu-img convert -O raw`. */
async function qemuRaw(name: string): Promise<Uint8Array> {
	const out = join(dir, `${name}.qemu.raw`);
	await qemuImg('convert', '-f', 'vmdk', '-O', 'raw', name, out);
	const bytes = new Uint8Array(await readFile(out));
	await rm(out);
	return bytes;
}

/** Opens, checks whole-disk equality and random range reads against QEMU's bytes, closes. */
async function expectSameAsQemu(name: string, options?: OpenDiskOptions): Promise<VirtualDisk> {
	const expected = await qemuRaw(name);
	const disk = await openDisk(join(dir, name), nodePlatform, options);
	try {
		expect(disk.sizeBytes, name).toBe(expected.length);
		expect(sha256(await disk.read(0, disk.sizeBytes)), name).toBe(sha256(expected));
		const random = prng(disk.sizeBytes);
		for (let i = 0; i < 40; i++) {
			const offset = Math.floor(random() * disk.sizeBytes);
			const length = Math.min(disk.sizeBytes - offset, 1 + Math.floor(random() * 200 * KiB));
			const got = await disk.read(offset, length);
			if (sha256(got) !== sha256(expected.subarray(offset, offset + length))) {
				throw new Error(`${name}: read of ${length} bytes at ${offset} differs from qemu-img`);
			}
		}
	} finally {
		await disk.close();
	}
	return disk;
}

async function openError(name: string, options?: OpenDiskOptions): Promise<VmdkError> {
	try {
		const disk = await openDisk(join(dir, name), nodePlatform, options);
		await disk.close();
	} catch (e) {
		if (e instanceof VmdkError) return e;
		throw e;
	}
	throw new Error(`expected ${name} to fail`);
}

/** Rewrites a text descriptor with `edit`. */
async function editDescriptor(name: string, edit: (text: string) => string): Promise<void> {
	const path = join(dir, name);
	await writeFile(path, edit(await readFile(path, 'utf8')));
}

beforeAll(async () => {
	({ dir, cleanup } = await makeTempDir('vmdk-qemu-'));
	reference = new Uint8Array(REF_SIZE_BYTES);
	const random = prng(42);
	for (const [start, length] of RANDOM_REGIONS) {
		for (let i = start; i < start + length; i++) reference[i] = Math.floor(random() * 256);
	}
	await writeFile(join(dir, 'ref.raw'), reference);
});

afterAll(async () => {
	await cleanup();
});

describe('openDisk against qemu-img: every subformat', () => {
	it.each([
		'monolithicSparse',
		'monolithicFlat',
		'twoGbMaxExtentSparse',
		'twoGbMaxExtentFlat',
		'streamOptimized',
	])('%s reads back the reference image', async (subformat) => {
		const name = `${subformat}.vmdk`;
		await qemuImg('convert', '-f', 'raw', '-O', 'vmdk', '-o', `subformat=${subformat}`, 'ref.raw', name);
		const disk = await expectSameAsQemu(name);
		expect(disk.chain).toHaveLength(1);
		expect(disk.chain[0]?.createType).toBe(subformat);
		expect(disk.chain[0]?.parentCid).toBe('ffffffff');
		expect(disk.chain[0]?.cid).toMatch(/^[0-9a-f]{8}$/);
		const reopened = await openDisk(join(dir, name), nodePlatform);
		expect(sha256(await reopened.read(0, reopened.sizeBytes))).toBe(sha256(reference));
		// The long zero region is reported as zeros (sparse formats) or data (flat), never misread.
		const run = await reopened.mapRun(4 * MiB, MiB);
		expect(run.kind === 'zero' || run.kind === 'data').toBe(true);
		if (subformat.includes('Sparse') || subformat === 'streamOptimized') expect(run.kind).toBe('zero');
		await reopened.close();
	});

	it('reads a renamed monolithicSparse and streamOptimized file whose embedded extent line is stale', async () => {
		for (const subformat of ['monolithicSparse', 'streamOptimized']) {
			await qemuImg(
				'convert',
				'-f',
				'raw',
				'-O',
				'vmdk',
				'-o',
				`subformat=${subformat}`,
				'ref.raw',
				`orig-${subformat}.vmdk`,
			);
			await rename(join(dir, `orig-${subformat}.vmdk`), join(dir, `renamed-${subformat}.vmdk`));
			const disk = await openDisk(join(dir, `renamed-${subformat}.vmdk`), nodePlatform);
			expect(disk.layers[0]?.descriptor?.extents[0]?.fileName).toBe(`orig-${subformat}.vmdk`);
			expect(sha256(await disk.read(0, disk.sizeBytes)), subformat).toBe(sha256(reference));
			await disk.close();
		}
	});

	it('reads split extents across the 2 GiB boundary (twoGbMaxExtentSparse/Flat of a 2 GiB + 1 MiB disk)', async () => {
		const size = 2 * 1024 * MiB + MiB;
		const big = join(dir, 'big.raw');
		const fh = await open(big, 'w');
		const random = prng(7);
		const patch = new Uint8Array(256 * KiB).map(() => Math.floor(random() * 256));
		const at = 2 * 1024 * MiB - 128 * KiB;
		await fh.truncate(size);
		await fh.write(patch, 0, patch.length, at);
		await fh.write(patch, 0, patch.length, size - patch.length);
		await fh.close();
		for (const subformat of ['twoGbMaxExtentSparse', 'twoGbMaxExtentFlat']) {
			await qemuImg(
				'convert',
				'-f',
				'raw',
				'-O',
				'vmdk',
				'-o',
				`subformat=${subformat}`,
				'big.raw',
				`big-${subformat}.vmdk`,
			);
			const disk = await openDisk(join(dir, `big-${subformat}.vmdk`), nodePlatform);
			expect(disk.layers[0]?.descriptor?.extents).toHaveLength(2);
			expect(disk.sizeBytes).toBe(size);
			expectBytes(await disk.read(at, patch.length), patch, `${subformat} across 2 GiB`);
			expectBytes(await disk.read(size - patch.length, patch.length), patch, `${subformat} at the end`);
			expectBytes(await disk.read(at - 4096, 4096), new Uint8Array(4096), `${subformat} before the patch`);
			await disk.close();
		}
		await rm(big);
	});
});

describe('openDisk against qemu-img: snapshot chains', () => {
	it('reads a 3-level chain written by qemu-io, each level equal to QEMU', async () => {
		await qemuImg(
			'convert',
			'-f',
			'raw',
			'-O',
			'vmdk',
			'-o',
			'subformat=monolithicSparse',
			'ref.raw',
			'base.vmdk',
		);
		await qemuImg('create', '-f', 'vmdk', '-b', 'base.vmdk', '-F', 'vmdk', 'mid.vmdk');
		await qemuIo('mid.vmdk', 'write -P 0x5a 1M 64k', 'write -P 0x5b 300000 5000', 'write -P 0x5c 6080k 64k');
		await qemuImg(
			'create',
			'-f',
			'vmdk',
			'-o',
			'zeroed_grain=on',
			'-b',
			'mid.vmdk',
			'-F',
			'vmdk',
			'leaf.vmdk',
		);
		await qemuIo('leaf.vmdk', 'write -P 0xa5 1056k 8k', 'write -z 0 64k', 'write -P 0xa6 2M 1M');
		const disk = await expectSameAsQemu('leaf.vmdk');
		expect(disk.chain.map((l) => l.path)).toEqual(
			['leaf.vmdk', 'mid.vmdk', 'base.vmdk'].map((n) => join(dir, n)),
		);
		expect(disk.chain[0]?.parentCid).toBe(disk.chain[1]?.cid);
		expect(disk.chain[1]?.parentCid).toBe(disk.chain[2]?.cid);
		expect(disk.warnings).toEqual([]);
		await expectSameAsQemu('mid.vmdk');
		// The zeroed grain in the leaf hides the base's random data.
		const reopened = await openDisk(join(dir, 'leaf.vmdk'), nodePlatform);
		expectBytes(await reopened.read(0, 64 * KiB), new Uint8Array(64 * KiB), 'zeroed grain');
		expect(await reopened.mapRun(0, MiB)).toEqual({ kind: 'zero', lengthBytes: 64 * KiB });
		await reopened.close();
	});

	it('follows text-descriptor children with absolute, relative-folder and Windows parent hints', async () => {
		await qemuImg(
			'convert',
			'-f',
			'raw',
			'-O',
			'vmdk',
			'-o',
			'subformat=twoGbMaxExtentSparse',
			'ref.raw',
			'tbase.vmdk',
		);
		await mkdir(join(dir, 'snaps'));
		await qemuImg(
			'create',
			'-f',
			'vmdk',
			'-o',
			'subformat=twoGbMaxExtentSparse',
			'-b',
			join(dir, 'tbase.vmdk'),
			'-F',
			'vmdk',
			'snaps/tchild.vmdk',
		);
		await qemuIo('snaps/tchild.vmdk', 'write -P 0x77 512k 128k');
		await expectSameAsQemu('snaps/tchild.vmdk');
		await editDescriptor('snaps/tchild.vmdk', (t) =>
			t.replace(/parentFileNameHint="[^"]*"/, 'parentFileNameHint="../tbase.vmdk"'),
		);
		await expectSameAsQemu('snaps/tchild.vmdk');
		// A Windows path is looked up by file name next to the child, then in parentSearchDirs.
		await editDescriptor('snaps/tchild.vmdk', (t) =>
			t.replace(/parentFileNameHint="[^"]*"/, 'parentFileNameHint="C:\\\\VMs\\\\Win 10\\\\tbase.vmdk"'),
		);
		const missing = await openError('snaps/tchild.vmdk');
		expect(missing.code).toBe('VMDK_MISSING_PARENT');
		expect(missing.message).toContain(join(dir, 'snaps', 'tbase.vmdk'));
		const disk = await openDisk(join(dir, 'snaps/tchild.vmdk'), nodePlatform, { parentSearchDirs: [dir] });
		expect(disk.chain[1]?.path).toBe(join(dir, 'tbase.vmdk'));
		const qemuView = await qemuRaw('tbase.vmdk');
		qemuView.fill(0x77, 512 * KiB, 640 * KiB);
		expect(sha256(await disk.read(0, disk.sizeBytes))).toBe(sha256(qemuView));
		await disk.close();
	});

	it('refuses a CID mismatch and reads the chain with ignoreCid', async () => {
		await qemuImg(
			'convert',
			'-f',
			'raw',
			'-O',
			'vmdk',
			'-o',
			'subformat=monolithicFlat',
			'ref.raw',
			'cbase.vmdk',
		);
		await qemuImg(
			'create',
			'-f',
			'vmdk',
			'-o',
			'subformat=twoGbMaxExtentSparse',
			'-b',
			'cbase.vmdk',
			'-F',
			'vmdk',
			'cchild.vmdk',
		);
		await qemuIo('cchild.vmdk', 'write -P 0x33 0 4k');
		// QEMU itself refuses to read a mismatched chain, so take its view before the edit.
		const before = await qemuRaw('cchild.vmdk');
		await editDescriptor('cbase.vmdk', (t) => t.replace(/^CID=.*$/m, 'CID=0badc0de'));
		const e = await openError('cchild.vmdk');
		expect(e.code).toBe('VMDK_CID_MISMATCH');
		expect(e.file).toBe(join(dir, 'cchild.vmdk'));
		expect(e.message).toMatch(
			/cchild\.vmdk has parentCID [0-9a-f]{8} but its parent .*cbase\.vmdk has CID 0badc0de/,
		);
		const disk = await openDisk(join(dir, 'cchild.vmdk'), nodePlatform, { ignoreCid: true });
		expect(disk.warnings.join('\n')).toMatch(/CID mismatch ignored/);
		expectBytes(await disk.read(0, disk.sizeBytes), before, 'chain read with ignoreCid');
		await disk.close();
	});

	it('refuses a missing extent, a missing parent and a parent cycle, naming the files', async () => {
		await qemuImg(
			'convert',
			'-f',
			'raw',
			'-O',
			'vmdk',
			'-o',
			'subformat=monolithicFlat',
			'ref.raw',
			'gone.vmdk',
		);
		await rm(join(dir, 'gone-flat.vmdk'));
		const extent = await openError('gone.vmdk');
		expect(extent.code).toBe('VMDK_MISSING_EXTENT');
		expect(extent.file).toBe(join(dir, 'gone-flat.vmdk'));

		await qemuImg(
			'convert',
			'-f',
			'raw',
			'-O',
			'vmdk',
			'-o',
			'subformat=twoGbMaxExtentSparse',
			'ref.raw',
			'pa.vmdk',
		);
		await qemuImg(
			'create',
			'-f',
			'vmdk',
			'-o',
			'subformat=twoGbMaxExtentSparse',
			'-b',
			'pa.vmdk',
			'-F',
			'vmdk',
			'pb.vmdk',
		);
		await copyFile(join(dir, 'pb.vmdk'), join(dir, 'orphan.vmdk'));
		await editDescriptor('orphan.vmdk', (t) =>
			t.replace('parentFileNameHint="pa.vmdk"', 'parentFileNameHint="deleted.vmdk"'),
		);
		const parent = await openError('orphan.vmdk');
		expect(parent.code).toBe('VMDK_MISSING_PARENT');
		expect(parent.message).toContain('"deleted.vmdk"');
		expect(parent.message).toContain(join(dir, 'deleted.vmdk'));

		// pa (base) now names pb (its child) as its parent: pb → pa → pb.
		const pbCid = /^CID=(\w+)/m.exec(await readFile(join(dir, 'pb.vmdk'), 'utf8'))?.[1] ?? '';
		await editDescriptor('pa.vmdk', (t) =>
			t.replace('parentCID=ffffffff', `parentCID=${pbCid}\nparentFileNameHint="pb.vmdk"`),
		);
		const cycle = await openError('pb.vmdk');
		expect(cycle.code).toBe('VMDK_PARENT_CYCLE');
		expect(cycle.message).toContain(
			`${join(dir, 'pb.vmdk')} → ${join(dir, 'pa.vmdk')} → ${join(dir, 'pb.vmdk')}`,
		);
	});

	it('refuses device, FIFO and folder extents without opening them (no hang), and reads them when allowed', async () => {
		await mkdir(join(dir, 'raw'));
		await run('mkfifo', [join(dir, 'raw', 'pipe')]);
		await symlink('/dev/zero', join(dir, 'raw', 'zero-link'));
		await mkdir(join(dir, 'raw', 'folder'));
		const flat = (extent: string): string =>
			`# Disk DescriptorFile\nversion=1\nCID=00000001\nparentCID=ffffffff\ncreateType="monolithicFlat"\nRW 8 FLAT "${extent}" 0\n`;
		await writeFile(join(dir, 'raw', 'fifo.vmdk'), flat('pipe'));
		await writeFile(join(dir, 'raw', 'link.vmdk'), flat('zero-link'));
		await writeFile(join(dir, 'raw', 'dev.vmdk'), flat('/dev/zero'));
		await writeFile(join(dir, 'raw', 'dir.vmdk'), flat('folder'));
		for (const name of ['fifo.vmdk', 'link.vmdk', 'dev.vmdk']) {
			const e = await openError(`raw/${name}`);
			expect(e.code, name).toBe('VMDK_RAW_DEVICE_REFUSED');
		}
		expect((await openError('raw/dir.vmdk')).code).toBe('VMDK_MISSING_EXTENT');
		expect((await openError('raw')).code).toBe('VMDK_NOT_VMDK');
		// Allowed: devices stat as 0 bytes, so the descriptor's size is trusted; /dev/zero reads zeros.
		for (const name of ['raw/dev.vmdk', 'raw/link.vmdk']) {
			const disk = await openDisk(join(dir, name), nodePlatform, { allowRawDevices: true });
			expect(disk.sizeBytes).toBe(8 * 512);
			expectBytes(await disk.read(0, 8 * 512), new Uint8Array(8 * 512), name);
			await disk.close();
		}
	});

	it('checks sparse capacity against the extent line, and refuses a split extent opened directly', async () => {
		await qemuImg(
			'convert',
			'-f',
			'raw',
			'-O',
			'vmdk',
			'-o',
			'subformat=twoGbMaxExtentSparse',
			'ref.raw',
			'cap.vmdk',
		);
		const sectors = REF_SIZE_BYTES / 512;
		await editDescriptor('cap.vmdk', (t) => t.replace(`RW ${sectors} SPARSE`, `RW ${sectors + 2048} SPARSE`));
		const tooBig = await openError('cap.vmdk');
		expect(tooBig.code).toBe('VMDK_CORRUPT');
		expect(tooBig.file).toBe(join(dir, 'cap-s001.vmdk'));
		expect(tooBig.message).toMatch(
			new RegExp(`capacity \\(${sectors} sectors\\) is smaller than the ${sectors + 2048} sectors`),
		);
		await editDescriptor('cap.vmdk', (t) =>
			t.replace(`RW ${sectors + 2048} SPARSE`, `RW ${sectors - 2048} SPARSE`),
		);
		const shorter = await openDisk(join(dir, 'cap.vmdk'), nodePlatform);
		expect(shorter.sizeBytes).toBe(REF_SIZE_BYTES - MiB);
		expectBytes(
			await shorter.read(0, shorter.sizeBytes),
			reference.subarray(0, REF_SIZE_BYTES - MiB),
			'trimmed',
		);
		await shorter.close();

		const direct = await openError('cap-s001.vmdk');
		expect(direct.code).toBe('VMDK_NOT_VMDK');
		expect(direct.message).toMatch(/no embedded descriptor.*open the descriptor/);
	});

	it('reports a damaged primary grain directory as a warning naming the file', async () => {
		await qemuImg(
			'convert',
			'-f',
			'raw',
			'-O',
			'vmdk',
			'-o',
			'subformat=monolithicSparse',
			'ref.raw',
			'rgd.vmdk',
		);
		const path = join(dir, 'rgd.vmdk');
		const fh = await open(path, 'r+');
		const header = new Uint8Array(512);
		await fh.read(header, 0, 512, 0);
		const view = new DataView(header.buffer);
		const rgdSector = Number(view.getBigUint64(48, true));
		const gdSector = Number(view.getBigUint64(56, true));
		expect(rgdSector).toBeGreaterThan(0);
		// Point the first primary GD entry far past the end of the file.
		await fh.write(Uint8Array.of(0xff, 0xff, 0xff, 0x7f), 0, 4, gdSector * 512);
		await fh.close();
		const disk = await openDisk(path, nodePlatform);
		expectBytes(await disk.read(0, disk.sizeBytes), reference, 'read through the redundant GD');
		expect(disk.warnings.length).toBeGreaterThan(0);
		expect(disk.warnings.join('\n')).toContain(`${path}: `);
		expect(disk.warnings.join('\n')).toMatch(/redundant/);
		await disk.close();
	});
});
