// SPDX-License-Identifier: MIT
import { assertReadInRange, type ByteSource } from '../io/byte-source.js';
import type { Descriptor } from '../vmdk/descriptor.js';
import type { ExtentReader } from './extent-reader.js';

/** One image of a snapshot chain, as `info` shows it (`chain[]` of `DiskInfo`). */
export interface ChainLink {
	/** Path of the descriptor (or the monolithic file) of this image. */
	readonly path: string;
	/** The descriptor's createType, as written (e.g. `monolithicSparse`). */
	readonly createType: string;
	/** Content ID, 8 lower-case hex digits. */
	readonly cid: string;
	/** Parent's content ID; `ffffffff` means no parent. */
	readonly parentCid: string;
}

/** A layer of the chain: its reader and what `info` says about it. */
export interface DiskLayer {
	readonly reader: ExtentReader;
	readonly link: ChainLink;
	/** The parsed descriptor of this image (absent for layers not built from a VMDK). */
	readonly descriptor?: Descriptor | undefined;
}

/** A warning list owned by a reader that may add to it while reading, and the file it is about. */
export interface LiveWarnings {
	readonly file: string;
	readonly list: readonly string[];
}

/** A kind of byte range of the whole disk, after the chain has been resolved. */
export interface DiskRun {
	/** `data` must be read; `zero` is known zeros (unallocated everywhere, or zeroed). */
	readonly kind: 'data' | 'zero';
	readonly lengthBytes: number;
}

/**
 * The guest's view of a VMDK: a snapshot chain (leaf first) resolved into one flat,
 * random-access ByteSource. Unallocated ranges fall through to the parent, then to zeros.
 */
export class VirtualDisk implements ByteSource {
	readonly sizeBytes: number;
	/** Leaf first, base last. */
	readonly layers: readonly DiskLayer[];
	private readonly openWarnings: readonly string[];
	private readonly liveWarnings: readonly LiveWarnings[];

	constructor(
		layers: readonly DiskLayer[],
		warnings: readonly string[] = [],
		liveWarnings: readonly LiveWarnings[] = [],
	) {
		this.layers = layers;
		this.openWarnings = warnings;
		this.liveWarnings = liveWarnings;
		const leaf = layers[0];
		if (leaf === undefined) throw new Error('VirtualDisk needs at least one layer');
		this.sizeBytes = leaf.reader.sizeBytes;
	}

	/**
	 * Things the user should know but that did not stop the open (an ignored CID mismatch, a
	 * redundant grain table in use — including ones found while reading).
	 */
	get warnings(): readonly string[] {
		return [...this.openWarnings, ...this.liveWarnings.flatMap((l) => l.list.map((w) => `${l.file}: ${w}`))];
	}

	/** Path of the leaf image (what the user opened). */
	get path(): string {
		return this.layers[0]?.link.path ?? '';
	}

	/** The chain as `info` shows it, leaf first. */
	get chain(): readonly ChainLink[] {
		return this.layers.map((l) => l.link);
	}

	async read(offsetBytes: number, length: number): Promise<Uint8Array> {
		const out = new Uint8Array(length);
		await this.readInto(offsetBytes, out, 0, length);
		return out;
	}

	/** Reads into a caller's buffer (saves a copy on the FUSE and export paths). */
	async readInto(offsetBytes: number, dest: Uint8Array, destOffset: number, length: number): Promise<void> {
		this.checkRange(offsetBytes, length);
		await this.readLayer(0, offsetBytes, dest, destOffset, length);
	}

	/**
	 * The run starting at `offsetBytes`, resolved through the chain: `zero` where no layer has
	 * data, `data` otherwise. Lets `export` write holes without reading.
	 */
	async mapRun(offsetBytes: number, maxBytes: number): Promise<DiskRun> {
		this.checkRange(offsetBytes, Math.min(maxBytes, 1));
		return this.mapLayer(0, offsetBytes, Math.min(maxBytes, this.sizeBytes - offsetBytes));
	}

	async close(): Promise<void> {
		await Promise.all(this.layers.map((l) => l.reader.close()));
	}

	private checkRange(offsetBytes: number, length: number): void {
		assertReadInRange(offsetBytes, length, this.sizeBytes, 'the disk', this.path);
	}

	private async mapLayer(index: number, offsetBytes: number, maxBytes: number): Promise<DiskRun> {
		const layer = this.layers[index];
		// Past the parent's end (a child grown after the snapshot) or below the base: zeros.
		if (layer === undefined || offsetBytes >= layer.reader.sizeBytes) {
			return { kind: 'zero', lengthBytes: maxBytes };
		}
		const run = await layer.reader.mapRun(
			offsetBytes,
			Math.min(maxBytes, layer.reader.sizeBytes - offsetBytes),
		);
		if (run.kind !== 'unallocated') return { kind: run.kind, lengthBytes: run.lengthBytes };
		return this.mapLayer(index + 1, offsetBytes, run.lengthBytes);
	}

	private async readLayer(
		index: number,
		offsetBytes: number,
		dest: Uint8Array,
		destOffset: number,
		length: number,
	): Promise<void> {
		const layer = this.layers[index];
		if (layer === undefined) {
			dest.fill(0, destOffset, destOffset + length);
			return;
		}
		const size = layer.reader.sizeBytes;
		let done = 0;
		while (done < length) {
			const at = offsetBytes + done;
			if (at >= size) {
				dest.fill(0, destOffset + done, destOffset + length);
				return;
			}
			const run = await layer.reader.mapRun(at, Math.min(length - done, size - at));
			const n = run.lengthBytes;
			if (!(n >= 1)) throw new Error(`mapRun returned an empty run at ${at}`);
			switch (run.kind) {
				case 'data':
					await layer.reader.readData(at, dest, destOffset + done, n);
					break;
				case 'zero':
					dest.fill(0, destOffset + done, destOffset + done + n);
					break;
				case 'unallocated':
					await this.readLayer(index + 1, at, dest, destOffset + done, n);
					break;
			}
			done += n;
		}
	}
}
