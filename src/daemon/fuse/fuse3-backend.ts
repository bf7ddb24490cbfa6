// SPDX-License-Identifier: MIT
/**
 * The FUSE binding on our own libfuse 3 addon (`native/fuse3`, built by `npm run build:native`).
 * The addon answers lookups, attributes and listings itself and queues opens, reads, writes
 * and releases for this module; the kernel may send reads of up to 1 MiB, several at once,
 * and each is answered whenever its bytes are in. Buffers for reads come from a small pool:
 * the reply copies them into the kernel synchronously, so each is free again at once.
 */
import { constants } from 'node:os';
import createDebug from 'debug';
import { loadFuse3Addon, type Fuse3Addon, type Fuse3Session } from '../../host/index.js';
import { AppError } from '../../shared/app-error.js';
import {
	FuseErrno,
	type BackendFile,
	type BackendMountOptions,
	type ExportHandlers,
	type FuseBackend,
	type MountedBackend,
} from './fuse-backend.js';

const log = createDebug('vmdk:daemon:fuse3');

/** Read buffers kept for reuse, per size (a few: most sequential reads are answered from read-ahead views). */
const POOLED_BUFFERS = 4;
/** Waiting for the loop to stop after the unmount, at most (a lazily detached export may not). */
const STOP_WAIT_MS = 5_000;
/** The same after a lazy detach, whose loop usually goes on until its last reader closes. */
const LAZY_STOP_WAIT_MS = 300;

class BufferPool {
	private readonly free = new Map<number, Uint8Array[]>();

	take(length: number): Uint8Array {
		return this.free.get(length)?.pop() ?? new Uint8Array(length);
	}

	give(buffer: Uint8Array): void {
		let list = this.free.get(buffer.length);
		if (list === undefined) {
			// Only a few sizes recur (the kernel's request sizes); keep at most two of them.
			if (this.free.size >= 2) this.free.clear();
			list = [];
			this.free.set(buffer.length, list);
		}
		if (list.length < POOLED_BUFFERS) list.push(buffer);
	}
}

/** The errno to answer with for a failed handler. */
function errnoOf(error: unknown): number {
	return error instanceof FuseErrno ? error.errno : constants.errno.EIO;
}

/** Unmounts an export (lazily: detached now, gone when its last reader closes). */
export type UnmountPath = (mountpoint: string, lazy: boolean) => Promise<void>;

function mountWith(
	fuse: Fuse3Addon,
	unmountPath: UnmountPath,
	mountpoint: string,
	files: readonly BackendFile[],
	options: BackendMountOptions,
	handlers: ExportHandlers,
): MountedBackend {
	const pool = new BufferPool();
	// Set right after mount(): events are delivered on this thread, so never before.
	const live: { session?: Fuse3Session } = {};
	const answerError = (id: number, error: unknown, what: string): void => {
		log('%s failed: %s', what, String(error));
		if (live.session !== undefined) fuse.replyError(live.session, id, errnoOf(error));
	};
	const onRead = (id: number, file: number, handle: number, offset: number, length: number): void => {
		const s = live.session;
		if (s === undefined) return;
		// Straight from the read-ahead window when it is there: the reply copies it into the kernel.
		const view = handlers.view(file, handle, offset, length);
		if (view !== null) {
			fuse.replyData(s, id, view, length);
			return;
		}
		const dest = pool.take(length);
		let done: Promise<void> | null;
		try {
			done = handlers.read(file, handle, offset, dest, length);
		} catch (error) {
			answerError(id, error, `read ${files[file]?.name ?? file} at ${offset}`);
			return;
		}
		if (done === null) {
			fuse.replyData(s, id, dest, length);
			pool.give(dest);
			return;
		}
		done.then(
			() => {
				fuse.replyData(s, id, dest, length);
				pool.give(dest);
			},
			(error: unknown) => answerError(id, error, `read ${files[file]?.name ?? file} at ${offset}`),
		);
	};
	const handler = (
		kind: number,
		id: number,
		file: number,
		handle: number,
		offset: number,
		arg: unknown,
	): void => {
		switch (kind) {
			case fuse.EVENT.read:
				onRead(id, file, handle, offset, arg as number);
				return;
			case fuse.EVENT.open:
				handlers.open(file, handle, arg as number);
				return;
			case fuse.EVENT.release:
				handlers.release(handle);
				return;
			case fuse.EVENT.write: {
				const data = arg as Uint8Array;
				handlers.write(file, handle, offset, data).then(
					(n) => {
						if (live.session !== undefined) fuse.replyWrite(live.session, id, n);
					},
					(error: unknown) => answerError(id, error, `write ${files[file]?.name ?? file} at ${offset}`),
				);
				return;
			}
			default:
				if (live.session !== undefined && id >= 0) fuse.replyError(live.session, id, constants.errno.ENOSYS);
		}
	};
	const mounted = fuse.mount(
		mountpoint,
		{
			fsName: options.fsName,
			readWrite: options.readWrite,
			allowOther: options.allowOther,
			allowRoot: options.allowRoot === true,
			uid: process.getuid?.() ?? 0,
			gid: process.getgid?.() ?? 0,
			mtimeMs: options.mtime.getTime(),
			files: files.map((f) => ({ name: f.name, size: f.sizeBytes })),
		},
		handler,
	);
	live.session = mounted.session;
	let stopped = false;
	void mounted.closed.then(() => {
		stopped = true;
		log('export %s stopped serving', mountpoint);
	});
	return {
		binding: 'fuse3',
		unmount: async () => {
			let waitMs = STOP_WAIT_MS;
			if (!stopped) {
				try {
					await unmountPath(mountpoint, false);
				} catch (error) {
					// Still open somewhere (a helper detached with --force, a reader of `disk`): detach it
					// like libfuse 2 always did; the loop serves those readers until they close, so
					// waiting long for it to stop would only delay the caller.
					log('unmount of %s failed (%s); detaching it lazily', mountpoint, String(error));
					await unmountPath(mountpoint, true);
					waitMs = LAZY_STOP_WAIT_MS;
				}
			}
			let timer: NodeJS.Timeout | undefined;
			const timeout = new Promise<'detached'>((resolve) => {
				timer = setTimeout(() => resolve('detached'), waitMs);
			});
			try {
				const outcome = await Promise.race([mounted.closed, timeout]);
				if (outcome === 'detached')
					log('export %s is detached; it ends when its last reader closes', mountpoint);
			} finally {
				clearTimeout(timer);
			}
		},
	};
}

/** The libfuse 3 binding, or null when its addon is not available here. */
export function fuse3Backend(unmountPath: UnmountPath): FuseBackend | null {
	const fuse = loadFuse3Addon();
	if (fuse === null) return null;
	return {
		name: 'fuse3',
		mount: async (mountpoint, files, options, handlers) => {
			try {
				return mountWith(fuse, unmountPath, mountpoint, files, options, handlers);
			} catch (error) {
				if ((error as { code?: unknown }).code !== 'EFUSEMOUNT') throw error;
				throw new AppError('FUSE_UNAVAILABLE', (error as Error).message, { cause: error });
			}
		},
	};
}
