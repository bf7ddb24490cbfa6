// SPDX-License-Identifier: MIT
/**
 * The engine's DiskPlatform on Node: positional reads with `node:fs`, grains inflated on a small
 * pool of worker threads (libdeflate or zlib, see codec-pool.ts), and nothing that can write.
 */
import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { VmdkError, type DirEntry, type DiskPlatform, type RandomAccessFile } from '../../core/index.js';
import { CodecPool, inflateOnLibuv } from './codec-pool.js';

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
		const isZlib = hasZlibHeader(compressed);
		const pool = inflatePool();
		if (pool !== undefined) return pool.inflate(compressed, maxOutBytes, isZlib);
		return inflateOnLibuv(compressed, maxOutBytes, isZlib);
	},
};

/** zlib header: CMF 0x?8 and (CMF*256+FLG) % 31 == 0. Otherwise raw deflate (the spec's word). */
function hasZlibHeader(compressed: Uint8Array): boolean {
	const b0 = compressed[0] ?? 0;
	const b1 = compressed[1] ?? 0;
	return b0 % 16 === 8 && (b0 * 256 + b1) % 31 === 0;
}

/** Most inflate worker threads. */
const INFLATE_WORKERS_MAX = 4;

/**
 * One worker per core but one: the event loop (FUSE requests, copies) needs a core of its own.
 * Measured on 2 cores, a streamOptimized read through FUSE: 1 worker 480–500 MiB/s, 2 workers
 * 436–455 MiB/s. A process that does nothing else meanwhile (`export`) may ask for more with
 * {@link setInflateWorkers}.
 */
function inflateWorkerCount(): number {
	return inflateWorkersWanted ?? Math.max(1, Math.min(INFLATE_WORKERS_MAX, availableParallelism() - 1));
}

/** `VMDK_INFLATE_WORKERS=N` overrides the count (benchmarks, hosts with other needs). */
let inflateWorkersWanted: number | undefined = (() => {
	const n = Number(process.env.VMDK_INFLATE_WORKERS);
	return Number.isSafeInteger(n) && n >= 1 && n <= 64 ? n : undefined;
})();

/** Sets the number of inflate workers before the first compressed grain is read. */
export function setInflateWorkers(count: number): void {
	inflateWorkersWanted = Math.max(1, Math.floor(count));
}

/** The process's inflate pool: undefined until first use, null when workers cannot run. */
let pool: CodecPool | null | undefined;

function inflatePool(): CodecPool | undefined {
	if (pool === undefined) {
		try {
			const created = CodecPool.create(inflateWorkerCount());
			// A dead pool falls back to libuv for good.
			created.onDeath = () => {
				if (pool === created) pool = null;
			};
			pool = created;
		} catch {
			pool = null;
		}
	}
	return pool ?? undefined;
}

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
