// SPDX-License-Identifier: MIT
/**
 * The files of a VMDK being written, for the core writers (`VmdkWritePlatform`). Each file is
 * written as `<name>.partial` and renamed into place only when the whole disk is complete
 * (descriptor last), so an interrupted or failed write never leaves a disk that looks finished;
 * `abort` removes every partial file. Writes are cut into pieces that are in flight together
 * (one multi-MiB pwrite is throttled as a burst on ext4; see export-raw.ts).
 */
import { randomBytes } from 'node:crypto';
import { lstat, open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { VmdkWritePlatform, WritableFile } from '../../core/index.js';
import type { CodecPool } from './codec-pool.js';
import { PARTIAL_SUFFIX, WRITE_PIECE_BYTES } from './export-raw.js';

/** Why writing the output failed (the CLI maps these to its error codes). */
export class VmdkOutputError extends Error {
	override readonly name = 'VmdkOutputError';
	/** `exists`: a file is in the way; `no-space`: the disk or quota is full; `write`: another OS error. */
	readonly reason: 'exists' | 'no-space' | 'write';
	readonly path: string;
	constructor(reason: VmdkOutputError['reason'], path: string, message: string, options?: ErrorOptions) {
		super(`${path}: ${message}`, options);
		this.reason = reason;
		this.path = path;
	}
}

/** Options of {@link VmdkOutput.create}. */
export interface VmdkOutputOptions {
	/** Replace existing files (and stale `.partial` files) of the same names. */
	readonly overwrite: boolean;
	/** Compresses grains (streamOptimized); without it `deflate` fails. */
	readonly codec?: CodecPool | undefined;
}

/** The output folder of one write. */
export class VmdkOutput {
	readonly dir: string;
	readonly platform: VmdkWritePlatform;
	private readonly overwrite: boolean;
	/** Final names, in creation order. */
	private readonly names: string[] = [];
	private readonly open = new Set<NodeFileWriter>();

	private constructor(dir: string, options: VmdkOutputOptions) {
		this.dir = dir;
		this.overwrite = options.overwrite;
		const codec = options.codec;
		this.platform = {
			createFile: (name) => this.createFile(name),
			deflate: (grains) =>
				codec === undefined ? Promise.reject(new Error('no compressor configured')) : codec.deflate(grains),
			randomBytes: (n) => new Uint8Array(randomBytes(n)),
		};
	}

	/** An output in `dir` (which must exist). */
	static create(dir: string, options: VmdkOutputOptions): VmdkOutput {
		return new VmdkOutput(dir, options);
	}

	/** Absolute final path of `name`. */
	pathOf(name: string): string {
		return join(this.dir, name);
	}

	/** Renames every partial file into place, the descriptor (the first name given) last. */
	async commit(descriptorName: string): Promise<void> {
		const order = [...this.names.filter((n) => n !== descriptorName), descriptorName];
		for (const name of order) {
			try {
				await rename(this.pathOf(name) + PARTIAL_SUFFIX, this.pathOf(name));
			} catch (cause) {
				throw new VmdkOutputError(
					'write',
					this.pathOf(name),
					`cannot rename the finished file: ${errorText(cause)}`,
					{
						cause,
					},
				);
			}
		}
	}

	/** Closes and removes every partial file (after a failure or an interrupt). */
	async abort(): Promise<void> {
		await Promise.allSettled([...this.open].map((f) => f.close()));
		await Promise.allSettled(this.names.map((n) => unlink(this.pathOf(n) + PARTIAL_SUFFIX)));
	}

	private async createFile(name: string): Promise<WritableFile> {
		if (name.includes('/') || name.includes('\\') || name === '' || name === '.' || name === '..') {
			throw new RangeError(`bad output file name "${name}"`);
		}
		const path = this.pathOf(name);
		const existing = await kindOf(path);
		if (existing === 'other') throw new VmdkOutputError('write', path, 'exists and is not a regular file');
		if (existing === 'file' && !this.overwrite)
			throw new VmdkOutputError('exists', path, 'file already exists');
		const partial = path + PARTIAL_SUFFIX;
		let handle: FileHandle;
		try {
			// 'wx' refuses to reuse a .partial that might be someone else's file.
			handle = await open(partial, this.overwrite ? 'w' : 'wx', 0o644);
		} catch (cause) {
			if (errnoCode(cause) === 'EEXIST') {
				throw new VmdkOutputError('exists', partial, 'file already exists (left by an earlier convert?)', {
					cause,
				});
			}
			throw outputError(partial, 'cannot create', cause);
		}
		this.names.push(name);
		const writer = new NodeFileWriter(partial, handle, () => this.open.delete(writer));
		this.open.add(writer);
		return writer;
	}
}

/** One output file. */
class NodeFileWriter implements WritableFile {
	readonly path: string;
	private readonly handle: FileHandle;
	private readonly onClose: () => void;
	private closed = false;

	constructor(path: string, handle: FileHandle, onClose: () => void) {
		this.path = path;
		this.handle = handle;
		this.onClose = onClose;
	}

	async write(positionBytes: number, data: Uint8Array): Promise<void> {
		const pieces: Promise<void>[] = [];
		for (let done = 0; done < data.length; done += WRITE_PIECE_BYTES) {
			pieces.push(
				this.writePiece(
					data.subarray(done, Math.min(data.length, done + WRITE_PIECE_BYTES)),
					positionBytes + done,
				),
			);
		}
		const results = await Promise.allSettled(pieces);
		for (const r of results) if (r.status === 'rejected') throw r.reason;
	}

	private async writePiece(data: Uint8Array, position: number): Promise<void> {
		let done = 0;
		while (done < data.length) {
			let bytesWritten: number;
			try {
				({ bytesWritten } = await this.handle.write(data, done, data.length - done, position + done));
			} catch (cause) {
				throw outputError(this.path, `write at byte ${position + done} failed`, cause);
			}
			if (bytesWritten <= 0)
				throw new VmdkOutputError('write', this.path, `write at byte ${position + done} made no progress`);
			done += bytesWritten;
		}
	}

	async truncate(sizeBytes: number): Promise<void> {
		try {
			await this.handle.truncate(sizeBytes);
		} catch (cause) {
			throw outputError(this.path, 'cannot set the file size', cause);
		}
	}

	async close(): Promise<void> {
		if (this.closed) return;
		this.closed = true;
		this.onClose();
		await this.handle.close();
	}
}

/** An OS error as a VmdkOutputError; a full disk or quota is `no-space`. */
function outputError(path: string, what: string, cause: unknown): VmdkOutputError {
	const code = errnoCode(cause);
	if (code === 'ENOSPC' || code === 'EDQUOT') {
		return new VmdkOutputError('no-space', path, `${what}: the disk is full (${code})`, { cause });
	}
	return new VmdkOutputError('write', path, `${what}: ${errorText(cause)}`, { cause });
}

/** What is at `path` (following symlinks): nothing, a regular file, or something else. */
async function kindOf(path: string): Promise<'none' | 'file' | 'other'> {
	try {
		return (await stat(path)).isFile() ? 'file' : 'other';
	} catch (cause) {
		if (errnoCode(cause) === 'ENOENT') {
			try {
				return (await lstat(path)).isSymbolicLink() ? 'file' : 'none';
			} catch {
				return 'none';
			}
		}
		return 'other';
	}
}

function errnoCode(e: unknown): string | undefined {
	return (e as NodeJS.ErrnoException | undefined)?.code;
}

function errorText(e: unknown): string {
	return e instanceof Error ? e.message : String(e);
}
