// SPDX-License-Identifier: MIT
// Differential test: COWD (vmfsSparse) and seSparse extents built by our test builders, read by
// our readers and by QEMU (`qemu-img convert -O raw`, `qemu-img map`), must agree byte for byte
// and on which ranges hold data. qemu is the reference: if it refuses a file, the builder is wrong.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
	openCowdExtent,
	openSeSparseExtent,
	VirtualDisk,
	type ExtentReader,
	type Run,
} from '../../src/core/index.js';
import { nodePlatform } from '../../src/host/node/node-platform.js';
import { buildCowdExtent } from '../helpers/build-cowd.js';
import { buildSeSparseExtent } from '../helpers/build-sesparse.js';
import { randomBytes } from '../helpers/prng.js';
import { run, runStatus } from '../helpers/run.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const SECTOR = 512;

function descriptor(createType: string, sectors: number, type: string, file: string): string {
	return [
		'# Disk DescriptorFile',
		'version=1',
		'CID=12345678',
		'parentCID=ffffffff',
		`createType="${createType}"`,
		'',
		'# Extent description',
		`RW ${sectors} ${type} "${file}"`,
		'',
		'# The Disk Data Base',
		'#DDB',
		'ddb.virtualHWVersion = "14"',
		...(type === 'SESPARSE' ? ['ddb.grain = "8"'] : []),
		'',
	].join('\n');
}

/** Whole virtual disk through our reader, the way the rest of the engine reads it. */
async function readAll(reader: ExtentReader, path: string, createType: string): Promise<Uint8Array> {
	const disk = new VirtualDisk([
		{ reader, link: { path, createType, cid: '12345678', parentCid: 'ffffffff' } },
	]);
	return disk.read(0, disk.sizeBytes);
}

/** Our `data` ranges, merged, as [start, end) byte pairs. */
async function dataRanges(reader: ExtentReader): Promise<[number, number][]> {
	const out: [number, number][] = [];
	for (let at = 0; at < reader.sizeBytes;) {
		const run = await reader.mapRun(at, reader.sizeBytes - at);
		if (run.kind === 'data') {
			const last = out[out.length - 1];
			if (last !== undefined && last[1] === at) last[1] = at + run.lengthBytes;
			else out.push([at, at + run.lengthBytes]);
		}
		at += run.lengthBytes;
	}
	return out;
}

/** qemu-img map's ranges with `data: true`, merged. */
async function qemuDataRanges(descPath: string): Promise<[number, number][]> {
	const stdout = await run('qemu-img', ['map', '--output=json', '-f', 'vmdk', descPath]);
	const entries = JSON.parse(stdout) as { start: number; length: number; data: boolean }[];
	const out: [number, number][] = [];
	for (const e of entries) {
		if (!e.data) continue;
		const last = out[out.length - 1];
		if (last !== undefined && last[1] === e.start) last[1] = e.start + e.length;
		else out.push([e.start, e.start + e.length]);
	}
	return out;
}

async function qemuRaw(dir: string, descPath: string): Promise<Uint8Array> {
	const rawPath = join(dir, `${Date.now()}-${Math.random().toString(16).slice(2)}.raw`);
	await run('qemu-img', ['convert', '-f', 'vmdk', '-O', 'raw', descPath, rawPath]);
	return new Uint8Array(await readFile(rawPath));
}

/** A parent layer made of bytes in memory (all data). */
class BytesExtent implements ExtentReader {
	readonly sizeBytes: number;
	private readonly bytes: Uint8Array;
	constructor(bytes: Uint8Array) {
		this.bytes = bytes;
		this.sizeBytes = bytes.length;
	}
	mapRun(offsetBytes: number, maxBytes: number): Promise<Run> {
		return Promise.resolve({ kind: 'data', lengthBytes: Math.min(maxBytes, this.sizeBytes - offsetBytes) });
	}
	readData(offsetBytes: number, dest: Uint8Array, destOffset: number, length: number): Promise<void> {
		dest.set(this.bytes.subarray(offsetBytes, offsetBytes + length), destOffset);
		return Promise.resolve();
	}
	close(): Promise<void> {
		return Promise.resolve();
	}
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
	const n = Math.min(a.length, b.length);
	for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
	return a.length === b.length ? -1 : n;
}

describe('COWD and seSparse extents against qemu-img', () => {
	let dir = '';
	let cleanup: () => Promise<void> = () => Promise.resolve();

	beforeAll(async () => {
		({ dir, cleanup } = await makeTempDir('cowd-sesparse-'));
	});
	afterAll(async () => {
		await cleanup();
	});

	const cowdCases = [
		{
			name: '1-sector grains over four grain tables, one table absent',
			capacitySectors: 4 * 4096 + 100,
			grainSizeSectors: 1,
			grainIndices: [0, 1, 2, 7, 100, 4095, 4096, 4097, 3 * 4096 + 5, 3 * 4096 + 99],
			grainOrder: 'ascending' as const,
		},
		{
			name: '128-sector grains stored in reverse order, partial last grain',
			capacitySectors: 8192 + 72,
			grainSizeSectors: 128,
			grainIndices: [0, 1, 2, 10, 11, 63, 64],
			grainOrder: 'descending' as const,
		},
	];

	for (const c of cowdCases) {
		it(`COWD: ${c.name}`, async () => {
			const grainBytes = c.grainSizeSectors * SECTOR;
			const grains = new Map(c.grainIndices.map((g, i) => [g, randomBytes(grainBytes, 1000 + i * 7 + g)]));
			const extentName = `cowd-${c.grainSizeSectors}-delta.vmdk`;
			const extentPath = join(dir, extentName);
			const descPath = join(dir, `cowd-${c.grainSizeSectors}.vmdk`);
			await writeFile(
				extentPath,
				buildCowdExtent({
					capacitySectors: c.capacitySectors,
					grainSizeSectors: c.grainSizeSectors,
					grains,
					grainOrder: c.grainOrder,
				}),
			);
			await writeFile(descPath, descriptor('vmfsSparse', c.capacitySectors, 'VMFSSPARSE', extentName));

			const expected = await qemuRaw(dir, descPath);
			const reader = await openCowdExtent(await nodePlatform.openFile(extentPath));
			try {
				expect(reader.sizeBytes).toBe(expected.length);
				const ours = await readAll(reader, descPath, 'vmfsSparse');
				expect(firstDifference(ours, expected)).toBe(-1);
				// Some grains must really be there, or the comparison proves nothing.
				expect(ours.some((b) => b !== 0)).toBe(true);
				expect(await dataRanges(reader)).toEqual(await qemuDataRanges(descPath));
			} finally {
				await reader.close();
			}
		});
	}

	it('seSparse: data, zero, unmapped and unallocated grains over three grain tables', async () => {
		const gtSpanSectors = 4096 * 8;
		const capacitySectors = 3 * gtSpanSectors + 1000;
		const grains = new Map<number, Uint8Array>();
		// 4100 neighbouring grains: cluster numbers above 4095 use the high bits of the entry.
		for (let g = 4096; g < 4096 + 4100; g++) grains.set(g, randomBytes(4096, g));
		for (const g of [0, 1, 5, 4095, 3 * 4096 + 10, 3 * 4096 + 124]) grains.set(g, randomBytes(4096, 77 + g));
		const extentName = 'x-sesparse.vmdk';
		const extentPath = join(dir, extentName);
		const descPath = join(dir, 'x.vmdk');
		await writeFile(
			extentPath,
			buildSeSparseExtent({
				capacitySectors,
				grains,
				zeroGrains: [2, 3, 4096 + 4100, 3 * 4096 + 11],
				unmappedGrains: [6, 7, 8, 3 * 4096 + 12],
			}),
		);
		await writeFile(descPath, descriptor('seSparse', capacitySectors, 'SESPARSE', extentName));

		const expected = await qemuRaw(dir, descPath);
		const reader = await openSeSparseExtent(await nodePlatform.openFile(extentPath));
		try {
			expect(reader.sizeBytes).toBe(expected.length);
			const ours = await readAll(reader, descPath, 'seSparse');
			expect(firstDifference(ours, expected)).toBe(-1);
			expect(ours.some((b) => b !== 0)).toBe(true);
			expect(await dataRanges(reader)).toEqual(await qemuDataRanges(descPath));
		} finally {
			await reader.close();
		}
	});

	// A delta over a parent: unallocated grains must show the parent's bytes, as in qemu.
	for (const format of ['COWD', 'seSparse'] as const) {
		it(`${format}: a delta over a parent shows the parent where it has no grain`, async () => {
			const capacitySectors = 8192;
			const parentPath = join(dir, `parent-${format}.vmdk`);
			await run('qemu-img', ['create', '-q', '-f', 'vmdk', parentPath, `${capacitySectors * SECTOR}`]);
			await run('qemu-io', ['-f', 'vmdk', '-c', `write -P 0x5a 0 ${capacitySectors * SECTOR}`, parentPath]);
			const parent = await qemuRaw(dir, parentPath);
			// qemu reads through to the parent only when parentCID matches the parent's CID.
			const info = await run('qemu-img', ['info', '--output=json', parentPath]);
			const parentCid = (JSON.parse(info) as { 'format-specific': { data: { cid: number } } })[
				'format-specific'
			].data.cid
				.toString(16)
				.padStart(8, '0');

			const grainSectors = format === 'COWD' ? 16 : 8;
			const grains = new Map([0, 3, 4, 100].map((g) => [g, randomBytes(grainSectors * SECTOR, 31 + g)]));
			const extentName = `child-${format}-extent.vmdk`;
			await writeFile(
				join(dir, extentName),
				format === 'COWD'
					? buildCowdExtent({ capacitySectors, grainSizeSectors: grainSectors, grains })
					: buildSeSparseExtent({ capacitySectors, grains, zeroGrains: [5, 6], unmappedGrains: [7] }),
			);
			const childPath = join(dir, `child-${format}.vmdk`);
			const createType = format === 'COWD' ? 'vmfsSparse' : 'seSparse';
			const text = descriptor(
				createType,
				capacitySectors,
				format === 'COWD' ? 'VMFSSPARSE' : 'SESPARSE',
				extentName,
			).replace('parentCID=ffffffff', `parentCID=${parentCid}\nparentFileNameHint="parent-${format}.vmdk"`);
			await writeFile(childPath, text);
			const expected = await qemuRaw(dir, childPath);

			const file = await nodePlatform.openFile(join(dir, extentName));
			const reader = format === 'COWD' ? await openCowdExtent(file) : await openSeSparseExtent(file);
			const link = { path: childPath, createType, cid: '12345678', parentCid: 'ffffffff' };
			const parentLink = {
				path: parentPath,
				createType: 'monolithicSparse',
				cid: '1',
				parentCid: 'ffffffff',
			};
			const disk = new VirtualDisk([
				{ reader, link },
				{ reader: new BytesExtent(parent), link: parentLink },
			]);
			try {
				const ours = await disk.read(0, disk.sizeBytes);
				expect(firstDifference(ours, expected)).toBe(-1);
				// Both the parent's bytes and the delta's must be visible.
				expect(ours[SECTOR * grainSectors]).toBe(0x5a);
				expect(ours.subarray(0, 64)).toEqual(grains.get(0)?.subarray(0, 64));
			} finally {
				await disk.close();
			}
		});
	}

	it('seSparse: qemu and we both refuse a dirty journal', async () => {
		const extentName = 'dirty-sesparse.vmdk';
		const extentPath = join(dir, extentName);
		const descPath = join(dir, 'dirty.vmdk');
		await writeFile(
			extentPath,
			buildSeSparseExtent({
				capacitySectors: 2048,
				grains: new Map([[0, randomBytes(4096, 5)]]),
				volatileHeader: { replayJournal: 1n },
			}),
		);
		await writeFile(descPath, descriptor('seSparse', 2048, 'SESPARSE', extentName));
		const qemu = await runStatus('qemu-img', ['info', '-f', 'vmdk', descPath]);
		expect(qemu.status).not.toBe(0);
		expect(qemu.stderr).toMatch(/dirty/i);
		const file = await nodePlatform.openFile(extentPath);
		try {
			await expect(openSeSparseExtent(file)).rejects.toMatchObject({ code: 'VMDK_DIRTY_JOURNAL' });
		} finally {
			await file.close();
		}
	});
});
