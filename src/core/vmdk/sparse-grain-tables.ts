// SPDX-License-Identifier: MIT
/**
 * The grain index of a hosted sparse extent (FORMAT-NOTES.md §2): the grain directory (GD, read
 * whole at open: 4 bytes per 32 MiB of disk at the default grain) and the grain tables it names
 * (GT, 512 u32 grain-table entries each, loaded lazily into a bounded cache) — or, for a stream
 * whose footer is lost, the tables a marker scan rebuilt in memory.
 *
 * Speed: neighbouring grain tables are fetched with one read (QEMU and VMware write them back to
 * back), so a walk over a large disk costs one read per GT_BATCH_TABLES tables.
 *
 * Damage handling: when the primary GD is unreadable or points outside the file, the redundant
 * GD is used instead; a GT whose entries point outside the file is replaced by its redundant
 * copy when there is one. Both are reported in `warnings`.
 */
import { VmdkError, isVmdkError } from '../errors.js';
import { SECTOR_SIZE_BYTES } from '../io/safe-number.js';
import type { RandomAccessFile } from '../platform.js';
import { LoadingCache } from './lru-cache.js';
import { GTES_PER_GT, SparseFlag, type SparseExtentHeader } from './sparse-header.js';

/** Most grain tables cached per extent: 4096 × 2 KiB = 8 MiB, covering 128 GiB at 64 KiB grains. */
export const GT_CACHE_MAX_TABLES = 4096;

/** Size of one grain table on disk, bytes (512 u32 entries). */
const GT_SIZE_BYTES = GTES_PER_GT * 4;

/** Size of one grain table on disk, sectors. */
const GT_SIZE_SECTORS = GT_SIZE_BYTES / SECTOR_SIZE_BYTES;

/** Most grain tables fetched by one read when they lie back to back (32 × 2 KiB = 64 KiB). */
const GT_BATCH_TABLES = 32;

/** True on little-endian hosts, where a GT can be viewed as a Uint32Array without swapping. */
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/** Where grain tables come from: a directory on disk, or tables rebuilt by a marker scan. */
export type GrainIndex =
	| {
			readonly kind: 'directory';
			/** GT sector per GD entry (0 = no table: every grain unallocated). */
			readonly gd: Uint32Array;
			/** Redundant GD, when present and readable, for per-table fallback. */
			readonly rgd: Uint32Array | null;
	  }
	| { readonly kind: 'scanned'; readonly tables: Map<number, Uint32Array> };

/**
 * Loads the GD (falling back to the redundant GD) and the redundant GD for per-table fallback.
 * Rejects with VMDK_CORRUPT when no usable directory is left; workarounds go to `warnings`.
 */
export async function loadGrainDirectories(
	file: RandomAccessFile,
	header: SparseExtentHeader,
	warnings: string[],
): Promise<GrainIndex> {
	// Like QEMU, trust rgdOffset only when the flag says the redundant tables are maintained.
	const rgdSector = (header.flags & SparseFlag.REDUNDANT_GRAIN_TABLE) !== 0 ? header.rgdOffsetSectors : 0;
	const hasRgd = rgdSector !== 0 && rgdSector !== header.gdOffsetSectors;
	let gd: Uint32Array;
	try {
		gd = await loadDirectory(file, header, header.gdOffsetSectors, 'grain directory');
	} catch (primaryError) {
		if (!isVmdkError(primaryError) || !hasRgd) throw primaryError;
		let rgd: Uint32Array;
		try {
			rgd = await loadDirectory(file, header, rgdSector, 'redundant grain directory');
		} catch (error) {
			// Both damaged: the primary's damage is the one to report.
			throw isVmdkError(error) ? primaryError : error;
		}
		warnings.push(`primary grain directory is damaged (${primaryError.message}); using the redundant one`);
		return { kind: 'directory', gd: rgd, rgd: null };
	}
	let rgd: Uint32Array | null = null;
	if (hasRgd) {
		try {
			rgd = await loadDirectory(file, header, rgdSector, 'redundant grain directory');
		} catch (error) {
			if (!isVmdkError(error)) throw error;
			warnings.push(`redundant grain directory ignored: ${error.message}`);
		}
	}
	return { kind: 'directory', gd, rgd };
}

/** Reads one GD and checks that each table it names lies inside the file. */
async function loadDirectory(
	file: RandomAccessFile,
	header: SparseExtentHeader,
	sector: number,
	what: string,
): Promise<Uint32Array> {
	const offsetBytes = sector * SECTOR_SIZE_BYTES;
	const sizeBytes = header.gdEntries * 4;
	if (sector === 0 && header.gdEntries > 0) {
		throw new VmdkError('VMDK_CORRUPT', `${what} offset is 0`, { file: file.path, offsetBytes: 0 });
	}
	if (offsetBytes + sizeBytes > file.sizeBytes) {
		throw new VmdkError(
			'VMDK_CORRUPT',
			`${what} (${header.gdEntries} entries at sector ${sector}) runs past the end of the file (${file.sizeBytes} bytes)`,
			{ file: file.path, offsetBytes },
		);
	}
	const gd = await readU32Table(file, offsetBytes, header.gdEntries);
	const lastGtSector = Math.floor((file.sizeBytes - GT_SIZE_BYTES) / SECTOR_SIZE_BYTES);
	for (let i = 0; i < gd.length; i++) {
		const gt = gd[i] ?? 0;
		if (gt > lastGtSector) {
			throw new VmdkError(
				'VMDK_CORRUPT',
				`${what} entry ${i} points at a grain table at sector ${gt}, past the end of the file (${file.sizeBytes} bytes)`,
				{ file: file.path, offsetBytes: offsetBytes + i * 4 },
			);
		}
	}
	return gd;
}

/** Reads `count` u32le values into a Uint32Array (a view without swapping on LE hosts). */
async function readU32Table(
	file: RandomAccessFile,
	offsetBytes: number,
	count: number,
): Promise<Uint32Array> {
	const bytes = new Uint8Array(count * 4);
	await file.readInto(offsetBytes, bytes, 0, bytes.length);
	if (HOST_IS_LITTLE_ENDIAN) return new Uint32Array(bytes.buffer, 0, count);
	const view = new DataView(bytes.buffer);
	const out = new Uint32Array(count);
	for (let i = 0; i < count; i++) out[i] = view.getUint32(i * 4, true);
	return out;
}

/** Table `k` of a batch of back-to-back grain tables. */
function tableAt(batch: Uint32Array, k: number): Uint32Array {
	return batch.slice(k * GTES_PER_GT, (k + 1) * GTES_PER_GT);
}

/** The grain tables of one extent, by GD index, loaded on demand and cached. */
export class SparseGrainTables {
	private readonly file: RandomAccessFile;
	private readonly index: GrainIndex;
	/** The extent's warnings: a redundant table put in use is reported there. */
	private readonly warnings: string[];
	/** Highest sector a grain-table entry may name and still start inside the file. */
	private readonly lastSector: number;
	private readonly cache = new LoadingCache<number, Uint32Array>({ maxEntries: GT_CACHE_MAX_TABLES });
	private readonly warnedTables = new Set<number>();

	constructor(file: RandomAccessFile, index: GrainIndex, warnings: string[]) {
		this.file = file;
		this.index = index;
		this.warnings = warnings;
		this.lastSector = Math.floor((file.sizeBytes - 1) / SECTOR_SIZE_BYTES);
	}

	/** The GT for a GD index if it is known without I/O: null = no table, undefined = not loaded. */
	cached(gdIndex: number): Uint32Array | null | undefined {
		if (this.index.kind === 'scanned') return this.index.tables.get(gdIndex) ?? null;
		if ((this.index.gd[gdIndex] ?? 0) === 0) return null;
		return this.cache.peek(gdIndex);
	}

	/** The GT for a GD index, loading it if needed; null when the GD has no table there. */
	async table(gdIndex: number): Promise<Uint32Array | null> {
		const cached = this.cached(gdIndex);
		if (cached !== undefined) return cached;
		return this.cache.get(gdIndex, () => this.loadTables(gdIndex));
	}

	/** File offset of a grain-table entry, for error messages (undefined for scanned tables). */
	entryOffsetBytes(grain: number): number | undefined {
		if (this.index.kind === 'scanned') return undefined;
		const gdIndex = Math.floor(grain / GTES_PER_GT);
		return (this.index.gd[gdIndex] ?? 0) * SECTOR_SIZE_BYTES + (grain % GTES_PER_GT) * 4;
	}

	/** Forgets the cached tables. */
	clear(): void {
		this.cache.clear();
	}

	/**
	 * Loads the GT of `first` and, in the same read, the tables stored right after it that the
	 * next GD entries name.
	 */
	private loadTables(first: number): Promise<Uint32Array> {
		if (this.index.kind !== 'directory') throw new Error('scanned tables are all in memory');
		const gd = this.index.gd;
		const firstSector = gd[first] ?? 0;
		let count = 1;
		while (count < GT_BATCH_TABLES) {
			const next = first + count;
			if (next >= gd.length || gd[next] !== firstSector + count * GT_SIZE_SECTORS) break;
			if (this.cache.hasOrLoading(next)) break;
			count++;
		}
		const batch = readU32Table(this.file, firstSector * SECTOR_SIZE_BYTES, count * GTES_PER_GT);
		// The first table is tracked by the caller (`LoadingCache.get`), the ones after it here.
		for (let k = 1; k < count; k++) {
			const gdIndex = first + k;
			void this.cache.track(
				gdIndex,
				batch.then((all) => this.acceptTable(gdIndex, tableAt(all, k))),
			);
		}
		return batch.then((all) => this.acceptTable(first, tableAt(all, 0)));
	}

	/** A GT read from the primary directory, or its redundant copy if only that is sound. */
	private async acceptTable(gdIndex: number, table: Uint32Array): Promise<Uint32Array> {
		const sector = this.index.kind === 'directory' ? (this.index.gd[gdIndex] ?? 0) : 0;
		const rgdSector = this.index.kind === 'directory' ? (this.index.rgd?.[gdIndex] ?? 0) : 0;
		const bad = this.firstBadEntry(table);
		if (bad >= 0 && rgdSector !== 0 && rgdSector !== sector) {
			const copy = await readU32Table(this.file, rgdSector * SECTOR_SIZE_BYTES, GTES_PER_GT);
			if (this.firstBadEntry(copy) < 0) {
				// Once per table, however often the cache evicts and reloads it.
				if (!this.warnedTables.has(gdIndex)) {
					this.warnedTables.add(gdIndex);
					this.warnings.push(
						`grain table ${gdIndex} at sector ${sector} points past the end of the file (entry ${bad}); using its redundant copy at sector ${rgdSector}`,
					);
				}
				return copy;
			}
		}
		return table;
	}

	/** Index of the first entry naming a sector outside the file, or -1. */
	private firstBadEntry(table: Uint32Array): number {
		for (let i = 0; i < table.length; i++) {
			if ((table[i] ?? 0) > this.lastSector) return i;
		}
		return -1;
	}
}
