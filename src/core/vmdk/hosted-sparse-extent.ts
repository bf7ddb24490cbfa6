// SPDX-License-Identifier: MIT
/**
 * Reader for one hosted sparse extent ("KDMV"): monolithicSparse, the pieces of
 * twoGbMaxExtentSparse, hosted snapshot deltas and streamOptimized (FORMAT-NOTES.md §2, §4).
 *
 * Lookup: grain = sector / grainSize; the grain directory (GD, loaded once: 4 bytes per 32 MiB
 * of disk at the default grain) gives the sector of a grain table (GT, 512 u32 entries, loaded
 * lazily into a bounded LRU), whose entry gives the sector of the grain: 0 = unallocated,
 * 1 = zeros when the zeroed-grain flag is set. Compressed grains start with a marker
 * (u64 LBA, u32 size) and are inflated through the platform into a bounded LRU.
 *
 * Speed: neighbouring grain tables are fetched with one read, physically contiguous raw grains
 * with one read, back-to-back compressed records with one read, and up to INFLATE_CONCURRENCY
 * grains inflate at once. Memory is bounded by the caches, not by the disk size.
 *
 * Damage handling: when the primary GD is unreadable or points outside the file, the redundant
 * GD is used instead; a GT whose entries point outside the file is replaced by its redundant
 * copy when there is one. Both are reported in `warnings`. A streamOptimized extent without a
 * valid footer has its grain index rebuilt by scanning the markers.
 */
import type { ExtentReader, Run, RunKind } from '../disk/extent-reader.js';
import { VmdkError, isVmdkError } from '../errors.js';
import { assertReadInRange, checkRange } from '../io/byte-source.js';
import { Limits, checkLimit } from '../io/limits.js';
import { SECTOR_SIZE_BYTES } from '../io/safe-number.js';
import type { DiskPlatform, RandomAccessFile } from '../platform.js';
import { walkGrainRun, type GrainTableWalk } from './grain-run.js';
import { LoadingCache } from './lru-cache.js';
import {
	SPARSE_HEADER_SIZE_BYTES,
	SparseFlag,
	GTES_PER_GT,
	parseSparseHeader,
	type SparseExtentHeader,
} from './sparse-header.js';
import {
	GRAIN_MARKER_HEADER_BYTES,
	readStreamFooter,
	scanStreamMarkers,
	parseStreamMarker,
} from './stream-optimized.js';

/** Most grain tables cached per extent: 4096 × 2 KiB = 8 MiB, covering 128 GiB at 64 KiB grains. */
export const GT_CACHE_MAX_TABLES = 4096;

/** Most inflated-grain bytes cached per extent. */
export const GRAIN_CACHE_MAX_BYTES = 32 * 1024 * 1024;

/** Compressed grains read and inflated at once by one `readData`: a 2 MiB read-ahead window of 64 KiB grains goes to the platform's inflate workers as one batch. */
export const INFLATE_CONCURRENCY = 32;

/** Largest single read that fetches several compressed grains of one `readData`. */
const GROUP_READ_MAX_BYTES = 8 * 1024 * 1024;

/** Grain-table entry meaning "grain of zeros" when `SparseFlag.ZEROED_GRAIN_GTE` is set. */
const GTE_ZEROED = 1;

/** Size of one grain table on disk, bytes (512 u32 entries). */
const GT_SIZE_BYTES = GTES_PER_GT * 4;

/** Size of one grain table on disk, sectors. */
const GT_SIZE_SECTORS = GT_SIZE_BYTES / SECTOR_SIZE_BYTES;

/** Most grain tables fetched by one read when they lie back to back (32 × 2 KiB = 64 KiB). */
const GT_BATCH_TABLES = 32;

/** True on little-endian hosts, where a GT can be viewed as a Uint32Array without swapping. */
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/** Reads and validates the header at byte 0 (for streamOptimized this may say GD_AT_END). */
export async function readSparseHeader(file: RandomAccessFile): Promise<SparseExtentHeader> {
	// Read what is there so that a short file fails on the exact field it cuts off.
	const bytes = new Uint8Array(Math.min(SPARSE_HEADER_SIZE_BYTES, file.sizeBytes));
	await file.readInto(0, bytes, 0, bytes.length);
	return parseSparseHeader(bytes, { file: file.path, offsetBytes: 0 });
}

/**
 * The embedded text descriptor of a monolithic sparse extent: the bytes of its area up to the
 * first NUL, or null when `descriptorOffset` is 0. Rejects with VMDK_LIMIT above
 * Limits.DESCRIPTOR_MAX_BYTES and VMDK_TRUNCATED when the area runs past the end of the file.
 */
export async function readEmbeddedDescriptor(
	file: RandomAccessFile,
	header: SparseExtentHeader,
): Promise<Uint8Array | null> {
	if (header.descriptorOffsetSectors === 0) return null;
	const offsetBytes = header.descriptorOffsetSectors * SECTOR_SIZE_BYTES;
	const location = { file: file.path, offsetBytes };
	checkLimit(
		'descriptor',
		header.descriptorSizeSectors * SECTOR_SIZE_BYTES,
		Limits.DESCRIPTOR_MAX_BYTES,
		location,
	);
	const sizeBytes = header.descriptorSizeSectors * SECTOR_SIZE_BYTES;
	if (offsetBytes + sizeBytes > file.sizeBytes) {
		throw new VmdkError(
			'VMDK_TRUNCATED',
			`embedded descriptor (${sizeBytes} bytes) runs past the end of the file (${file.sizeBytes} bytes)`,
			location,
		);
	}
	const bytes = new Uint8Array(sizeBytes);
	await file.readInto(offsetBytes, bytes, 0, sizeBytes);
	const nul = bytes.indexOf(0);
	return nul < 0 ? bytes : bytes.subarray(0, nul);
}

/**
 * Opens a hosted sparse extent for reading. Takes ownership of `file` (closed by `close()`, or
 * here if opening fails). Rejects with a VmdkError naming the file and offset.
 */
export async function openHostedSparseExtent(
	file: RandomAccessFile,
	platform: DiskPlatform,
): Promise<HostedSparseExtent> {
	try {
		return await openOwned(file, platform);
	} catch (error) {
		await file.close().catch(() => undefined);
		throw error;
	}
}

/** Where grain tables come from: a directory on disk, or tables rebuilt by a marker scan. */
type GrainIndex =
	| {
			readonly kind: 'directory';
			/** GT sector per GD entry (0 = no table: every grain unallocated). */
			readonly gd: Uint32Array;
			/** Redundant GD, when present and readable, for per-table fallback. */
			readonly rgd: Uint32Array | null;
	  }
	| { readonly kind: 'scanned'; readonly tables: Map<number, Uint32Array> };

async function openOwned(file: RandomAccessFile, platform: DiskPlatform): Promise<HostedSparseExtent> {
	const first = await readSparseHeader(file);
	const warnings: string[] = [];
	if (!first.gdAtEnd) {
		const index = await loadDirectories(file, first, warnings);
		return new HostedSparseExtent(file, platform, first, index, warnings);
	}
	const footer = await readStreamFooter(file);
	if (footer.ok) {
		const header = footer.header;
		if (
			header.capacitySectors !== first.capacitySectors ||
			header.grainSizeSectors !== first.grainSizeSectors
		) {
			warnings.push(
				`footer capacity/grain (${header.capacitySectors}/${header.grainSizeSectors} sectors) differ from the header's (${first.capacitySectors}/${first.grainSizeSectors}); using the footer`,
			);
		}
		try {
			const index = await loadDirectories(file, header, warnings);
			return new HostedSparseExtent(file, platform, header, index, warnings);
		} catch (error) {
			if (!isVmdkError(error) || !first.hasMarkers) throw error;
			warnings.push(`the footer's grain directory is unusable (${error.message})`);
		}
	} else {
		warnings.push(`streamOptimized footer missing or damaged: ${footer.reason}`);
	}
	if (!first.hasMarkers) {
		throw new VmdkError(
			'VMDK_CORRUPT',
			'grain directory is at the end but there is no valid footer, and without markers the grains cannot be found',
			{ file: file.path, offsetBytes: Math.max(0, file.sizeBytes - SECTOR_SIZE_BYTES * 3) },
		);
	}
	const descriptorEnd = first.descriptorOffsetSectors + first.descriptorSizeSectors;
	// Grains start after the overhead; an unusable overhead falls back to the descriptor's end
	// (the scan skips zero padding before the first marker).
	const overheadUsable =
		first.overheadSectors > 0 && first.overheadSectors * SECTOR_SIZE_BYTES < file.sizeBytes;
	const startSector = Math.max(1, overheadUsable ? first.overheadSectors : descriptorEnd);
	const scan = await scanStreamMarkers(file, first, startSector);
	warnings.push(
		`grain index rebuilt by scanning markers: ${scan.grainCount} grains found` +
			(scan.stoppedEarly === undefined ? '' : `; scan stopped: ${scan.stoppedEarly}`),
	);
	return new HostedSparseExtent(file, platform, first, { kind: 'scanned', tables: scan.tables }, warnings);
}

/** Loads the GD (falling back to the redundant GD) and the redundant GD for per-table fallback. */
async function loadDirectories(
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

/** Table `k` of a batch of back-to-back grain tables. */
function tableAt(batch: Uint32Array, k: number): Uint32Array {
	return batch.slice(k * GTES_PER_GT, (k + 1) * GTES_PER_GT);
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

/** What one grain holds, with where its bytes are when it has data. */
type GrainInfo =
	| { readonly kind: 'zero' | 'unallocated' }
	| { readonly kind: 'data'; readonly sector: number; readonly compressed: boolean };

/** One piece of a `readData` request: part of a single grain, or a merged run of raw grains. */
interface ReadPiece {
	readonly destOffset: number;
	readonly length: number;
	/** Raw: file offset of the first byte. Compressed: unused. */
	readonly fileOffset: number;
	/** Compressed: the grain number and the offset inside the inflated grain. */
	readonly grain: number;
	readonly inGrain: number;
	readonly sector: number;
	readonly compressed: boolean;
	/** Compressed grains stored back to back share one read (streamOptimized files). */
	group?: ReadGroup;
}

/** Neighbouring compressed-grain records fetched with one read. */
interface ReadGroup {
	/** Sector of the first record's marker. */
	readonly firstSector: number;
	/** Bytes to read from there. */
	lengthBytes: number;
	/** Started by the first worker that needs it. */
	bytes?: Promise<Uint8Array>;
}

/** Where a compressed grain's record already is in memory. */
interface RecordSource {
	readonly bytes: Uint8Array;
	/** Offset of the marker in `bytes`. */
	readonly at: number;
}

/** A hosted sparse extent, readable through the ExtentReader contract. */
export class HostedSparseExtent implements ExtentReader {
	/** The header in effect (for streamOptimized with GD_AT_END: the footer). */
	readonly header: SparseExtentHeader;
	/** Capacity in bytes. */
	readonly sizeBytes: number;
	/** Damage worked around while opening or reading (redundant GD used, footer rebuilt …). */
	readonly warnings: string[];
	/** The file, owned: `close()` closes it. */
	readonly file: RandomAccessFile;
	private readonly platform: DiskPlatform;
	private readonly index: GrainIndex;
	private readonly grainBytes: number;
	/** Highest sector a grain-table entry may name and still start inside the file. */
	private readonly lastSector: number;
	private readonly gtCache = new LoadingCache<number, Uint32Array>({ maxEntries: GT_CACHE_MAX_TABLES });
	private readonly grainCache: LoadingCache<number, Uint8Array>;
	private readonly warnedTables = new Set<number>();
	private readonly walk: GrainTableWalk<Uint32Array>;

	/** Use {@link openHostedSparseExtent}. */
	constructor(
		file: RandomAccessFile,
		platform: DiskPlatform,
		header: SparseExtentHeader,
		index: GrainIndex,
		warnings: string[],
	) {
		this.file = file;
		this.platform = platform;
		this.header = header;
		this.index = index;
		this.warnings = warnings;
		this.grainBytes = header.grainSizeSectors * SECTOR_SIZE_BYTES;
		this.sizeBytes = header.capacitySectors * SECTOR_SIZE_BYTES;
		this.lastSector = Math.floor((file.sizeBytes - 1) / SECTOR_SIZE_BYTES);
		this.grainCache = new LoadingCache<number, Uint8Array>({
			maxEntries: Math.max(1, Math.floor(GRAIN_CACHE_MAX_BYTES / this.grainBytes)),
			maxWeight: GRAIN_CACHE_MAX_BYTES,
			weigh: (g) => g.length,
		});
		this.walk = {
			sizeBytes: this.sizeBytes,
			grainSizeBytes: this.grainBytes,
			entriesPerTable: GTES_PER_GT,
			cachedTable: (gdIndex) => this.cachedTable(gdIndex),
			loadTable: (gdIndex) => this.table(gdIndex),
			kindAt: (table, grain) => this.classify(table, Math.floor(grain / GTES_PER_GT), grain).kind,
			runEnd: (table, grain, stop, kind) => this.runEnd(table, grain, stop, kind),
		};
	}

	async mapRun(offsetBytes: number, maxBytes: number): Promise<Run> {
		this.checkRead(offsetBytes, 1);
		return walkGrainRun(this.walk, offsetBytes, maxBytes);
	}

	async readData(offsetBytes: number, dest: Uint8Array, destOffset: number, length: number): Promise<void> {
		this.checkRead(offsetBytes, length);
		checkRange(destOffset, length, dest.length);
		const pieces: ReadPiece[] = [];
		let pos = offsetBytes;
		const end = offsetBytes + length;
		while (pos < end) {
			const grain = Math.floor(pos / this.grainBytes);
			const inGrain = pos - grain * this.grainBytes;
			const n = Math.min(this.grainBytes - inGrain, end - pos);
			const at = destOffset + (pos - offsetBytes);
			const info = await this.grainInfo(grain);
			if (info.kind !== 'data') {
				// Callers only ask for data runs, but zeros are the right answer for the others.
				dest.fill(0, at, at + n);
			} else {
				const fileOffset = info.sector * SECTOR_SIZE_BYTES + inGrain;
				const prev = pieces[pieces.length - 1];
				if (
					!info.compressed &&
					prev !== undefined &&
					!prev.compressed &&
					prev.fileOffset + prev.length === fileOffset &&
					prev.destOffset + prev.length === at
				) {
					// Physically contiguous raw grains become one read.
					pieces[pieces.length - 1] = { ...prev, length: prev.length + n };
				} else {
					pieces.push({
						destOffset: at,
						length: n,
						fileOffset,
						grain,
						inGrain,
						sector: info.sector,
						compressed: info.compressed,
					});
				}
			}
			pos += n;
		}
		if (this.header.compressed && this.header.hasMarkers) this.groupRecords(pieces);
		await runBounded(pieces, INFLATE_CONCURRENCY, async (p) => {
			if (!p.compressed) {
				await this.file.readInto(p.fileOffset, dest, p.destOffset, p.length);
				return;
			}
			const group = p.group;
			let source: RecordSource | undefined;
			if (group !== undefined && !this.grainCache.has(p.grain)) {
				group.bytes ??= this.readGroup(group);
				source = { bytes: await group.bytes, at: (p.sector - group.firstSector) * SECTOR_SIZE_BYTES };
			}
			const data = await this.inflatedGrain(p.grain, p.sector, source);
			dest.set(data.subarray(p.inGrain, p.inGrain + p.length), p.destOffset);
		});
	}

	/**
	 * Puts compressed grains whose records follow each other in the file (as a stream writes
	 * them) into groups read at once: one read instead of one per grain. Cached grains are left out.
	 */
	private groupRecords(pieces: ReadPiece[]): void {
		let group: ReadGroup | undefined;
		let lastSector = 0;
		let members = 0;
		const closeGroup = (): void => {
			if (group !== undefined && members < 2) group.lengthBytes = 0; // a lone grain reads by itself
			group = undefined;
			members = 0;
		};
		for (const p of pieces) {
			if (!p.compressed || this.grainCache.has(p.grain)) continue;
			const gapBytes = (p.sector - lastSector) * SECTOR_SIZE_BYTES;
			if (
				group === undefined ||
				p.sector <= lastSector ||
				gapBytes > this.maxRecordBytes() ||
				(p.sector - group.firstSector) * SECTOR_SIZE_BYTES + this.recordReadBytes(p.grain, p.sector) >
					GROUP_READ_MAX_BYTES
			) {
				closeGroup();
				group = { firstSector: p.sector, lengthBytes: 0 };
			}
			group.lengthBytes =
				(p.sector - group.firstSector) * SECTOR_SIZE_BYTES + this.recordReadBytes(p.grain, p.sector);
			p.group = group;
			lastSector = p.sector;
			members++;
		}
		closeGroup();
		for (const p of pieces) if (p.group !== undefined && p.group.lengthBytes === 0) delete p.group;
	}

	private async readGroup(group: ReadGroup): Promise<Uint8Array> {
		const at = group.firstSector * SECTOR_SIZE_BYTES;
		const bytes = new Uint8Array(Math.min(group.lengthBytes, this.file.sizeBytes - at));
		await this.file.readInto(at, bytes, 0, bytes.length);
		return bytes;
	}

	/** Largest plausible record of one compressed grain: marker + deflate's worst-case growth. */
	private maxRecordBytes(): number {
		return GRAIN_MARKER_HEADER_BYTES + 2 * this.grainBytes + 4096;
	}

	/**
	 * Bytes to read for a compressed grain's record at `sector`. Streams store grains in order, so
	 * when the next grain's record follows, the gap is the exact record size; otherwise guess one
	 * grain plus slack (a second read fetches the rest of a larger record).
	 */
	private recordReadBytes(grain: number, sector: number): number {
		const nextGrain = grain + 1;
		const table = this.cachedTable(Math.floor(nextGrain / GTES_PER_GT));
		const next = table?.[nextGrain % GTES_PER_GT] ?? 0;
		const gapBytes = (next - sector) * SECTOR_SIZE_BYTES;
		if (next > sector && gapBytes <= this.maxRecordBytes()) return gapBytes;
		return GRAIN_MARKER_HEADER_BYTES + this.grainBytes + 1024;
	}

	async close(): Promise<void> {
		this.gtCache.clear();
		this.grainCache.clear();
		await this.file.close();
	}

	private checkRead(offsetBytes: number, length: number): void {
		assertReadInRange(offsetBytes, length, this.sizeBytes, 'the extent', this.file.path);
	}

	/** The GT for a GD index if it is known without I/O: null = no table, undefined = not loaded. */
	private cachedTable(gdIndex: number): Uint32Array | null | undefined {
		if (this.index.kind === 'scanned') return this.index.tables.get(gdIndex) ?? null;
		if ((this.index.gd[gdIndex] ?? 0) === 0) return null;
		return this.gtCache.peek(gdIndex);
	}

	/** The GT for a GD index, loading it if needed; null when the GD has no table there. */
	private async table(gdIndex: number): Promise<Uint32Array | null> {
		const cached = this.cachedTable(gdIndex);
		if (cached !== undefined) return cached;
		return this.gtCache.get(gdIndex, () => this.loadTables(gdIndex));
	}

	/**
	 * Loads the GT of `first` and, in the same read, the tables stored right after it that the
	 * next GD entries name (QEMU and VMware write GTs back to back), so a sequential walk over a
	 * large disk costs one read per GT_BATCH_TABLES tables.
	 */
	private loadTables(first: number): Promise<Uint32Array> {
		if (this.index.kind !== 'directory') throw new Error('scanned tables are all in memory');
		const gd = this.index.gd;
		const firstSector = gd[first] ?? 0;
		let count = 1;
		while (count < GT_BATCH_TABLES) {
			const next = first + count;
			if (next >= gd.length || gd[next] !== firstSector + count * GT_SIZE_SECTORS) break;
			if (this.gtCache.hasOrLoading(next)) break;
			count++;
		}
		const batch = readU32Table(this.file, firstSector * SECTOR_SIZE_BYTES, count * GTES_PER_GT);
		// The first table is tracked by the caller (`LoadingCache.get`), the ones after it here.
		for (let k = 1; k < count; k++) {
			const gdIndex = first + k;
			void this.gtCache.track(
				gdIndex,
				batch.then((all) => this.acceptTable(gdIndex, tableAt(all, k))),
			);
		}
		return batch.then((all) => this.acceptTable(first, tableAt(all, 0)));
	}

	/** Caches a GT read from the primary directory, or its redundant copy if only that is sound. */
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

	private async grainInfo(grain: number): Promise<GrainInfo> {
		const gdIndex = Math.floor(grain / GTES_PER_GT);
		const cached = this.cachedTable(gdIndex);
		const table = cached === undefined ? await this.table(gdIndex) : cached;
		if (table === null) return { kind: 'unallocated' };
		return this.classify(table, gdIndex, grain);
	}

	/** The first grain in [grain, stop) of `table` whose kind is not `kind`; a damaged entry ends a data run. */
	private runEnd(table: Uint32Array, grain: number, stop: number, kind: RunKind): number {
		const base = grain - (grain % GTES_PER_GT);
		let g = grain;
		if (kind === 'unallocated') {
			while (g < stop && table[g - base] === 0) g++;
		} else if (kind === 'zero') {
			while (g < stop && table[g - base] === GTE_ZEROED) g++;
		} else {
			const zeroed = this.header.zeroedGrainGte ? GTE_ZEROED : 0;
			for (; g < stop; g++) {
				const gte = table[g - base] ?? 0;
				if (gte === 0 || gte === zeroed || !this.grainInFile(gte, g)) break;
			}
		}
		return g;
	}

	/** True if a grain stored at `sector` has the bytes it needs inside the file. */
	private grainInFile(sector: number, grain: number): boolean {
		const neededBytes = this.header.compressed
			? GRAIN_MARKER_HEADER_BYTES
			: Math.min(this.grainBytes, this.sizeBytes - grain * this.grainBytes);
		return sector * SECTOR_SIZE_BYTES + neededBytes <= this.file.sizeBytes;
	}

	/** Interprets one grain-table entry, checking that the grain lies inside the file. */
	private classify(table: Uint32Array, gdIndex: number, grain: number): GrainInfo {
		const gte = table[grain % GTES_PER_GT] ?? 0;
		if (gte === 0) return UNALLOCATED;
		if (gte === GTE_ZEROED && this.header.zeroedGrainGte) return ZERO;
		if (!this.grainInFile(gte, grain)) {
			throw new VmdkError(
				'VMDK_CORRUPT',
				`grain ${grain} is at sector ${gte}, past the end of the file (${this.file.sizeBytes} bytes)`,
				{ file: this.file.path, offsetBytes: this.gteOffsetBytes(gdIndex, grain) },
			);
		}
		return { kind: 'data', sector: gte, compressed: this.header.compressed };
	}

	/** File offset of a grain-table entry, for error messages (a marker's offset when scanned). */
	private gteOffsetBytes(gdIndex: number, grain: number): number | undefined {
		if (this.index.kind === 'scanned') return undefined;
		return (this.index.gd[gdIndex] ?? 0) * SECTOR_SIZE_BYTES + (grain % GTES_PER_GT) * 4;
	}

	/** The inflated bytes of a compressed grain, shared between concurrent readers and cached. */
	private inflatedGrain(grain: number, sector: number, source?: RecordSource): Promise<Uint8Array> {
		return this.grainCache.get(grain, () => this.inflateGrain(grain, sector, source));
	}

	private async inflateGrain(grain: number, sector: number, source?: RecordSource): Promise<Uint8Array> {
		const at = sector * SECTOR_SIZE_BYTES;
		const location = { file: this.file.path, offsetBytes: at };
		const available = this.file.sizeBytes - at;
		// Deflate expands incompressible data a little; more than this is not a grain.
		const maxCompressedBytes = 2 * this.grainBytes + 4096;
		let data: Uint8Array;
		if (this.header.hasMarkers) {
			let buf: Uint8Array;
			if (source !== undefined && source.at < source.bytes.length) {
				buf = source.bytes.subarray(source.at);
			} else {
				// One read usually covers marker and data (see recordReadBytes).
				buf = new Uint8Array(Math.min(available, this.recordReadBytes(grain, sector)));
				await this.file.readInto(at, buf, 0, buf.length);
			}
			const marker = parseStreamMarker(padTo16(buf), 0);
			const expectedLba = BigInt(grain) * BigInt(this.header.grainSizeSectors);
			if (marker.kind !== 'grain' || marker.lbaSectors !== expectedLba) {
				const saw =
					marker.kind === 'grain' ? `LBA ${marker.lbaSectors}` : `a metadata marker of type ${marker.type}`;
				throw new VmdkError(
					'VMDK_CORRUPT',
					`grain ${grain} should start with a grain marker for LBA ${expectedLba}, saw ${saw}`,
					location,
				);
			}
			const size = marker.compressedSizeBytes;
			if (size > maxCompressedBytes || GRAIN_MARKER_HEADER_BYTES + size > available) {
				throw new VmdkError(
					'VMDK_CORRUPT',
					`compressed grain ${grain} of ${size} bytes is too large or runs past the end of the file (${this.file.sizeBytes} bytes)`,
					location,
				);
			}
			if (GRAIN_MARKER_HEADER_BYTES + size > buf.length) {
				const bigger = new Uint8Array(GRAIN_MARKER_HEADER_BYTES + size);
				bigger.set(buf);
				await this.file.readInto(at + buf.length, bigger, buf.length, bigger.length - buf.length);
				buf = bigger;
			}
			data = buf.subarray(GRAIN_MARKER_HEADER_BYTES, GRAIN_MARKER_HEADER_BYTES + size);
		} else {
			// Without markers the compressed size is unknown: zlib stops at the end of its stream.
			data = new Uint8Array(Math.min(available, maxCompressedBytes));
			await this.file.readInto(at, data, 0, data.length);
		}
		let out: Uint8Array;
		try {
			out = await this.platform.inflate(data, this.grainBytes);
		} catch (cause) {
			const why = cause instanceof Error ? cause.message : String(cause);
			throw new VmdkError('VMDK_DECOMPRESS', `grain ${grain} does not inflate: ${why}`, location, { cause });
		}
		const neededBytes = Math.min(this.grainBytes, this.sizeBytes - grain * this.grainBytes);
		if (out.length < neededBytes) {
			throw new VmdkError(
				'VMDK_DECOMPRESS',
				`grain ${grain} inflates to ${out.length} bytes, expected ${neededBytes}`,
				location,
			);
		}
		return out;
	}
}

const UNALLOCATED: GrainInfo = { kind: 'unallocated' };
const ZERO: GrainInfo = { kind: 'zero' };

/** A marker needs 16 bytes to parse; a short final read is padded with zeros. */
function padTo16(buf: Uint8Array): Uint8Array {
	if (buf.length >= 16) return buf;
	const out = new Uint8Array(16);
	out.set(buf);
	return out;
}

/** Runs `work` over `items` with at most `limit` in flight; rejects with the first failure. */
async function runBounded<T>(
	items: readonly T[],
	limit: number,
	work: (item: T) => Promise<void>,
): Promise<void> {
	if (items.length === 1) {
		await work(items[0] as T);
		return;
	}
	let next = 0;
	const worker = async (): Promise<void> => {
		while (next < items.length) {
			const item = items[next++] as T;
			await work(item);
		}
	};
	await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
