// SPDX-License-Identifier: MIT
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
	COWD_MAGIC,
	detectCowd,
	openCowdExtent,
	parseCowdHeader,
	type CowdExtent,
	type RandomAccessFile,
	type Run,
} from '../../../../src/core/index.js';
import { nodePlatform } from '../../../../src/host/node/node-platform.js';
import { ascii, bytes, u32le, zeros } from '../../../helpers/bytes.js';
import {
	buildCowdExtent,
	buildCowdExtentWithLayout,
	cowdHeader,
	MemoryRandomAccessFile,
	type CowdBuildOptions,
} from '../../../helpers/build-cowd.js';
import { makeTempDir } from '../../../helpers/temp-dir.js';
import { prng, randomInt } from '../../../helpers/prng.js';

const SECTOR = 512;
const fill = (n: number, v: number): Uint8Array => new Uint8Array(n).fill(v);

/** 64 KiB virtual disk in 1 KiB grains: grains 0,1 (contiguous), 5, and 4096+ unused. */
const small: CowdBuildOptions = {
	capacitySectors: 128,
	grainSizeSectors: 2,
	grains: new Map([
		[0, fill(1024, 0xa0)],
		[1, fill(1024, 0xa1)],
		[5, fill(1024, 0xa5)],
	]),
};

async function open(opts: CowdBuildOptions, gtCacheEntries?: number) {
	const file = new MemoryRandomAccessFile(buildCowdExtent(opts));
	const extent = await openCowdExtent(file, gtCacheEntries === undefined ? {} : { gtCacheEntries });
	return { file, extent };
}

async function allRuns(extent: CowdExtent, maxBytes = Number.MAX_SAFE_INTEGER): Promise<Run[]> {
	const runs: Run[] = [];
	for (let at = 0; at < extent.sizeBytes;) {
		const run = await extent.mapRun(at, maxBytes);
		runs.push(run);
		at += run.lengthBytes;
	}
	return runs;
}

/** Expects a promise to reject with a VmdkError of `code` whose message matches `message`. */
async function expectVmdkError(p: Promise<unknown>, code: string, message?: RegExp, offsetBytes?: number) {
	const error: unknown = await p.then(
		() => undefined,
		(e: unknown) => e,
	);
	expect(error).toMatchObject({ name: 'VmdkError', code });
	if (message !== undefined) expect((error as Error).message).toMatch(message);
	if (offsetBytes !== undefined) expect(error).toMatchObject({ offsetBytes });
	return error;
}

describe('COWD header', () => {
	it('parses every field of a header written inline', () => {
		const header = bytes(
			ascii('COWD'), // magic
			u32le(1), // version
			u32le(3), // flags
			u32le(8192), // numSectors
			u32le(1), // grainSize
			u32le(4), // gdOffset
			u32le(2), // numGDEntries
			u32le(77), // freeSector
			ascii('parent-delta.vmdk'),
			zeros(1024 - 17), // parentFileName
			u32le(9), // parentGeneration
			u32le(10), // generation
			ascii('disk name'),
			zeros(60 - 9), // name
			ascii('a description'),
			zeros(512 - 13), // description
			u32le(11), // savedGeneration
			zeros(8), // reserved
			u32le(1), // uncleanShutdown
			zeros(396), // padding
		);
		expect(header.length).toBe(2048);
		expect(parseCowdHeader(header, '/x.vmdk')).toEqual({
			version: 1,
			flags: 3,
			capacitySectors: 8192,
			grainSizeSectors: 1,
			gdOffsetSectors: 4,
			numGdEntries: 2,
			freeSector: 77,
			parentFileName: 'parent-delta.vmdk',
			parentGeneration: 9,
			generation: 10,
			name: 'disk name',
			description: 'a description',
			savedGeneration: 11,
			uncleanShutdown: 1,
		});
	});

	it('detects the signature', () => {
		expect(detectCowd(ascii('COWD'))).toBe(true);
		expect(detectCowd(cowdHeader({ capacitySectors: 8, grainSizeSectors: 1 }))).toBe(true);
		expect(detectCowd(ascii('KDMV'))).toBe(false);
		expect(detectCowd(ascii('COW'))).toBe(false);
		expect(new DataView(ascii('COWD').buffer).getUint32(0, true)).toBe(COWD_MAGIC);
	});

	for (let i = 0; i < 4; i++) {
		it(`refuses a bad magic at byte ${i} with expected and seen values in hex`, () => {
			const header = cowdHeader({ capacitySectors: 8, grainSizeSectors: 1 });
			header[i] = (header[i] ?? 0) ^ 0x20;
			expect(() => parseCowdHeader(header, '/x.vmdk')).toThrow(
				/Invalid COWD header magic: expected 0x44574f43 \('COWD'\), saw 0x[0-9a-f]{8}/,
			);
		});
	}

	// Every field boundary of the 2048-byte header, and one byte short of the end.
	const boundaries: [number, string][] = [
		[0, 'magic'],
		[3, 'magic'],
		[4, 'version'],
		[8, 'flags'],
		[12, 'numSectors'],
		[16, 'grainSize'],
		[20, 'gdOffset'],
		[24, 'numGDEntries'],
		[28, 'freeSector'],
		[32, 'parentFileName'],
		[1056, 'parentGeneration'],
		[1060, 'generation'],
		[1064, 'name'],
		[1124, 'description'],
		[1636, 'savedGeneration'],
		[1640, 'reserved'],
		[1648, 'uncleanShutdown'],
		[1652, 'padding'],
		[2047, 'padding'],
	];
	for (const [cut, field] of boundaries) {
		it(`reports a file cut at byte ${cut} as truncated in ${field}`, async () => {
			const whole = buildCowdExtent(small);
			const file = new MemoryRandomAccessFile(whole.slice(0, cut));
			await expectVmdkError(
				openCowdExtent(file),
				'VMDK_TRUNCATED',
				new RegExp(`COWD header.*field ${field}\\b`),
			);
		});
	}

	const invalid: [string, Partial<CowdBuildOptions>, string, RegExp][] = [
		['version 2', { version: 2 }, 'VMDK_UNSUPPORTED_VERSION', /version 2 is not supported/],
		['capacity 0', { capacitySectors: 0 }, 'VMDK_BAD_HEADER', /numSectors.*is 0/],
		['grain size 0', { grainSizeSectors: 0 }, 'VMDK_BAD_HEADER', /grainSize is 0/],
		['grain size over the limit', { grainSizeSectors: 1 << 20 }, 'VMDK_LIMIT', /grainSize/],
		[
			'too few GD entries',
			{ capacitySectors: 3 * 4096 * 2, numGdEntries: 2 },
			'VMDK_BAD_HEADER',
			/numGDEntries 2 is too small/,
		],
		['GD inside the header', { gdOffsetSectors: 2 }, 'VMDK_CORRUPT', /overlaps/],
	];
	for (const [name, patch, code, message] of invalid) {
		it(`refuses ${name}`, async () => {
			// Only the header changes; the rest of the file stays a valid extent.
			const b = buildCowdExtent(small);
			b.set(cowdHeader({ ...small, ...patch }), 0);
			await expectVmdkError(openCowdExtent(new MemoryRandomAccessFile(b)), code, message);
		});
	}
});

describe('COWD grain directory and tables', () => {
	it('refuses a grain directory past the end of the file', async () => {
		const built = buildCowdExtentWithLayout(small);
		const header = cowdHeader({ ...small, gdOffsetSectors: built.bytes.length / SECTOR });
		const b = built.bytes.slice();
		b.set(header, 0);
		const error = await expectVmdkError(
			openCowdExtent(new MemoryRandomAccessFile(b)),
			'VMDK_CORRUPT',
			/grain directory .* ends past the end of the file/,
			20,
		);
		expect(error).toMatchObject({ file: '/virtual/extent.vmdk' });
	});

	it('refuses a grain directory entry pointing past the end of the file', async () => {
		const built = buildCowdExtentWithLayout(small);
		const b = built.bytes.slice();
		new DataView(b.buffer).setUint32(built.gdOffsetBytes, b.length / SECTOR, true);
		await expectVmdkError(
			openCowdExtent(new MemoryRandomAccessFile(b)),
			'VMDK_CORRUPT',
			/grain directory entry 0 points at sector/,
			built.gdOffsetBytes,
		);
	});

	it('refuses a grain directory entry pointing into the header', async () => {
		const built = buildCowdExtentWithLayout(small);
		const b = built.bytes.slice();
		new DataView(b.buffer).setUint32(built.gdOffsetBytes, 1, true);
		await expectVmdkError(openCowdExtent(new MemoryRandomAccessFile(b)), 'VMDK_CORRUPT', /inside the header/);
	});

	it('reports a grain-table entry past the end of the file when the table is used, with its offset', async () => {
		const built = buildCowdExtentWithLayout(small);
		const b = built.bytes.slice();
		const gtAt = built.gtOffsetBytes.get(0) ?? 0;
		// Grain 5's entry points at the last sector: a 2-sector grain there runs past the end.
		new DataView(b.buffer).setUint32(gtAt + 5 * 4, b.length / SECTOR - 1, true);
		const extent = await openCowdExtent(new MemoryRandomAccessFile(b));
		await expectVmdkError(extent.mapRun(0, 1024), 'VMDK_CORRUPT', /grain table 0 entry 5/, gtAt + 5 * 4);
		// A failed load is not cached: the next call fails the same way instead of hanging.
		await expectVmdkError(extent.mapRun(0, 1024), 'VMDK_CORRUPT', /grain table 0 entry 5/);
	});
});

describe('COWD reads', () => {
	it('maps runs, coalescing neighbouring grains of one kind', async () => {
		const { extent } = await open(small);
		expect(extent.sizeBytes).toBe(128 * SECTOR);
		expect(extent.header.grainSizeSectors).toBe(2);
		expect(await allRuns(extent)).toEqual([
			{ kind: 'data', lengthBytes: 2048 },
			{ kind: 'unallocated', lengthBytes: 3072 },
			{ kind: 'data', lengthBytes: 1024 },
			{ kind: 'unallocated', lengthBytes: 64 * 1024 - 6144 },
		]);
		// Mid-grain starts and maxBytes caps are honoured.
		expect(await extent.mapRun(100, 50)).toEqual({ kind: 'data', lengthBytes: 50 });
		expect(await extent.mapRun(1500, 10_000)).toEqual({ kind: 'data', lengthBytes: 548 });
		expect(await extent.mapRun(2048 + 7, 1)).toEqual({ kind: 'unallocated', lengthBytes: 1 });
	});

	it('reads data, merging physically contiguous grains into one file read', async () => {
		const { file, extent } = await open(small);
		await extent.mapRun(0, 1); // loads the grain table
		const readsBefore = file.reads.length;
		const dest = new Uint8Array(2048 + 4);
		await extent.readData(0, dest, 2, 2048);
		expect(dest.subarray(2, 1026).every((b) => b === 0xa0)).toBe(true);
		expect(dest.subarray(1026, 2050).every((b) => b === 0xa1)).toBe(true);
		expect([dest[0], dest[1], dest[2050], dest[2051]]).toEqual([0, 0, 0, 0]);
		expect(file.reads.length - readsBefore).toBe(1);
		const part = new Uint8Array(10);
		await extent.readData(5 * 1024 + 1000, part, 0, 10);
		expect(part.every((b) => b === 0xa5)).toBe(true);
	});

	it('does not merge grains stored out of order', async () => {
		const { file, extent } = await open({ ...small, grainOrder: 'descending' });
		const dest = new Uint8Array(2048);
		await extent.mapRun(0, 1); // loads the grain table
		const readsBefore = file.reads.length;
		await extent.readData(0, dest, 0, 2048);
		expect(file.reads.length - readsBefore).toBe(2);
		expect(dest[0]).toBe(0xa0);
		expect(dest[1024]).toBe(0xa1);
	});

	it('refuses reads of unallocated grains and outside the extent', async () => {
		const { extent } = await open(small);
		await expect(extent.readData(2048, new Uint8Array(10), 0, 10)).rejects.toThrow(/not allocated/);
		await expectVmdkError(extent.mapRun(extent.sizeBytes, 1), 'VMDK_OUT_OF_RANGE');
		await expectVmdkError(
			extent.readData(extent.sizeBytes - 1, new Uint8Array(2), 0, 2),
			'VMDK_OUT_OF_RANGE',
		);
	});

	it('loads grain tables lazily, skips absent ones, and keeps the cache bounded', async () => {
		const opts: CowdBuildOptions = {
			capacitySectors: 4 * 4096,
			grainSizeSectors: 1,
			grains: new Map([
				[0, fill(512, 1)],
				[2 * 4096, fill(512, 2)],
				[3 * 4096 + 1, fill(512, 3)],
			]),
		};
		const { file, extent } = await open(opts, 1);
		// Open reads the header and the grain directory only.
		expect(file.reads.map(([, n]) => n)).toEqual([2048, 16]);
		// GT 1 is absent: the whole 2 MiB span is one unallocated run, no table read.
		expect(await extent.mapRun(4096 * SECTOR, 4096 * SECTOR)).toEqual({
			kind: 'unallocated',
			lengthBytes: 4096 * SECTOR,
		});
		expect(file.reads.length).toBe(2);
		const dest = new Uint8Array(512);
		await extent.readData(2 * 4096 * SECTOR, dest, 0, 512);
		expect(dest[0]).toBe(2);
		await extent.readData((3 * 4096 + 1) * SECTOR, dest, 0, 512);
		expect(dest[0]).toBe(3);
		// With room for one table, going back to table 2 reads it again.
		const before = file.reads.length;
		await extent.readData(2 * 4096 * SECTOR, dest, 0, 512);
		expect(file.reads.length - before).toBe(2);
		const runs = await allRuns(extent);
		expect(runs.filter((r) => r.kind === 'data').map((r) => r.lengthBytes)).toEqual([512, 512, 512]);
	});

	it('closes its file', async () => {
		const { file, extent } = await open(small);
		await extent.close();
		expect(file.closed).toBe(true);
	});

	// The same reads from bytes in memory and from a file on disk.
	for (const shape of ['memory', 'disk'] as const) {
		it(`reads the same bytes from ${shape}`, async () => {
			const image = buildCowdExtent(small);
			let file: RandomAccessFile = new MemoryRandomAccessFile(image);
			let cleanup = (): Promise<void> => Promise.resolve();
			if (shape === 'disk') {
				const tmp = await makeTempDir();
				cleanup = tmp.cleanup;
				const path = join(tmp.dir, 'x-delta.vmdk');
				await writeFile(path, image);
				file = await nodePlatform.openFile(path);
			}
			const extent = await openCowdExtent(file);
			try {
				const dest = new Uint8Array(3072);
				await extent.readData(0, dest, 0, 2048);
				expect(dest[0]).toBe(0xa0);
				expect(dest[2047]).toBe(0xa1);
			} finally {
				await extent.close();
				await cleanup();
			}
		});
	}
});

/** Opens and reads everything; any failure must be a VmdkError (never a RangeError or a hang). */
async function openAndReadAll(image: Uint8Array): Promise<string> {
	try {
		const extent = await openCowdExtent(new MemoryRandomAccessFile(image));
		for (let at = 0; at < extent.sizeBytes;) {
			const run = await extent.mapRun(at, extent.sizeBytes - at);
			if (run.kind === 'data') await extent.readData(at, new Uint8Array(run.lengthBytes), 0, run.lengthBytes);
			at += run.lengthBytes;
		}
		return 'ok';
	} catch (error) {
		if (error instanceof Error && error.name === 'VmdkError') return (error as Error & { code: string }).code;
		throw error;
	}
}

describe('COWD corrupted metadata', () => {
	it('fails only with typed errors when random metadata bytes are damaged', async () => {
		const built = buildCowdExtentWithLayout({ ...small, capacitySectors: 3 * 4096 * 2 });
		const metadataEnd = Math.min(...built.grainOffsetBytes.values());
		const random = prng(12345);
		const next = (n: number): number => randomInt(random, n);
		const codes = new Set<string>();
		for (let i = 0; i < 300; i++) {
			const b = built.bytes.slice();
			for (let k = 0, n = 1 + next(4); k < n; k++) {
				// Half the damage lands in the header's numeric fields, half in the tables.
				const at = next(2) === 0 ? next(32) : 2048 + next(metadataEnd - 2048);
				b[at] = next(256);
			}
			codes.add(await openAndReadAll(b));
		}
		expect(codes.has('ok')).toBe(true);
		expect(codes.has('VMDK_CORRUPT')).toBe(true);
	});
});
