// SPDX-License-Identifier: MIT
/**
 * The read loop shared by the grain-table readers for grains stored as they are (hosted sparse
 * without compression, COWD, seSparse): each grain of the request is located (a file offset, or
 * zeros), grains that follow each other in the file as they do on the disk are merged into one
 * file read, and the reads go out together, at most `GRAIN_READ_CONCURRENCY` at once.
 */
import { checkRange } from '../io/byte-source.js';
import { runBounded } from '../io/run-bounded.js';
import type { RandomAccessFile } from '../platform.js';

/** A grain location meaning "this grain reads as zeros" (file offsets are never negative). */
export const GRAIN_ZEROS = -1;

/** File reads of one request in flight at once (a 2 MiB read-ahead window of 64 KiB grains is 32). */
export const GRAIN_READ_CONCURRENCY = 32;

/**
 * Where grain `grain` starts in the file, in bytes, or GRAIN_ZEROS. Returns a number when the
 * answer is in memory and a promise when a grain table must be loaded first; throws (or
 * rejects) for a grain that cannot be read. `atBytes` is the request's offset in that grain, for
 * error messages.
 */
export type LocateGrain = (grain: number, atBytes: number) => number | Promise<number>;

/** A read inside an extent: `length` bytes at virtual `offsetBytes` into `dest` at `destOffset`. */
export interface GrainRequest {
	readonly offsetBytes: number;
	readonly dest: Uint8Array;
	readonly destOffset: number;
	readonly length: number;
}

/**
 * Walks a request grain by grain: zero-fills the share of each grain `locate` calls GRAIN_ZEROS
 * and hands the others to `visit` with the grain's file offset, the offset inside the grain,
 * the length and where they go in `dest` (the caller has range-checked the virtual range).
 */
export async function forEachStoredGrain(
	grainSizeBytes: number,
	locate: LocateGrain,
	request: GrainRequest,
	visit: (grainAt: number, grain: number, inGrain: number, n: number, destAt: number) => void,
): Promise<void> {
	const { offsetBytes, dest, destOffset, length } = request;
	checkRange(destOffset, length, dest.length);
	const endBytes = offsetBytes + length;
	let posBytes = offsetBytes;
	while (posBytes < endBytes) {
		const grain = Math.floor(posBytes / grainSizeBytes);
		const inGrain = posBytes - grain * grainSizeBytes;
		const n = Math.min(grainSizeBytes - inGrain, endBytes - posBytes);
		const destAt = destOffset + (posBytes - offsetBytes);
		const located = locate(grain, posBytes);
		const grainAt = typeof located === 'number' ? located : await located;
		if (grainAt === GRAIN_ZEROS) dest.fill(0, destAt, destAt + n);
		else visit(grainAt, grain, inGrain, n, destAt);
		posBytes += n;
	}
}

/** One file read of a request: `length` bytes at `fileOffset` into the destination at `destOffset`. */
interface FileRead {
	readonly fileOffset: number;
	readonly destOffset: number;
	length: number;
}

/** Reads a request grain by grain as `locate` says, merging grains that follow each other in the file. */
export async function readGrains(
	file: RandomAccessFile,
	grainSizeBytes: number,
	locate: LocateGrain,
	request: GrainRequest,
): Promise<void> {
	const reads: FileRead[] = [];
	await forEachStoredGrain(grainSizeBytes, locate, request, (grainAt, _grain, inGrain, n, destAt) => {
		const fileOffset = grainAt + inGrain;
		const prev = reads[reads.length - 1];
		if (
			prev !== undefined &&
			prev.fileOffset + prev.length === fileOffset &&
			prev.destOffset + prev.length === destAt
		) {
			prev.length += n;
		} else {
			reads.push({ fileOffset, destOffset: destAt, length: n });
		}
	});
	const dest = request.dest;
	await runBounded(reads, GRAIN_READ_CONCURRENCY, (r) =>
		file.readInto(r.fileOffset, dest, r.destOffset, r.length),
	);
}
