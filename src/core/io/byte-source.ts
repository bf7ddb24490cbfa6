// SPDX-License-Identifier: MIT

import { VmdkError } from '../errors.js';

/**
 * Random access that reads into the caller's buffer: the zero-copy path FUSE and `export` use
 * (the FUSE export serves its files from these).
 */
export interface ReadTarget {
	/** Total size in bytes. */
	readonly sizeBytes: number;
	/** Reads exactly `length` bytes at `offsetBytes` into `dest` at `destOffset`, or rejects. */
	readInto(offsetBytes: number, dest: Uint8Array, destOffset: number, length: number): Promise<void>;
}

/** Read-only random access to bytes. Offsets and lengths are in bytes. */
export interface ByteSource extends ReadTarget {
	/** Resolves with exactly `length` bytes or rejects; short reads are errors. */
	read(offsetBytes: number, length: number): Promise<Uint8Array>;
}

/** `read` for a source whose own call is `readInto`: a new buffer, filled by it. */
export async function readToNewBuffer(
	source: ReadTarget,
	offsetBytes: number,
	length: number,
): Promise<Uint8Array> {
	checkRange(offsetBytes, length, source.sizeBytes);
	const out = new Uint8Array(length);
	await source.readInto(offsetBytes, out, 0, length);
	return out;
}

/** A ByteSource over bytes in memory (tests, small descriptors, decompressed grains). */
export class MemoryByteSource implements ByteSource {
	readonly sizeBytes: number;
	private readonly bytes: Uint8Array;
	constructor(bytes: Uint8Array) {
		this.bytes = bytes;
		this.sizeBytes = bytes.length;
	}
	read(offsetBytes: number, length: number): Promise<Uint8Array> {
		checkRange(offsetBytes, length, this.sizeBytes);
		return Promise.resolve(this.bytes.subarray(offsetBytes, offsetBytes + length));
	}
	async readInto(offsetBytes: number, dest: Uint8Array, destOffset: number, length: number): Promise<void> {
		checkRange(offsetBytes, length, this.sizeBytes);
		checkRange(destOffset, length, dest.length);
		dest.set(this.bytes.subarray(offsetBytes, offsetBytes + length), destOffset);
	}
}

/** True when [offset, offset+length) lies within [0, size) and both are safe integers. */
export function isRangeInside(offsetBytes: number, length: number, sizeBytes: number): boolean {
	return (
		Number.isSafeInteger(offsetBytes) &&
		Number.isSafeInteger(length) &&
		offsetBytes >= 0 &&
		length >= 0 &&
		offsetBytes + length <= sizeBytes
	);
}

/** The RangeError of a read of [offset, offset+length) from a source of `sizeBytes`. */
export function outOfRange(offsetBytes: number, length: number, sizeBytes: number): RangeError {
	return new RangeError(`read of ${length} bytes at ${offsetBytes} is outside 0..${sizeBytes}`);
}

/** Throws a RangeError unless [offset, offset+length) lies within [0, size). */
export function checkRange(offsetBytes: number, length: number, sizeBytes: number): void {
	if (!isRangeInside(offsetBytes, length, sizeBytes)) throw outOfRange(offsetBytes, length, sizeBytes);
}

/**
 * Throws VMDK_OUT_OF_RANGE unless [offset, offset+length) lies within [0, size): the check every
 * reader makes on its callers' ranges, naming the structure (`the disk`, `the COWD extent`).
 */
export function assertReadInRange(
	offsetBytes: number,
	length: number,
	sizeBytes: number,
	what: string,
	file: string | undefined,
): void {
	if (!isRangeInside(offsetBytes, length, sizeBytes)) {
		throw new VmdkError(
			'VMDK_OUT_OF_RANGE',
			`read of ${length} bytes at ${offsetBytes} is outside ${what} (${sizeBytes} bytes)`,
			{ file },
		);
	}
}
