// SPDX-License-Identifier: MIT
/**
 * Writes one hosted sparse extent (monolithicSparse, a `-sNNN` piece of a split disk, or a
 * snapshot delta) in one pass: the header, descriptor and both grain directories first (every
 * grain table has a reserved place), then grains appended in disk order, each grain table
 * written to its place and to its redundant copy as soon as its last grain is placed. Only
 * one grain table is held in memory. Grain tables without grains stay holes (zeros).
 */
import { SECTOR_SIZE_BYTES } from '../../io/safe-number.js';
import type { WritableFile } from '../../platform.js';
import { GTES_PER_GT, SparseFlag } from '../sparse-header.js';
import {
	GRAIN_BYTES,
	GRAIN_SECTORS,
	GT_BYTES,
	GT_SECTORS,
	encodeGrainDirectory,
	encodeSparseHeader,
	sparseLayout,
	type SparseLayout,
} from './sparse-layout.js';

/** Largest sector a grain-table entry (u32) can point at. */
const MAX_GTE_SECTOR = 0xffffffff;

/** One sparse extent being written. */
export class SparseExtentWriter {
	readonly layout: SparseLayout;
	private readonly file: WritableFile;
	/** Where the next grain goes, sectors. */
	private nextSector: number;
	/** Index of the grain table in `table`, or -1. */
	private tableIndex = -1;
	private table = new Uint32Array(GTES_PER_GT);
	private tableUsed = false;
	/** Grains written so far. */
	grainsWritten = 0;

	private constructor(file: WritableFile, layout: SparseLayout) {
		this.file = file;
		this.layout = layout;
		this.nextSector = layout.overheadSectors;
	}

	/**
	 * Starts an extent of `capacitySectors` in `file`: header, embedded descriptor (if
	 * `descriptor` is given, at most 20 sectors), directories. The file is sized to its
	 * overhead so that reserved tables read as zeros until written.
	 */
	static async begin(
		file: WritableFile,
		capacitySectors: number,
		descriptor: Uint8Array | undefined,
	): Promise<SparseExtentWriter> {
		const layout = sparseLayout(capacitySectors, descriptor !== undefined);
		if (descriptor !== undefined && descriptor.length > layout.descriptorSizeSectors * SECTOR_SIZE_BYTES) {
			throw new RangeError(`descriptor of ${descriptor.length} bytes does not fit its 10 KiB area`);
		}
		const header = encodeSparseHeader({
			version: 1,
			flags: SparseFlag.VALID_NEWLINE_TEST | SparseFlag.REDUNDANT_GRAIN_TABLE,
			capacitySectors,
			descriptorOffsetSectors: layout.descriptorOffsetSectors,
			descriptorSizeSectors: layout.descriptorSizeSectors,
			rgdOffsetSectors: layout.rgdOffsetSectors,
			gdOffsetSectors: layout.gdOffsetSectors,
			overheadSectors: layout.overheadSectors,
			compressAlgorithm: 0,
		});
		await file.truncate(layout.overheadSectors * SECTOR_SIZE_BYTES);
		await file.write(0, header);
		if (descriptor !== undefined) await file.write(SECTOR_SIZE_BYTES, descriptor);
		await file.write(
			layout.rgdOffsetSectors * SECTOR_SIZE_BYTES,
			encodeGrainDirectory(layout.gtCount, layout.rgtOffsetSectors),
		);
		await file.write(
			layout.gdOffsetSectors * SECTOR_SIZE_BYTES,
			encodeGrainDirectory(layout.gtCount, layout.gtOffsetSectors),
		);
		return new SparseExtentWriter(file, layout);
	}

	/**
	 * Appends the grains of `buffer` marked in `present` (grain `g` of the buffer is extent grain
	 * `firstGrain + g`). Calls must come in increasing grain order.
	 */
	async placeGrains(firstGrain: number, buffer: Uint8Array, present: Uint8Array): Promise<void> {
		const writes: Promise<void>[] = [];
		let runStart = -1;
		let runSector = 0;
		const flushRun = (endGrain: number): void => {
			if (runStart < 0) return;
			writes.push(
				this.file.write(
					runSector * SECTOR_SIZE_BYTES,
					buffer.subarray(runStart * GRAIN_BYTES, endGrain * GRAIN_BYTES),
				),
			);
			runStart = -1;
		};
		for (let g = 0; g < present.length; g++) {
			if (present[g] !== 1) {
				flushRun(g);
				continue;
			}
			const grain = firstGrain + g;
			const gtIndex = Math.floor(grain / GTES_PER_GT);
			if (gtIndex !== this.tableIndex) {
				flushRun(g);
				writes.push(this.flushTable());
				this.tableIndex = gtIndex;
			}
			if (this.nextSector + GRAIN_SECTORS - 1 > MAX_GTE_SECTOR) {
				throw new RangeError('sparse extent grows beyond 2 TiB of grains');
			}
			if (runStart < 0) {
				runStart = g;
				runSector = this.nextSector;
			}
			this.table[grain % GTES_PER_GT] = this.nextSector;
			this.tableUsed = true;
			this.nextSector += GRAIN_SECTORS;
			this.grainsWritten++;
		}
		flushRun(present.length);
		const results = await Promise.allSettled(writes);
		for (const r of results) if (r.status === 'rejected') throw r.reason;
	}

	/** Writes the last grain table. */
	async finish(): Promise<void> {
		await this.flushTable();
	}

	/** Writes the table in memory (if it has grains) to its place and its redundant place. */
	private async flushTable(): Promise<void> {
		if (this.tableIndex < 0 || !this.tableUsed) {
			this.tableUsed = false;
			return;
		}
		const bytes = new Uint8Array(GT_BYTES);
		const v = new DataView(bytes.buffer);
		for (let i = 0; i < GTES_PER_GT; i++) v.setUint32(i * 4, this.table[i] ?? 0, true);
		const at = this.tableIndex * GT_SECTORS;
		this.table = new Uint32Array(GTES_PER_GT);
		this.tableUsed = false;
		await Promise.all([
			this.file.write((this.layout.gtOffsetSectors + at) * SECTOR_SIZE_BYTES, bytes),
			this.file.write((this.layout.rgtOffsetSectors + at) * SECTOR_SIZE_BYTES, bytes),
		]);
	}
}
