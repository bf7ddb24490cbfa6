// SPDX-License-Identifier: MIT
/**
 * The run walk shared by the ESX sparse readers (COWD, seSparse): from a byte offset, grain by
 * grain through lazily loaded grain tables, as far as the grains keep the same kind. A missing
 * table is one unallocated span skipped without reading; at most `MAX_GT_LOADS_PER_MAP_RUN`
 * uncached tables are loaded per call, so one `mapRun` stays cheap on a huge disk.
 */
import type { Run, RunKind } from '../disk/extent-reader.js';

/** Tables loaded from the file at most in one walk (once it has found a kind). */
export const MAX_GT_LOADS_PER_MAP_RUN = 8;

/** What the walk needs to know of a reader's grain directory and tables. */
export interface GrainTableWalk<T> {
	readonly sizeBytes: number;
	readonly grainSizeBytes: number;
	/** Grain-table entries per table. */
	readonly entriesPerTable: number;
	/** False when the directory entry says the table does not exist (all unallocated). */
	hasTable(gdIndex: number): boolean;
	/** True when the table is cached (loading it costs no read). */
	isCached(gdIndex: number): boolean;
	/** The decoded table. */
	table(gdIndex: number): Promise<T>;
	/** The kind of entry `index` of `table`. */
	kindOf(table: T, index: number): RunKind;
}

/** The run at `offsetBytes`, at most `maxBytes` long (caller has range-checked the offset). */
export async function walkGrainRun<T>(
	walk: GrainTableWalk<T>,
	offsetBytes: number,
	maxBytes: number,
): Promise<Run> {
	const { grainSizeBytes, entriesPerTable } = walk;
	const endBytes = Math.min(walk.sizeBytes, offsetBytes + Math.max(1, maxBytes));
	const gtSpanBytes = entriesPerTable * grainSizeBytes;
	let grain = Math.floor(offsetBytes / grainSizeBytes);
	let posBytes = grain * grainSizeBytes;
	let kind: RunKind | undefined;
	let loads = 0;
	while (posBytes < endBytes) {
		const gdIndex = Math.floor(grain / entriesPerTable);
		if (!walk.hasTable(gdIndex)) {
			if (kind !== undefined && kind !== 'unallocated') break;
			kind = 'unallocated';
			posBytes = (gdIndex + 1) * gtSpanBytes;
			grain = (gdIndex + 1) * entriesPerTable;
			continue;
		}
		if (!walk.isCached(gdIndex)) {
			if (kind !== undefined && loads >= MAX_GT_LOADS_PER_MAP_RUN) break;
			loads++;
		}
		const table = await walk.table(gdIndex);
		const tableEnd = (gdIndex + 1) * entriesPerTable;
		for (; grain < tableEnd && posBytes < endBytes; grain++, posBytes += grainSizeBytes) {
			const grainKind = walk.kindOf(table, grain % entriesPerTable);
			if (kind === undefined) kind = grainKind;
			else if (grainKind !== kind) return { kind, lengthBytes: posBytes - offsetBytes };
		}
	}
	return { kind: kind ?? 'unallocated', lengthBytes: Math.min(posBytes, endBytes) - offsetBytes };
}
