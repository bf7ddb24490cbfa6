// SPDX-License-Identifier: MIT
/**
 * The contract every kind of extent (flat, zero, hosted sparse, COWD, seSparse …) implements,
 * and that a whole image layer implements again by concatenating its extents. Reads are split
 * into runs so that a snapshot chain can fall through to the parent for unallocated ranges and
 * `export` can leave holes for zero ranges without reading them.
 */

/** What a range of a layer holds. */
export type RunKind =
	/** Bytes stored in this layer: read them with `readData`. */
	| 'data'
	/** Known zeros (a ZERO extent, a zeroed-grain entry, an unmapped seSparse grain). */
	| 'zero'
	/** Not stored here: the parent's bytes show through (zeros when there is no parent). */
	| 'unallocated';

/** A run of bytes of one kind. */
export interface Run {
	readonly kind: RunKind;
	/** Length of the run in bytes; at least 1. */
	readonly lengthBytes: number;
}

/** Random access to one extent (or one layer) of a virtual disk. */
export interface ExtentReader {
	/** Size in bytes of the virtual range this reader covers. */
	readonly sizeBytes: number;
	/**
	 * Describes the run that starts at `offsetBytes`: its kind and a length of at least 1 and at
	 * most `maxBytes`. Readers coalesce neighbouring grains of the same kind where it is cheap.
	 */
	mapRun(offsetBytes: number, maxBytes: number): Promise<Run>;
	/**
	 * Reads `length` bytes at `offsetBytes` into `dest` at `destOffset`. The caller only asks for
	 * ranges that `mapRun` reported as `data`.
	 */
	readData(offsetBytes: number, dest: Uint8Array, destOffset: number, length: number): Promise<void>;
	/** Releases files and caches. */
	close(): Promise<void>;
}

/** An extent of known zeros (`ZERO` in a descriptor). */
export class ZeroExtentReader implements ExtentReader {
	readonly sizeBytes: number;
	constructor(sizeBytes: number) {
		this.sizeBytes = sizeBytes;
	}
	mapRun(offsetBytes: number, maxBytes: number): Promise<Run> {
		return Promise.resolve({ kind: 'zero', lengthBytes: Math.min(maxBytes, this.sizeBytes - offsetBytes) });
	}
	readData(_offsetBytes: number, dest: Uint8Array, destOffset: number, length: number): Promise<void> {
		dest.fill(0, destOffset, destOffset + length);
		return Promise.resolve();
	}
	close(): Promise<void> {
		return Promise.resolve();
	}
}
