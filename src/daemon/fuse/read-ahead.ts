// SPDX-License-Identifier: MIT
/**
 * Read-ahead for one open FUSE file. The kernel asks for at most 128 KiB at a time; a copy of
 * a whole disk through a streamOptimized or sparse image is far faster when the daemon fetches
 * larger windows ahead of the reader and serves the next requests from memory. Random access
 * (a filesystem helper walking metadata) is read straight into FUSE's buffer instead.
 */
import type { ReadTarget } from '../../core/index.js';

/** Size of one read-ahead window in bytes. */
export const READ_AHEAD_WINDOW_BYTES = 2 * 1024 * 1024;
/** Windows fetched ahead of the one being read. */
const WINDOWS_AHEAD = 4;
/** Sequential requests in a row before read-ahead starts. */
const SEQUENTIAL_THRESHOLD = 2;

/** Spare window buffers kept per handle for reuse. */
const SPARE_BUFFERS = 2;

/** One window: its pending read, and its bytes once they are in. */
interface Window {
	readonly pending: Promise<Uint8Array>;
	data?: Uint8Array;
	/** Asynchronous readers still to copy out of it: its buffer must not be reused before. */
	waiters: number;
}

/** Per-handle read-ahead state. */
export class ReadAhead {
	private readonly target: ReadTarget;
	private readonly windowBytes: number;
	private readonly windows = new Map<number, Window>();
	/**
	 * Buffers of windows already passed, reused for new windows: a fresh 2 MiB allocation is a
	 * new mapping that the kernel zero-fills page by page (~512 page faults per window).
	 */
	private readonly spare: Uint8Array[] = [];
	private nextExpectedBytes = -1;
	private sequentialRun = 0;

	constructor(target: ReadTarget, windowBytes = READ_AHEAD_WINDOW_BYTES) {
		this.target = target;
		this.windowBytes = windowBytes;
	}

	/**
	 * The `length` bytes at `offsetBytes` as a view into a window already in memory, or null when
	 * they are not all in one loaded window (then call `read`). The view is valid only until the
	 * next call: its buffer is reused for later windows. A hit counts as a sequential read and
	 * keeps the windows ahead coming, like `read` does.
	 */
	view(offsetBytes: number, length: number): Uint8Array | null {
		const index = Math.floor(offsetBytes / this.windowBytes);
		if (index !== Math.floor((offsetBytes + length - 1) / this.windowBytes)) return null;
		const data = this.windows.get(index)?.data;
		if (data === undefined || offsetBytes !== this.nextExpectedBytes) return null;
		this.nextExpectedBytes = offsetBytes + length;
		this.sequentialRun++;
		for (let w = index + 1; w <= index + WINDOWS_AHEAD; w++) this.ensure(w);
		for (const [key, window] of this.windows) if (key < index) this.drop(key, window);
		const start = offsetBytes - index * this.windowBytes;
		return data.subarray(start, start + length);
	}

	/**
	 * Reads `length` bytes at `offsetBytes` (already clamped to the file) into `dest`. Returns
	 * null when the bytes were copied synchronously from windows already in memory (the hot path
	 * of a sequential copy: the FUSE reply goes out without a promise hop), otherwise a promise.
	 */
	read(offsetBytes: number, dest: Uint8Array, length: number): Promise<void> | null {
		const sequential = offsetBytes === this.nextExpectedBytes;
		this.nextExpectedBytes = offsetBytes + length;
		this.sequentialRun = sequential ? this.sequentialRun + 1 : 0;
		const first = Math.floor(offsetBytes / this.windowBytes);
		const last = Math.floor((offsetBytes + length - 1) / this.windowBytes);
		const cached = this.windows.has(first) && this.windows.has(last);
		if (this.sequentialRun < SEQUENTIAL_THRESHOLD && !cached) {
			return this.target.readInto(offsetBytes, dest, 0, length);
		}
		for (let w = first; w <= last + WINDOWS_AHEAD; w++) this.ensure(w);
		for (const [key, window] of this.windows) if (key < first) this.drop(key, window);
		let ready = true;
		for (let w = first; w <= last; w++) ready &&= this.windows.get(w)?.data !== undefined;
		if (ready) {
			for (let w = first; w <= last; w++) this.copy(w, this.windows.get(w)?.data, offsetBytes, dest, length);
			return null;
		}
		return this.readFromWindows(first, last, offsetBytes, dest, length);
	}

	private async readFromWindows(
		first: number,
		last: number,
		offsetBytes: number,
		dest: Uint8Array,
		length: number,
	): Promise<void> {
		try {
			for (let w = first; w <= last; w++) {
				const window = this.windows.get(w);
				if (window === undefined) throw new Error('window evicted');
				window.waiters++;
				try {
					this.copy(w, await window.pending, offsetBytes, dest, length);
				} finally {
					window.waiters--;
				}
			}
		} catch {
			// A failed prefetch: forget it and read directly, so the error (if real) names this range.
			for (let w = first; w <= last; w++) this.windows.delete(w);
			await this.target.readInto(offsetBytes, dest, 0, length);
		}
	}

	private copy(
		w: number,
		data: Uint8Array | undefined,
		offsetBytes: number,
		dest: Uint8Array,
		length: number,
	): void {
		if (data === undefined) throw new Error('window not loaded');
		const windowStart = w * this.windowBytes;
		const from = Math.max(offsetBytes, windowStart);
		const to = Math.min(offsetBytes + length, windowStart + data.length);
		dest.set(data.subarray(from - windowStart, to - windowStart), from - offsetBytes);
	}

	/** Drops cached windows (e.g. after a write). */
	invalidate(): void {
		this.windows.clear();
		this.spare.length = 0;
	}

	/** Forgets a window; its buffer is kept for reuse when nobody can still read from it. */
	private drop(key: number, window: Window): void {
		this.windows.delete(key);
		const data = window.data;
		if (
			data !== undefined &&
			window.waiters === 0 &&
			data.length === this.windowBytes &&
			this.spare.length < SPARE_BUFFERS
		) {
			this.spare.push(data);
		}
	}

	private ensure(index: number): void {
		if (this.windows.has(index)) return;
		const start = index * this.windowBytes;
		if (start >= this.target.sizeBytes) return;
		const length = Math.min(this.windowBytes, this.target.sizeBytes - start);
		const buffer =
			length === this.windowBytes ? (this.spare.pop() ?? new Uint8Array(length)) : new Uint8Array(length);
		const window: Window = {
			waiters: 0,
			pending: this.target.readInto(start, buffer, 0, length).then(() => {
				window.data = buffer;
				return buffer;
			}),
		};
		// Unobserved prefetch failures are retried by the direct read above.
		window.pending.catch(() => undefined);
		this.windows.set(index, window);
	}
}
