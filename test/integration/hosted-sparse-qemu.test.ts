// SPDX-License-Identifier: MIT
// Differential test: hosted sparse extents written by qemu-img / qemu-io (and VMware-layout
// streams built by the test kit, checked against qemu too) must read byte-for-byte like
// `qemu-img convert -O raw`, and `mapRun` must agree with `qemu-img map` on every byte.
import { execFile } from 'node:child_process';
import { readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunKind } from '../../src/core/index.js';
import { openHostedSparseExtent, type HostedSparseExtent } from '../../src/core/vmdk/hosted-sparse-extent.js';
import { readEmbeddedDescriptor } from '../../src/core/vmdk/sparse-header.js';
import { nodePlatform } from '../../src/host/node/node-platform.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { buildStreamOptimized, expectSameBytes, pattern } from '../unit/core/vmdk/sparse-fixtures.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
/** 6 MiB + 3 KiB: the last grain is partial. */
const RAW_SIZE_BYTES = 6 * MiB + 3 * 1024;

let dir = '';
let cleanup: () => Promise<void> = () => Promise.resolve();

async function qemuImg(...args: string[]): Promise<string> {
	return (await run('qemu-img', args, { maxBuffer: 64 * MiB })).stdout;
}

/** qemu's view of an image: its raw bytes. */
async function qemuRaw(image: string): Promise<Uint8Array> {
	const out = join(dir, `${Math.random().toString(36).slice(2)}.raw`);
	await qemuImg('convert', '-f', 'vmdk', '-O', 'raw', image, out);
	return new Uint8Array(await readFile(out));
}

interface QemuMapEntry {
	start: number;
	length: number;
	present: boolean;
	zero: boolean;
	data: boolean;
}

/** qemu's allocation map of one image (no backing), in our run kinds. */
async function qemuKinds(image: string): Promise<{ start: number; length: number; kind: RunKind }[]> {
	const entries = JSON.parse(await qemuImg('map', '--output=json', '-f', 'vmdk', image)) as QemuMapEntry[];
	return entries.map((e) => ({
		start: e.start,
		length: e.length,
		kind: e.data ? 'data' : e.present ? 'zero' : 'unallocated',
	}));
}

/** Reads the whole extent as `export` would: map a run, read it if it is data. */
async function exportExtent(
	ext: HostedSparseExtent,
): Promise<{ bytes: Uint8Array; runs: { start: number; length: number; kind: RunKind }[] }> {
	const bytes = new Uint8Array(ext.sizeBytes);
	const runs: { start: number; length: number; kind: RunKind }[] = [];
	let pos = 0;
	while (pos < ext.sizeBytes) {
		const r = await ext.mapRun(pos, MiB);
		expect(r.lengthBytes).toBeGreaterThan(0);
		if (r.kind === 'data') await ext.readData(pos, bytes, pos, r.lengthBytes);
		const last = runs[runs.length - 1];
		if (last?.kind === r.kind && last.start + last.length === pos) last.length += r.lengthBytes;
		else runs.push({ start: pos, length: r.lengthBytes, kind: r.kind });
		pos += r.lengthBytes;
	}
	return { bytes, runs };
}

/** Per-byte kind lookup over a list of runs. */
function kindAt(
	runs: readonly { start: number; length: number; kind: RunKind }[],
	offset: number,
): RunKind | undefined {
	return runs.find((r) => offset >= r.start && offset < r.start + r.length)?.kind;
}

async function openExtent(path: string): Promise<HostedSparseExtent> {
	return openHostedSparseExtent(await nodePlatform.openFile(path), nodePlatform);
}

/** Checks the whole read, 200 random ranges, and that no non-zero byte is mapped as a hole. */
async function checkAgainstQemu(
	image: string,
	options: { compareMap: boolean },
): Promise<HostedSparseExtent> {
	const expected = await qemuRaw(image);
	const ext = await openExtent(image);
	expect(ext.sizeBytes).toBe(expected.length);
	const { bytes, runs } = await exportExtent(ext);
	expectSameBytes(bytes, expected);

	// Where we say zero or unallocated, qemu's raw must be zeros.
	for (const r of runs) {
		if (r.kind === 'data') continue;
		const slice = expected.subarray(r.start, r.start + r.length);
		expect(
			slice.every((b) => b === 0),
			`${r.kind} run at ${r.start} has data`,
		).toBe(true);
	}
	if (options.compareMap) {
		const theirs = await qemuKinds(image);
		// Compare at every grain-sized step boundary of either map.
		const points = new Set<number>();
		for (const r of [...runs, ...theirs]) points.add(r.start).add(r.start + r.length - 1);
		for (const p of points) {
			if (p >= ext.sizeBytes) continue;
			expect(kindAt(runs, p), `kind at byte ${p}`).toBe(kindAt(theirs, p));
		}
	}

	let seed = 12345;
	const rand = (n: number) => {
		seed = (seed * 1103515245 + 12345) >>> 0;
		return seed % n;
	};
	for (let i = 0; i < 200; i++) {
		const offset = rand(expected.length);
		const length = 1 + rand(Math.min(expected.length - offset, i % 4 === 0 ? 3 * MiB : 70_000));
		const out = new Uint8Array(length + 7);
		await ext.readData(offset, out, 7, length);
		expectSameBytes(out.subarray(7), expected.subarray(offset, offset + length));
	}
	return ext;
}

beforeAll(async () => {
	({ dir, cleanup } = await makeTempDir('hosted-sparse-qemu-'));
	const raw = new Uint8Array(RAW_SIZE_BYTES);
	raw.set(pattern(MiB, 1), 0); // random
	const text = new TextEncoder().encode('compressible VMDK text 0123456789\n');
	for (let at = MiB; at < 2 * MiB; at += text.length)
		raw.set(text.subarray(0, Math.min(text.length, 2 * MiB - at)), at);
	// 2..3 MiB zeros; scattered small writes after that, and the partial last grain.
	raw.set(pattern(4096, 2), 3 * MiB + 512);
	raw.set(pattern(100, 3), 4 * MiB + 65536 * 3 + 17);
	raw.set(new Uint8Array(200_000).fill(0x5a), 5 * MiB - 100_000);
	raw.set(pattern(3 * 1024, 4), 6 * MiB);
	await writeFile(join(dir, 'disk.raw'), raw);
}, 120_000);

afterAll(async () => {
	await cleanup();
});

describe('hosted sparse extents vs qemu-img', () => {
	for (const subformat of ['monolithicSparse', 'streamOptimized']) {
		it(`reads a ${subformat} image like qemu`, async () => {
			const image = join(dir, `${subformat}.vmdk`);
			await qemuImg(
				'convert',
				'-f',
				'raw',
				'-O',
				'vmdk',
				'-o',
				`subformat=${subformat}`,
				join(dir, 'disk.raw'),
				image,
			);
			const ext = await checkAgainstQemu(image, { compareMap: true });
			expect(ext.header.compressed).toBe(subformat === 'streamOptimized');
			expect(ext.warnings).toEqual([]);
			await ext.close();
		});
	}

	it('reads a compat6 monolithicSparse image like qemu', async () => {
		const image = join(dir, 'compat6.vmdk');
		await qemuImg('convert', '-f', 'raw', '-O', 'vmdk', '-o', 'compat6=on', join(dir, 'disk.raw'), image);
		await (await checkAgainstQemu(image, { compareMap: true })).close();
	});

	it('reads each extent file of a twoGbMaxExtentSparse image like qemu reads the disk', async () => {
		const image = join(dir, 'split.vmdk');
		await qemuImg(
			'convert',
			'-f',
			'raw',
			'-O',
			'vmdk',
			'-o',
			'subformat=twoGbMaxExtentSparse',
			join(dir, 'disk.raw'),
			image,
		);
		const ext = await openExtent(join(dir, 'split-s001.vmdk'));
		// QEMU reserves a descriptor area in each extent file but leaves it empty.
		expect(await readEmbeddedDescriptor(ext.file, ext.header)).toEqual(new Uint8Array(0));
		const { bytes } = await exportExtent(ext);
		expectSameBytes(bytes, await qemuRaw(image));
		await ext.close();
	});

	it('reads zeroed-grain entries (version 2) and unallocated grains like qemu-io wrote them', async () => {
		const image = join(dir, 'zeroed.vmdk');
		await qemuImg('create', '-f', 'vmdk', '-o', 'zeroed_grain=on', image, '8M');
		await run('qemu-io', [
			'-f',
			'vmdk',
			'-c',
			'write -P 0xab 0 192k',
			'-c',
			'write -z 64k 64k',
			'-c',
			'write -P 0x11 1M 4k',
			'-c',
			'write -z 2M 1M',
			'-c',
			'write -P 0x22 7M 1M',
			image,
		]);
		const ext = await checkAgainstQemu(image, { compareMap: true });
		expect(ext.header.version).toBe(2);
		expect(ext.header.zeroedGrainGte).toBe(true);
		expect(await ext.mapRun(65536, 10 * 65536)).toEqual({ kind: 'zero', lengthBytes: 65536 });
		expect(await ext.mapRun(2 * MiB, 4 * MiB)).toEqual({ kind: 'zero', lengthBytes: MiB });
		await ext.close();
	});

	it('maps only written grains of a snapshot delta as data', async () => {
		const base = join(dir, 'base.vmdk');
		const leaf = join(dir, 'leaf.vmdk');
		await qemuImg('convert', '-f', 'raw', '-O', 'vmdk', join(dir, 'disk.raw'), base);
		await qemuImg('create', '-f', 'vmdk', '-b', base, '-F', 'vmdk', leaf);
		await run('qemu-io', ['-f', 'vmdk', '-c', 'write -P 0x33 128k 64k', leaf]);
		const ext = await openExtent(leaf);
		expect(await ext.mapRun(0, MiB)).toEqual({ kind: 'unallocated', lengthBytes: 128 * 1024 });
		expect(await ext.mapRun(128 * 1024, MiB)).toEqual({ kind: 'data', lengthBytes: 64 * 1024 });
		const out = new Uint8Array(64 * 1024);
		await ext.readData(128 * 1024, out, 0, out.length);
		expect(out.every((b) => b === 0x33)).toBe(true);
		await ext.close();
	});

	it('opens a 2 TiB qemu image in milliseconds and walks it with a bounded number of reads', async () => {
		const image = join(dir, 'huge.vmdk');
		await qemuImg('create', '-f', 'vmdk', image, '2T');
		const tib = 2 ** 40;
		await run('qemu-io', [
			'-f',
			'vmdk',
			'-c',
			`write -P 0x42 ${tib} 64k`,
			'-c',
			`write -P 0x43 ${2 * tib - 65536} 64k`,
			image,
		]);
		const started = performance.now();
		const ext = await openExtent(image);
		expect(performance.now() - started).toBeLessThan(1000);
		expect(ext.sizeBytes).toBe(2 * tib);
		const out = new Uint8Array(65536);
		await ext.readData(tib, out, 0, out.length);
		expect(out.every((b) => b === 0x42)).toBe(true);
		// The whole map: two 64 KiB data runs, the rest unallocated.
		const data: number[] = [];
		let pos = 0;
		let calls = 0;
		while (pos < ext.sizeBytes) {
			const r = await ext.mapRun(pos, Number.MAX_SAFE_INTEGER);
			if (r.kind === 'data') data.push(pos, r.lengthBytes);
			expect(r.kind).not.toBe('zero');
			pos += r.lengthBytes;
			calls++;
		}
		expect(data).toEqual([tib, 65536, 2 * tib - 65536, 65536]);
		expect(calls).toBeLessThan(1000);
		await ext.close();
	});

	describe('VMware-layout streamOptimized (footer, GD_AT_END)', () => {
		async function buildStream(
			name: string,
		): Promise<{ path: string; built: ReturnType<typeof buildStreamOptimized> }> {
			const raw = new Uint8Array(await readFile(join(dir, 'disk.raw')));
			const grainBytes = 65536;
			const grains = new Map<number, Uint8Array>();
			for (let g = 0; g * grainBytes < raw.length; g++) {
				const b = raw.subarray(g * grainBytes, Math.min(raw.length, (g + 1) * grainBytes));
				if (b.some((x) => x !== 0)) grains.set(g, b);
			}
			const capacitySectors = raw.length / 512;
			const descriptor = [
				'# Disk DescriptorFile',
				'version=1',
				'CID=12345678',
				'parentCID=ffffffff',
				'createType="streamOptimized"',
				`RW ${capacitySectors} SPARSE "${name}"`,
				'',
			].join('\n');
			const built = buildStreamOptimized({ capacitySectors, grainSizeSectors: 128, grains, descriptor });
			const path = join(dir, name);
			await writeFile(path, built.bytes);
			return { path, built };
		}

		it('reads it like qemu (which also confirms the layout the test kit writes)', async () => {
			const { path } = await buildStream('vmware-stream.vmdk');
			expectSameBytes(await qemuRaw(path), new Uint8Array(await readFile(join(dir, 'disk.raw'))));
			const ext = await checkAgainstQemu(path, { compareMap: false });
			expect(ext.warnings).toEqual([]);
			expect(ext.header.gdAtEnd).toBe(false);
			await ext.close();
		});

		it('rebuilds the index when the file is truncated before its footer', async () => {
			const { path, built } = await buildStream('vmware-stream-truncated.vmdk');
			await truncate(path, built.footerMarkerAt);
			const ext = await openExtent(path);
			expect(ext.warnings.join()).toMatch(/grain index rebuilt by scanning markers/);
			const { bytes } = await exportExtent(ext);
			expectSameBytes(bytes, new Uint8Array(await readFile(join(dir, 'disk.raw'))));
			await ext.close();
		});

		it('rebuilds the index when the footer is damaged', async () => {
			const { path, built } = await buildStream('vmware-stream-damaged.vmdk');
			const b = new Uint8Array(await readFile(path));
			b.fill(0xee, built.footerMarkerAt + 512, built.footerMarkerAt + 600);
			await writeFile(path, b);
			const ext = await openExtent(path);
			expect(ext.warnings[0]).toMatch(/footer missing or damaged/);
			const { bytes } = await exportExtent(ext);
			expectSameBytes(bytes, new Uint8Array(await readFile(join(dir, 'disk.raw'))));
			await ext.close();
		});
	});
});
