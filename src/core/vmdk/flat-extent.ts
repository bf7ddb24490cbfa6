// SPDX-License-Identifier: MIT
/**
 * Simple extent readers: FLAT/VMFS extents (the bytes stored as-is at an offset of a file), a
 * NOACCESS extent (reading it is an error, never zeros) and a window that trims a reader to
 * the size its extent line declares.
 */
import type { ExtentReader, Run } from '../disk/extent-reader.js';
import { VmdkError } from '../errors.js';
import type { RandomAccessFile } from '../platform.js';

/** A FLAT or VMFS extent: `sizeBytes` bytes of `file` starting at `startBytes`. Owns the file. */
export class FlatExtentReader implements ExtentReader {
	readonly sizeBytes: number;
	/** The file the data lives in. */
	readonly file: RandomAccessFile;
	/** Where the extent's first byte is in the file. */
	readonly startBytes: number;

	/**
	 * Checks that the range lies inside the file: a short flat file would otherwise read as an
	 * I/O error deep inside a filesystem probe. Throws VMDK_TRUNCATED naming the file.
	 * `checkSize: false` skips that for host devices, whose size a plain stat reports as 0.
	 */
	constructor(file: RandomAccessFile, startBytes: number, sizeBytes: number, checkSize = true) {
		if (checkSize && startBytes + sizeBytes > file.sizeBytes) {
			throw new VmdkError(
				'VMDK_TRUNCATED',
				`flat extent needs bytes ${startBytes}..${startBytes + sizeBytes} but the file has only ${file.sizeBytes}`,
				{ file: file.path, offsetBytes: file.sizeBytes },
			);
		}
		this.file = file;
		this.startBytes = startBytes;
		this.sizeBytes = sizeBytes;
	}

	mapRun(offsetBytes: number, maxBytes: number): Promise<Run> {
		return Promise.resolve({ kind: 'data', lengthBytes: Math.min(maxBytes, this.sizeBytes - offsetBytes) });
	}

	readData(offsetBytes: number, dest: Uint8Array, destOffset: number, length: number): Promise<void> {
		return this.file.readInto(this.startBytes + offsetBytes, dest, destOffset, length);
	}

	close(): Promise<void> {
		return this.file.close();
	}
}

/** A NOACCESS extent: its bytes may not be read, so any read fails with VMDK_NOACCESS. */
export class NoAccessExtentReader implements ExtentReader {
	readonly sizeBytes: number;
	/** The descriptor that declared the extent (for the error message). */
	private readonly descriptorPath: string;
	/** The extent line's number in that descriptor. */
	private readonly lineNumber: number;

	constructor(sizeBytes: number, descriptorPath: string, lineNumber: number) {
		this.sizeBytes = sizeBytes;
		this.descriptorPath = descriptorPath;
		this.lineNumber = lineNumber;
	}

	mapRun(offsetBytes: number): Promise<Run> {
		return Promise.reject(this.refusal(offsetBytes));
	}

	readData(offsetBytes: number): Promise<void> {
		return Promise.reject(this.refusal(offsetBytes));
	}

	close(): Promise<void> {
		return Promise.resolve();
	}

	private refusal(offsetBytes: number): VmdkError {
		return new VmdkError(
			'VMDK_NOACCESS',
			`the read at byte ${offsetBytes} of the extent on descriptor line ${this.lineNumber} touches a NOACCESS extent`,
			{ file: this.descriptorPath },
		);
	}
}

/** The first `sizeBytes` bytes of a larger reader (a sparse extent whose capacity exceeds its line). */
export class WindowExtentReader implements ExtentReader {
	readonly sizeBytes: number;
	private readonly inner: ExtentReader;

	constructor(inner: ExtentReader, sizeBytes: number) {
		if (sizeBytes > inner.sizeBytes)
			throw new RangeError(`window of ${sizeBytes} over ${inner.sizeBytes} bytes`);
		this.inner = inner;
		this.sizeBytes = sizeBytes;
	}

	mapRun(offsetBytes: number, maxBytes: number): Promise<Run> {
		return this.inner.mapRun(offsetBytes, Math.min(maxBytes, this.sizeBytes - offsetBytes));
	}

	readData(offsetBytes: number, dest: Uint8Array, destOffset: number, length: number): Promise<void> {
		return this.inner.readData(offsetBytes, dest, destOffset, length);
	}

	close(): Promise<void> {
		return this.inner.close();
	}
}
