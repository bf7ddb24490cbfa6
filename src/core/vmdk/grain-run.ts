// SPDX-License-Identifier: MIT
/**
 * The run walk shared by every grain-table reader (hosted sparse, COWD, seSparse): from a byte
 * offset, grain by grain through lazily loaded grain tables, as far as the grains keep the kind
 * of the first one. A missing table is one unallocated span skipped without reading; besides the
 * table of the first grain, at most `MAX_GT_LOADS_PER_MAP_RUN` uncached tables are loaded per
 * call, so one `mapRun` stays cheap on a huge disk (the caller asks again for the rest).
 */
import type { Run, RunKind } from '../disk/extent-reader.js';

/** Tables loaded from the file at most in one walk, after the table of its first grain. */
export const MAX_GT_LOADS_PER_MAP_RUN = 4;

/** What the walk needs to know of a reader's grain directory and tables. */
export interface GrainTableWalk<T> {
	readonly sizeBytes: number;
	readonly grainSizeBytes: number;
	/** Grain-table entries per table. */
	readonly entriesPerTable: number;
	/** The table when known without I/O: null = the directory has none (all unallocated), undefined = not loaded. */
	cachedTable(gdIndex: number): T | null | undefined;
	/** The table, loaded if needed; null when the directory has none. */
	loadTable(gdIndex: number): Promise<T | null>;
	/** The kind of grain `grain` (a disk-wide grain number) in its table; may throw on a damaged entry. */
	kindAt(table: T, grain: number): RunKind;
	/**
	 * The first grain in [grain, stop) of `table` whose kind is not `kind`, or `stop`. A plain
	 * loop over the entries: a walk over an empty 2 TiB disk visits 33 million of them.
	 */
	runEnd(table: T, grain: number, stop: number, kind: RunKind): number;
}

/** The run at `offsetBytes`, at most `maxBytes` long (caller has range-checked the offset). */
export async function walkGrainRun<T>(
	walk: GrainTableWalk<T>,
	offsetBytes: number,
	maxBytes: number,
): Promise<Run> {
	const { grainSizeBytes, entriesPerTable } = walk;
	const endBytes = Math.min(walk.sizeBytes, offsetBytes + Math.max(1, maxBytes));
	const endGrain = Math.ceil(endBytes / grainSizeBytes);
	let grain = Math.floor(offsetBytes / grainSizeBytes);
	let kind: RunKind | undefined;
	let loads = 0;
	while (grain < endGrain) {
		const gdIndex = Math.floor(grain / entriesPerTable);
		const tableEnd = (gdIndex + 1) * entriesPerTable;
		let table = walk.cachedTable(gdIndex);
		if (table === undefined) {
			if (kind !== undefined && loads++ >= MAX_GT_LOADS_PER_MAP_RUN) break;
			table = await walk.loadTable(gdIndex);
		}
		if (table === null) {
			if (kind !== undefined && kind !== 'unallocated') break;
			kind = 'unallocated';
			grain = tableEnd;
			continue;
		}
		if (kind === undefined) kind = walk.kindAt(table, grain++);
		const stop = Math.min(tableEnd, endGrain);
		grain = walk.runEnd(table, grain, stop, kind);
		if (grain < stop) break;
	}
	return {
		kind: kind ?? 'unallocated',
		lengthBytes: Math.min(endBytes, grain * grainSizeBytes) - offsetBytes,
	};
}
