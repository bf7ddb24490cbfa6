// SPDX-License-Identifier: MIT
/**
 * The FUSE export of one open disk: a read-only folder (in the runtime dir) holding `disk`
 * (the whole disk) and one file per volume (`p1`, `p2`, …, `vg-lv`), sizes exact, served
 * through the engine straight into FUSE's buffer, with read-ahead for sequential readers.
 * This is the only module that loads the FUSE addon. In `--rw` mode each file has a
 * copy-on-write overlay: the kernel's writes go there, never into the VMDK.
 *
 * Every request is answered asynchronously on the daemon's event loop; nothing here touches
 * the exported files themselves (that would deadlock).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import createDebug from 'debug';
import { constants } from 'node:os';
import { CowOverlay } from '../overlay.js';
import { ReadAhead, type ReadTarget } from './read-ahead.js';

const log = createDebug('vmdk:daemon:fuse');
// The addon is CommonJS; load it lazily so that a host without libfuse can still run `doctor`.
const require = createRequire(import.meta.url);
function loadFuse(): FuseConstructor {
	return require('@cocalc/fuse-native') as FuseConstructor;
}

/** The part of the addon's stat shape we fill. */
interface FuseStats {
	mode: number;
	uid: number;
	gid: number;
	size: number;
	dev: number;
	nlink: number;
	ino: number;
	rdev: number;
	blksize: number;
	blocks: number;
	atime: Date;
	mtime: Date;
	ctime: Date;
}

/** Callback of most operations: 0 or a negative errno, and a value. The addon's read/write
 * callbacks take the byte count (or a negative errno) as their only argument. */
type Cb<T = never> = (code: number, value?: T) => void;

/** The operations we implement (the addon's OPERATIONS, narrowed). */
interface FuseOperations {
	getattr(path: string, cb: Cb<FuseStats>): void;
	readdir(path: string, cb: Cb<string[]>): void;
	open(path: string, flags: number, cb: Cb<number>): void;
	release(path: string, fd: number, cb: Cb): void;
	read(path: string, fd: number, buf: Buffer, len: number, pos: number, cb: Cb): void;
	write(path: string, fd: number, buf: Buffer, len: number, pos: number, cb: Cb): void;
	truncate(path: string, size: number, cb: Cb): void;
	ftruncate(path: string, fd: number, size: number, cb: Cb): void;
	flush(path: string, fd: number, cb: Cb): void;
	fsync(path: string, dataSync: boolean, fd: number, cb: Cb): void;
	statfs(path: string, cb: Cb<Record<string, number>>): void;
}

/** The addon's mount options we use. */
interface FuseOptions {
	fsname: string;
	subtype: string;
	kernelCache: boolean;
	allowOther: boolean;
	/** Per-operation timeout in ms; `false` turns the addon's timer off (0 would mean its default). */
	timeout: number | false;
}

interface FuseInstance {
	mount(cb: (err: Error | null) => void): void;
	unmount(cb: (err: Error | null) => void): void;
}

type FuseConstructor = new (mnt: string, ops: FuseOperations, opts: FuseOptions) => FuseInstance;

/** Negative errno values, as FUSE wants them. */
const E = {
	ENOENT: -constants.errno.ENOENT,
	ENOTDIR: -constants.errno.ENOTDIR,
	EROFS: -constants.errno.EROFS,
	EBADF: -constants.errno.EBADF,
	EIO: -constants.errno.EIO,
	ENOSPC: -constants.errno.ENOSPC,
	EPERM: -constants.errno.EPERM,
} as const;

/** One file of the export. */
export interface ExportFileSpec {
	/** File name (`disk`, `p1` …); no slashes. */
	readonly name: string;
	/** Its bytes. */
	readonly target: ReadTarget;
}

/** Options of an export. */
export interface DiskExportOptions {
	/** Copy-on-write writes into overlays created in `overlayDir`. */
	readonly readWrite: boolean;
	/** Folder for overlay files (one per exported file), required with `readWrite`. */
	readonly overlayDir?: string | undefined;
	/** fsname shown in mount tables. */
	readonly fsName?: string | undefined;
	/** Timeout of one FUSE operation in ms (the addon answers ETIMEDOUT after it). */
	readonly opTimeoutMs?: number | undefined;
	/** Add `allow_other` (only when root mounts for others). */
	readonly allowOther?: boolean | undefined;
}

/** Mode bits of a regular file, read-only and read-write. */
const FILE_MODE_RO = 0o100444;
const FILE_MODE_RW = 0o100644;
const DIR_MODE = 0o40555;
/** statfs block size reported, in bytes. */
const STATFS_BLOCK_BYTES = 4096;
/** open(2) access-mode mask and write flags. */
const O_RDONLY = 0;
const O_WRONLY = 1;
const O_RDWR = 2;

/** The access mode (O_RDONLY / O_WRONLY / O_RDWR) of open(2) flags: their low two bits. */
function accessMode(flags: number): number {
	const mode = flags % 4;
	return mode === O_WRONLY || mode === O_RDWR ? mode : O_RDONLY;
}

interface ServedFile {
	readonly name: string;
	readonly target: ReadTarget;
	readonly overlay: CowOverlay | undefined;
}

/** Kernel read-ahead asked for on our exports, in KiB (the FUSE default is 128). */
const KERNEL_READ_AHEAD_KB = 1024;

/**
 * Raises the kernel's read-ahead for the export (`/sys/class/bdi/<dev>/read_ahead_kb`, root
 * only): more requests in flight keep a sequential copy streaming (measured ~+25 % with
 * `dd bs=1M`). Best effort: a user daemon keeps the default.
 */
async function raiseKernelReadAhead(mountpoint: string): Promise<void> {
	try {
		const info = await readFile('/proc/self/mountinfo', 'utf8');
		const line = info.split('\n').find((l) => l.split(' ')[4] === mountpoint.replace(/ /g, '\\040'));
		const device = line?.split(' ')[2];
		if (device === undefined || !/^\d+:\d+$/.test(device)) return;
		await writeFile(`/sys/class/bdi/${device}/read_ahead_kb`, String(KERNEL_READ_AHEAD_KB));
	} catch {
		// Not root, or no sysfs: keep the default.
	}
}

/** A mounted FUSE export. */
export class DiskExport {
	/** The folder holding the files. */
	readonly mountpoint: string;
	private readonly files: Map<string, ServedFile>;
	private readonly fuse: FuseInstance;
	private readonly handles = new Map<number, { file: ServedFile; readAhead: ReadAhead }>();
	private nextHandle = 1;
	private readonly readWrite: boolean;
	private readonly mountedAt = new Date();
	private closed = false;

	private constructor(
		mountpoint: string,
		files: Map<string, ServedFile>,
		readWrite: boolean,
		options: DiskExportOptions,
	) {
		this.mountpoint = mountpoint;
		this.files = files;
		this.readWrite = readWrite;
		const Fuse = loadFuse();
		this.fuse = new Fuse(mountpoint, this.operations(), {
			fsname: options.fsName ?? 'vmdk-mounter',
			subtype: 'vmdk-mounter',
			// The kernel may cache pages across opens only when the bytes cannot change.
			kernelCache: !readWrite,
			allowOther: options.allowOther === true,
			// `false` turns the addon's per-request timer off (a setTimeout/clearTimeout pair per read
			// on the hot path); the addon reads 0 as "use my 15 s default", so 0 must not reach it.
			timeout: options.opTimeoutMs !== undefined && options.opTimeoutMs > 0 ? options.opTimeoutMs : false,
		});
	}

	/** Creates `mountpoint` if needed and mounts the export. */
	static async mount(
		mountpoint: string,
		specs: readonly ExportFileSpec[],
		options: DiskExportOptions,
	): Promise<DiskExport> {
		await mkdir(mountpoint, { recursive: true, mode: 0o700 });
		const files = new Map<string, ServedFile>();
		try {
			for (const spec of specs) {
				if (spec.name.includes('/') || files.has(spec.name))
					throw new Error(`bad export file name ${spec.name}`);
				let overlay: CowOverlay | undefined;
				if (options.readWrite) {
					if (options.overlayDir === undefined) throw new Error('readWrite needs an overlayDir');
					await mkdir(options.overlayDir, { recursive: true, mode: 0o700 });
					overlay = await CowOverlay.create(spec.target, `${options.overlayDir}/${spec.name}.overlay`);
				}
				files.set(spec.name, { name: spec.name, target: overlay ?? spec.target, overlay });
			}
		} catch (error) {
			await Promise.all([...files.values()].map((f) => f.overlay?.discard() ?? Promise.resolve()));
			throw error;
		}
		const exp = new DiskExport(mountpoint, files, options.readWrite, options);
		try {
			await new Promise<void>((resolve, reject) => {
				exp.fuse.mount((err: Error | null) => (err ? reject(err) : resolve()));
			});
		} catch (error) {
			await Promise.all([...files.values()].map((f) => f.overlay?.discard() ?? Promise.resolve()));
			throw error;
		}
		await raiseKernelReadAhead(mountpoint);
		log('mounted export %s (%d files)', mountpoint, files.size);
		return exp;
	}

	/** Path of an exported file. */
	pathOf(name: string): string {
		return `${this.mountpoint}/${name}`;
	}

	/** Unmounts the export and discards overlays. */
	async close(): Promise<void> {
		if (this.closed) return;
		this.closed = true;
		await new Promise<void>((resolve, reject) => {
			this.fuse.unmount((err: Error | null) => (err ? reject(err) : resolve()));
		});
		await Promise.all([...this.files.values()].map((f) => f.overlay?.discard() ?? Promise.resolve()));
		log('unmounted export %s', this.mountpoint);
	}

	private stat(mode: number, size: number): FuseStats {
		const t = this.mountedAt;
		return {
			mode,
			uid: process.getuid?.() ?? 0,
			gid: process.getgid?.() ?? 0,
			size,
			dev: 0,
			nlink: mode === DIR_MODE ? 2 : 1,
			ino: 0,
			rdev: 0,
			blksize: STATFS_BLOCK_BYTES,
			blocks: Math.ceil(size / 512),
			atime: t,
			mtime: t,
			ctime: t,
		};
	}

	private fileAt(path: string): ServedFile | undefined {
		return path.startsWith('/') ? this.files.get(path.slice(1)) : undefined;
	}

	private operations(): FuseOperations {
		const fileMode = this.readWrite ? FILE_MODE_RW : FILE_MODE_RO;
		return {
			getattr: (path, cb) => {
				if (path === '/') return cb(0, this.stat(DIR_MODE, 0));
				const file = this.fileAt(path);
				if (file === undefined) return cb(E.ENOENT);
				return cb(0, this.stat(fileMode, file.target.sizeBytes));
			},
			readdir: (path, cb) => {
				if (path !== '/') return cb(E.ENOTDIR);
				return cb(0, [...this.files.keys()]);
			},
			open: (path, flags, cb) => {
				const file = this.fileAt(path);
				if (file === undefined) return cb(E.ENOENT);
				if (accessMode(flags) !== O_RDONLY && !this.readWrite) return cb(E.EROFS);
				const fd = this.nextHandle++;
				this.handles.set(fd, { file, readAhead: new ReadAhead(file.target) });
				return cb(0, fd);
			},
			release: (_path, fd, cb) => {
				this.handles.delete(fd);
				cb(0);
			},
			read: (path, fd, buf, len, pos, cb) => {
				const handle = this.handles.get(fd);
				const file = handle?.file ?? this.fileAt(path);
				if (file === undefined) return cb(E.EBADF);
				const size = file.target.sizeBytes;
				if (pos >= size || len <= 0) return cb(0);
				const n = Math.min(len, size - pos);
				let done: Promise<void> | null;
				try {
					done = handle ? handle.readAhead.read(pos, buf, n) : file.target.readInto(pos, buf, 0, n);
				} catch (error) {
					log('read %s at %d (%d bytes) failed: %s', path, pos, n, String(error));
					return cb(E.EIO);
				}
				// Served from read-ahead memory: answer at once.
				if (done === null) return cb(n);
				done.then(
					() => cb(n),
					(error: unknown) => {
						log('read %s at %d (%d bytes) failed: %s', path, pos, n, String(error));
						cb(E.EIO);
					},
				);
			},
			write: (path, fd, buf, len, pos, cb) => {
				const handle = this.handles.get(fd);
				const file = handle?.file ?? this.fileAt(path);
				if (file === undefined) return cb(E.EBADF);
				if (file.overlay === undefined) return cb(E.EROFS);
				const size = file.target.sizeBytes;
				if (pos >= size) return cb(E.ENOSPC);
				const n = Math.min(len, size - pos);
				// Copy: FUSE reuses its buffer as soon as we answer, and the write is queued.
				const data = new Uint8Array(n);
				data.set(buf.subarray(0, n));
				for (const h of this.handles.values()) if (h.file === file) h.readAhead.invalidate();
				file.overlay.write(pos, data).then(
					() => cb(n),
					(error: unknown) => {
						log('write %s at %d failed: %s', path, pos, String(error));
						cb(E.EIO);
					},
				);
			},
			truncate: (path, size, cb) => {
				const file = this.fileAt(path);
				if (file === undefined) return cb(E.ENOENT);
				cb(size === file.target.sizeBytes ? 0 : E.EPERM);
			},
			ftruncate: (path, _fd, size, cb) => {
				const file = this.fileAt(path);
				if (file === undefined) return cb(E.ENOENT);
				cb(size === file.target.sizeBytes ? 0 : E.EPERM);
			},
			flush: (_path, _fd, cb) => cb(0),
			fsync: (_path, _dataSync, _fd, cb) => cb(0),
			statfs: (_path, cb) => {
				let total = 0;
				for (const f of this.files.values()) total += f.target.sizeBytes;
				cb(0, {
					bsize: STATFS_BLOCK_BYTES,
					frsize: STATFS_BLOCK_BYTES,
					blocks: Math.ceil(total / STATFS_BLOCK_BYTES),
					bfree: 0,
					bavail: 0,
					files: this.files.size,
					ffree: 0,
					favail: 0,
					fsid: 0,
					flag: this.readWrite ? 0 : 1,
					namemax: 255,
				});
			},
		};
	}
}
