// SPDX-License-Identifier: MIT
/**
 * Copy-on-write overlay for `--rw` mounts. Writes land in a sparse file in the state folder,
 * and a bitmap of 4 KiB blocks records which blocks the overlay holds; reads take written
 * blocks from the overlay and the rest from the VMDK. The VMDK is never written; the overlay
 * is deleted on unmount (and by crash clean-up).
 */
/* eslint-disable no-bitwise -- the overlay bitmap is bit arithmetic by nature */
import { open, rm, type FileHandle } from 'node:fs/promises';
import type { ReadTarget } from '../core/index.js';

/** Overlay granularity in bytes. */
export const OVERLAY_BLOCK_BYTES = 4096;
/** Blocks per lazily allocated bitmap chunk (a 4 KiB bitmap covers 128 MiB). */
const BLOCKS_PER_CHUNK = 32768;

/** A writable view of a read-only file. */
export class CowOverlay implements ReadTarget {
	readonly sizeBytes: number;
	readonly path: string;
	private readonly base: ReadTarget;
	private readonly file: FileHandle;
	private readonly chunks = new Map<number, Uint8Array>();
	private writeQueue: Promise<unknown> = Promise.resolve();

	private constructor(base: ReadTarget, path: string, file: FileHandle) {
		this.base = base;
		this.path = path;
		this.file = file;
		this.sizeBytes = base.sizeBytes;
	}

	/**
	 * Creates (truncating) the overlay file at `path` over `base`. `reserve`, when given,
	 * allocates the file's whole size on disk first, so that no later write can fail for lack of
	 * space (see docs/architecture.md, "Writable mounts").
	 */
	static async create(
		base: ReadTarget,
		path: string,
		reserve?: (path: string, sizeBytes: number) => Promise<void>,
	): Promise<CowOverlay> {
		const file = await open(path, 'w+', 0o600);
		try {
			await file.truncate(base.sizeBytes);
			await reserve?.(path, base.sizeBytes);
		} catch (error) {
			await file.close();
			await rm(path, { force: true });
			throw error;
		}
		return new CowOverlay(base, path, file);
	}

	private isWritten(block: number): boolean {
		const chunk = this.chunks.get(Math.floor(block / BLOCKS_PER_CHUNK));
		if (chunk === undefined) return false;
		const bit = block % BLOCKS_PER_CHUNK;
		return ((chunk[bit >> 3] ?? 0) & (1 << (bit & 7))) !== 0;
	}

	private markWritten(block: number): void {
		const key = Math.floor(block / BLOCKS_PER_CHUNK);
		let chunk = this.chunks.get(key);
		if (chunk === undefined) {
			chunk = new Uint8Array(BLOCKS_PER_CHUNK / 8);
			this.chunks.set(key, chunk);
		}
		const bit = block % BLOCKS_PER_CHUNK;
		chunk[bit >> 3] = (chunk[bit >> 3] ?? 0) | (1 << (bit & 7));
	}

	async readInto(offsetBytes: number, dest: Uint8Array, destOffset: number, length: number): Promise<void> {
		let done = 0;
		while (done < length) {
			const at = offsetBytes + done;
			const block = Math.floor(at / OVERLAY_BLOCK_BYTES);
			const written = this.isWritten(block);
			// Extend the run over following blocks of the same kind.
			let end = Math.min(offsetBytes + length, (block + 1) * OVERLAY_BLOCK_BYTES);
			while (
				end < offsetBytes + length &&
				this.isWritten(Math.floor(end / OVERLAY_BLOCK_BYTES)) === written
			) {
				end = Math.min(offsetBytes + length, end + OVERLAY_BLOCK_BYTES);
			}
			const n = end - at;
			if (written) await readFully(this.file, dest, destOffset + done, n, at);
			else await this.base.readInto(at, dest, destOffset + done, n);
			done += n;
		}
	}

	/** Writes `data` at `offsetBytes` (clamped by the caller to the file size). */
	write(offsetBytes: number, data: Uint8Array): Promise<void> {
		if (!Number.isSafeInteger(offsetBytes) || offsetBytes < 0 || offsetBytes + data.length > this.sizeBytes) {
			return Promise.reject(
				new RangeError(`write of ${data.length} bytes at ${offsetBytes} is outside 0..${this.sizeBytes}`),
			);
		}
		const next = this.writeQueue.then(() => this.writeNow(offsetBytes, data));
		this.writeQueue = next.catch(() => undefined);
		return next;
	}

	private async writeNow(offsetBytes: number, data: Uint8Array): Promise<void> {
		const first = Math.floor(offsetBytes / OVERLAY_BLOCK_BYTES);
		const last = Math.floor((offsetBytes + data.length - 1) / OVERLAY_BLOCK_BYTES);
		// Partial edge blocks not yet in the overlay are first copied up from the base.
		for (const block of first === last ? [first] : [first, last]) {
			if (this.isWritten(block)) continue;
			const start = block * OVERLAY_BLOCK_BYTES;
			const coversWhole = offsetBytes <= start && offsetBytes + data.length >= start + OVERLAY_BLOCK_BYTES;
			if (coversWhole) continue;
			const len = Math.min(OVERLAY_BLOCK_BYTES, this.sizeBytes - start);
			const buf = new Uint8Array(len);
			await this.base.readInto(start, buf, 0, len);
			await this.file.write(buf, 0, len, start);
		}
		let done = 0;
		while (done < data.length) {
			const { bytesWritten } = await this.file.write(data, done, data.length - done, offsetBytes + done);
			done += bytesWritten;
		}
		for (let b = first; b <= last; b++) this.markWritten(b);
	}

	/**
	 * The byte ranges the overlay holds, in order, each a run of written blocks (the last one
	 * clamped to the file's size). Waits for writes in flight first.
	 */
	async writtenRanges(): Promise<{ readonly offsetBytes: number; readonly lengthBytes: number }[]> {
		await this.writeQueue;
		const out: { offsetBytes: number; lengthBytes: number }[] = [];
		let runStart = -1;
		let last = -2;
		for (const key of [...this.chunks.keys()].sort((a, b) => a - b)) {
			const chunk = this.chunks.get(key) ?? new Uint8Array(0);
			for (let byte = 0; byte < chunk.length; byte++) {
				const bits = chunk[byte] ?? 0;
				if (bits === 0) continue;
				for (let bit = 0; bit < 8; bit++) {
					if ((bits & (1 << bit)) === 0) continue;
					const block = key * BLOCKS_PER_CHUNK + byte * 8 + bit;
					if (block !== last + 1) {
						if (runStart >= 0) out.push(this.range(runStart, last));
						runStart = block;
					}
					last = block;
				}
			}
		}
		if (runStart >= 0) out.push(this.range(runStart, last));
		return out;
	}

	private range(first: number, last: number): { offsetBytes: number; lengthBytes: number } {
		const offsetBytes = first * OVERLAY_BLOCK_BYTES;
		return {
			offsetBytes,
			lengthBytes: Math.min((last + 1) * OVERLAY_BLOCK_BYTES, this.sizeBytes) - offsetBytes,
		};
	}

	/** Number of 4 KiB blocks the overlay holds. */
	get writtenBlocks(): number {
		let n = 0;
		for (const chunk of this.chunks.values())
			for (const byte of chunk) for (let v = byte; v !== 0; v &= v - 1) n++;
		return n;
	}

	/** Closes and deletes the overlay file. */
	async discard(): Promise<void> {
		await this.writeQueue;
		await this.file.close().catch(() => undefined);
		await rm(this.path, { force: true });
	}
}

async function readFully(
	file: FileHandle,
	dest: Uint8Array,
	destOffset: number,
	length: number,
	position: number,
) {
	let done = 0;
	while (done < length) {
		const { bytesRead } = await file.read(dest, destOffset + done, length - done, position + done);
		if (bytesRead === 0) {
			dest.fill(0, destOffset + done, destOffset + length);
			return;
		}
		done += bytesRead;
	}
}
