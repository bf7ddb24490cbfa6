// SPDX-License-Identifier: MIT
/**
 * What the two ESX sparse readers (COWD and seSparse) share once their headers are parsed: a
 * grain directory read at open (the byte offset of each grain table, 0 = no table), grain tables
 * loaded on demand, validated and decoded to file offsets by the format, kept in a bounded LRU,
 * and the shared run walk and read loop over them.
 */
import type { ExtentReader, Run, RunKind } from '../disk/extent-reader.js';
import { assertReadInRange } from '../io/byte-source.js';
import type { RandomAccessFile } from '../platform.js';
import { GRAIN_ZEROS, readGrains, type LocateGrain } from './grain-reads.js';
import { walkGrainRun, type GrainTableWalk } from './grain-run.js';
import { LoadingCache } from './lru-cache.js';

/** Options for opening an ESX sparse extent. */
export interface EsxSparseOpenOptions {
	/** Grain tables kept in memory (LRU); at least 1. */
	readonly gtCacheEntries?: number;
}

/**
 * A grain table decoded by its format: per entry, the grain's byte offset in the file (> 0),
 * GRAIN_UNALLOCATED (the parent shows through) or GRAIN_ZEROS.
 */
export type DecodedGrainTable = Float64Array;

/** A decoded entry meaning "not in this layer". */
export const GRAIN_UNALLOCATED = 0;

/** The shape of an ESX sparse extent, as its opener found it. */
export interface EsxSparseGeometry {
	/** Capacity in bytes. */
	readonly sizeBytes: number;
	/** Grain size in bytes. */
	readonly grainSizeBytes: number;
	/** Entries per grain table. */
	readonly entriesPerTable: number;
	/** Bytes of one grain table on disk. */
	readonly tableSizeBytes: number;
	/** Byte offset of each grain table in the file, by directory index; 0 = no table. */
	readonly gtOffsetsBytes: Float64Array;
	/** Grain tables kept in memory. */
	readonly cacheLimit: number;
	/** The extent in range errors (`the COWD extent`). */
	readonly what: string;
}

/** An ESX sparse extent as an ExtentReader; the format decodes its grain tables. */
export abstract class EsxSparseExtent implements ExtentReader {
	/** Capacity in bytes. */
	readonly sizeBytes: number;
	/** Grain size in bytes. */
	readonly grainSizeBytes: number;
	protected readonly file: RandomAccessFile;
	private readonly geometry: EsxSparseGeometry;
	private readonly tables: LoadingCache<number, DecodedGrainTable>;
	private readonly walk: GrainTableWalk<DecodedGrainTable>;

	constructor(file: RandomAccessFile, geometry: EsxSparseGeometry) {
		this.file = file;
		this.geometry = geometry;
		this.sizeBytes = geometry.sizeBytes;
		this.grainSizeBytes = geometry.grainSizeBytes;
		this.tables = new LoadingCache({ maxEntries: Math.max(1, Math.floor(geometry.cacheLimit)) });
		const { entriesPerTable, gtOffsetsBytes } = geometry;
		this.walk = {
			sizeBytes: this.sizeBytes,
			grainSizeBytes: this.grainSizeBytes,
			entriesPerTable,
			cachedTable: (gdIndex) => (gtOffsetsBytes[gdIndex] === 0 ? null : this.tables.peek(gdIndex)),
			loadTable: (gdIndex) => this.table(gdIndex),
			kindAt: (table, grain) => entryKind(table[grain % entriesPerTable] ?? GRAIN_UNALLOCATED),
			runEnd,
		};
	}

	/**
	 * Validates and decodes the raw table `gdIndex` read at `gtAtBytes`; throws a VmdkError naming
	 * the entry's file offset when an entry is damaged.
	 */
	protected abstract decodeTable(gdIndex: number, raw: DataView, gtAtBytes: number): DecodedGrainTable;

	async mapRun(offsetBytes: number, maxBytes: number): Promise<Run> {
		this.checkRange(offsetBytes, 1);
		return walkGrainRun(this.walk, offsetBytes, maxBytes);
	}

	async readData(offsetBytes: number, dest: Uint8Array, destOffset: number, length: number): Promise<void> {
		this.checkRange(offsetBytes, length);
		await readGrains(this.file, this.grainSizeBytes, this.locate, { offsetBytes, dest, destOffset, length });
	}

	async close(): Promise<void> {
		this.tables.clear();
		await this.file.close();
	}

	/** The grain's file offset or GRAIN_ZEROS; an unallocated grain is the caller's mistake. */
	private readonly locate: LocateGrain = (grain, atBytes) => {
		const gdIndex = Math.floor(grain / this.geometry.entriesPerTable);
		if (this.geometry.gtOffsetsBytes[gdIndex] === 0) throw this.unallocated(grain, atBytes);
		const table = this.tables.peek(gdIndex);
		if (table !== undefined) return this.entry(table, grain, atBytes);
		return this.table(gdIndex).then((loaded) => this.entry(loaded, grain, atBytes));
	};

	private entry(table: DecodedGrainTable, grain: number, atBytes: number): number {
		const entry = table[grain % this.geometry.entriesPerTable] ?? GRAIN_UNALLOCATED;
		if (entry === GRAIN_UNALLOCATED) throw this.unallocated(grain, atBytes);
		return entry;
	}

	private unallocated(grain: number, atBytes: number): RangeError {
		return new RangeError(
			`readData at byte ${atBytes} of ${this.file.path}: grain ${grain} is not allocated`,
		);
	}

	/** The decoded grain table `gdIndex` (allocated), from the cache or the file. */
	private table(gdIndex: number): Promise<DecodedGrainTable> {
		return this.tables.get(gdIndex, async () => {
			const gtAtBytes = this.geometry.gtOffsetsBytes[gdIndex] ?? 0;
			const raw = new Uint8Array(this.geometry.tableSizeBytes);
			await this.file.readInto(gtAtBytes, raw, 0, raw.length);
			return this.decodeTable(gdIndex, new DataView(raw.buffer), gtAtBytes);
		});
	}

	private checkRange(offsetBytes: number, length: number): void {
		assertReadInRange(offsetBytes, length, this.sizeBytes, this.geometry.what, this.file.path);
	}
}

function entryKind(entry: number): RunKind {
	if (entry === GRAIN_UNALLOCATED) return 'unallocated';
	return entry === GRAIN_ZEROS ? 'zero' : 'data';
}

/** The first grain in [grain, stop) whose kind is not `kind`. */
function runEnd(table: DecodedGrainTable, grain: number, stop: number, kind: RunKind): number {
	const base = grain - (grain % table.length);
	let g = grain;
	if (kind === 'unallocated') {
		while (g < stop && table[g - base] === GRAIN_UNALLOCATED) g++;
	} else if (kind === 'zero') {
		while (g < stop && table[g - base] === GRAIN_ZEROS) g++;
	} else {
		while (g < stop && (table[g - base] ?? 0) > 0) g++;
	}
	return g;
}
