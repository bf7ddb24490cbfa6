// SPDX-License-Identifier: MIT
/**
 * Reader for one hosted sparse extent ("KDMV"): monolithicSparse, the pieces of
 * twoGbMaxExtentSparse, hosted snapshot deltas and streamOptimized (FORMAT-NOTES.md §2, §4).
 *
 * Lookup: grain = sector / grainSize; the grain directory gives the grain table, whose entry
 * gives the sector of the grain: 0 = unallocated, 1 = zeros when the zeroed-grain flag is set
 * (`sparse-grain-tables.ts`). Plain grains are read through the shared merge loop
 * (`grain-reads.ts`), compressed ones through `compressed-grains.ts`.
 *
 * Opening: the header (or, for a stream with GD_AT_END, the footer) names the grain directory.
 * A streamOptimized extent without a usable footer has its grain index rebuilt by scanning the
 * markers. Damage worked around is reported in `warnings`.
 */
import type { ExtentReader, Run, RunKind } from '../disk/extent-reader.js';
import { VmdkError, isVmdkError } from '../errors.js';
import { assertReadInRange } from '../io/byte-source.js';
import { SECTOR_SIZE_BYTES } from '../io/safe-number.js';
import type { DiskPlatform, RandomAccessFile } from '../platform.js';
import { CompressedGrains } from './compressed-grains.js';
import { GRAIN_ZEROS, readGrains, type LocateGrain } from './grain-reads.js';
import { walkGrainRun, type GrainTableWalk } from './grain-run.js';
import { GTES_PER_GT, readSparseHeader, type SparseExtentHeader } from './sparse-header.js';
import { SparseGrainTables, loadGrainDirectories, type GrainIndex } from './sparse-grain-tables.js';
import { readStreamFooter, scanStreamMarkers, GRAIN_MARKER_HEADER_BYTES } from './stream-optimized.js';

/** Grain-table entry meaning "grain of zeros" when `SparseFlag.ZEROED_GRAIN_GTE` is set. */
const GTE_ZEROED = 1;

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

async function openOwned(file: RandomAccessFile, platform: DiskPlatform): Promise<HostedSparseExtent> {
	const first = await readSparseHeader(file);
	const warnings: string[] = [];
	if (!first.gdAtEnd) {
		const index = await loadGrainDirectories(file, first, warnings);
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
			const index = await loadGrainDirectories(file, header, warnings);
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
	private readonly grainBytes: number;
	private readonly tables: SparseGrainTables;
	/** Set when the grains are compressed. */
	private readonly compressed: CompressedGrains | undefined;
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
		this.header = header;
		this.warnings = warnings;
		this.grainBytes = header.grainSizeSectors * SECTOR_SIZE_BYTES;
		this.sizeBytes = header.capacitySectors * SECTOR_SIZE_BYTES;
		this.tables = new SparseGrainTables(file, index, warnings);
		this.compressed = header.compressed
			? new CompressedGrains(file, platform, header, (grain) => {
					const table = this.tables.cached(Math.floor(grain / GTES_PER_GT));
					return table?.[grain % GTES_PER_GT] ?? 0;
				})
			: undefined;
		this.walk = {
			sizeBytes: this.sizeBytes,
			grainSizeBytes: this.grainBytes,
			entriesPerTable: GTES_PER_GT,
			cachedTable: (gdIndex) => this.tables.cached(gdIndex),
			loadTable: (gdIndex) => this.tables.table(gdIndex),
			kindAt: (table, grain) => this.kindAt(table, grain),
			runEnd: (table, grain, stop, kind) => this.runEnd(table, grain, stop, kind),
		};
	}

	async mapRun(offsetBytes: number, maxBytes: number): Promise<Run> {
		this.checkRead(offsetBytes, 1);
		return walkGrainRun(this.walk, offsetBytes, maxBytes);
	}

	async readData(offsetBytes: number, dest: Uint8Array, destOffset: number, length: number): Promise<void> {
		this.checkRead(offsetBytes, length);
		const request = { offsetBytes, dest, destOffset, length };
		if (this.compressed !== undefined) await this.compressed.read(request, this.locate);
		else await readGrains(this.file, this.grainBytes, this.locate, request);
	}

	async close(): Promise<void> {
		this.tables.clear();
		this.compressed?.clear();
		await this.file.close();
	}

	/**
	 * File offset of a grain's bytes (its record when compressed), or GRAIN_ZEROS for zeroed and
	 * unallocated grains: callers only ask for data runs, but zeros are the right answer for those.
	 */
	private readonly locate: LocateGrain = (grain) => {
		const gdIndex = Math.floor(grain / GTES_PER_GT);
		const table = this.tables.cached(gdIndex);
		if (table !== undefined) return this.grainAt(table, grain);
		return this.tables.table(gdIndex).then((loaded) => this.grainAt(loaded, grain));
	};

	/**
	 * Interprets one grain-table entry: the grain's file offset, or GRAIN_ZEROS. Throws
	 * VMDK_CORRUPT, at the entry, for a grain that does not lie inside the file.
	 */
	private grainAt(table: Uint32Array | null, grain: number): number {
		const gte = table?.[grain % GTES_PER_GT] ?? 0;
		if (gte === 0 || (gte === GTE_ZEROED && this.header.zeroedGrainGte)) return GRAIN_ZEROS;
		if (!this.grainInFile(gte, grain)) {
			throw new VmdkError(
				'VMDK_CORRUPT',
				`grain ${grain} is at sector ${gte}, past the end of the file (${this.file.sizeBytes} bytes)`,
				{ file: this.file.path, offsetBytes: this.tables.entryOffsetBytes(grain) },
			);
		}
		return gte * SECTOR_SIZE_BYTES;
	}

	/** The kind of a grain; throws like `grainAt` for a damaged entry. */
	private kindAt(table: Uint32Array, grain: number): RunKind {
		if (this.grainAt(table, grain) !== GRAIN_ZEROS) return 'data';
		return table[grain % GTES_PER_GT] === 0 ? 'unallocated' : 'zero';
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

	private checkRead(offsetBytes: number, length: number): void {
		assertReadInRange(offsetBytes, length, this.sizeBytes, 'the extent', this.file.path);
	}
}
