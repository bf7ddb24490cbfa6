// SPDX-License-Identifier: MIT
import { checkRange, readToNewBuffer, type ByteSource } from '../../core/index.js';
import { NodeRandomAccessFile } from './node-platform.js';

/** A read-only ByteSource over a whole file (a raw image, a partition dump). */
export class FileByteSource implements ByteSource {
	readonly sizeBytes: number;
	private readonly file: NodeRandomAccessFile;

	private constructor(file: NodeRandomAccessFile) {
		this.file = file;
		this.sizeBytes = file.sizeBytes;
	}

	/** Opens `path` read-only; rejects with a VmdkError if it is missing or unreadable. */
	static async open(path: string): Promise<FileByteSource> {
		return new FileByteSource(await NodeRandomAccessFile.open(path));
	}

	read(offsetBytes: number, length: number): Promise<Uint8Array> {
		return readToNewBuffer(this, offsetBytes, length);
	}

	async readInto(offsetBytes: number, dest: Uint8Array, destOffset: number, length: number): Promise<void> {
		checkRange(offsetBytes, length, this.sizeBytes);
		await this.file.readInto(offsetBytes, dest, destOffset, length);
	}

	close(): Promise<void> {
		return this.file.close();
	}
}
