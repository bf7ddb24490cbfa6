// SPDX-License-Identifier: MIT
// Builds seSparse extent files in memory, for unit tests, the qemu-img differential and snapshot
// chains. Layout (docs/vmdk-format.md §5, QEMU block/vmdk.c), in sectors: 0 const header, 1
// volatile header, 2 journal header, 3 journal, 4.. grain directory, then grain tables (64 sectors
// each), free bitmap, back-map (one sector each) and the grains (8 sectors each).
import { bytes, u64le, zeros } from './bytes.js';

const SECTOR = 512;
const GRAIN_SECTORS = 8;
const GRAIN_BYTES = GRAIN_SECTORS * SECTOR;
const GT_SECTORS = 64;
const GT_ENTRIES = (GT_SECTORS * SECTOR) / 8;

/** Kind nibbles of grain-table entries. */
const GTE_UNMAPPED = 0x1n << 60n;
const GTE_ZERO = 0x2n << 60n;
const GTE_ALLOCATED = 0x3n << 60n;

/** An (offset, size) pair in sectors. */
export interface SeSparseRegionFields {
	offsetSectors: number;
	sizeSectors: number;
}

/** Const-header fields a test may override. */
export interface SeSparseConstHeaderFields {
	/** 0xcafebabe. */
	magic?: bigint;
	/** 0x0000000200000001. */
	version?: bigint;
	/** Virtual size, in sectors. */
	capacitySectors: number;
	/** 8 (sectors). */
	grainSizeSectors?: number;
	/** 64 (sectors). */
	grainTableSizeSectors?: number;
	/** 0. */
	flags?: bigint;
	/** reserved1..4; zeros. */
	reserved?: [bigint, bigint, bigint, bigint];
	// The regions, as (offset, size) in sectors, in header order.
	volatileHeader: SeSparseRegionFields;
	journalHeader: SeSparseRegionFields;
	journal: SeSparseRegionFields;
	grainDirectory: SeSparseRegionFields;
	grainTables: SeSparseRegionFields;
	freeBitmap: SeSparseRegionFields;
	backMap: SeSparseRegionFields;
	grains: SeSparseRegionFields;
}

const region = (r: SeSparseRegionFields): Uint8Array => bytes(u64le(r.offsetSectors), u64le(r.sizeSectors));

/** The 512-byte const header, one field a line. */
export function seSparseConstHeader(f: SeSparseConstHeaderFields): Uint8Array {
	const reserved = f.reserved ?? [0n, 0n, 0n, 0n];
	return bytes(
		u64le(f.magic ?? 0xcafebaben), // magic
		u64le(f.version ?? 0x0000000200000001n), // version
		u64le(f.capacitySectors), // capacity (sectors)
		u64le(f.grainSizeSectors ?? GRAIN_SECTORS), // grain_size (sectors)
		u64le(f.grainTableSizeSectors ?? GT_SECTORS), // grain_table_size (sectors)
		u64le(f.flags ?? 0n), // flags
		u64le(reserved[0]), // reserved1
		u64le(reserved[1]), // reserved2
		u64le(reserved[2]), // reserved3
		u64le(reserved[3]), // reserved4
		region(f.volatileHeader), // volatile_header_offset, _size
		region(f.journalHeader), // journal_header_offset, _size
		region(f.journal), // journal_offset, _size
		region(f.grainDirectory), // grain_dir_offset, _size
		region(f.grainTables), // grain_tables_offset, _size
		region(f.freeBitmap), // free_bitmap_offset, _size
		region(f.backMap), // backmap_offset, _size
		region(f.grains), // grains_offset, _size
		zeros(304), // pad → 512
	);
}

/** Volatile-header fields a test may override. */
export interface SeSparseVolatileHeaderFields {
	/** 0xcafecafe. */
	magic?: bigint;
	/** Next free grain-table number. */
	freeGtNumber?: bigint;
	/** Next journal transaction number. */
	nextTxnSeqNumber?: bigint;
	/** Non-zero = dirty (refused by readers). */
	replayJournal?: bigint;
}

/** The 512-byte volatile header, one field a line. */
function seSparseVolatileHeader(f: SeSparseVolatileHeaderFields = {}): Uint8Array {
	return bytes(
		u64le(f.magic ?? 0xcafecafen), // magic
		u64le(f.freeGtNumber ?? 0n), // free_gt_number
		u64le(f.nextTxnSeqNumber ?? 1n), // next_txn_seq_number
		u64le(f.replayJournal ?? 0n), // replay_journal
		zeros(480), // pad → 512
	);
}

/** A GT entry for an allocated grain stored at `cluster` (QEMU's bit layout, inverted). */
export function seSparseAllocatedEntry(cluster: number): bigint {
	const c = BigInt(cluster);
	return GTE_ALLOCATED | ((c & 0xfffn) << 48n) | (c >> 12n);
}

/** What to put in a built seSparse extent. */
export interface SeSparseBuildOptions {
	capacitySectors: number;
	/** Allocated 4 KiB grains by grain index; shorter data is zero-padded. */
	grains?: ReadonlyMap<number, Uint8Array>;
	/** Grains marked "zero" (kind 2). */
	zeroGrains?: Iterable<number>;
	/** Grains marked "SCSI unmapped" (kind 1). */
	unmappedGrains?: Iterable<number>;
	/** Physical order of data grains; `ascending` keeps neighbours contiguous. */
	grainOrder?: 'ascending' | 'descending';
	/** Const-header overrides (applied over the computed layout). */
	constHeader?: Partial<SeSparseConstHeaderFields>;
	/** Volatile-header overrides. */
	volatileHeader?: SeSparseVolatileHeaderFields;
}

/** A built extent and where its parts are, for corruption tests. */
export interface SeSparseBuilt {
	bytes: Uint8Array;
	/** The const-header fields written (regions in sectors). */
	header: SeSparseConstHeaderFields;
	gdOffsetBytes: number;
	/** Byte offset of each grain table, by directory index. */
	gtOffsetBytes: Map<number, number>;
	/** Byte offset of each data grain, by grain index. */
	grainOffsetBytes: Map<number, number>;
}

/** Builds a seSparse extent and reports its layout. */
export function buildSeSparseExtentWithLayout(o: SeSparseBuildOptions): SeSparseBuilt {
	const grains = o.grains ?? new Map<number, Uint8Array>();
	const kinds = new Map<number, 'data' | 'zero' | 'unmapped'>();
	for (const g of o.unmappedGrains ?? []) kinds.set(g, 'unmapped');
	for (const g of o.zeroGrains ?? []) kinds.set(g, 'zero');
	for (const g of grains.keys()) kinds.set(g, 'data');
	for (const g of kinds.keys()) {
		if (g * GRAIN_SECTORS >= o.capacitySectors) throw new Error(`grain ${g} is past the capacity`);
	}

	const gdEntries = Math.ceil(o.capacitySectors / (GT_ENTRIES * GRAIN_SECTORS));
	const gdSectors = Math.max(1, Math.ceil((gdEntries * 8) / SECTOR));
	const tables = [...new Set([...kinds.keys()].map((g) => Math.floor(g / GT_ENTRIES)))].sort((a, b) => a - b);
	const dataGrains = [...grains.keys()].sort((a, b) => a - b);
	if (o.grainOrder === 'descending') dataGrains.reverse();

	const gdAt = 4;
	const gtAt = gdAt + gdSectors;
	const gtSectors = Math.max(1, tables.length) * GT_SECTORS;
	const bitmapAt = gtAt + gtSectors;
	const backMapAt = bitmapAt + 1;
	const grainsAt = backMapAt + 1;
	const header: SeSparseConstHeaderFields = {
		capacitySectors: o.capacitySectors,
		volatileHeader: { offsetSectors: 1, sizeSectors: 1 },
		journalHeader: { offsetSectors: 2, sizeSectors: 1 },
		journal: { offsetSectors: 3, sizeSectors: 1 },
		grainDirectory: { offsetSectors: gdAt, sizeSectors: gdSectors },
		grainTables: { offsetSectors: gtAt, sizeSectors: gtSectors },
		freeBitmap: { offsetSectors: bitmapAt, sizeSectors: 1 },
		backMap: { offsetSectors: backMapAt, sizeSectors: 1 },
		grains: { offsetSectors: grainsAt, sizeSectors: Math.max(1, dataGrains.length) * GRAIN_SECTORS },
		...o.constHeader,
	};

	const out = new Uint8Array((grainsAt + dataGrains.length * GRAIN_SECTORS) * SECTOR);
	out.set(seSparseConstHeader(header), 0);
	out.set(seSparseVolatileHeader(o.volatileHeader), SECTOR);
	const view = new DataView(out.buffer);
	const gtOffsetBytes = new Map<number, number>();
	tables.forEach((t, index) => {
		view.setBigUint64(gdAt * SECTOR + t * 8, (0x10000000n << 32n) | BigInt(index), true);
		gtOffsetBytes.set(t, (gtAt + index * GT_SECTORS) * SECTOR);
	});
	const grainOffsetBytes = new Map<number, number>();
	dataGrains.forEach((g, cluster) => grainOffsetBytes.set(g, (grainsAt + cluster * GRAIN_SECTORS) * SECTOR));
	const clusterOf = new Map(dataGrains.map((g, cluster) => [g, cluster]));
	for (const [g, kind] of kinds) {
		const entryAt = (gtOffsetBytes.get(Math.floor(g / GT_ENTRIES)) ?? 0) + (g % GT_ENTRIES) * 8;
		let entry: bigint;
		if (kind === 'data') {
			entry = seSparseAllocatedEntry(clusterOf.get(g) ?? 0);
			const data = grains.get(g) ?? new Uint8Array(0);
			if (data.length > GRAIN_BYTES) throw new Error(`grain ${g} data is longer than a grain`);
			out.set(data, grainOffsetBytes.get(g) ?? 0);
		} else {
			entry = kind === 'zero' ? GTE_ZERO : GTE_UNMAPPED;
		}
		view.setBigUint64(entryAt, entry, true);
	}
	return { bytes: out, header, gdOffsetBytes: gdAt * SECTOR, gtOffsetBytes, grainOffsetBytes };
}

/** Builds a seSparse extent file's bytes. */
export function buildSeSparseExtent(o: SeSparseBuildOptions): Uint8Array {
	return buildSeSparseExtentWithLayout(o).bytes;
}
