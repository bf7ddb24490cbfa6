// SPDX-License-Identifier: MIT
// Builds ESX sparse ("COWD", vmfsSparse) extent files in memory, for unit tests, the qemu-img
// differential and snapshot chains. Layout (docs/vmdk-format.md §3): 2048-byte header, grain
// directory at sector 4, one 4096-entry grain table per directory entry that has grains, then the
// grains. Entries are u32 sector numbers; 0 = not in this layer.
import { ascii, bytes, u32le, zeros } from './bytes.js';

const SECTOR = 512;
const HEADER_BYTES = 2048;
const GT_ENTRIES = 4096;
const GT_BYTES = GT_ENTRIES * 4;

/** Header fields a test may override (defaults are what a valid ESX redo log holds). */
export interface CowdHeaderFields {
	/** Four ASCII bytes; 'COWD'. */
	magic?: string;
	/** 1. */
	version?: number;
	/** 3, as ESX writes. */
	flags?: number;
	/** Virtual size, in sectors. */
	capacitySectors: number;
	/** Grain size, in sectors (ESX writes 1). */
	grainSizeSectors: number;
	/** Sector of the grain directory; 4 (right after the header). */
	gdOffsetSectors?: number;
	/** Grain-directory entries; by default what the capacity needs. */
	numGdEntries?: number;
	/** Next free sector; by default the end of the built file. */
	freeSector?: number;
	/** Parent path of a child redo log. */
	parentFileName?: string;
	/** Parent generation of a child redo log. */
	parentGeneration?: number;
	/** Generation counter. */
	generation?: number;
	/** Name field (60 bytes). */
	name?: string;
	/** Description field (512 bytes). */
	description?: string;
	/** Generation at the last clean save. */
	savedGeneration?: number;
	/** Dirty flag. */
	uncleanShutdown?: number;
}

/** The 2048-byte COWD header, one field a line. */
export function cowdHeader(f: CowdHeaderFields): Uint8Array {
	const numGdEntries = f.numGdEntries ?? cowdGdEntries(f.capacitySectors, f.grainSizeSectors);
	return bytes(
		ascii(f.magic ?? 'COWD'), // magic
		u32le(f.version ?? 1), // version
		u32le(f.flags ?? 3), // flags
		u32le(f.capacitySectors), // numSectors
		u32le(f.grainSizeSectors), // grainSize (sectors)
		u32le(f.gdOffsetSectors ?? 4), // gdOffset (sectors)
		u32le(numGdEntries), // numGDEntries
		u32le(f.freeSector ?? 0), // freeSector
		fixed(f.parentFileName ?? '', 1024), // parentFileName (child) / geometry (root)
		u32le(f.parentGeneration ?? 0), // parentGeneration
		u32le(f.generation ?? 1), // generation
		fixed(f.name ?? '', 60), // name
		fixed(f.description ?? '', 512), // description
		u32le(f.savedGeneration ?? 1), // savedGeneration
		zeros(8), // reserved
		u32le(f.uncleanShutdown ?? 0), // uncleanShutdown
		zeros(396), // padding → 2048
	);
}

/** Grain-directory entries a capacity needs. */
function cowdGdEntries(capacitySectors: number, grainSizeSectors: number): number {
	return Math.ceil(capacitySectors / (GT_ENTRIES * grainSizeSectors));
}

/** What to put in a built COWD extent. */
export interface CowdBuildOptions extends Partial<CowdHeaderFields> {
	capacitySectors: number;
	grainSizeSectors: number;
	/** Allocated grains by grain index; shorter data is zero-padded to the grain size. */
	grains: ReadonlyMap<number, Uint8Array>;
	/** Physical order of the grains in the file; `ascending` keeps neighbours contiguous. */
	grainOrder?: 'ascending' | 'descending';
}

/** A built extent and where its parts are, for corruption tests. */
export interface CowdBuilt {
	bytes: Uint8Array;
	gdOffsetBytes: number;
	/** Byte offset of each grain table, by directory index. */
	gtOffsetBytes: Map<number, number>;
	/** Byte offset of each grain, by grain index. */
	grainOffsetBytes: Map<number, number>;
}

/** Builds a COWD extent and reports its layout. */
export function buildCowdExtentWithLayout(o: CowdBuildOptions): CowdBuilt {
	const grainBytes = o.grainSizeSectors * SECTOR;
	const gdEntries = cowdGdEntries(o.capacitySectors, o.grainSizeSectors);
	const gdOffsetSectors = o.gdOffsetSectors ?? HEADER_BYTES / SECTOR;
	const gdOffsetBytes = gdOffsetSectors * SECTOR;
	const gdSectors = Math.ceil((gdEntries * 4) / SECTOR);

	const indices = [...o.grains.keys()].sort((a, b) => a - b);
	for (const g of indices) {
		if (g * o.grainSizeSectors >= o.capacitySectors) throw new Error(`grain ${g} is past the capacity`);
	}
	const tables = [...new Set(indices.map((g) => Math.floor(g / GT_ENTRIES)))].sort((a, b) => a - b);
	let nextSector = gdOffsetSectors + gdSectors;
	const gtOffsetBytes = new Map<number, number>();
	for (const t of tables) {
		gtOffsetBytes.set(t, nextSector * SECTOR);
		nextSector += GT_BYTES / SECTOR;
	}
	const grainOffsetBytes = new Map<number, number>();
	const order = o.grainOrder === 'descending' ? [...indices].reverse() : indices;
	for (const g of order) {
		grainOffsetBytes.set(g, nextSector * SECTOR);
		nextSector += o.grainSizeSectors;
	}

	const out = new Uint8Array(nextSector * SECTOR);
	out.set(cowdHeader({ ...o, gdOffsetSectors, freeSector: o.freeSector ?? nextSector }), 0);
	const view = new DataView(out.buffer);
	for (const [t, at] of gtOffsetBytes) view.setUint32(gdOffsetBytes + t * 4, at / SECTOR, true);
	for (const [g, at] of grainOffsetBytes) {
		const gtAt = gtOffsetBytes.get(Math.floor(g / GT_ENTRIES)) ?? 0;
		view.setUint32(gtAt + (g % GT_ENTRIES) * 4, at / SECTOR, true);
		const data = o.grains.get(g) ?? new Uint8Array(0);
		if (data.length > grainBytes) throw new Error(`grain ${g} data is longer than a grain`);
		out.set(data, at);
	}
	return { bytes: out, gdOffsetBytes, gtOffsetBytes, grainOffsetBytes };
}

/** Builds a COWD extent file's bytes. */
export function buildCowdExtent(o: CowdBuildOptions): Uint8Array {
	return buildCowdExtentWithLayout(o).bytes;
}

/** `text` as a NUL-padded field of exactly `n` bytes. */
function fixed(text: string, n: number): Uint8Array {
	const out = new Uint8Array(n);
	out.set(ascii(text).subarray(0, n));
	return out;
}

/** An in-memory RandomAccessFile that records its reads (for extent-reader tests). */
export class MemoryRandomAccessFile {
	readonly path: string;
	readonly sizeBytes: number;
	readonly bytes: Uint8Array;
	/** Every `readInto` as [positionBytes, length]. */
	readonly reads: [number, number][] = [];
	closed = false;

	constructor(bytes: Uint8Array, path = '/virtual/extent.vmdk') {
		this.bytes = bytes;
		this.path = path;
		this.sizeBytes = bytes.length;
	}

	readInto(positionBytes: number, dest: Uint8Array, destOffset: number, length: number): Promise<void> {
		this.reads.push([positionBytes, length]);
		if (positionBytes < 0 || positionBytes + length > this.bytes.length) {
			return Promise.reject(
				new RangeError(`read of ${length} at ${positionBytes} past ${this.bytes.length}`),
			);
		}
		dest.set(this.bytes.subarray(positionBytes, positionBytes + length), destOffset);
		return Promise.resolve();
	}

	close(): Promise<void> {
		this.closed = true;
		return Promise.resolve();
	}
}
