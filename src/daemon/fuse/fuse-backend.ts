// SPDX-License-Identifier: MIT
/**
 * What a FUSE binding must do for a disk export: mount a flat, static folder of files with
 * fixed names and sizes, and hand opens, reads, writes and releases to the export. Two
 * bindings implement it: our own libfuse 3 addon (`fuse3-backend.ts`, the fast one) and
 * `@cocalc/fuse-native` (`fuse-native-backend.ts`, libfuse 2, the fallback where the addon
 * is not built, e.g. macOS with macFUSE).
 */

/** One file of the export. */
export interface BackendFile {
	/** File name, no slashes. */
	readonly name: string;
	/** Size in bytes (exact). */
	readonly sizeBytes: number;
}

/** How to mount. */
export interface BackendMountOptions {
	/** fsname shown in mount tables. */
	readonly fsName: string;
	/** Files may be opened for writing (the export routes writes to overlays). */
	readonly readWrite: boolean;
	/** Add `allow_other`; the files are then owner-only (0400, or 0600 read-write). */
	readonly allowOther: boolean;
	/** Add `allow_root` (macFUSE: lets the disk-image helper, which is not us, read the files). */
	readonly allowRoot?: boolean | undefined;
	/** Timestamp shown on every file. */
	readonly mtime: Date;
	/** Timeout of one operation in ms (fuse-native only; the libfuse 3 addon waits). */
	readonly opTimeoutMs?: number | undefined;
}

/** A negative errno, or a count of bytes. */
export type ErrnoOrBytes = number;

/**
 * The export's side. `read` fills `dest` (exactly `length` bytes, already clamped to the file)
 * and returns null when it did so synchronously, or a promise. `write` returns the bytes
 * taken. Errors are thrown or rejected as `FuseErrno`.
 */
export interface ExportHandlers {
	open(file: number, handle: number, flags: number): void;
	release(handle: number): void;
	read(
		file: number,
		handle: number,
		offsetBytes: number,
		dest: Uint8Array,
		length: number,
	): Promise<void> | null;
	/**
	 * The bytes of a read when they are already in memory, as a view valid until the next call,
	 * or null. Lets a binding that copies into the kernel itself skip one copy.
	 */
	view(file: number, handle: number, offsetBytes: number, length: number): Uint8Array | null;
	write(file: number, handle: number, offsetBytes: number, data: Uint8Array): Promise<number>;
}

/** An error that carries the errno FUSE answers with. */
export class FuseErrno extends Error {
	/** Positive errno (EIO, EROFS …). */
	readonly errno: number;
	constructor(errno: number, message: string, options?: ErrorOptions) {
		super(message, options);
		this.name = 'FuseErrno';
		this.errno = errno;
	}
}

/** A mounted binding. */
export interface MountedBackend {
	/** Which binding serves it. */
	readonly binding: FuseBindingName;
	/** Unmounts (not lazily) and resolves once the binding has stopped serving. */
	unmount(): Promise<void>;
}

/** The bindings. */
export type FuseBindingName = 'fuse3' | 'fuse-native';

/** A FUSE binding. */
export interface FuseBackend {
	readonly name: FuseBindingName;
	mount(
		mountpoint: string,
		files: readonly BackendFile[],
		options: BackendMountOptions,
		handlers: ExportHandlers,
	): Promise<MountedBackend>;
}
