// SPDX-License-Identifier: MIT
import { describe, expect, it } from 'vitest';
import { VmdkError } from '../../../../src/core/index.js';
import { KDMV_MAGIC, parseSparseHeader, SparseFlag } from '../../../../src/core/vmdk/sparse-header.js';
import { sparseHeader } from '../../../helpers/build-sparse.js';
import { bytes, u16le, u32le, u64le, u8 } from '../../../helpers/bytes.js';

const FILE = '/vm/disk.vmdk';

/** Parses and returns the VmdkError it throws. */
function parseError(b: Uint8Array, offsetBytes = 0): VmdkError {
	try {
		parseSparseHeader(b, { file: FILE, offsetBytes });
	} catch (error) {
		expect(error).toBeInstanceOf(VmdkError);
		return error as VmdkError;
	}
	throw new Error('expected parseSparseHeader to throw');
}

describe('parseSparseHeader', () => {
	it('reads every field of a header written inline', () => {
		const header = bytes(
			u32le(0x564d444b), // magic 'KDMV'
			u32le(2), // version
			u32le(0x7), // flags: newline test, redundant GD, zeroed-grain GTE
			u64le(4096n), // capacity (sectors)
			u64le(16n), // grain size (sectors)
			u64le(1n), // descriptor offset (sectors)
			u64le(20n), // descriptor size (sectors)
			u32le(512), // numGTEsPerGT
			u64le(21n), // redundant GD offset (sectors)
			u64le(30n), // GD offset (sectors)
			u64le(64n), // overhead (sectors)
			u8(1), // uncleanShutdown
			[0x0a, 0x20, 0x0d, 0x0a], // end-of-line check
			u16le(0), // compressAlgorithm
			new Uint8Array(433), // pad
		);
		expect(header.length).toBe(512);
		expect(parseSparseHeader(header)).toEqual({
			version: 2,
			flags: 0x7,
			capacitySectors: 4096,
			grainSizeSectors: 16,
			descriptorOffsetSectors: 1,
			descriptorSizeSectors: 20,
			numGtesPerGt: 512,
			rgdOffsetSectors: 21,
			gdOffsetSectors: 30,
			gdAtEnd: false,
			overheadSectors: 64,
			uncleanShutdown: true,
			compressAlgorithm: 0,
			compressed: false,
			hasMarkers: false,
			zeroedGrainGte: true,
			gdEntries: 1, // ceil(4096 / (16 × 512))
		});
	});

	it('computes the GD length as ceil(capacity / (grain × 512))', () => {
		const h = (cap: bigint, grain: bigint) =>
			parseSparseHeader(sparseHeader({ capacitySectors: cap, grainSizeSectors: grain })).gdEntries;
		expect(h(0n, 128n)).toBe(0);
		expect(h(1n, 128n)).toBe(1);
		expect(h(65536n, 128n)).toBe(1);
		expect(h(65537n, 128n)).toBe(2);
		expect(h(2n ** 32n, 128n)).toBe(65536);
		expect(h(2n ** 32n, 1n)).toBe(2 ** 23);
	});

	it('treats gdOffset 0xffffffffffffffff as GD_AT_END and reads streamOptimized flags', () => {
		const h = parseSparseHeader(
			sparseHeader({
				version: 3,
				flags: 0x30001,
				gdOffsetSectors: 0xffffffffffffffffn,
				compressAlgorithm: 1,
			}),
		);
		expect(h.gdAtEnd).toBe(true);
		expect(h.gdOffsetSectors).toBe(0);
		expect(h.compressed).toBe(true);
		expect(h.hasMarkers).toBe(true);
		expect(SparseFlag.HAS_MARKERS).toBe(0x20000);
	});

	it('takes compressAlgorithm = deflate as compressed even without flag bit 16 (as QEMU does)', () => {
		expect(parseSparseHeader(sparseHeader({ flags: 0x1, compressAlgorithm: 1 })).compressed).toBe(true);
	});

	it('accepts a damaged newline check when the flag says it is not valid', () => {
		expect(() =>
			parseSparseHeader(sparseHeader({ flags: 0, newline: [0x0a, 0x20, 0x0a, 0x0a] })),
		).not.toThrow();
	});

	// Field boundaries: 0 magic, 4 version, 8 flags, 12 capacity, 20 grain, 28 descOffset, 36 descSize,
	// 44 numGTEs, 48 rgd, 56 gd, 64 overhead, 72 unclean, 73 newline, 77 compress, 79 pad, 512 end.
	const boundaries = [0, 4, 8, 12, 20, 28, 36, 44, 48, 56, 64, 72, 73, 77, 79];
	const cuts = [...new Set(boundaries.flatMap((b) => [b, b + 1, b + 3]).concat([200, 511]))].filter(
		(n) => n < 512,
	);
	it.each(cuts)('rejects a header cut to %i bytes as VMDK_TRUNCATED', (n) => {
		const err = parseError(sparseHeader().subarray(0, n), 4096);
		expect(err.code).toBe('VMDK_TRUNCATED');
		expect(err.file).toBe(FILE);
		// The error points at the first missing field, within the file.
		const fieldStart = n >= 79 ? 79 : Math.max(...boundaries.filter((b) => b <= n));
		expect(err.offsetBytes).toBe(4096 + fieldStart);
	});

	it.each([0, 1, 2, 3])('rejects a bad magic byte at offset %i, in hex, naming both values', (i) => {
		const h = sparseHeader();
		h[i] = h[i]! ^ 0xff;
		const err = parseError(h);
		expect(err.code).toBe('VMDK_BAD_MAGIC');
		const seen = new DataView(h.buffer).getUint32(0, true);
		expect(err.message).toContain(
			`Invalid SparseExtentHeader magic: expected 0x${KDMV_MAGIC.toString(16)}, saw 0x${seen.toString(16).padStart(8, '0')}`,
		);
		expect(err.offsetBytes).toBe(0);
	});

	it('rejects an all-zero sector with the value it saw', () => {
		expect(parseError(new Uint8Array(512)).message).toContain('expected 0x564d444b, saw 0x00000000');
	});

	it.each([0, 4, 0xffffffff])('rejects version %i', (version) => {
		const err = parseError(sparseHeader({ version }));
		expect(err.code).toBe('VMDK_UNSUPPORTED_VERSION');
		expect(err.offsetBytes).toBe(4);
	});

	it.each([0n, 3n, 100n, 129n, 2n ** 63n + 1n])('rejects grain size %i (not a power of two)', (g) => {
		const err = parseError(sparseHeader({ grainSizeSectors: g }));
		expect(err.code).toBe('VMDK_BAD_HEADER');
		expect(err.offsetBytes).toBe(20);
	});

	it.each([2n ** 17n, 2n ** 40n, 2n ** 63n])('rejects grain size %i above the limit', (g) => {
		const err = parseError(sparseHeader({ grainSizeSectors: g }));
		expect(err.code).toBe('VMDK_LIMIT');
		expect(err.offsetBytes).toBe(20);
	});

	it('accepts grain sizes 1 and the limit', () => {
		expect(parseSparseHeader(sparseHeader({ grainSizeSectors: 1n })).grainSizeSectors).toBe(1);
		expect(parseSparseHeader(sparseHeader({ grainSizeSectors: 65536n })).grainSizeSectors).toBe(65536);
	});

	it.each([0, 128, 511, 513, 4096])('rejects numGTEsPerGT %i', (n) => {
		const err = parseError(sparseHeader({ numGtesPerGt: n }));
		expect(err.code).toBe('VMDK_BAD_HEADER');
		expect(err.offsetBytes).toBe(44);
		expect(err.message).toContain(`numGTEsPerGT is ${n}`);
	});

	it('rejects a capacity above 2^32 sectors and accepts exactly 2^32', () => {
		const err = parseError(sparseHeader({ capacitySectors: 2n ** 32n + 1n }));
		expect(err.code).toBe('VMDK_LIMIT');
		expect(err.offsetBytes).toBe(12);
		expect(parseSparseHeader(sparseHeader({ capacitySectors: 2n ** 32n })).capacitySectors).toBe(2 ** 32);
	});

	it('rejects an unknown compression algorithm', () => {
		const err = parseError(sparseHeader({ compressAlgorithm: 2 }));
		expect(err.code).toBe('VMDK_BAD_HEADER');
		expect(err.offsetBytes).toBe(77);
	});

	it('rejects a header damaged by a text-mode transfer (newline check)', () => {
		const err = parseError(sparseHeader({ newline: [0x0a, 0x20, 0x0a, 0x0a] }));
		expect(err.code).toBe('VMDK_CORRUPT');
		expect(err.offsetBytes).toBe(73);
	});

	it('rejects offsets beyond 2^53 by field name', () => {
		const err = parseError(sparseHeader({ gdOffsetSectors: 2n ** 60n }));
		expect(err.code).toBe('VMDK_LIMIT');
		expect(err.message).toContain('gdOffset');
		expect(err.offsetBytes).toBe(56);
	});
});
