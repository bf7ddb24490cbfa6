// SPDX-License-Identifier: MIT
/**
 * A bounded set of open files for one disk. A disk split into 2 GB extents can name hundreds of
 * files (VMware Fusion's default layout), more than a macOS GUI process may keep open (soft
 * limit 256), so each extent file is opened once to check it and then closed and reopened on
 * demand, keeping at most `maxOpen` idle handles. Files in the middle of a read are never
 * closed, so the count can exceed `maxOpen` briefly under many concurrent reads.
 */
import { VmdkError } from '../errors.js';
import type { DiskPlatform, RandomAccessFile } from '../platform.js';

/** Default cap on open extent files per disk. */
const DEFAULT_MAX_OPEN_FILES = 64;

/** Opens files through a platform, keeping at most `maxOpen` idle handles open. */
export class FilePool {
	/** Most handles kept open while idle. */
	readonly maxOpen: number;
	private readonly platform: DiskPlatform;
	/** Handles currently open (busy or idle). */
	private openCount = 0;
	/** Idle files with an open handle, least recently used first (a Set keeps insertion order). */
	private readonly idle = new Set<PooledFile>();

	constructor(platform: DiskPlatform, maxOpen = DEFAULT_MAX_OPEN_FILES) {
		this.platform = platform;
		this.maxOpen = Math.max(1, Math.floor(maxOpen));
	}

	/** Opens `path` (errors as `DiskPlatform.openFile`) and returns a file that reopens itself when needed. */
	async open(path: string): Promise<RandomAccessFile> {
		const handle = await this.platform.openFile(path);
		this.openCount++;
		const file = new PooledFile(this, path, handle);
		this.markIdle(file);
		await this.trim();
		return file;
	}

	/** Opens `file` again after eviction; the size must not have changed meanwhile. */
	async reopen(file: PooledFile): Promise<RandomAccessFile> {
		const handle = await this.platform.openFile(file.path);
		this.openCount++;
		if (handle.sizeBytes !== file.sizeBytes) {
			await this.closeHandle(handle);
			throw new VmdkError(
				'VMDK_IO',
				`the file changed size while the disk was open (${file.sizeBytes} → ${handle.sizeBytes} bytes)`,
				{ file: file.path },
			);
		}
		await this.trim();
		return handle;
	}

	/** Notes that `file` is in use: it must not be evicted. */
	markBusy(file: PooledFile): void {
		this.idle.delete(file);
	}

	/** Notes that `file` is idle and most recently used. */
	markIdle(file: PooledFile): void {
		this.idle.delete(file);
		if (file.hasHandle()) this.idle.add(file);
	}

	/** Forgets a closed file and closes its handle. */
	async release(file: PooledFile, handle: RandomAccessFile | undefined): Promise<void> {
		this.idle.delete(file);
		if (handle !== undefined) await this.closeHandle(handle);
	}

	/** Closes least recently used idle handles until at most `maxOpen` are open. Never throws. */
	async trim(): Promise<void> {
		const closing: Promise<void>[] = [];
		for (const file of this.idle) {
			if (this.openCount <= this.maxOpen) break;
			this.idle.delete(file);
			const handle = file.evict();
			if (handle !== undefined) closing.push(this.closeHandle(handle));
		}
		await Promise.all(closing);
	}

	private async closeHandle(handle: RandomAccessFile): Promise<void> {
		this.openCount--;
		try {
			await handle.close();
		} catch {
			// An evicted read-only handle that fails to close holds nothing we need.
		}
	}
}

/** A file of a FilePool: reads go to an open handle, reopened after eviction. */
class PooledFile implements RandomAccessFile {
	readonly path: string;
	readonly sizeBytes: number;
	private readonly pool: FilePool;
	private handle: RandomAccessFile | undefined;
	/** A reopen in progress, shared by concurrent readers. */
	private opening: Promise<RandomAccessFile> | undefined;
	/** Reads in progress. */
	private users = 0;
	private closed = false;

	constructor(pool: FilePool, path: string, handle: RandomAccessFile) {
		this.pool = pool;
		this.path = path;
		this.handle = handle;
		this.sizeBytes = handle.sizeBytes;
	}

	/** True while a handle is open. */
	hasHandle(): boolean {
		return this.handle !== undefined;
	}

	/** Gives up the handle for the pool to close; only called on idle files. */
	evict(): RandomAccessFile | undefined {
		const handle = this.handle;
		this.handle = undefined;
		return handle;
	}

	async readInto(positionBytes: number, dest: Uint8Array, destOffset: number, length: number): Promise<void> {
		if (this.closed) {
			throw new VmdkError('VMDK_IO', 'read from a closed file', {
				file: this.path,
				offsetBytes: positionBytes,
			});
		}
		this.users++;
		this.pool.markBusy(this);
		try {
			const handle = await this.acquire();
			await handle.readInto(positionBytes, dest, destOffset, length);
		} finally {
			this.users--;
			if (this.users === 0 && !this.closed) {
				this.pool.markIdle(this);
				// Concurrent reads may have reopened more than maxOpen files: close the excess now.
				await this.pool.trim();
			}
		}
	}

	private acquire(): Promise<RandomAccessFile> {
		if (this.handle !== undefined) return Promise.resolve(this.handle);
		this.opening ??= this.reopenOnce();
		return this.opening;
	}

	/** One reopen, shared by every reader waiting for it. */
	private async reopenOnce(): Promise<RandomAccessFile> {
		try {
			const handle = await this.pool.reopen(this);
			if (this.closed) {
				// Closed while reopening: do not keep the new handle.
				await this.pool.release(this, handle);
				throw new VmdkError('VMDK_IO', 'read from a closed file', { file: this.path });
			}
			this.handle = handle;
			return handle;
		} finally {
			this.opening = undefined;
		}
	}

	async close(): Promise<void> {
		if (this.closed) return;
		this.closed = true;
		await this.pool.release(this, this.evict());
	}
}
