// SPDX-License-Identifier: MIT
import { lastAtOrBelow } from '../io/bisect.js';
import type { ExtentReader, Run } from './extent-reader.js';

/**
 * One image layer: its extents laid end to end, as the descriptor lists them. Itself an
 * ExtentReader, so a layer and a single extent look the same to the snapshot chain.
 */
export class ConcatExtents implements ExtentReader {
	readonly sizeBytes: number;
	/** Start offset in bytes of each extent; parallel to `extents`. */
	private readonly starts: number[];

	private readonly extents: readonly ExtentReader[];

	constructor(extents: readonly ExtentReader[]) {
		this.extents = extents;
		this.starts = [];
		let at = 0;
		for (const e of extents) {
			this.starts.push(at);
			at += e.sizeBytes;
		}
		this.sizeBytes = at;
	}

	private at(offsetBytes: number): { extent: ExtentReader; start: number } {
		const i = lastAtOrBelow(this.starts, offsetBytes);
		const extent = this.extents[i];
		const start = this.starts[i];
		if (extent === undefined || start === undefined) throw new RangeError(`no extent at ${offsetBytes}`);
		return { extent, start };
	}

	async mapRun(offsetBytes: number, maxBytes: number): Promise<Run> {
		const { extent, start } = this.at(offsetBytes);
		const local = offsetBytes - start;
		return extent.mapRun(local, Math.min(maxBytes, extent.sizeBytes - local));
	}

	async readData(offsetBytes: number, dest: Uint8Array, destOffset: number, length: number): Promise<void> {
		let done = 0;
		while (done < length) {
			const { extent, start } = this.at(offsetBytes + done);
			const local = offsetBytes + done - start;
			const n = Math.min(length - done, extent.sizeBytes - local);
			await extent.readData(local, dest, destOffset + done, n);
			done += n;
		}
	}

	async close(): Promise<void> {
		await Promise.all(this.extents.map((e) => e.close()));
	}
}
