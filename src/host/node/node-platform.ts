// SPDX-License-Identifier: MIT
/**
 * The engine's DiskPlatform on Node: positional reads with `node:fs`, zlib on libuv's thread
 * pool (so several compressed grains inflate in parallel), and nothing that can write.
 */
import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { inflate, inflateRaw } from 'node:zlib';
import { VmdkError, type DirEntry, type DiskPlatform, type RandomAccessFile } from '../../core/index.js';

/** A read-only file opened with `fs.open(path, 'r')`. */
export class NodeRandomAccessFile implements RandomAccessFile {
	readonly path: string;
	readonly sizeBytes: number;
	private readonly handle: FileHandle;

	private constructor(path: string, handle: FileHandle, sizeBytes: number) {
		this.path = path;
		this.handle = handle;
		this.sizeBytes = sizeBytes;
	}

	/** Opens `path` read-only; ENOENT becomes VMDK_MISSING_EXTENT. */
	static async open(path: string): Promise<NodeRandomAccessFile> {
		let handle: FileHandle;
		try {
			handle = await open(path, 'r');
		} catch (cause) {
			throw fsError(path, cause);
		}
		try {
			const st = await handle.stat();
			if (st.isDirectory()) throw new VmdkError('VMDK_IO', 'is a folder, not a file', { file: path });
			return new NodeRandomAccessFile(path, handle, st.size);
		} catch (error) {
			await handle.close();
			throw error instanceof VmdkError ? error : fsError(path, error);
		}
	}

	async readInto(positionBytes: number, dest: Uint8Array, destOffset: number, length: number): Promise<void> {
		let done = 0;
		while (done < length) {
			let bytesRead: number;
			try {
				({ bytesRead } = await this.handle.read(
					dest,
					destOffset + done,
					length - done,
					positionBytes + done,
				));
			} catch (cause) {
				throw new VmdkError(
					'VMDK_IO',
					`read failed: ${errorText(cause)}`,
					{
						file: this.path,
						offsetBytes: positionBytes + done,
					},
					{ cause },
				);
			}
			if (bytesRead === 0) {
				throw new VmdkError(
					'VMDK_TRUNCATED',
					`file ends at byte ${positionBytes + done}, needed ${length} bytes from ${positionBytes}`,
					{ file: this.path, offsetBytes: positionBytes + done },
				);
			}
			done += bytesRead;
		}
	}

	async close(): Promise<void> {
		await this.handle.close();
	}
}

/** Node's DiskPlatform. One instance can be shared by many disks. */
export const nodePlatform: DiskPlatform = {
	openFile: (path) => NodeRandomAccessFile.open(path),

	async fileExists(path) {
		try {
			return (await stat(path)).isFile();
		} catch {
			return false;
		}
	},

	async listDir(path): Promise<readonly DirEntry[]> {
		try {
			const entries = await readdir(path, { withFileTypes: true });
			return entries.map((e) => ({ name: e.name, isDirectory: e.isDirectory() }));
		} catch (cause) {
			throw fsError(path, cause);
		}
	},

	async readSmallFile(path, maxBytes) {
		const file = await NodeRandomAccessFile.open(path);
		try {
			if (file.sizeBytes > maxBytes) {
				throw new VmdkError('VMDK_LIMIT', `file has invalid size ${file.sizeBytes} (maximum ${maxBytes})`, {
					file: path,
				});
			}
			const out = new Uint8Array(file.sizeBytes);
			await file.readInto(0, out, 0, out.length);
			return out;
		} finally {
			await file.close();
		}
	},

	inflate(compressed, maxOutBytes) {
		// zlib header: CMF 0x78 and (CMF*256+FLG) % 31 == 0. Otherwise try raw deflate (the spec's word).
		const b0 = compressed[0] ?? 0;
		const b1 = compressed[1] ?? 0;
		const isZlib = b0 % 16 === 8 && (b0 * 256 + b1) % 31 === 0;
		const fn = isZlib ? inflate : inflateRaw;
		return new Promise((resolve, reject) => {
			// One chunk larger than the grain: one thread-pool round trip and no re-copy per grain.
			const options = {
				maxOutputLength: Math.max(1, maxOutBytes),
				chunkSize: Math.max(64, maxOutBytes) + 1024,
			};
			fn(compressed, options, (error, result) => {
				if (error) {
					reject(new VmdkError('VMDK_DECOMPRESS', `compressed grain does not inflate: ${error.message}`));
				} else {
					resolve(new Uint8Array(result.buffer, result.byteOffset, result.byteLength));
				}
			});
		});
	},
};

function errorText(e: unknown): string {
	return e instanceof Error ? e.message : String(e);
}

function fsError(path: string, cause: unknown): VmdkError {
	const code = (cause as NodeJS.ErrnoException | undefined)?.code;
	if (code === 'ENOENT' || code === 'ENOTDIR') {
		return new VmdkError('VMDK_MISSING_EXTENT', 'file not found', { file: path }, { cause });
	}
	return new VmdkError('VMDK_IO', errorText(cause), { file: path }, { cause });
}
