// SPDX-License-Identifier: MIT
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
	detectSeSparse,
	openSeSparseExtent,
	parseSeSparseConstHeader,
	SESPARSE_CONST_MAGIC,
	type RandomAccessFile,
	type Run,
	type SeSparseExtent,
} from '../../../../src/core/index.js';
import { nodePlatform } from '../../../../src/host/node/node-platform.js';
import { bytes, u64le, zeros } from '../../../helpers/bytes.js';
import { MemoryRandomAccessFile } from '../../../helpers/build-cowd.js';
import {
	buildSeSparseExtent,
	buildSeSparseExtentWithLayout,
	seSparseAllocatedEntry,
	seSparseConstHeader,
	type SeSparseBuildOptions,
} from '../../../helpers/build-sesparse.js';
import { makeTempDir } from '../../../helpers/temp-dir.js';
import { prng, randomInt } from '../../../helpers/prng.js';

const SECTOR = 512;
const GRAIN = 4096;
const fill = (n: number, v: number): Uint8Array => new Uint8Array(n).fill(v);

/** 1 MiB disk (256 grains): data 0,1 (contiguous), zero 2, unmapped 3, data 4, zero 10. */
const small: SeSparseBuildOptions = {
	capacitySectors: 2048,
	grains: new Map([
		[0, fill(GRAIN, 0xb0)],
		[1, fill(GRAIN, 0xb1)],
		[4, fill(GRAIN, 0xb4)],
	]),
	zeroGrains: [2, 10],
	unmappedGrains: [3],
};

async function open(opts: SeSparseBuildOptions, gtCacheEntries?: number) {
	const file = new MemoryRandomAccessFile(buildSeSparseExtent(opts));
	const extent = await openSeSparseExtent(file, gtCacheEntries === undefined ? {} : { gtCacheEntries });
	return { file, extent };
}

async function allRuns(extent: SeSparseExtent): Promise<Run[]> {
	const runs: Run[] = [];
	for (let at = 0; at < extent.sizeBytes;) {
		const run = await extent.mapRun(at, extent.sizeBytes - at);
		runs.push(run);
		at += run.lengthBytes;
	}
	return runs;
}

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

/** Builds `small`, then lets a test patch the bytes before opening. */
async function openPatched(
	patch: (b: Uint8Array, view: DataView, built: ReturnType<typeof buildSeSparseExtentWithLayout>) => void,
) {
	const built = buildSeSparseExtentWithLayout(small);
	const b = built.bytes.slice();
	patch(b, new DataView(b.buffer), built);
	return openSeSparseExtent(new MemoryRandomAccessFile(b));
}

describe('seSparse headers', () => {
	it('parses a const header written inline', () => {
		const region = (offset: number, size: number) => bytes(u64le(offset), u64le(size));
		const header = bytes(
			u64le(0xcafebaben), // magic
			u64le(0x0000000200000001n), // version
			u64le(209715200), // capacity (sectors, 100 GiB)
			u64le(8), // grain_size (sectors)
			u64le(64), // grain_table_size (sectors)
			u64le(0), // flags
			zeros(32), // reserved1..4
			region(1, 1), // volatile header
			region(2, 1), // journal header
			region(2048, 2048), // journal
			region(4096, 200), // grain directory
			region(8192, 819200), // grain tables
			region(827392, 100), // free bitmap
			region(827492, 1000), // back-map
			region(1048576, 209715200), // grains
			zeros(304), // pad
		);
		expect(header.length).toBe(512);
		const h = parseSeSparseConstHeader(header, '/x-sesparse.vmdk');
		expect(h).toMatchObject({
			version: 0x0000000200000001n,
			capacitySectors: 209715200,
			grainSizeSectors: 8,
			grainTableSizeSectors: 64,
			flags: 0n,
			volatileHeader: { offsetSectors: 1, sizeSectors: 1 },
			journal: { offsetSectors: 2048, sizeSectors: 2048 },
			grainDirectory: { offsetSectors: 4096, sizeSectors: 200 },
			grainTables: { offsetSectors: 8192, sizeSectors: 819200 },
			backMap: { offsetSectors: 827492, sizeSectors: 1000 },
			grains: { offsetSectors: 1048576, sizeSectors: 209715200 },
		});
	});

	it('detects the signature', () => {
		expect(detectSeSparse(u64le(SESPARSE_CONST_MAGIC))).toBe(true);
		expect(detectSeSparse(buildSeSparseExtent(small))).toBe(true);
		expect(detectSeSparse(u64le(0xcafecafen))).toBe(false);
		expect(detectSeSparse(u64le(0xcafebaben).subarray(0, 7))).toBe(false);
		expect(detectSeSparse(u64le(0x1_cafebaben))).toBe(false);
	});

	for (let i = 0; i < 8; i++) {
		it(`refuses a bad const-header magic at byte ${i}`, async () => {
			await expectVmdkError(
				openPatched((b) => {
					b[i] = (b[i] ?? 0) ^ 0x01;
				}),
				'VMDK_BAD_MAGIC',
				/Invalid seSparse const header magic: expected 0x00000000cafebabe, saw 0x[0-9a-f]{16}/,
				0,
			);
		});
	}

	it('refuses a bad volatile-header magic', async () => {
		await expectVmdkError(
			openPatched((b) => {
				b[SECTOR] = 0;
			}),
			'VMDK_BAD_MAGIC',
			/volatile header magic: expected 0x00000000cafecafe, saw 0x00000000cafeca00/,
			SECTOR,
		);
	});

	const constFields = [
		'magic',
		'version',
		'capacity',
		'grain_size',
		'grain_table_size',
		'flags',
		'reserved1',
		'reserved2',
		'reserved3',
		'reserved4',
		'volatile_header_offset',
		'volatile_header_size',
		'journal_header_offset',
		'journal_header_size',
		'journal_offset',
		'journal_size',
		'grain_dir_offset',
		'grain_dir_size',
		'grain_tables_offset',
		'grain_tables_size',
		'free_bitmap_offset',
		'free_bitmap_size',
		'backmap_offset',
		'backmap_size',
		'grains_offset',
		'grains_size',
	];
	const cuts: [number, string][] = [
		...constFields.map((f, i): [number, string] => [i * 8, f]),
		[208, 'padding'],
		[511, 'padding'],
	];
	for (const [cut, field] of cuts) {
		it(`reports a file cut at byte ${cut} as truncated in ${field}`, async () => {
			const file = new MemoryRandomAccessFile(buildSeSparseExtent(small).slice(0, cut));
			await expectVmdkError(
				openSeSparseExtent(file),
				'VMDK_TRUNCATED',
				new RegExp(`const header.*field ${field}\\b`),
			);
		});
	}
	// [cut, field, where the field starts]: the error points at the field that does not fit.
	for (const [cut, field, fieldAt] of [
		[0, 'magic', 0],
		[8, 'free_gt_number', 8],
		[16, 'next_txn_seq_number', 16],
		[24, 'replay_journal', 24],
		[32, 'padding', 32],
		[511, 'padding', 32],
	] as const) {
		it(`reports a volatile header cut at byte ${cut} as truncated in ${field}`, async () => {
			const file = new MemoryRandomAccessFile(buildSeSparseExtent(small).slice(0, SECTOR + cut));
			await expectVmdkError(
				openSeSparseExtent(file),
				'VMDK_TRUNCATED',
				new RegExp(`volatile header.*field ${field}\\b`),
				SECTOR + fieldAt,
			);
		});
	}

	it('refuses a dirty journal with VMDK_DIRTY_JOURNAL and a clear message', async () => {
		const file = new MemoryRandomAccessFile(
			buildSeSparseExtent({ ...small, volatileHeader: { replayJournal: 1n } }),
		);
		await expectVmdkError(
			openSeSparseExtent(file),
			'VMDK_DIRTY_JOURNAL',
			/journal has not been replayed/,
			SECTOR + 24,
		);
	});

	const unsupported: [string, SeSparseBuildOptions['constHeader'], string, RegExp][] = [
		[
			'version 1',
			{ version: 0x0000000100000001n },
			'VMDK_UNSUPPORTED_VERSION',
			/version 0x0000000100000001 is not supported/,
		],
		[
			'16-sector grains',
			{ grainSizeSectors: 16 },
			'VMDK_UNSUPPORTED_VERSION',
			/grain size 16 sectors is not supported/,
		],
		[
			'128-sector grain tables',
			{ grainTableSizeSectors: 128 },
			'VMDK_UNSUPPORTED_VERSION',
			/grain table size 128 sectors/,
		],
		['flags', { flags: 1n }, 'VMDK_UNSUPPORTED_VERSION', /flags 0x0000000000000001/],
		['reserved bits', { reserved: [0n, 0n, 5n, 0n] }, 'VMDK_BAD_HEADER', /reserved3 is not zero/],
		['capacity 0', { capacitySectors: 0 }, 'VMDK_BAD_HEADER', /capacity is 0/],
		['capacity over 64 TiB', { capacitySectors: 2 ** 37 + 8 }, 'VMDK_LIMIT', /capacity/],
		['a capacity beyond 2^53', { capacitySectors: 2 ** 60 }, 'VMDK_LIMIT', /exceeds 2\^53/],
		[
			'a volatile header inside the const header',
			{ volatileHeader: { offsetSectors: 0, sizeSectors: 1 } },
			'VMDK_CORRUPT',
			/volatile_header_offset 0/,
		],
		[
			'a grain directory too small for the capacity',
			{ capacitySectors: 2 ** 30 },
			'VMDK_BAD_HEADER',
			/holds 64 entries; the capacity needs 32768/,
		],
		[
			'grains inside the const header',
			{ grains: { offsetSectors: 0, sizeSectors: 8 } },
			'VMDK_CORRUPT',
			/grains_offset 0/,
		],
	];
	for (const [name, constHeader, code, message] of unsupported) {
		it(`refuses ${name}`, async () => {
			const file = new MemoryRandomAccessFile(buildSeSparseExtent({ ...small, constHeader }));
			await expectVmdkError(openSeSparseExtent(file), code, message);
		});
	}

	it('refuses non-zero const and volatile padding', async () => {
		await expectVmdkError(
			openPatched((b) => {
				b[300] = 1;
			}),
			'VMDK_BAD_HEADER',
			/const header padding/,
			300,
		);
		await expectVmdkError(
			openPatched((b) => {
				b[SECTOR + 100] = 1;
			}),
			'VMDK_BAD_HEADER',
			/volatile header padding/,
			SECTOR + 100,
		);
	});
});

describe('seSparse grain directory and tables', () => {
	it('refuses a grain directory past the end of the file', async () => {
		const built = buildSeSparseExtentWithLayout(small);
		const b = built.bytes.slice();
		b.set(
			seSparseConstHeader({
				...built.header,
				grainDirectory: { offsetSectors: b.length / SECTOR, sizeSectors: 1 },
			}),
			0,
		);
		await expectVmdkError(
			openSeSparseExtent(new MemoryRandomAccessFile(b)),
			'VMDK_CORRUPT',
			/grain directory .* ends past the end of the file/,
			128,
		);
	});

	it('refuses a grain directory entry without the allocated marker', async () => {
		await expectVmdkError(
			openPatched((_b, view, built) => view.setBigUint64(built.gdOffsetBytes, 0x20000000_00000000n, true)),
			'VMDK_CORRUPT',
			/grain directory entry 0 is 0x2000000000000000/,
		);
	});

	it('refuses a grain directory entry naming a table past the end of the file', async () => {
		await expectVmdkError(
			openPatched((_b, view, built) => view.setBigUint64(built.gdOffsetBytes, 0x10000000_00000400n, true)),
			'VMDK_CORRUPT',
			/names grain table 1024 .* past the end of the file/,
		);
	});

	const badEntries: [string, bigint, RegExp][] = [
		['an unallocated entry with stray bits', 0x0000000000000005n, /must be 0/],
		['an unknown kind', 0x4000000000000000n, /unknown entry kind 4/],
		['an allocated grain past the end of the file', seSparseAllocatedEntry(4095), /past the end of the file/],
		['an allocated grain with a cluster beyond 2^53 bytes', 0x3fffffffffffffffn, /past the end of the file/],
	];
	for (const [name, entry, message] of badEntries) {
		it(`reports ${name} when its table is loaded, at the entry's offset`, async () => {
			const built = buildSeSparseExtentWithLayout(small);
			const b = built.bytes.slice();
			const entryAt = (built.gtOffsetBytes.get(0) ?? 0) + 7 * 8;
			new DataView(b.buffer).setBigUint64(entryAt, entry, true);
			const extent = await openSeSparseExtent(new MemoryRandomAccessFile(b));
			await expectVmdkError(extent.mapRun(0, GRAIN), 'VMDK_CORRUPT', message, entryAt);
		});
	}
});

describe('seSparse reads', () => {
	it('maps zero and unmapped grains as one zero run, and the rest as data / unallocated', async () => {
		const { extent } = await open(small);
		expect(extent.sizeBytes).toBe(2048 * SECTOR);
		expect(await allRuns(extent)).toEqual([
			{ kind: 'data', lengthBytes: 2 * GRAIN },
			{ kind: 'zero', lengthBytes: 2 * GRAIN },
			{ kind: 'data', lengthBytes: GRAIN },
			{ kind: 'unallocated', lengthBytes: 5 * GRAIN },
			{ kind: 'zero', lengthBytes: GRAIN },
			{ kind: 'unallocated', lengthBytes: 245 * GRAIN },
		]);
		expect(await extent.mapRun(GRAIN + 10, 5)).toEqual({ kind: 'data', lengthBytes: 5 });
	});

	it('reads data grains with one read for contiguous grains, and zeros for zero grains', async () => {
		const { file, extent } = await open(small);
		await extent.mapRun(0, 1); // loads the grain table
		const before = file.reads.length;
		const dest = new Uint8Array(5 * GRAIN).fill(0xee);
		await extent.readData(0, dest, 0, 2 * GRAIN);
		expect(file.reads.length - before).toBe(1);
		await extent.readData(2 * GRAIN, dest, 2 * GRAIN, 3 * GRAIN);
		expect(dest[0]).toBe(0xb0);
		expect(dest[GRAIN]).toBe(0xb1);
		expect(dest.subarray(2 * GRAIN, 4 * GRAIN).every((v) => v === 0)).toBe(true);
		expect(dest.subarray(4 * GRAIN).every((v) => v === 0xb4)).toBe(true);
		await expect(extent.readData(5 * GRAIN, dest, 0, 1)).rejects.toThrow(/not allocated/);
		await expectVmdkError(extent.mapRun(extent.sizeBytes, 1), 'VMDK_OUT_OF_RANGE');
	});

	it('reads grains stored in reverse order separately', async () => {
		const { file, extent } = await open({ ...small, grainOrder: 'descending' });
		await extent.mapRun(0, 1);
		const before = file.reads.length;
		const dest = new Uint8Array(2 * GRAIN);
		await extent.readData(0, dest, 0, 2 * GRAIN);
		expect(file.reads.length - before).toBe(2);
		expect([dest[0], dest[GRAIN]]).toEqual([0xb0, 0xb1]);
	});

	it('loads grain tables lazily and skips absent ones', async () => {
		const span = 4096 * GRAIN;
		const { file, extent } = await open(
			{ capacitySectors: (3 * span) / SECTOR, grains: new Map([[2 * 4096 + 3, fill(GRAIN, 7)]]) },
			1,
		);
		expect(file.reads.map(([, n]) => n)).toEqual([512, 512, 24]);
		expect(await extent.mapRun(0, 2 * span)).toEqual({ kind: 'unallocated', lengthBytes: 2 * span });
		expect(file.reads.length).toBe(3);
		expect(await extent.mapRun(2 * span, span)).toEqual({ kind: 'unallocated', lengthBytes: 3 * GRAIN });
		expect(file.reads.length).toBe(4);
		const dest = new Uint8Array(GRAIN);
		await extent.readData(2 * span + 3 * GRAIN, dest, 0, GRAIN);
		expect(dest[0]).toBe(7);
		await extent.close();
		expect(file.closed).toBe(true);
	});

	for (const shape of ['memory', 'disk'] as const) {
		it(`reads the same bytes from ${shape}`, async () => {
			const image = buildSeSparseExtent(small);
			let file: RandomAccessFile = new MemoryRandomAccessFile(image);
			let cleanup = (): Promise<void> => Promise.resolve();
			if (shape === 'disk') {
				const tmp = await makeTempDir();
				cleanup = tmp.cleanup;
				const path = join(tmp.dir, 'x-sesparse.vmdk');
				await writeFile(path, image);
				file = await nodePlatform.openFile(path);
			}
			const extent = await openSeSparseExtent(file);
			try {
				const dest = new Uint8Array(2 * GRAIN);
				await extent.readData(0, dest, 0, 2 * GRAIN);
				expect([dest[0], dest[2 * GRAIN - 1]]).toEqual([0xb0, 0xb1]);
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
		const extent = await openSeSparseExtent(new MemoryRandomAccessFile(image));
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

describe('seSparse corrupted metadata', () => {
	it('fails only with typed errors when random metadata bytes are damaged', async () => {
		const built = buildSeSparseExtentWithLayout(small);
		const metadataEnd = Math.min(...built.grainOffsetBytes.values());
		const gtAt = built.gtOffsetBytes.get(0) ?? 0;
		const random = prng(54321);
		const next = (n: number): number => randomInt(random, n);
		const codes = new Set<string>();
		for (let i = 0; i < 400; i++) {
			const b = built.bytes.slice();
			for (let k = 0, n = 1 + next(3); k < n; k++) {
				// Damage the const header's fields, the GD, or the used GT entries.
				const where = next(3);
				const at =
					where === 0 ? next(208) : where === 1 ? built.gdOffsetBytes + next(8) : gtAt + next(11 * 8);
				b[at] = next(256);
			}
			codes.add(await openAndReadAll(b));
		}
		expect(codes.has('ok')).toBe(true);
		expect(codes.has('VMDK_CORRUPT')).toBe(true);
		expect(metadataEnd).toBeGreaterThan(gtAt);
	});
});
