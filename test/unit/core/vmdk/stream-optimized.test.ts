// SPDX-License-Identifier: MIT
import { describe, expect, it } from 'vitest';
import { VmdkError } from '../../../../src/core/index.js';
import {
	openHostedSparseExtent,
	type HostedSparseExtent,
} from '../../../../src/core/vmdk/hosted-sparse-extent.js';
import {
	StreamMarkerType,
	parseStreamMarker,
	readStreamFooter,
	scanStreamMarkers,
} from '../../../../src/core/vmdk/stream-optimized.js';
import { parseSparseHeader } from '../../../../src/core/vmdk/sparse-header.js';
import { nodePlatform } from '../../../../src/host/node/node-platform.js';
import { bytes, u32le, u64le } from '../../../helpers/bytes.js';
import {
	MemoryFile,
	buildStreamOptimized,
	expectSameBytes,
	metadataMarker,
	rejection,
} from '../../../helpers/build-sparse.js';
import { prng, randomBytes, randomInt } from '../../../helpers/prng.js';

const G = 64 * 1024; // default grain: 128 sectors
const GRAINS = 1100; // spans three grain tables (512 grains each)

/** Grains 0, 1, 5 (compressible), 600 (second GT) and 1099 (last). */
function sampleGrains(): Map<number, Uint8Array> {
	return new Map([
		[0, randomBytes(G, 1)],
		[1, new Uint8Array(G).fill(0x11)],
		[5, bytes(randomBytes(100, 5), new Uint8Array(G - 100))],
		[600, randomBytes(G, 600)],
		[1099, randomBytes(G, 1099)],
	]);
}

function expectedDisk(grains: Map<number, Uint8Array>, only?: (g: number) => boolean): Uint8Array {
	const out = new Uint8Array(GRAINS * G);
	for (const [g, b] of grains) if (only === undefined || only(g)) out.set(b, g * G);
	return out;
}

async function open(b: Uint8Array): Promise<HostedSparseExtent> {
	return openHostedSparseExtent(new MemoryFile(b), nodePlatform);
}

async function readAll(ext: HostedSparseExtent): Promise<Uint8Array> {
	const out = new Uint8Array(ext.sizeBytes);
	let pos = 0;
	while (pos < ext.sizeBytes) {
		const run = await ext.mapRun(pos, 8 * G);
		if (run.kind === 'data') await ext.readData(pos, out, pos, run.lengthBytes);
		pos += run.lengthBytes;
	}
	return out;
}

const spec = { capacitySectors: GRAINS * 128, grainSizeSectors: 128, grains: sampleGrains() };

describe('stream markers', () => {
	it('parses grain and metadata markers', () => {
		expect(parseStreamMarker(bytes(u64le(256), u32le(1234), u32le(0)), 0)).toEqual({
			kind: 'grain',
			lbaSectors: 256n,
			compressedSizeBytes: 1234,
		});
		expect(parseStreamMarker(metadataMarker(StreamMarkerType.GRAIN_TABLE, 4), 0)).toEqual({
			kind: 'metadata',
			type: 1,
			sizeSectors: 4n,
		});
	});
});

describe('streamOptimized with a footer (GD_AT_END)', () => {
	it('finds the real header in the footer and reads every grain', async () => {
		const built = buildStreamOptimized(spec);
		const file = new MemoryFile(built.bytes);
		const footer = await readStreamFooter(file);
		expect(footer.ok).toBe(true);
		const ext = await openHostedSparseExtent(file, nodePlatform);
		expect(ext.warnings).toEqual([]);
		expect(ext.header.gdAtEnd).toBe(false);
		expect(ext.header.gdOffsetSectors * 512).toBe(built.gdAt);
		expect(ext.header.version).toBe(3);
		expect(await ext.mapRun(0, 100 * G)).toEqual({ kind: 'data', lengthBytes: 2 * G });
		expect(await ext.mapRun(6 * G, 1e12)).toEqual({ kind: 'unallocated', lengthBytes: 594 * G });
		expectSameBytes(await readAll(ext), expectedDisk(spec.grains));
	});

	it('rebuilds the index by a marker scan when the file ends before the footer', async () => {
		const built = buildStreamOptimized(spec);
		const ext = await open(built.bytes.subarray(0, built.footerMarkerAt));
		expect(ext.warnings.join('\n')).toMatch(/footer missing or damaged/);
		expect(ext.warnings.join('\n')).toMatch(
			/5 grains found; scan stopped: file ends without an end-of-stream marker/,
		);
		expectSameBytes(await readAll(ext), expectedDisk(spec.grains));
	});

	it('keeps the grains before a cut inside a grain', async () => {
		const built = buildStreamOptimized(spec);
		const cut = built.grainMarkerAt.get(600)! + 700;
		const ext = await open(built.bytes.subarray(0, cut));
		expect(ext.warnings.join('\n')).toMatch(/3 grains found; scan stopped: grain at LBA 76800 is cut off/);
		expectSameBytes(
			await readAll(ext),
			expectedDisk(spec.grains, (g) => g < 600),
		);
		expect(await ext.mapRun(600 * G, G)).toEqual({ kind: 'unallocated', lengthBytes: G });
	});

	it('scans the markers when the footer is damaged', async () => {
		const built = buildStreamOptimized(spec);
		const damaged = built.bytes.slice();
		damaged[built.footerMarkerAt + 512] = 0; // footer magic
		const ext = await open(damaged);
		expect(ext.warnings[0]).toMatch(/footer missing or damaged: .*Invalid SparseExtentHeader magic/);
		expectSameBytes(await readAll(ext), expectedDisk(spec.grains));
	});

	it("scans the markers when the footer's grain directory points past EOF", async () => {
		const built = buildStreamOptimized(spec);
		const damaged = built.bytes.slice();
		new DataView(damaged.buffer).setBigUint64(built.footerMarkerAt + 512 + 56, 1n << 32n, true);
		const ext = await open(damaged);
		expect(ext.warnings[0]).toMatch(/footer's grain directory is unusable/);
		expect(ext.warnings[1]).toMatch(/5 grains found$/);
		expectSameBytes(await readAll(ext), expectedDisk(spec.grains));
	});

	it('skips zero padding before the first marker when overHead is 0 or past EOF', async () => {
		const built = buildStreamOptimized(spec);
		for (const overhead of [0n, 1n << 40n]) {
			const damaged = built.bytes.slice(0, built.footerMarkerAt);
			new DataView(damaged.buffer).setBigUint64(64, overhead, true); // overHead
			const ext = await open(damaged);
			expect(ext.warnings.join()).toMatch(/5 grains found/);
			expectSameBytes(await readAll(ext), expectedDisk(spec.grains));
		}
	});

	it('stops the scan at an unknown marker type and keeps what came before', async () => {
		const built = buildStreamOptimized(spec);
		const damaged = built.bytes.slice();
		damaged.set(metadataMarker(9, 0), built.grainMarkerAt.get(5));
		damaged.set(new Uint8Array(1536), damaged.length - 1536); // no footer
		const ext = await open(damaged);
		expect(ext.warnings.join()).toMatch(/2 grains found; scan stopped: unknown marker type 9 \(byte \d+\)/);
		expectSameBytes(
			await readAll(ext),
			expectedDisk(spec.grains, (g) => g < 5),
		);
	});

	it('keeps scan memory proportional to the allocated grains', async () => {
		const built = buildStreamOptimized(spec);
		const file = new MemoryFile(built.bytes.subarray(0, built.footerMarkerAt));
		const header = parseSparseHeader(built.bytes.subarray(0, 512));
		const scan = await scanStreamMarkers(file, header, 128);
		expect(scan.grainCount).toBe(5);
		expect([...scan.tables.keys()].sort()).toEqual([0, 1, 2]);
		// Sequential windows: the whole file is read about once.
		const readBytes = file.reads.reduce((n, r) => n + r.length, 0);
		expect(readBytes).toBeLessThan(3 * file.sizeBytes);
	});

	it('rejects GD_AT_END without a footer when there are no markers to scan', async () => {
		const built = buildStreamOptimized(spec);
		const damaged = built.bytes.slice(0, built.footerMarkerAt);
		new DataView(damaged.buffer).setUint32(8, 0x10001, true); // flags: compressed, no markers
		const err = await rejection(open(damaged));
		expect(err.code).toBe('VMDK_CORRUPT');
		expect(err.message).toContain('without markers');
	});

	it('rejects zlib garbage in a streamed grain as VMDK_DECOMPRESS', async () => {
		const built = buildStreamOptimized({
			...spec,
			compress: () => Uint8Array.from([0x78, 0x9c, 1, 2, 3, 4, 5, 6]),
		});
		const ext = await open(built.bytes);
		const err = await rejection(ext.readData(G, new Uint8Array(G), 0, G));
		expect(err.code).toBe('VMDK_DECOMPRESS');
		expect(err.offsetBytes).toBe(built.grainMarkerAt.get(1));
	});

	it('survives a cut at every sector and random damage: typed errors or consistent data, never a crash', async () => {
		// A small stream (4 KiB grains) so that every cut can be tried.
		const grains = new Map<number, Uint8Array>();
		for (const g of [0, 1, 2, 7, 8, 30])
			grains.set(g, g % 2 === 0 ? randomBytes(4096, g) : new Uint8Array(4096).fill(g));
		const small = buildStreamOptimized({ capacitySectors: 32 * 8, grainSizeSectors: 8, grains });
		const check = async (b: Uint8Array): Promise<void> => {
			let ext: HostedSparseExtent;
			try {
				ext = await open(b);
			} catch (error) {
				expect(error).toBeInstanceOf(VmdkError);
				return;
			}
			for (let g = 0; g < 32; g++) {
				try {
					const run = await ext.mapRun(g * 4096, 4096);
					if (run.kind !== 'data') continue;
					const got = new Uint8Array(4096);
					await ext.readData(g * 4096, got, 0, 4096);
					// Whatever is readable is the grain that was written there.
					expectSameBytes(got, grains.get(g) ?? new Uint8Array(4096));
				} catch (error) {
					expect(error).toBeInstanceOf(VmdkError);
				}
			}
		};
		for (let n = 0; n <= small.bytes.length; n += 512) {
			await check(small.bytes.subarray(0, n));
			if (n > 100) await check(small.bytes.subarray(0, n - 100));
		}
		const random = prng(7);
		const rand = (n: number): number => randomInt(random, n);
		for (let i = 0; i < 300; i++) {
			const damaged = small.bytes.slice();
			// Damage the metadata (header, tail) more often than grain payloads.
			const region =
				i % 3 === 0 ? rand(512) : i % 3 === 1 ? damaged.length - 1 - rand(2048) : rand(damaged.length);
			damaged[region] = rand(256);
			await check(damaged);
		}
	});

	it('reports a footer too short or without an EOS marker', async () => {
		expect(await readStreamFooter(new MemoryFile(new Uint8Array(1024)))).toMatchObject({ ok: false });
		const built = buildStreamOptimized(spec);
		const noEos = built.bytes.slice();
		noEos[noEos.length - 512 + 12] = 7;
		expect(await readStreamFooter(new MemoryFile(noEos))).toMatchObject({
			ok: false,
			reason: expect.stringContaining('end-of-stream') as unknown,
		});
	});
});
