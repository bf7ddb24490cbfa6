// SPDX-License-Identifier: MIT
import { checkRange, isRangeInside, outOfRange, type ByteSource } from '../io/byte-source.js';

/**
 * A range of another source seen as a source of its own: a partition of a disk, a PV inside a
 * partition, or the first bytes of an image. Reads pass straight through to the inner source
 * (`readInto` fills the caller's buffer without a copy) after a range check against the view;
 * a read outside the view rejects with a RangeError.
 */
export class PartitionView implements ByteSource {
	/** Where the view starts in the inner source, bytes. */
	readonly startBytes: number;
	readonly sizeBytes: number;
	private readonly inner: ByteSource;

	/** Throws a RangeError when the range does not lie inside `inner`. */
	constructor(inner: ByteSource, startBytes: number, sizeBytes: number) {
		checkRange(startBytes, sizeBytes, inner.sizeBytes);
		this.inner = inner;
		this.startBytes = startBytes;
		this.sizeBytes = sizeBytes;
	}

	read(offsetBytes: number, length: number): Promise<Uint8Array> {
		if (!isRangeInside(offsetBytes, length, this.sizeBytes)) {
			return Promise.reject(outOfRange(offsetBytes, length, this.sizeBytes));
		}
		return this.inner.read(this.startBytes + offsetBytes, length);
	}

	readInto(offsetBytes: number, dest: Uint8Array, destOffset: number, length: number): Promise<void> {
		if (!isRangeInside(offsetBytes, length, this.sizeBytes)) {
			return Promise.reject(outOfRange(offsetBytes, length, this.sizeBytes));
		}
		return this.inner.readInto(this.startBytes + offsetBytes, dest, destOffset, length);
	}
}
