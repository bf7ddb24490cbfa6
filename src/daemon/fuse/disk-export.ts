// SPDX-License-Identifier: MIT
/**
 * The FUSE export of one open disk: a read-only folder (in the runtime dir) holding `disk`
 * (the whole disk) and one file per volume (`p1`, `p2`, …, `vg-lv`), sizes exact, served
 * through the engine, with read-ahead for sequential readers. In `--rw` mode each file has a
 * copy-on-write overlay: the kernel's writes go there, never into the VMDK.
 *
 * The FUSE binding is our libfuse 3 addon when it is built, else `@cocalc/fuse-native`
 * (`VMDK_MOUNTER_FUSE_BINDING=fuse3|fuse-native` forces one). Every request is answered
 * asynchronously on the daemon's event loop; nothing here touches the exported files
 * themselves (that would deadlock).
 */
import { mkdir, statfs } from 'node:fs/promises';
import { constants } from 'node:os';
import createDebug from 'debug';
import type { ReadTarget } from '../../core/index.js';
import type { Host } from '../../host/index.js';
import { AppError } from '../../shared/app-error.js';
import { CowOverlay } from '../overlay.js';
import { FuseErrno, type FuseBackend, type FuseBindingName, type MountedBackend } from './fuse-backend.js';
import { fuse3Backend } from './fuse3-backend.js';
import { fuseNativeBackend } from './fuse-native-backend.js';
import { ReadAhead } from './read-ahead.js';

const log = createDebug('vmdk:daemon:fuse');

/**
 * The binding to use: the host's choice (our libfuse 3 addon when it loads, else fuse-native;
 * `VMDK_MOUNTER_FUSE_BINDING` forces one, see the host probe). fuse3 unmounts its export the
 * way the host unmounts any FUSE volume.
 */
export function chooseFuseBackend(host: Host): FuseBackend {
	if (host.probe.fuse.binding === 'fuse-native') return fuseNativeBackend();
	const fuse3 = fuse3Backend((mountpoint, lazy) =>
		host.unmountVolume({ mountpoint, fuseHelper: true }, { force: lazy }),
	);
	if (fuse3 === null) throw new Error('the libfuse 3 addon (native/fuse3) does not load');
	return fuse3;
}

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
	/** Folder for overlay files (one per writable file), required with `readWrite`. */
	readonly overlayDir?: string | undefined;
	/**
	 * With `readWrite`: the files that get an overlay (the volumes being mounted); the others
	 * stay read-only. Default: every file.
	 */
	readonly writableFiles?: ReadonlySet<string> | undefined;
	/** Hears failed reads and writes (for the log and the volume's state). */
	readonly onIoError?: ((file: string, op: 'read' | 'write', error: unknown) => void) | undefined;
	/** fsname shown in mount tables. */
	readonly fsName?: string | undefined;
	/** Timeout of one FUSE operation in ms (the addon answers ETIMEDOUT after it). */
	readonly opTimeoutMs?: number | undefined;
	/**
	 * Let processes with other credentials (a setuid-root helper) reach the export: the mount
	 * gets `allow_other` and owner-only file modes, enforced by the kernel
	 * (`default_permissions`). Only the libfuse 3 binding does this; fuse-native ignores it.
	 */
	readonly allowOther?: boolean | undefined;
	/**
	 * Let root reach the export (`allow_root`): on macOS the disk-image helper that attaches a
	 * volume file does not run as us. Root can read any file anyway, so both bindings pass it.
	 */
	readonly allowRoot?: boolean | undefined;
}

interface ServedFile {
	readonly name: string;
	readonly target: ReadTarget;
	readonly overlay: CowOverlay | undefined;
	/** Set once a write into the overlay failed: later writes are refused, never half-kept. */
	writeFailed?: boolean;
}

/** Overlay space is reserved in whole blocks of this size. */
const RESERVE_BLOCK_BYTES = 4096;

/**
 * Refuses a writable export whose overlays cannot be fully reserved: each overlay is
 * preallocated for the whole size of its file, so that no write the guest filesystem makes can
 * later fail for lack of space (a kernel filesystem would have acknowledged it already).
 */
async function checkOverlaySpace(overlayDir: string, writable: readonly ExportFileSpec[]): Promise<void> {
	const need = writable.reduce(
		(sum, s) => sum + Math.ceil(s.target.sizeBytes / RESERVE_BLOCK_BYTES) * RESERVE_BLOCK_BYTES,
		0,
	);
	const fs = await statfs(overlayDir);
	const free = Number(fs.bavail) * Number(fs.bsize);
	if (need > free) {
		throw new AppError(
			'NO_SPACE',
			`not enough space in ${overlayDir} for the copy-on-write overlay: need ${formatBytes(need)}, have ${formatBytes(free)} — free some space, mount one volume with --partition, or set VMDK_MOUNTER_STATE_DIR to a larger disk`,
		);
	}
}

function formatBytes(n: number): string {
	const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
	let v = n;
	let u = 0;
	while (v >= 1024 && u < units.length - 1) {
		v /= 1024;
		u++;
	}
	return u === 0 ? `${n} bytes` : `${v.toFixed(1)} ${units[u] ?? ''}`;
}

/** A mounted FUSE export. */
export class DiskExport {
	/** The folder holding the files. */
	readonly mountpoint: string;
	/** The FUSE binding serving it. */
	readonly binding: FuseBindingName;
	private readonly files: readonly ServedFile[];
	private readonly handles = new Map<number, { file: ServedFile; readAhead: ReadAhead }>();
	private mounted: MountedBackend | undefined;
	private closed = false;

	private readonly onIoError: (file: string, op: 'read' | 'write', error: unknown) => void;

	private constructor(
		mountpoint: string,
		files: readonly ServedFile[],
		binding: FuseBindingName,
		onIoError: DiskExportOptions['onIoError'],
	) {
		this.mountpoint = mountpoint;
		this.files = files;
		this.binding = binding;
		this.onIoError = onIoError ?? (() => undefined);
	}

	/** Creates `mountpoint` if needed and mounts the export. */
	static async mount(
		mountpoint: string,
		specs: readonly ExportFileSpec[],
		options: DiskExportOptions,
		host: Host,
		backend: FuseBackend = chooseFuseBackend(host),
	): Promise<DiskExport> {
		await mkdir(mountpoint, { recursive: true, mode: 0o700 });
		const files: ServedFile[] = [];
		const discardOverlays = (): Promise<unknown> =>
			Promise.all(files.map((f) => f.overlay?.discard() ?? Promise.resolve()));
		try {
			for (const spec of specs) {
				if (spec.name === '' || spec.name.includes('/') || files.some((f) => f.name === spec.name))
					throw new Error(`bad export file name ${spec.name}`);
			}
			const writable = options.readWrite
				? specs.filter((s) => options.writableFiles?.has(s.name) ?? true)
				: [];
			if (writable.length > 0) {
				if (options.overlayDir === undefined) throw new Error('readWrite needs an overlayDir');
				await mkdir(options.overlayDir, { recursive: true, mode: 0o700 });
				await checkOverlaySpace(options.overlayDir, writable);
			}
			for (const spec of specs) {
				let overlay: CowOverlay | undefined;
				if (writable.includes(spec) && options.overlayDir !== undefined) {
					overlay = await CowOverlay.create(
						spec.target,
						`${options.overlayDir}/${spec.name}.overlay`,
						(path, size) => host.preallocate(path, size),
					);
				}
				files.push({ name: spec.name, target: overlay ?? spec.target, overlay });
			}
			const exp = new DiskExport(mountpoint, files, backend.name, options.onIoError);
			exp.mounted = await backend.mount(
				mountpoint,
				files.map((f) => ({ name: f.name, sizeBytes: f.target.sizeBytes })),
				{
					fsName: options.fsName ?? 'vmdk-mounter',
					readWrite: options.readWrite,
					// fuse-native has no default_permissions: allow_other would open the disk to everyone.
					allowOther: options.allowOther === true && backend.name === 'fuse3',
					allowRoot: options.allowRoot === true,
					mtime: new Date(),
					opTimeoutMs: options.opTimeoutMs,
				},
				exp,
			);
			await host.tuneExport(mountpoint);
			log('mounted export %s (%d files, %s)', mountpoint, files.length, backend.name);
			return exp;
		} catch (error) {
			await discardOverlays();
			throw error;
		}
	}

	/** The copy-on-write overlays of a writable export, by file name. */
	overlays(): ReadonlyMap<string, CowOverlay> {
		const out = new Map<string, CowOverlay>();
		for (const f of this.files) if (f.overlay !== undefined) out.set(f.name, f.overlay);
		return out;
	}

	/** Path of an exported file. */
	pathOf(name: string): string {
		return `${this.mountpoint}/${name}`;
	}

	/** Unmounts the export and discards overlays. */
	async close(): Promise<void> {
		if (this.closed) return;
		// Marked closed only once unmounted: after a failure, close() can be called again.
		await this.mounted?.unmount();
		this.closed = true;
		// An overlay that cannot be deleted now is crash recovery's to remove; the export is gone.
		await Promise.all(
			this.files.map((f) => f.overlay?.discard().catch(() => undefined) ?? Promise.resolve()),
		);
		log('unmounted export %s', this.mountpoint);
	}

	// ---- ExportHandlers: called by the binding ----

	/** A file was opened as `handle`. */
	open(file: number, handle: number): void {
		const served = this.files[file];
		if (served !== undefined)
			this.handles.set(handle, { file: served, readAhead: new ReadAhead(served.target) });
	}

	/** `handle` was closed. */
	release(handle: number): void {
		this.handles.delete(handle);
	}

	/** Fills `dest` with `length` bytes of file `file` at `offsetBytes` (clamped by the binding). */
	read(
		file: number,
		handle: number,
		offsetBytes: number,
		dest: Uint8Array,
		length: number,
	): Promise<void> | null {
		const h = this.handles.get(handle);
		const served = h?.file ?? this.files[file];
		if (served === undefined) throw new FuseErrno(constants.errno.EBADF, `no file ${file}`);
		const reading = h
			? h.readAhead.read(offsetBytes, dest, length)
			: served.target.readInto(offsetBytes, dest, 0, length);
		return (
			reading?.catch((error: unknown) => {
				this.onIoError(served.name, 'read', error);
				throw error;
			}) ?? null
		);
	}

	/** The bytes of a sequential read already in the handle's read-ahead, or null. */
	view(_file: number, handle: number, offsetBytes: number, length: number): Uint8Array | null {
		return this.handles.get(handle)?.readAhead.view(offsetBytes, length) ?? null;
	}

	/** Writes into the file's overlay; the binding checked read-write mode and the size. */
	async write(file: number, _handle: number, offsetBytes: number, data: Uint8Array): Promise<number> {
		const served = this.files[file];
		if (served?.overlay === undefined) throw new FuseErrno(constants.errno.EROFS, 'read-only export');
		if (served.writeFailed === true) {
			throw new FuseErrno(constants.errno.EIO, `${served.name}: an earlier write to its overlay failed`);
		}
		const n = Math.min(data.length, served.target.sizeBytes - offsetBytes);
		if (n <= 0) throw new FuseErrno(constants.errno.ENOSPC, 'write past the end');
		for (const h of this.handles.values()) if (h.file === served) h.readAhead.invalidate();
		try {
			await served.overlay.write(offsetBytes, n === data.length ? data : data.subarray(0, n));
		} catch (error) {
			// The writer hears EIO now; the volume is reported degraded; nothing is kept by halves.
			served.writeFailed = true;
			this.onIoError(served.name, 'write', error);
			throw new FuseErrno(constants.errno.EIO, `write to the overlay of ${served.name} failed`, {
				cause: error,
			});
		}
		return n;
	}
}
