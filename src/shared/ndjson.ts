// SPDX-License-Identifier: MIT
/**
 * Newline-delimited JSON framing, used by both ends of the daemon's control socket: each
 * message is one line of JSON. The decoder bounds what it buffers, so a peer that never sends
 * a newline cannot make us grow without limit.
 */

/** What the decoder hands out for each line. */
export type DecodedLine =
	| { readonly ok: true; readonly value: unknown }
	| { readonly ok: false; readonly error: string; readonly text: string };

/** Splits a stream of text chunks into JSON values, one per line. */
export class LineDecoder {
	private buffered = '';
	private readonly maxLineChars: number;
	private overflowed = false;

	/** `maxLineChars`: longest line accepted; beyond it {@link push} reports an overflow. */
	constructor(maxLineChars: number) {
		this.maxLineChars = maxLineChars;
	}

	/** True once a line went over the limit (the connection should be closed). */
	get overflow(): boolean {
		return this.overflowed;
	}

	/** Feeds a chunk; returns the complete lines in it, parsed (blank lines are skipped). */
	push(chunk: string): DecodedLine[] {
		if (this.overflowed) return [];
		this.buffered += chunk;
		const out: DecodedLine[] = [];
		let nl: number;
		while ((nl = this.buffered.indexOf('\n')) >= 0) {
			const line = this.buffered.slice(0, nl);
			this.buffered = this.buffered.slice(nl + 1);
			if (line.length > this.maxLineChars) {
				this.overflowed = true;
				return out;
			}
			if (line.trim() === '') continue;
			try {
				out.push({ ok: true, value: JSON.parse(line) as unknown });
			} catch (error) {
				out.push({ ok: false, error: error instanceof Error ? error.message : String(error), text: line });
			}
		}
		if (this.buffered.length > this.maxLineChars) this.overflowed = true;
		return out;
	}
}

/** One message as a line. */
export function encodeLine(value: unknown): string {
	return `${JSON.stringify(value)}\n`;
}
