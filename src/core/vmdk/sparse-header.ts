// SPDX-License-Identifier: MIT
/**
 * The 512-byte header of a hosted sparse extent ("KDMV"): monolithicSparse, twoGbMaxExtentSparse
 * pieces, hosted snapshots and streamOptimized. Layout: FORMAT-NOTES.md §2 (VMware Virtual Disk
 * Format 1.1 §"Hosted Sparse Extent Header"; QEMU block/vmdk.c `VMDK4Header`). Every field is
 * validated here (STYLE §19) except those that need the file size, which the extent checks.
 * Also reads the header and the embedded descriptor from an extent file.
 */
import { VmdkError, type ErrorLocation } from '../errors.js';
import { Limits, checkLimit } from '../io/limits.js';
import { Reader, assertOffset } from '../io/reader.js';
import { SECTOR_SIZE_BYTES, toSafeNumber } from '../io/safe-number.js';
import type { RandomAccessFile } from '../platform.js';

/** 'KDMV' read as u32le (the bytes on disk are `K D M V`). */
export const KDMV_MAGIC = 0x564d444b;

/** Size of the header structure, bytes (79 bytes of fields + 433 of padding). */
export const SPARSE_HEADER_SIZE_BYTES = 512;

/** Bytes of defined fields before the padding. */
const SPARSE_HEADER_FIELDS_BYTES = 79;

/** `gdOffset` value meaning "the grain directory is found through the footer" (streamOptimized). */
export const GD_AT_END = 0xffffffffffffffffn;

/** The only grain-table size we read (QEMU and 7-Zip refuse others too). */
export const GTES_PER_GT = 512;

/** Largest capacity of one sparse extent: 2^32 sectors = 2 TiB (QEMU `VMDK_EXTENT_MAX_SECTORS`). */
export const SPARSE_EXTENT_MAX_SECTORS = 2 ** 32;

/** Header flag bits. Low 16 bits are compatible, high 16 incompatible (open-vmdk). */
export const SparseFlag = {
	/** The four end-of-line check bytes are valid. */
	VALID_NEWLINE_TEST: 1 << 0,
	/** A redundant grain directory and tables exist (`rgdOffset`). */
	REDUNDANT_GRAIN_TABLE: 1 << 1,
	/** A grain-table entry of 1 means "grain of zeros" (version 2+). */
	ZEROED_GRAIN_GTE: 1 << 2,
	/** Grains are compressed (QEMU `VMDK4_FLAG_COMPRESS`). */
	COMPRESSED_GRAINS: 1 << 16,
	/** Grains and metadata are preceded by markers (QEMU `VMDK4_FLAG_MARKER`); not 1 << 16. */
	HAS_MARKERS: 1 << 17,
} as const;

/** Values of `compressAlgorithm`. */
export const CompressAlgorithm = {
	/** Grains stored as is. */
	NONE: 0,
	/** zlib/deflate (FORMAT-NOTES §4: in practice an RFC 1950 stream). */
	DEFLATE: 1,
} as const;

/** The four bytes at offset 73: `\n`, ` `, `\r`, `\n` — damaged by ASCII-mode transfers. */
const NEWLINE_CHECK = [0x0a, 0x20, 0x0d, 0x0a] as const;

/** A parsed and validated hosted sparse extent header. Offsets and sizes are in sectors. */
export interface SparseExtentHeader {
	/** Format version: 1, 2 (zeroed-grain GTEs) or 3 (CBT; current streamOptimized). */
	readonly version: 1 | 2 | 3;
	/** Raw flag bits, see {@link SparseFlag}. */
	readonly flags: number;
	/** Virtual size of this extent, sectors (at most 2^32). */
	readonly capacitySectors: number;
	/** Size of one grain, sectors (a power of two, at most Limits.GRAIN_MAX_SECTORS). */
	readonly grainSizeSectors: number;
	/** Where the embedded descriptor starts, sectors; 0 when there is none. */
	readonly descriptorOffsetSectors: number;
	/** Size of the embedded descriptor area, sectors. */
	readonly descriptorSizeSectors: number;
	/** Entries per grain table; always 512 (validated). */
	readonly numGtesPerGt: number;
	/** Redundant grain directory, sectors; 0 when there is none. */
	readonly rgdOffsetSectors: number;
	/** Grain directory, sectors; 0 (meaningless) when {@link gdAtEnd} is true. */
	readonly gdOffsetSectors: number;
	/** True when gdOffset was GD_AT_END (0xffffffffffffffff): the footer holds the real header. */
	readonly gdAtEnd: boolean;
	/** Metadata sectors before the first grain. */
	readonly overheadSectors: number;
	/** True if the extent was not closed cleanly (byte 72). */
	readonly uncleanShutdown: boolean;
	/** 0 none, 1 deflate, see {@link CompressAlgorithm}. */
	readonly compressAlgorithm: number;
	/** Grains are compressed: flag bit 16 or compressAlgorithm = deflate (QEMU reads the latter). */
	readonly compressed: boolean;
	/** Grains and tables carry markers (flag bit 17). */
	readonly hasMarkers: boolean;
	/** A grain-table entry of 1 means a grain of zeros (flag bit 2). */
	readonly zeroedGrainGte: boolean;
	/** Number of grain-directory entries: ceil(capacity / (grain × 512)). */
	readonly gdEntries: number;
}

/**
 * Parses and validates the first 512 bytes of a hosted sparse extent (or of its footer).
 * Throws VmdkError: VMDK_TRUNCATED, VMDK_BAD_MAGIC, VMDK_UNSUPPORTED_VERSION, VMDK_BAD_HEADER,
 * VMDK_LIMIT, VMDK_CORRUPT. `location` names the file and the header's byte offset in it.
 */
export function parseSparseHeader(bytes: Uint8Array, location: ErrorLocation = {}): SparseExtentHeader {
	const base = location.offsetBytes ?? 0;
	const at = (fieldOffset: number): ErrorLocation => ({
		file: location.file,
		offsetBytes: base + fieldOffset,
	});
	const r = new Reader(bytes, 'SparseExtentHeader', location);

	const magic = r.u32le('magic');
	if (magic !== KDMV_MAGIC) {
		throw new VmdkError(
			'VMDK_BAD_MAGIC',
			`Invalid SparseExtentHeader magic: expected ${hex32(KDMV_MAGIC)}, saw ${hex32(magic)}`,
			at(0),
		);
	}
	const versionAt = r.offset;
	const version = r.u32le('version');
	const flags = r.u32le('flags');
	const capacityAt = r.offset;
	const capacityRaw = r.u64le('capacity');
	const grainAt = r.offset;
	const grainRaw = r.u64le('grainSize');
	const descOffsetAt = r.offset;
	const descriptorOffsetRaw = r.u64le('descriptorOffset');
	const descriptorSizeRaw = r.u64le('descriptorSize');
	const numGtesAt = r.offset;
	const numGtesPerGt = r.u32le('numGTEsPerGT');
	const rgdAt = r.offset;
	const rgdOffsetRaw = r.u64le('rgdOffset');
	const gdAt = r.offset;
	const gdOffsetRaw = r.u64le('gdOffset');
	const overheadRaw = r.u64le('overHead');
	const uncleanShutdown = r.u8('uncleanShutdown');
	const newlineAt = r.offset;
	const newline = r.bytesView(4, 'newline check');
	const compressAt = r.offset;
	const compressAlgorithm = r.u16le('compressAlgorithm');
	assertOffset(r, SPARSE_HEADER_FIELDS_BYTES, 'SparseExtentHeader before pad');
	r.skip(SPARSE_HEADER_SIZE_BYTES - SPARSE_HEADER_FIELDS_BYTES, 'pad');

	if (version !== 1 && version !== 2 && version !== 3) {
		throw new VmdkError(
			'VMDK_UNSUPPORTED_VERSION',
			`SparseExtentHeader version ${version} is not supported (expected 1, 2 or 3)`,
			at(versionAt),
		);
	}
	if ((flags & SparseFlag.VALID_NEWLINE_TEST) !== 0 && !NEWLINE_CHECK.every((b, i) => newline[i] === b)) {
		throw new VmdkError(
			'VMDK_CORRUPT',
			`SparseExtentHeader end-of-line check bytes are ${[...newline].map(hex8).join(' ')}, expected 0a 20 0d 0a (damaged by a text-mode transfer?)`,
			at(newlineAt),
		);
	}

	if (capacityRaw > BigInt(SPARSE_EXTENT_MAX_SECTORS)) {
		throw new VmdkError(
			'VMDK_LIMIT',
			`capacity has invalid size ${capacityRaw} sectors (maximum ${SPARSE_EXTENT_MAX_SECTORS})`,
			at(capacityAt),
		);
	}
	const capacitySectors = Number(capacityRaw);

	if (grainRaw === 0n || (grainRaw & (grainRaw - 1n)) !== 0n) {
		throw new VmdkError(
			'VMDK_BAD_HEADER',
			`grainSize ${grainRaw} sectors is not a power of two`,
			at(grainAt),
		);
	}
	if (grainRaw > BigInt(Limits.GRAIN_MAX_SECTORS)) {
		checkLimit(
			'grainSize',
			toSafeNumber(grainRaw, 'grainSize', at(grainAt)),
			Limits.GRAIN_MAX_SECTORS,
			at(grainAt),
		);
	}
	const grainSizeSectors = Number(grainRaw);

	if (numGtesPerGt !== GTES_PER_GT) {
		throw new VmdkError(
			'VMDK_BAD_HEADER',
			`numGTEsPerGT is ${numGtesPerGt}, only ${GTES_PER_GT} is supported`,
			at(numGtesAt),
		);
	}
	if (compressAlgorithm !== CompressAlgorithm.NONE && compressAlgorithm !== CompressAlgorithm.DEFLATE) {
		throw new VmdkError(
			'VMDK_BAD_HEADER',
			`compressAlgorithm ${compressAlgorithm} is not supported (0 none, 1 deflate)`,
			at(compressAt),
		);
	}

	const gdAtEnd = gdOffsetRaw === GD_AT_END;
	// Converted after the GD_AT_END compare (STYLE §18).
	const gdOffsetSectors = gdAtEnd ? 0 : toSafeNumber(gdOffsetRaw, 'gdOffset', at(gdAt));
	const grainsPerGd = grainSizeSectors * GTES_PER_GT;
	return {
		version,
		flags,
		capacitySectors,
		grainSizeSectors,
		descriptorOffsetSectors: toSafeNumber(descriptorOffsetRaw, 'descriptorOffset', at(descOffsetAt)),
		descriptorSizeSectors: toSafeNumber(descriptorSizeRaw, 'descriptorSize', at(descOffsetAt + 8)),
		numGtesPerGt,
		rgdOffsetSectors: toSafeNumber(rgdOffsetRaw, 'rgdOffset', at(rgdAt)),
		gdOffsetSectors,
		gdAtEnd,
		overheadSectors: toSafeNumber(overheadRaw, 'overHead', at(gdAt + 8)),
		uncleanShutdown: uncleanShutdown !== 0,
		compressAlgorithm,
		// QEMU decides by compressAlgorithm, VMware sets both; either one means deflate, the only codec.
		compressed:
			(flags & SparseFlag.COMPRESSED_GRAINS) !== 0 || compressAlgorithm === CompressAlgorithm.DEFLATE,
		hasMarkers: (flags & SparseFlag.HAS_MARKERS) !== 0,
		zeroedGrainGte: (flags & SparseFlag.ZEROED_GRAIN_GTE) !== 0,
		gdEntries: Math.ceil(capacitySectors / grainsPerGd),
	};
}

/** Reads and validates the header at byte 0 (for streamOptimized this may say GD_AT_END). */
export async function readSparseHeader(file: RandomAccessFile): Promise<SparseExtentHeader> {
	// Read what is there so that a short file fails on the exact field it cuts off.
	const bytes = new Uint8Array(Math.min(SPARSE_HEADER_SIZE_BYTES, file.sizeBytes));
	await file.readInto(0, bytes, 0, bytes.length);
	return parseSparseHeader(bytes, { file: file.path, offsetBytes: 0 });
}

/**
 * The embedded text descriptor of a monolithic sparse extent: the bytes of its area up to the
 * first NUL, or null when `descriptorOffset` is 0. Rejects with VMDK_LIMIT above
 * Limits.DESCRIPTOR_MAX_BYTES and VMDK_TRUNCATED when the area runs past the end of the file.
 */
export async function readEmbeddedDescriptor(
	file: RandomAccessFile,
	header: SparseExtentHeader,
): Promise<Uint8Array | null> {
	if (header.descriptorOffsetSectors === 0) return null;
	const offsetBytes = header.descriptorOffsetSectors * SECTOR_SIZE_BYTES;
	const location = { file: file.path, offsetBytes };
	checkLimit(
		'descriptor',
		header.descriptorSizeSectors * SECTOR_SIZE_BYTES,
		Limits.DESCRIPTOR_MAX_BYTES,
		location,
	);
	const sizeBytes = header.descriptorSizeSectors * SECTOR_SIZE_BYTES;
	if (offsetBytes + sizeBytes > file.sizeBytes) {
		throw new VmdkError(
			'VMDK_TRUNCATED',
			`embedded descriptor (${sizeBytes} bytes) runs past the end of the file (${file.sizeBytes} bytes)`,
			location,
		);
	}
	const bytes = new Uint8Array(sizeBytes);
	await file.readInto(offsetBytes, bytes, 0, sizeBytes);
	const nul = bytes.indexOf(0);
	return nul < 0 ? bytes : bytes.subarray(0, nul);
}

/** `0x564d444b`-style hex of a u32 (STYLE §21). */
function hex32(v: number): string {
	return `0x${(v >>> 0).toString(16).padStart(8, '0')}`;
}

function hex8(v: number): string {
	return v.toString(16).padStart(2, '0');
}
