// SPDX-License-Identifier: MIT
/**
 * The daemon's log: lines prefixed `[daemon pid=…]` appended to `daemon.log` in the state dir,
 * rotated by size (the previous file is kept as `daemon.log.1`). Writes are queued, never
 * synchronous, and a failing log never stops the daemon.
 */
import { appendFile, rename, stat } from 'node:fs/promises';

/** Size at which the log is rotated, in bytes. */
const LOG_ROTATE_BYTES = 1024 * 1024;

/** A small append-only logger. */
export class DaemonLog {
	readonly path: string;
	private readonly maxBytes: number;
	private queue: Promise<void> = Promise.resolve();
	private sizeBytes = -1;

	constructor(path: string, maxBytes = LOG_ROTATE_BYTES) {
		this.path = path;
		this.maxBytes = maxBytes;
	}

	/** Appends one line. */
	info(message: string): void {
		const line = `${new Date().toISOString()} [daemon pid=${process.pid}] ${message}\n`;
		this.queue = this.queue.then(() => this.append(line)).catch(() => undefined);
	}

	/** Resolves when everything logged so far is written. */
	flush(): Promise<void> {
		return this.queue;
	}

	private async append(line: string): Promise<void> {
		if (this.sizeBytes < 0)
			this.sizeBytes = await stat(this.path).then(
				(s) => s.size,
				() => 0,
			);
		if (this.sizeBytes + line.length > this.maxBytes) {
			await rename(this.path, `${this.path}.1`).catch(() => undefined);
			this.sizeBytes = 0;
		}
		await appendFile(this.path, line, { mode: 0o600 });
		this.sizeBytes += Buffer.byteLength(line);
	}
}
