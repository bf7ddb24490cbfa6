// SPDX-License-Identifier: MIT
/**
 * The read side of every writer: a range of the source disk cut into chunks of whole grains,
 * read with several chunks in flight, each chunk's grains marked present (holding a non-zero
 * byte) or absent, then handed over strictly in disk order. Memory is bounded by
 * `inFlight` chunk buffers, whatever the disk's size.
 */
import { GRAIN_BYTES } from './sparse-layout.js';

/** What a disk is converted from: `VirtualDisk` and the host's raw-file source have this shape. */
export interface WriteSource {
	/** Size in bytes (need not be a multiple of a sector or a grain). */
	readonly sizeBytes: number;
	/** The run at `offsetBytes` (1..maxBytes bytes): `zero` ranges are known zeros and are not read. */
	mapRun(
		offsetBytes: number,
		maxBytes: number,
	): Promise<{ readonly kind: 'data' | 'zero'; readonly lengthBytes: number }>;
	/** Reads `length` bytes at `offsetBytes` into `dest` at `destOffset`. */
	readInto(offsetBytes: number, dest: Uint8Array, destOffset: number, length: number): Promise<void>;
}

/** A chunk of grains read from the source. */
export interface GrainChunk {
	/** Source offset of the chunk's first byte (grain-aligned within its range). */
	readonly offsetBytes: number;
	/** The chunk's bytes: whole grains, zero-filled past the end of the source. */
	readonly buffer: Uint8Array;
	/** Grains in the chunk (buffer.length / GRAIN_BYTES). */
	readonly grainCount: number;
	/** 1 where the grain holds a non-zero byte. */
	readonly present: Uint8Array;
}

/** The part of an AbortSignal the writers use (core sees no DOM or Node types). */
export interface CancelSignal {
	/** Throws the reason once cancelled. */
	throwIfAborted(): void;
}

/** Progress and cancellation shared by the writers. */
export interface WriteControl {
	/** Called after each chunk with the source bytes done so far. */
	readonly onProgress?: ((doneBytes: number) => void) | undefined;
	/** Stops between chunks (rejects with the signal's reason). */
	readonly signal?: CancelSignal | undefined;
	/** Bytes per chunk, a multiple of 64 KiB. Default {@link DEFAULT_CHUNK_BYTES}. */
	readonly chunkBytes?: number | undefined;
	/** Chunks read (and compressed) ahead of the one being written. Default {@link DEFAULT_CHUNKS_IN_FLIGHT}. */
	readonly chunksInFlight?: number | undefined;
}

/**
 * 1 MiB chunks, 8 in flight: measured on 2 GiB disks, larger chunks were not faster, and 8 keep
 * every compression worker busy while the writer waits for the oldest chunk.
 */
export const DEFAULT_CHUNK_BYTES = 1024 * 1024;
/** See {@link DEFAULT_CHUNK_BYTES}. */
export const DEFAULT_CHUNKS_IN_FLIGHT = 8;

/**
 * Reads `[startBytes, endBytes)` of `source` chunk by chunk (positions past the source's end read
 * as zeros), runs `prepare` on up to `chunksInFlight` chunks at once, and `commit` on each in
 * order. Resolves when every chunk is committed; the first failure rejects after the chunks in
 * flight have settled, so no read still targets a buffer.
 */
export async function pipeGrains<T>(
	source: WriteSource,
	startBytes: number,
	endBytes: number,
	prepare: (chunk: GrainChunk) => Promise<T>,
	commit: (prepared: T, chunk: GrainChunk) => Promise<void>,
	control: WriteControl,
	progressBase = 0,
): Promise<void> {
	const chunkBytes = control.chunkBytes ?? DEFAULT_CHUNK_BYTES;
	if (!(chunkBytes > 0 && chunkBytes % GRAIN_BYTES === 0)) {
		throw new RangeError(`chunkBytes must be a positive multiple of ${GRAIN_BYTES}`);
	}
	const inFlight = Math.max(1, control.chunksInFlight ?? DEFAULT_CHUNKS_IN_FLIGHT);
	const window: Promise<{ prepared: T; chunk: GrainChunk }>[] = [];
	let next = startBytes;
	try {
		while (next < endBytes || window.length > 0) {
			while (next < endBytes && window.length < inFlight) {
				control.signal?.throwIfAborted();
				// Whole grains of known zeros are skipped without a buffer: a 2 TiB sparse disk
				// with little data costs one mapRun per hole, not a read per chunk.
				const skip = await zeroGrainsAt(source, next, endBytes);
				if (skip > 0) {
					next += skip;
					continue;
				}
				const length = Math.min(chunkBytes, Math.ceil((endBytes - next) / GRAIN_BYTES) * GRAIN_BYTES);
				const at = next;
				const pending = readChunk(source, at, length).then(async (chunk) => ({
					prepared: await prepare(chunk),
					chunk,
				}));
				// Handled when its turn comes; until then a failure must not count as unhandled.
				pending.catch(() => undefined);
				window.push(pending);
				next += length;
			}
			const head = window.shift();
			if (head === undefined) break;
			const { prepared, chunk } = await head;
			control.signal?.throwIfAborted();
			await commit(prepared, chunk);
			control.onProgress?.(
				progressBase + Math.min(endBytes, chunk.offsetBytes + chunk.buffer.length) - startBytes,
			);
		}
	} catch (error) {
		await Promise.allSettled(window);
		throw error;
	}
}

/** Bytes of whole grains of known zeros at `at` (grain-aligned within the range), or 0. */
async function zeroGrainsAt(source: WriteSource, at: number, endBytes: number): Promise<number> {
	if (at >= source.sizeBytes) return endBytes - at;
	const run = await source.mapRun(at, endBytes - at);
	if (run.kind !== 'zero') return 0;
	// A zero run to the source's end also covers the padding up to the range's end.
	const length = at + run.lengthBytes >= source.sizeBytes ? endBytes - at : run.lengthBytes;
	return length >= endBytes - at ? endBytes - at : Math.floor(length / GRAIN_BYTES) * GRAIN_BYTES;
}

/** Reads one chunk: only the data runs, then marks the grains that hold data. */
async function readChunk(source: WriteSource, offsetBytes: number, length: number): Promise<GrainChunk> {
	const buffer = new Uint8Array(length);
	const grainCount = length / GRAIN_BYTES;
	const present = new Uint8Array(grainCount);
	const end = Math.min(source.sizeBytes, offsetBytes + length);
	const reads: Promise<void>[] = [];
	let at = offsetBytes;
	while (at < end) {
		const run = await source.mapRun(at, end - at);
		const n = run.lengthBytes;
		if (!(n >= 1 && n <= end - at)) throw new Error(`mapRun returned ${n} bytes at ${at}`);
		if (run.kind === 'data') {
			reads.push(source.readInto(at, buffer, at - offsetBytes, n));
			const first = Math.floor((at - offsetBytes) / GRAIN_BYTES);
			const last = Math.floor((at + n - 1 - offsetBytes) / GRAIN_BYTES);
			present.fill(1, first, last + 1);
		}
		at += n;
	}
	const results = await Promise.allSettled(reads);
	for (const r of results) if (r.status === 'rejected') throw r.reason;
	// Data runs often hold whole zero grains (a raw file's allocated zeros, a zeroed filesystem).
	const words = new Uint32Array(buffer.buffer, buffer.byteOffset, buffer.byteLength / 4);
	for (let g = 0; g < grainCount; g++) {
		if (present[g] === 1 && isZeroWords(words, (g * GRAIN_BYTES) / 4, ((g + 1) * GRAIN_BYTES) / 4))
			present[g] = 0;
	}
	return { offsetBytes, buffer, grainCount, present };
}

/** True if `words[start, end)` are all zero. */
export function isZeroWords(words: Uint32Array, start: number, end: number): boolean {
	let w = start;
	// Four at a time: data usually differs in the first word, zeros run at memory speed.
	for (; w + 4 <= end; w += 4) {
		if (words[w] !== 0 || words[w + 1] !== 0 || words[w + 2] !== 0 || words[w + 3] !== 0) return false;
	}
	for (; w < end; w++) if (words[w] !== 0) return false;
	return true;
}
