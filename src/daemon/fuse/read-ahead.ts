// SPDX-License-Identifier: MIT
/**
 * Read-ahead for one open FUSE file. The kernel asks for at most 128 KiB at a time; a copy of
 * a whole disk through a streamOptimized or sparse image is far faster when the daemon fetches
 * larger windows ahead of the reader and serves the next requests from memory. Random access
 * (a filesystem helper walking metadata) is read straight into FUSE's buffer instead.
 */

/** The bytes behind one exported file. */
export interface ReadTarget {
	readonly sizeBytes: number;
	readInto(offsetBytes: number, dest: Uint8Array, destOffset: number, length: number): Promise<void>;
}

/** Size of one read-ahead window in bytes. */
export const READ_AHEAD_WINDOW_BYTES = 2 * 1024 * 1024;
/** Windows fetched ahead of the one being read. */
const WINDOWS_AHEAD = 2;
/** Sequential requests in a row before read-ahead starts. */
const SEQUENTIAL_THRESHOLD = 2;

/** Per-handle read-ahead state. */
export class ReadAhead {
	private readonly target: ReadTarget;
	private readonly windowBytes: number;
	private readonly windows = new Map<number, Promise<Uint8Array>>();
	private nextExpectedBytes = -1;
	private sequentialRun = 0;

	constructor(target: ReadTarget, windowBytes = READ_AHEAD_WINDOW_BYTES) {
		this.target = target;
		this.windowBytes = windowBytes;
	}

	/** Reads `length` bytes at `offsetBytes` (already clamped to the file) into `dest`. */
	async read(offsetBytes: number, dest: Uint8Array, length: number): Promise<void> {
		const sequential = offsetBytes === this.nextExpectedBytes;
		this.nextExpectedBytes = offsetBytes + length;
		this.sequentialRun = sequential ? this.sequentialRun + 1 : 0;
		const first = Math.floor(offsetBytes / this.windowBytes);
		const last = Math.floor((offsetBytes + length - 1) / this.windowBytes);
		const cached = this.windows.has(first) && this.windows.has(last);
		if (this.sequentialRun < SEQUENTIAL_THRESHOLD && !cached) {
			await this.target.readInto(offsetBytes, dest, 0, length);
			return;
		}
		for (let w = first; w <= last + WINDOWS_AHEAD; w++) this.ensure(w);
		for (const key of this.windows.keys()) if (key < first) this.windows.delete(key);
		try {
			for (let w = first; w <= last; w++) {
				const data = await this.windows.get(w);
				if (data === undefined) throw new Error('window evicted');
				const windowStart = w * this.windowBytes;
				const from = Math.max(offsetBytes, windowStart);
				const to = Math.min(offsetBytes + length, windowStart + data.length);
				dest.set(data.subarray(from - windowStart, to - windowStart), from - offsetBytes);
			}
		} catch {
			// A failed prefetch: forget it and read directly, so the error (if real) names this range.
			for (let w = first; w <= last; w++) this.windows.delete(w);
			await this.target.readInto(offsetBytes, dest, 0, length);
		}
	}

	/** Drops cached windows (e.g. after a write). */
	invalidate(): void {
		this.windows.clear();
	}

	private ensure(window: number): void {
		if (this.windows.has(window)) return;
		const start = window * this.windowBytes;
		if (start >= this.target.sizeBytes) return;
		const length = Math.min(this.windowBytes, this.target.sizeBytes - start);
		const buffer = new Uint8Array(length);
		const pending = this.target.readInto(start, buffer, 0, length).then(() => buffer);
		// Unobserved prefetch failures are retried by the direct read above.
		pending.catch(() => undefined);
		this.windows.set(window, pending);
	}
}
