// SPDX-License-Identifier: MIT
import { checkRange, type ByteSource } from '../../core/index.js';
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

	async read(offsetBytes: number, length: number): Promise<Uint8Array> {
		checkRange(offsetBytes, length, this.sizeBytes);
		const out = new Uint8Array(length);
		await this.file.readInto(offsetBytes, out, 0, length);
		return out;
	}

	close(): Promise<void> {
		return this.file.close();
	}
}
