// SPDX-License-Identifier: MIT
import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { openDisk, VmdkError } from '../../../../src/core/index.js';
import { MemoryPlatform } from '../../../helpers/memory-platform.js';
import {
	openHostedSparseExtent,
	type HostedSparseExtent,
} from '../../../../src/core/vmdk/hosted-sparse-extent.js';
import { readEmbeddedDescriptor, readSparseHeader } from '../../../../src/core/vmdk/sparse-header.js';
import { nodePlatform } from '../../../../src/host/node/node-platform.js';
import {
	MemoryFile,
	expectSameBytes,
	grainMarker,
	pattern,
	rejection,
	sparseHeader,
	TEST_FILE as FILE,
} from './sparse-fixtures.js';

/** What a grain of the test image holds. */
type GrainSpec = Uint8Array | 'zero' | { compressed: Uint8Array };

interface SparseSpec {
	capacitySectors: number;
	grainSizeSectors: number;
	grains: Map<number, GrainSpec>;
	flags?: number;
	version?: number;
	redundant?: boolean;
	compressed?: boolean;
	descriptor?: string;
}

interface BuiltSparse {
	bytes: Uint8Array;
	/** Byte offsets of the directories and tables, and of each grain. */
	gdAt: number;
	rgdAt: number;
	gtAt: number;
	rgtAt: number;
	grainAt: Map<number, number>;
}

/**
 * A monolithicSparse extent laid out as VMware and QEMU do: header, descriptor (1 sector),
 * redundant GD + GTs, GD + GTs, then grains in grain order.
 */
function buildSparse(spec: SparseSpec): BuiltSparse {
	const gdEntries = Math.ceil(spec.capacitySectors / (spec.grainSizeSectors * 512));
	const gdSectors = Math.ceil((gdEntries * 4) / 512);
	const redundant = spec.redundant ?? true;
	const rgdSector = redundant ? 2 : 0;
	const rgtSector = rgdSector + gdSectors;
	const gdSector = redundant ? rgtSector + gdEntries * 4 : 2;
	const gtSector = gdSector + gdSectors;
	const overhead = gtSector + gdEntries * 4;
	const grainBytes = spec.grainSizeSectors * 512;
	const grainAt = new Map<number, number>();
	const payload: Uint8Array[] = [];
	let at = overhead * 512;
	for (const g of [...spec.grains.keys()].sort((a, b) => a - b)) {
		const s = spec.grains.get(g)!;
		if (s === 'zero') continue;
		grainAt.set(g, at);
		const b =
			s instanceof Uint8Array
				? padGrain(s, grainBytes)
				: grainMarker(g * spec.grainSizeSectors, s.compressed);
		payload.push(b);
		at += b.length;
	}
	const out = new Uint8Array(at);
	const view = new DataView(out.buffer);
	out.set(
		sparseHeader({
			version: spec.version ?? 1,
			flags: spec.flags ?? (redundant ? 0x3 : 0x1),
			capacitySectors: BigInt(spec.capacitySectors),
			grainSizeSectors: BigInt(spec.grainSizeSectors),
			descriptorOffsetSectors: 1n,
			descriptorSizeSectors: 1n,
			rgdOffsetSectors: BigInt(rgdSector),
			gdOffsetSectors: BigInt(gdSector),
			overheadSectors: BigInt(overhead),
			compressAlgorithm: spec.compressed === true ? 1 : 0,
		}),
	);
	out.set(new TextEncoder().encode(spec.descriptor ?? '# Disk DescriptorFile\n'), 512);
	for (let i = 0; i < gdEntries; i++) {
		view.setUint32(gdSector * 512 + i * 4, gtSector + i * 4, true);
		if (redundant) view.setUint32(rgdSector * 512 + i * 4, rgtSector + i * 4, true);
	}
	for (const [g, s] of spec.grains) {
		const gte = s === 'zero' ? 1 : grainAt.get(g)! / 512;
		const slot = Math.floor(g / 512) * 2048 + (g % 512) * 4;
		view.setUint32(gtSector * 512 + slot, gte, true);
		if (redundant) view.setUint32(rgtSector * 512 + slot, gte, true);
	}
	let p = overhead * 512;
	for (const b of payload) {
		out.set(b, p);
		p += b.length;
	}
	return {
		bytes: out,
		gdAt: gdSector * 512,
		rgdAt: rgdSector * 512,
		gtAt: gtSector * 512,
		rgtAt: rgtSector * 512,
		grainAt,
	};
}

function padGrain(b: Uint8Array, grainBytes: number): Uint8Array {
	const out = new Uint8Array(grainBytes);
	out.set(b);
	return out;
}

function filled(n: number, value: number): Uint8Array {
	return new Uint8Array(n).fill(value);
}

async function open(bytes: Uint8Array): Promise<{ ext: HostedSparseExtent; file: MemoryFile }> {
	const file = new MemoryFile(bytes);
	return { ext: await openHostedSparseExtent(file, nodePlatform), file };
}

async function readAll(ext: HostedSparseExtent, offset = 0, length = ext.sizeBytes): Promise<Uint8Array> {
	const out = new Uint8Array(length);
	await ext.readData(offset, out, 0, length);
	return out;
}

const G = 4096; // grain bytes in these tests (8 sectors)

describe('HostedSparseExtent', () => {
	// 40 grains of 4 KiB: 0-1 data (contiguous), 2 zero, 3-9 unallocated, 10 data, 39 data (last).
	const grains = new Map<number, GrainSpec>([
		[0, pattern(G, 1)],
		[1, pattern(G, 2)],
		[2, 'zero'],
		[10, pattern(G, 3)],
		[39, pattern(G, 4)],
	]);
	const spec: SparseSpec = { capacitySectors: 40 * 8, grainSizeSectors: 8, grains, flags: 0x7, version: 2 };

	it('reads data, zero and unallocated grains and maps them into coalesced runs', async () => {
		const { ext, file } = await open(buildSparse(spec).bytes);
		expect(ext.sizeBytes).toBe(40 * G);
		expect(ext.warnings).toEqual([]);
		expect(ext.header.version).toBe(2);
		expect(await ext.mapRun(0, 1 << 30)).toEqual({ kind: 'data', lengthBytes: 2 * G });
		expect(await ext.mapRun(100, 1 << 30)).toEqual({ kind: 'data', lengthBytes: 2 * G - 100 });
		expect(await ext.mapRun(2 * G, 1 << 30)).toEqual({ kind: 'zero', lengthBytes: G });
		expect(await ext.mapRun(3 * G, 1 << 30)).toEqual({ kind: 'unallocated', lengthBytes: 7 * G });
		expect(await ext.mapRun(3 * G, 5)).toEqual({ kind: 'unallocated', lengthBytes: 5 });
		expect(await ext.mapRun(11 * G, 1 << 30)).toEqual({ kind: 'unallocated', lengthBytes: 28 * G });
		expect(await ext.mapRun(39 * G + 7, 1 << 30)).toEqual({ kind: 'data', lengthBytes: G - 7 });

		const expected = new Uint8Array(40 * G);
		expected.set(pattern(G, 1), 0);
		expected.set(pattern(G, 2), G);
		expected.set(pattern(G, 3), 10 * G);
		expected.set(pattern(G, 4), 39 * G);
		expectSameBytes(await readAll(ext), expected);
		expectSameBytes(await readAll(ext, 4000, 200), expected.subarray(4000, 4200));

		// Two physically contiguous grains are fetched with one read.
		file.reads = [];
		await readAll(ext, 100, 2 * G - 200);
		expect(file.reads).toEqual([
			{ positionBytes: buildSparse(spec).grainAt.get(0)! + 100, length: 2 * G - 200 },
		]);
		await ext.close();
		expect(file.closed).toBe(1);
	});

	it('treats GTE 1 as a sector number when the zeroed-grain flag is clear', async () => {
		const { ext } = await open(buildSparse({ ...spec, flags: 0x3, version: 1 }).bytes);
		expect(await ext.mapRun(2 * G, G)).toEqual({ kind: 'data', lengthBytes: G });
		// Sector 1 is the descriptor: that is what such an entry points at.
		const got = await readAll(ext, 2 * G, 22);
		expect(new TextDecoder().decode(got)).toBe('# Disk DescriptorFile\n');
	});

	it('handles a capacity that is not a multiple of the grain', async () => {
		const img = buildSparse({
			capacitySectors: 20,
			grainSizeSectors: 8,
			grains: new Map([[2, pattern(G, 9)]]),
		});
		const { ext } = await open(img.bytes);
		expect(ext.sizeBytes).toBe(20 * 512);
		expect(await ext.mapRun(2 * G, 1 << 20)).toEqual({ kind: 'data', lengthBytes: 2048 });
		expect(await readAll(ext, 2 * G, 2048)).toEqual(pattern(G, 9).subarray(0, 2048));
		expect((await rejection(ext.mapRun(20 * 512, 1))).code).toBe('VMDK_OUT_OF_RANGE');
		expect((await rejection(readAll(ext, 20 * 512 - 1, 2))).code).toBe('VMDK_OUT_OF_RANGE');
	});

	it('opens an empty 2 TiB extent in milliseconds and maps it as one run', async () => {
		// Header + a 256 KiB GD of zeros: no grain tables at all.
		const gdEntries = 2 ** 32 / (128 * 512);
		const bytes = new Uint8Array(512 + gdEntries * 4);
		bytes.set(
			sparseHeader({
				capacitySectors: 2n ** 32n,
				grainSizeSectors: 128n,
				descriptorOffsetSectors: 0n,
				descriptorSizeSectors: 0n,
				rgdOffsetSectors: 0n,
				gdOffsetSectors: 1n,
				overheadSectors: 513n,
				flags: 0x1,
			}),
		);
		const started = performance.now();
		const { ext, file } = await open(bytes);
		expect(await ext.mapRun(0, Number.MAX_SAFE_INTEGER)).toEqual({
			kind: 'unallocated',
			lengthBytes: 2 ** 41,
		});
		expect(await ext.mapRun(2 ** 41 - 1, 10)).toEqual({ kind: 'unallocated', lengthBytes: 1 });
		expect(performance.now() - started).toBeLessThan(500);
		expect(file.reads.length).toBe(2); // header, GD
		expect(await readEmbeddedDescriptor(file, ext.header)).toBeNull();
	});

	it('loads back-to-back grain tables with one read', async () => {
		// 8 GTs, all unallocated grains, each GT present (as QEMU preallocates them).
		const cap = 8 * 512 * 8;
		const img = buildSparse({ capacitySectors: cap, grainSizeSectors: 8, grains: new Map() });
		const { ext, file } = await open(img.bytes);
		file.reads = [];
		const first = await ext.mapRun(0, cap * 512);
		// The 8 tables lie back to back: one read fetches them all.
		expect(first).toEqual({ kind: 'unallocated', lengthBytes: cap * 512 });
		expect(file.reads).toEqual([{ positionBytes: img.gtAt, length: 8 * 2048 }]);
	});

	it('bounds the tables one mapRun call loads when they are scattered', async () => {
		// Reverse the GD so no two tables are neighbours: one read per table, at most 4 per call.
		const cap = 8 * 512 * 8;
		const img = buildSparse({
			capacitySectors: cap,
			grainSizeSectors: 8,
			grains: new Map(),
			redundant: false,
			flags: 1,
		});
		const view = new DataView(img.bytes.buffer);
		for (let i = 0; i < 8; i++) view.setUint32(img.gdAt + i * 4, img.gtAt / 512 + (7 - i) * 4, true);
		const { ext, file } = await open(img.bytes);
		file.reads = [];
		const first = await ext.mapRun(0, cap * 512);
		expect(first).toEqual({ kind: 'unallocated', lengthBytes: 5 * 512 * G });
		expect(file.reads.length).toBe(5);
		let pos = first.lengthBytes;
		while (pos < ext.sizeBytes) pos += (await ext.mapRun(pos, cap * 512)).lengthBytes;
		expect(pos).toBe(ext.sizeBytes);
	});

	it('rejects reads typed when the disk fails, without unhandled rejections from batched tables', async () => {
		const cap = 8 * 512 * 8;
		const { ext, file } = await open(
			buildSparse({ capacitySectors: cap, grainSizeSectors: 8, grains: new Map() }).bytes,
		);
		file.failReads = true;
		expect((await rejection(ext.mapRun(0, 1))).code).toBe('VMDK_IO');
		file.failReads = false;
		expect(await ext.mapRun(0, 1)).toEqual({ kind: 'unallocated', lengthBytes: 1 });
	});

	it('reads compressed grains with markers, several at once, and caches them', async () => {
		const data = new Map<number, GrainSpec>();
		const expected = new Uint8Array(64 * G);
		for (let g = 0; g < 64; g += 1 + (g % 3)) {
			const b = g % 2 === 0 ? pattern(G, g) : filled(G, g);
			expected.set(b, g * G);
			data.set(g, { compressed: new Uint8Array(deflateSync(b)) });
		}
		const { ext, file } = await open(
			buildSparse({
				capacitySectors: 64 * 8,
				grainSizeSectors: 8,
				grains: data,
				compressed: true,
				flags: 0x30003,
			}).bytes,
		);
		expect(ext.header.compressed).toBe(true);
		file.reads = [];
		expectSameBytes(await readAll(ext), expected);
		// One grain-table read, then all the back-to-back records in one read.
		expect(file.reads.map((r) => r.length)).toEqual([2048, file.sizeBytes - file.reads[1]!.positionBytes]);
		file.reads = [];
		expectSameBytes(await readAll(ext, 5 * G + 3, 20 * G), expected.subarray(5 * G + 3, 25 * G + 3));
		expect(file.reads).toEqual([]); // all from the grain cache
	});

	it('rejects zlib garbage in a compressed grain as VMDK_DECOMPRESS at the marker', async () => {
		const img = buildSparse({
			capacitySectors: 16,
			grainSizeSectors: 8,
			grains: new Map([[1, { compressed: Uint8Array.from([0x78, 0x9c, 0xff, 0xff, 0xff, 0x00, 0x13]) }]]),
			compressed: true,
			flags: 0x30003,
		});
		const { ext } = await open(img.bytes);
		const err = await rejection(readAll(ext, G, G));
		expect(err.code).toBe('VMDK_DECOMPRESS');
		expect(err.file).toBe(FILE);
		expect(err.offsetBytes).toBe(img.grainAt.get(1));
	});

	it('rejects a compressed grain whose marker names another LBA, or runs past EOF', async () => {
		const img = buildSparse({
			capacitySectors: 16,
			grainSizeSectors: 8,
			grains: new Map([[1, { compressed: new Uint8Array(deflateSync(filled(G, 7))) }]]),
			compressed: true,
			flags: 0x30003,
		});
		const at = img.grainAt.get(1)!;
		const wrongLba = img.bytes.slice();
		new DataView(wrongLba.buffer).setBigUint64(at, 0n, true);
		let err = await rejection(open(wrongLba).then(({ ext }) => readAll(ext, G, G)));
		expect(err.code).toBe('VMDK_CORRUPT');
		expect(err.offsetBytes).toBe(at);

		const hugeSize = img.bytes.slice();
		new DataView(hugeSize.buffer).setUint32(at + 8, 1 << 20, true);
		err = await rejection(open(hugeSize).then(({ ext }) => readAll(ext, G, G)));
		expect(err.code).toBe('VMDK_CORRUPT');
		expect(err.offsetBytes).toBe(at);
	});

	it('falls back to the redundant GD when the primary GD offset is past EOF', async () => {
		const img = buildSparse(spec);
		const bytes = img.bytes.slice();
		new DataView(bytes.buffer).setBigUint64(56, 1n << 40n, true); // gdOffset far past EOF
		const { ext } = await open(bytes);
		expect(ext.warnings.join('\n')).toMatch(/primary grain directory is damaged.*redundant/);
		const clean = await open(img.bytes);
		expectSameBytes(await readAll(ext), await readAll(clean.ext));
	});

	it('falls back to the redundant GD when a GD entry points past EOF', async () => {
		const img = buildSparse(spec);
		const bytes = img.bytes.slice();
		new DataView(bytes.buffer).setUint32(img.gdAt, 0x7fffffff, true);
		const { ext } = await open(bytes);
		expect(ext.warnings).toHaveLength(1);
		expect(ext.warnings[0]).toContain(`entry 0 points at a grain table at sector ${0x7fffffff}`);
		expectSameBytes(await readAll(ext), await readAll((await open(img.bytes)).ext));
	});

	it('rejects a GD past EOF when there is no redundant GD, naming the offset, and closes the file', async () => {
		const img = buildSparse({ ...spec, redundant: false, flags: 0x5 });
		const bytes = img.bytes.slice();
		new DataView(bytes.buffer).setUint32(img.gdAt, 0x7fffffff, true);
		const file = new MemoryFile(bytes);
		const err = await rejection(openHostedSparseExtent(file, nodePlatform));
		expect(err.code).toBe('VMDK_CORRUPT');
		expect(err.offsetBytes).toBe(img.gdAt);
		expect(file.closed).toBe(1);
		// Both directories broken: the primary's error is reported.
		const both = img.bytes.slice();
		new DataView(both.buffer).setBigUint64(56, 1n << 30n, true);
		expect((await rejection(open(both))).code).toBe('VMDK_CORRUPT');
	});

	it('warns about a damaged redundant GD and reads through the primary', async () => {
		const img = buildSparse(spec);
		const bytes = img.bytes.slice();
		new DataView(bytes.buffer).setUint32(img.rgdAt, 0x7fffffff, true);
		const { ext } = await open(bytes);
		expect(ext.warnings).toEqual([expect.stringMatching(/^redundant grain directory ignored: .*entry 0/)]);
		expectSameBytes(await readAll(ext), await readAll((await open(img.bytes)).ext));
	});

	it('ignores rgdOffset when the redundant-table flag is clear (as QEMU does)', async () => {
		const img = buildSparse({ ...spec, flags: 0x5 }); // newline test + zeroed GTE, no bit 1
		const bytes = img.bytes.slice();
		new DataView(bytes.buffer).setUint32(img.gdAt, 0x7fffffff, true);
		const err = await rejection(open(bytes));
		expect(err.code).toBe('VMDK_CORRUPT');
		expect(err.offsetBytes).toBe(img.gdAt);
	});

	it('uses the redundant copy of a grain table whose entries point past EOF', async () => {
		const img = buildSparse(spec);
		const bytes = img.bytes.slice();
		new DataView(bytes.buffer).setUint32(img.gtAt + 10 * 4, 0x00ffffff, true);
		const { ext } = await open(bytes);
		expect(ext.warnings).toEqual([]);
		expectSameBytes(await readAll(ext), await readAll((await open(img.bytes)).ext));
		expect(ext.warnings.join()).toMatch(/grain table 0 .* using its redundant copy/);
	});

	it("shows a redundant grain table found while reading in the open disk's warnings", async () => {
		const descriptor = [
			'# Disk DescriptorFile',
			'version=1',
			'CID=12345678',
			'parentCID=ffffffff',
			'createType="monolithicSparse"',
			`RW ${spec.capacitySectors} SPARSE "lazy.vmdk"`,
			'',
		].join('\n');
		const img = buildSparse({ ...spec, descriptor });
		const bytes = img.bytes.slice();
		new DataView(bytes.buffer).setUint32(img.gtAt + 10 * 4, 0x00ffffff, true);
		const disk = await openDisk('/vm/lazy.vmdk', new MemoryPlatform({ '/vm/lazy.vmdk': bytes }));
		expect(disk.warnings).toEqual([]);
		await disk.read(0, disk.sizeBytes);
		expect(disk.warnings.join()).toMatch(/^\/vm\/lazy\.vmdk: grain table 0 .* using its redundant copy/);
		await disk.close();
	});

	it('rejects a grain past EOF without a redundant copy, at the GTE offset, and ends runs before it', async () => {
		const img = buildSparse({ ...spec, redundant: false, flags: 0x5 });
		const bytes = img.bytes.slice();
		new DataView(bytes.buffer).setUint32(img.gtAt + 1 * 4, 0x00ffffff, true);
		const { ext } = await open(bytes);
		expect(await ext.mapRun(0, 1 << 20)).toEqual({ kind: 'data', lengthBytes: G });
		for (const err of [await rejection(ext.mapRun(G, 1)), await rejection(readAll(ext, 0, 2 * G))]) {
			expect(err.code).toBe('VMDK_CORRUPT');
			expect(err.offsetBytes).toBe(img.gtAt + 4);
			expect(err.message).toContain('grain 1 is at sector 16777215');
		}
	});

	it('survives random damage to its metadata: typed errors only, never a crash or a hang', async () => {
		const img = buildSparse(spec);
		const metadataEnd = img.grainAt.get(0)!;
		let seed = 99;
		const rand = (n: number) => {
			seed = (seed * 1103515245 + 12345) >>> 0;
			return seed % n;
		};
		for (let i = 0; i < 300; i++) {
			const damaged = img.bytes.slice();
			for (let k = 0; k <= i % 3; k++) damaged[rand(metadataEnd)] = rand(256);
			try {
				const { ext } = await open(damaged);
				let pos = 0;
				while (pos < ext.sizeBytes) {
					const run = await ext.mapRun(pos, ext.sizeBytes);
					if (run.kind === 'data')
						await ext.readData(pos, new Uint8Array(run.lengthBytes), 0, run.lengthBytes);
					pos += run.lengthBytes;
				}
			} catch (error) {
				expect(error).toBeInstanceOf(VmdkError);
			}
		}
	});

	it('rejects a file cut inside the header as VMDK_TRUNCATED and closes it', async () => {
		const img = buildSparse(spec);
		for (const n of [0, 3, 12, 50, 78, 300, 511]) {
			const file = new MemoryFile(img.bytes.slice(0, n));
			const err = await rejection(openHostedSparseExtent(file, nodePlatform));
			expect(err.code).toBe('VMDK_TRUNCATED');
			expect(err.file).toBe(FILE);
			expect(file.closed).toBe(1);
		}
	});

	it('handles a file cut at every sector: open fails typed, or reads fail typed, never a crash', async () => {
		const img = buildSparse(spec);
		for (let n = 512; n < img.bytes.length; n += 512) {
			try {
				const { ext } = await open(img.bytes.slice(0, n));
				await readAll(ext);
			} catch (error) {
				expect(error).toBeInstanceOf(VmdkError);
				expect(['VMDK_CORRUPT', 'VMDK_TRUNCATED']).toContain((error as VmdkError).code);
			}
		}
	});
});

describe('readSparseHeader / readEmbeddedDescriptor', () => {
	it('reads the header at byte 0 and the descriptor up to its first NUL', async () => {
		const img = buildSparse({
			capacitySectors: 8,
			grainSizeSectors: 8,
			grains: new Map(),
			descriptor: 'x=1\n',
		});
		const file = new MemoryFile(img.bytes);
		const header = await readSparseHeader(file);
		expect(new TextDecoder().decode((await readEmbeddedDescriptor(file, header))!)).toBe('x=1\n');
	});

	it('returns the whole area when it has no NUL', async () => {
		const img = buildSparse({
			capacitySectors: 8,
			grainSizeSectors: 8,
			grains: new Map(),
			descriptor: 'y'.repeat(512),
		});
		const file = new MemoryFile(img.bytes);
		expect((await readEmbeddedDescriptor(file, await readSparseHeader(file)))!.length).toBe(512);
	});

	it('caps the descriptor size and rejects one past EOF', async () => {
		const file = new MemoryFile(new Uint8Array(4096));
		const base = { ...(await readSparseHeader(new MemoryFile(sparseHeader()))) };
		let err = await rejection(readEmbeddedDescriptor(file, { ...base, descriptorSizeSectors: 2049 }));
		expect(err.code).toBe('VMDK_LIMIT');
		expect(err.offsetBytes).toBe(512);
		err = await rejection(
			readEmbeddedDescriptor(file, { ...base, descriptorOffsetSectors: 7, descriptorSizeSectors: 2 }),
		);
		expect(err.code).toBe('VMDK_TRUNCATED');
	});
});
