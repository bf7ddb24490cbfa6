// SPDX-License-Identifier: MIT

import { VmdkError } from '../errors.js';

/** Read-only random access to bytes. Offsets and lengths are in bytes. */
export interface ByteSource {
	/** Total size in bytes. */
	readonly sizeBytes: number;
	/** Resolves with exactly `length` bytes or rejects; short reads are errors. */
	read(offsetBytes: number, length: number): Promise<Uint8Array>;
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
}

/** A window onto another source (a partition, an embedded structure). */
export class SliceByteSource implements ByteSource {
	private readonly inner: ByteSource;
	readonly startBytes: number;
	readonly sizeBytes: number;
	constructor(inner: ByteSource, startBytes: number, sizeBytes: number) {
		this.inner = inner;
		this.startBytes = startBytes;
		this.sizeBytes = sizeBytes;
		checkRange(startBytes, sizeBytes, inner.sizeBytes);
	}
	read(offsetBytes: number, length: number): Promise<Uint8Array> {
		checkRange(offsetBytes, length, this.sizeBytes);
		return this.inner.read(this.startBytes + offsetBytes, length);
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

/** Throws a RangeError unless [offset, offset+length) lies within [0, size). */
export function checkRange(offsetBytes: number, length: number, sizeBytes: number): void {
	if (!isRangeInside(offsetBytes, length, sizeBytes)) {
		throw new RangeError(`read of ${length} bytes at ${offsetBytes} is outside 0..${sizeBytes}`);
	}
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
