// SPDX-License-Identifier: MIT
/**
 * What the engine needs from its host, passed in so that `src/core` has no I/O of its own
 * (STYLE §1, §3). `src/host/node` implements it with `node:fs` and `node:zlib`; tests can too.
 */

/** An open file with positional reads. */
export interface RandomAccessFile {
	/** The path it was opened with. */
	readonly path: string;
	/** Size in bytes when opened. */
	readonly sizeBytes: number;
	/**
	 * Reads `length` bytes at `positionBytes` into `dest` at `destOffset`. Rejects with a
	 * VmdkError (`VMDK_TRUNCATED`) if the file ends first and `VMDK_IO` on an OS error.
	 */
	readInto(positionBytes: number, dest: Uint8Array, destOffset: number, length: number): Promise<void>;
	close(): Promise<void>;
}

/** Kinds of directory entries the engine cares about. */
export interface DirEntry {
	readonly name: string;
	readonly isDirectory: boolean;
}

/** The host services the engine uses. */
export interface DiskPlatform {
	/**
	 * Opens a file read-only. Rejects with a VmdkError: `VMDK_MISSING_EXTENT` if it does not
	 * exist (callers re-label it, e.g. as a missing parent), `VMDK_IO` otherwise.
	 */
	openFile(path: string): Promise<RandomAccessFile>;
	/** True if a regular file exists at `path`. */
	fileExists(path: string): Promise<boolean>;
	/** Lists a folder (for bundles and parent search); rejects if it is not one. */
	listDir(path: string): Promise<readonly DirEntry[]>;
	/** Reads a small text file whole (a .vmx, .vmsd). Rejects beyond `maxBytes`. */
	readSmallFile(path: string, maxBytes: number): Promise<Uint8Array>;
	/**
	 * Inflates one zlib (RFC 1950) stream, or raw deflate if there is no zlib header, into at
	 * most `maxOutBytes` bytes. Rejects with `VMDK_DECOMPRESS` on bad data. May run off-thread.
	 */
	inflate(compressed: Uint8Array, maxOutBytes: number): Promise<Uint8Array>;
}

/** A file being written. Positions and lengths are in bytes. */
export interface WritableFile {
	/** The path it was created with. */
	readonly path: string;
	/** Writes all of `data` at `positionBytes`. Rejects with an OS error message naming the file. */
	write(positionBytes: number, data: Uint8Array): Promise<void>;
	/** Sets the file's size (extending with a hole, or cutting). */
	truncate(sizeBytes: number): Promise<void>;
	close(): Promise<void>;
}

/** What the VMDK writers need from their host: new files, compression and randomness. */
export interface VmdkWritePlatform {
	/**
	 * Creates a new file named `name` in the output folder (refusing an existing one unless the
	 * host was told to overwrite). The host removes every file created this way if the write
	 * fails or is cancelled.
	 */
	createFile(name: string): Promise<WritableFile>;
	/**
	 * Compresses each buffer to one zlib (RFC 1950) stream, at the host's chosen level, in the
	 * same order. May run in parallel off-thread; the inputs may be transferred (do not reuse them).
	 */
	deflate(grains: readonly Uint8Array[]): Promise<Uint8Array[]>;
	/** `length` cryptographically random bytes (CIDs, the disk UUID). */
	randomBytes(length: number): Uint8Array;
}
