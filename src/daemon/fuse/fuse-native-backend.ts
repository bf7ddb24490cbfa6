// SPDX-License-Identifier: MIT
/**
 * The FUSE binding on `@cocalc/fuse-native` (libfuse 2, high-level API): the fallback where our
 * libfuse 3 addon is not built (macOS with macFUSE, a host without libfuse3-dev). Every request
 * is one round trip into JavaScript and the kernel asks for at most 128 KiB per read, so it is
 * slower for sequential copies; it serves the same files with the same rules.
 */
import { createRequire } from 'node:module';
import { constants } from 'node:os';
import createDebug from 'debug';
import {
	FuseErrno,
	type BackendFile,
	type BackendMountOptions,
	type ExportHandlers,
	type FuseBackend,
	type MountedBackend,
} from './fuse-backend.js';

const log = createDebug('vmdk:daemon:fuse-native');

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
	allowRoot: boolean;
	/** Per-operation timeout in ms; `false` turns the addon's timer off (0 would mean its default). */
	timeout: number | false;
}

interface FuseInstance {
	mount(cb: (err: Error | null) => void): void;
	unmount(cb: (err: Error | null) => void): void;
}

type FuseConstructor = new (mnt: string, ops: FuseOperations, opts: FuseOptions) => FuseInstance;

/** Mode bits of a regular file, read-only and read-write, and of the folder. */
const FILE_MODE_RO = 0o100444;
const FILE_MODE_RW = 0o100644;
const DIR_MODE = 0o40555;
/** stat and statfs block size, in bytes. */
const BLOCK_BYTES = 4096;
/** open(2) access modes. */
const O_WRONLY = 1;
const O_RDWR = 2;

/** The access mode (O_RDONLY / O_WRONLY / O_RDWR) of open(2) flags: their low two bits. */
function writes(flags: number): boolean {
	const mode = flags % 4;
	return mode === O_WRONLY || mode === O_RDWR;
}

function errnoOf(error: unknown): number {
	return -(error instanceof FuseErrno ? error.errno : constants.errno.EIO);
}

function operations(
	files: readonly BackendFile[],
	options: BackendMountOptions,
	handlers: ExportHandlers,
): FuseOperations {
	const byName = new Map(files.map((f, i) => [f.name, i]));
	const indexOf = (path: string): number | undefined =>
		path.startsWith('/') ? byName.get(path.slice(1)) : undefined;
	const stat = (mode: number, size: number): FuseStats => ({
		mode,
		uid: process.getuid?.() ?? 0,
		gid: process.getgid?.() ?? 0,
		size,
		dev: 0,
		nlink: mode === DIR_MODE ? 2 : 1,
		ino: 0,
		rdev: 0,
		blksize: BLOCK_BYTES,
		blocks: Math.ceil(size / 512),
		atime: options.mtime,
		mtime: options.mtime,
		ctime: options.mtime,
	});
	const fileMode = options.readWrite ? FILE_MODE_RW : FILE_MODE_RO;
	let nextHandle = 1;
	const sizeCheck = (path: string, size: number, cb: Cb): void => {
		const i = indexOf(path);
		if (i === undefined) return cb(-constants.errno.ENOENT);
		cb(size === files[i]?.sizeBytes && options.readWrite ? 0 : -constants.errno.EPERM);
	};
	return {
		getattr: (path, cb) => {
			if (path === '/') return cb(0, stat(DIR_MODE, 0));
			const i = indexOf(path);
			if (i === undefined) return cb(-constants.errno.ENOENT);
			return cb(0, stat(fileMode, files[i]?.sizeBytes ?? 0));
		},
		readdir: (path, cb) =>
			path === '/'
				? cb(
						0,
						files.map((f) => f.name),
					)
				: cb(-constants.errno.ENOTDIR),
		open: (path, flags, cb) => {
			const i = indexOf(path);
			if (i === undefined) return cb(-constants.errno.ENOENT);
			if (writes(flags) && !options.readWrite) return cb(-constants.errno.EROFS);
			const handle = nextHandle++;
			handlers.open(i, handle, flags);
			return cb(0, handle);
		},
		release: (_path, fd, cb) => {
			handlers.release(fd);
			cb(0);
		},
		read: (path, fd, buf, len, pos, cb) => {
			const i = indexOf(path);
			const size = i === undefined ? 0 : (files[i]?.sizeBytes ?? 0);
			if (i === undefined) return cb(-constants.errno.EBADF);
			if (pos >= size || len <= 0) return cb(0);
			const n = Math.min(len, size - pos);
			const fail = (error: unknown): void => {
				log('read %s at %d (%d bytes) failed: %s', path, pos, n, String(error));
				cb(errnoOf(error));
			};
			let done: Promise<void> | null;
			try {
				done = handlers.read(i, fd, pos, buf, n);
			} catch (error) {
				return fail(error);
			}
			if (done === null) return cb(n);
			done.then(() => cb(n), fail);
		},
		write: (path, fd, buf, len, pos, cb) => {
			const i = indexOf(path);
			if (i === undefined) return cb(-constants.errno.EBADF);
			if (!options.readWrite) return cb(-constants.errno.EROFS);
			const size = files[i]?.sizeBytes ?? 0;
			if (pos >= size) return cb(-constants.errno.ENOSPC);
			// Copy: FUSE reuses its buffer as soon as we answer, and the write is queued.
			const data = new Uint8Array(Math.min(len, size - pos));
			data.set(buf.subarray(0, data.length));
			handlers.write(i, fd, pos, data).then(
				(n) => cb(n),
				(error: unknown) => {
					log('write %s at %d failed: %s', path, pos, String(error));
					cb(errnoOf(error));
				},
			);
		},
		truncate: (path, size, cb) => sizeCheck(path, size, cb),
		ftruncate: (path, _fd, size, cb) => sizeCheck(path, size, cb),
		flush: (_path, _fd, cb) => cb(0),
		fsync: (_path, _dataSync, _fd, cb) => cb(0),
		statfs: (_path, cb) => {
			const total = files.reduce((sum, f) => sum + f.sizeBytes, 0);
			cb(0, {
				bsize: BLOCK_BYTES,
				frsize: BLOCK_BYTES,
				blocks: Math.ceil(total / BLOCK_BYTES),
				bfree: 0,
				bavail: 0,
				files: files.length,
				ffree: 0,
				favail: 0,
				fsid: 0,
				flag: options.readWrite ? 0 : 1,
				namemax: 255,
			});
		},
	};
}

/** The fuse-native binding (loaded lazily: a host without libfuse 2 can still run `doctor`). */
export function fuseNativeBackend(): FuseBackend {
	return {
		name: 'fuse-native',
		mount: async (mountpoint, files, options, handlers): Promise<MountedBackend> => {
			const Fuse = createRequire(import.meta.url)('@cocalc/fuse-native') as FuseConstructor;
			const darwin = process.platform === 'darwin';
			const fuse = new Fuse(mountpoint, operations(files, options, handlers), {
				// macFUSE has no `nobrowse` switch in this binding; its options are joined with
				// commas, so it rides on fsname and keeps the export out of Finder's sidebar.
				fsname: darwin ? `${options.fsName},nobrowse` : options.fsName,
				// macFUSE's mount helper knows no `subtype` (docs/macos.md, "Mount options").
				subtype: darwin ? '' : 'vmdk-mounter',
				// The kernel may cache pages across opens only when the bytes cannot change.
				kernelCache: !options.readWrite,
				allowOther: options.allowOther,
				allowRoot: options.allowRoot === true && !options.allowOther,
				// `false` turns the addon's per-request timer off; it reads 0 as "use my 15 s default".
				timeout: options.opTimeoutMs !== undefined && options.opTimeoutMs > 0 ? options.opTimeoutMs : false,
			});
			await new Promise<void>((resolve, reject) => {
				fuse.mount((err: Error | null) => (err ? reject(err) : resolve()));
			});
			return {
				binding: 'fuse-native',
				unmount: () =>
					new Promise<void>((resolve, reject) => {
						fuse.unmount((err: Error | null) => (err ? reject(err) : resolve()));
					}),
			};
		},
	};
}
