// SPDX-License-Identifier: MIT
/** Log lines that come in floods (read errors of a damaged grain, read again by every retry). */

/** Read errors come in floods (a damaged grain read by every retry): one line per key per interval. */
const READ_ERROR_LOG_INTERVAL_MS = 10_000;

export class RateLimitedLog {
	private readonly last = new Map<string, { at: number; suppressed: number }>();
	private readonly write: (line: string) => void;
	constructor(write: (line: string) => void) {
		this.write = write;
	}
	forget(key: string): void {
		this.last.delete(key);
	}
	report(key: string, line: string): void {
		const now = Date.now();
		const seen = this.last.get(key);
		if (seen !== undefined && now - seen.at < READ_ERROR_LOG_INTERVAL_MS) {
			seen.suppressed++;
			return;
		}
		const more =
			seen !== undefined && seen.suppressed > 0
				? ` (${seen.suppressed} more read errors since the last line)`
				: '';
		this.last.set(key, { at: now, suppressed: 0 });
		this.write(`${line}${more}`);
	}
}
