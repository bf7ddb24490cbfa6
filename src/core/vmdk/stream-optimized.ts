// SPDX-License-Identifier: MIT
/**
 * streamOptimized pieces of a hosted sparse extent (FORMAT-NOTES.md §4; VMware Virtual Disk
 * Format 1.1 §"Stream-Optimized Compressed Sparse Extents"): grain and metadata markers, the
 * footer that holds the real header when `gdOffset` is GD_AT_END, and the marker scan that
 * rebuilds the grain index of a stream whose footer is missing or damaged.
 *
 * Stream layout: header, descriptor, then (grain marker + zlib data)…, GT marker + GT, …,
 * GD marker + GD, footer marker, footer (a copy of the header with the real gdOffset), EOS
 * marker. Everything starts on a sector boundary.
 */
import { VmdkError } from '../errors.js';
import type { RandomAccessFile } from '../platform.js';
import { SECTOR_SIZE_BYTES } from '../io/safe-number.js';
import {
	GTES_PER_GT,
	SPARSE_HEADER_SIZE_BYTES,
	parseSparseHeader,
	type SparseExtentHeader,
} from './sparse-header.js';

/** Metadata marker types (the u32 at byte 12 of a marker whose size field is 0). */
export const StreamMarkerType = {
	/** End of stream. */
	EOS: 0,
	/** A grain table follows. */
	GRAIN_TABLE: 1,
	/** The grain directory follows. */
	GRAIN_DIRECTORY: 2,
	/** The footer (a second header) follows. */
	FOOTER: 3,
	/** "Progress" (open-vmdk) / unspecified (VirtualBox); its payload is skipped. */
	PROGRESS: 4,
} as const;

/** Bytes before a grain's compressed data: u64 LBA (sectors) + u32 compressed size (bytes). */
export const GRAIN_MARKER_HEADER_BYTES = 12;

/**
 * Largest compressed size a grain of `grainBytes` can plausibly have: deflate expands
 * incompressible data only a little, so anything bigger is garbage, not a grain.
 */
export function maxCompressedGrainBytes(grainBytes: number): number {
	return 2 * grainBytes + 4096;
}

/** A metadata marker fills one sector; its table (if any) starts in the next sector. */
export const METADATA_MARKER_SIZE_BYTES = SECTOR_SIZE_BYTES;

/** Footer marker + footer + EOS marker at the end of a stream, bytes. */
export const STREAM_TAIL_BYTES = 3 * SECTOR_SIZE_BYTES;

/** A marker read from a stream. */
export type StreamMarker =
	| {
			readonly kind: 'grain';
			/** First virtual sector of the grain (must be grain-aligned). */
			readonly lbaSectors: bigint;
			/** Size of the zlib data that follows the 12-byte marker header. */
			readonly compressedSizeBytes: number;
	  }
	| {
			readonly kind: 'metadata';
			/** See {@link StreamMarkerType}; other values are reported, not interpreted. */
			readonly type: number;
			/** Sectors of table that follow the marker sector. */
			readonly sizeSectors: bigint;
	  };

/** Parses the 16 bytes of a marker at `at` in `bytes` (grain markers use the first 12). */
export function parseStreamMarker(bytes: Uint8Array, at: number): StreamMarker {
	const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
	const value = view.getBigUint64(at, true);
	const size = view.getUint32(at + 8, true);
	if (size !== 0) return { kind: 'grain', lbaSectors: value, compressedSizeBytes: size };
	return { kind: 'metadata', type: view.getUint32(at + 12, true), sizeSectors: value };
}

/** The real header of a stream, or why it could not be used. */
export type FooterResult =
	| {
			readonly ok: true;
			/** The footer's header: the one in effect, with the real gdOffset. */
			readonly header: SparseExtentHeader;
			/** Byte offset of the footer header in the file (EOF − 1024). */
			readonly offsetBytes: number;
	  }
	| {
			readonly ok: false;
			/** Why the footer cannot be used, for the extent's warnings. */
			readonly reason: string;
	  };

/**
 * Reads the footer of a streamOptimized extent: a FOOTER marker at EOF−1536, the footer header
 * at EOF−1024 and an EOS marker in the last sector. Resolves `{ok: false}` (not a rejection) when
 * it is missing or damaged, so the caller can fall back to a marker scan.
 */
export async function readStreamFooter(file: RandomAccessFile): Promise<FooterResult> {
	const tailAt = file.sizeBytes - STREAM_TAIL_BYTES;
	if (tailAt < SPARSE_HEADER_SIZE_BYTES) {
		return { ok: false, reason: `file of ${file.sizeBytes} bytes is too short to hold a footer` };
	}
	const tail = new Uint8Array(STREAM_TAIL_BYTES);
	await file.readInto(tailAt, tail, 0, tail.length);
	const footerMarker = parseStreamMarker(tail, 0);
	if (footerMarker.kind !== 'metadata' || footerMarker.type !== StreamMarkerType.FOOTER) {
		return { ok: false, reason: `no footer marker at byte ${tailAt}` };
	}
	const eos = parseStreamMarker(tail, 2 * SECTOR_SIZE_BYTES);
	if (eos.kind !== 'metadata' || eos.type !== StreamMarkerType.EOS) {
		return { ok: false, reason: `no end-of-stream marker at byte ${tailAt + 2 * SECTOR_SIZE_BYTES}` };
	}
	const footerAt = tailAt + SECTOR_SIZE_BYTES;
	let header: SparseExtentHeader;
	try {
		header = parseSparseHeader(tail.subarray(SECTOR_SIZE_BYTES, 2 * SECTOR_SIZE_BYTES), {
			file: file.path,
			offsetBytes: footerAt,
		});
	} catch (error) {
		if (error instanceof VmdkError) return { ok: false, reason: error.message };
		throw error;
	}
	if (header.gdAtEnd) return { ok: false, reason: `footer at byte ${footerAt} also says GD_AT_END` };
	return { ok: true, header, offsetBytes: footerAt };
}

/** What a marker scan found. */
export interface MarkerScanResult {
	/** Rebuilt grain tables by grain-directory index: each entry is a grain marker's sector, or 0. */
	readonly tables: Map<number, Uint32Array>;
	/** Grain markers indexed. */
	readonly grainCount: number;
	/** Why the scan stopped early (damage), or undefined at a clean end of stream. */
	readonly stoppedEarly: string | undefined;
}

/** Bytes read per scan window; markers are parsed from memory within it. */
const SCAN_WINDOW_BYTES = 1024 * 1024;

/**
 * Walks the markers of a stream from `startSector` to the EOS marker (or the end of the file)
 * and rebuilds the grain index. Memory is proportional to the allocated grains (one 2 KiB table
 * per touched grain-directory entry) plus one read window. A damaged or truncated marker ends the
 * scan; the grains before it stay usable.
 */
export async function scanStreamMarkers(
	file: RandomAccessFile,
	header: SparseExtentHeader,
	startSector: number,
): Promise<MarkerScanResult> {
	const tables = new Map<number, Uint32Array>();
	const grainBytes = header.grainSizeSectors * SECTOR_SIZE_BYTES;
	const maxCompressedBytes = maxCompressedGrainBytes(grainBytes);
	const fileSize = file.sizeBytes;
	let window = new Uint8Array(0);
	let windowAt = 0;
	let grainCount = 0;
	let seenMarker = false;
	let pos = startSector * SECTOR_SIZE_BYTES;

	const stop = (why: string): MarkerScanResult => ({
		tables,
		grainCount,
		stoppedEarly: `${why} (byte ${pos})`,
	});

	while (pos + SECTOR_SIZE_BYTES <= fileSize) {
		if (pos < windowAt || pos + SECTOR_SIZE_BYTES > windowAt + window.length) {
			const len = Math.min(SCAN_WINDOW_BYTES, fileSize - pos);
			if (window.length !== len) window = new Uint8Array(len);
			await file.readInto(pos, window, 0, len);
			windowAt = pos;
		}
		const marker = parseStreamMarker(window, pos - windowAt);
		if (marker.kind === 'grain' || marker.type !== StreamMarkerType.EOS) seenMarker = true;
		if (marker.kind === 'grain') {
			const lba = marker.lbaSectors;
			if (lba % BigInt(header.grainSizeSectors) !== 0n || lba >= BigInt(header.capacitySectors)) {
				return stop(`grain marker LBA ${lba} is not a grain start inside the capacity`);
			}
			if (marker.compressedSizeBytes > maxCompressedBytes) {
				return stop(`grain marker size ${marker.compressedSizeBytes} is over ${maxCompressedBytes}`);
			}
			const next = alignUp(pos + GRAIN_MARKER_HEADER_BYTES + marker.compressedSizeBytes);
			if (pos + GRAIN_MARKER_HEADER_BYTES + marker.compressedSizeBytes > fileSize) {
				return stop(`grain at LBA ${lba} is cut off by the end of the file`);
			}
			const sector = pos / SECTOR_SIZE_BYTES;
			// GTEs are u32 sectors: a marker beyond 2 TiB could not be indexed by VMware either.
			if (sector > 0xffffffff) return stop('grain marker beyond 2^32 sectors');
			const grain = Number(lba) / header.grainSizeSectors;
			const gdIndex = Math.floor(grain / GTES_PER_GT);
			let table = tables.get(gdIndex);
			if (table === undefined) {
				table = new Uint32Array(GTES_PER_GT);
				tables.set(gdIndex, table);
			}
			if (table[grain % GTES_PER_GT] === 0) grainCount++;
			table[grain % GTES_PER_GT] = sector;
			pos = next;
			continue;
		}
		switch (marker.type) {
			case StreamMarkerType.EOS:
				if (!seenMarker) {
					// Zero padding before the first grain (an overHead that is too small) is not an end.
					pos += SECTOR_SIZE_BYTES;
					break;
				}
				return { tables, grainCount, stoppedEarly: undefined };
			case StreamMarkerType.GRAIN_TABLE:
			case StreamMarkerType.GRAIN_DIRECTORY:
			case StreamMarkerType.FOOTER:
			case StreamMarkerType.PROGRESS: {
				const skipBytes = (marker.sizeSectors + 1n) * BigInt(SECTOR_SIZE_BYTES);
				if (BigInt(pos) + skipBytes > BigInt(fileSize)) {
					return stop(`metadata marker of type ${marker.type} runs past the end of the file`);
				}
				pos += Number(skipBytes);
				break;
			}
			default:
				return stop(`unknown marker type ${marker.type}`);
		}
	}
	return pos >= fileSize
		? { tables, grainCount, stoppedEarly: 'file ends without an end-of-stream marker' }
		: stop('file ends inside a marker');
}

function alignUp(bytes: number): number {
	return Math.ceil(bytes / SECTOR_SIZE_BYTES) * SECTOR_SIZE_BYTES;
}
