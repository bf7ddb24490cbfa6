// SPDX-License-Identifier: MIT
/**
 * seSparse ("space-efficient sparse") extents, the `SESPARSE` data files of ESXi snapshots and
 * linked clones. The format is not officially documented; we follow QEMU's reader
 * (`block/vmdk.c`, `vmdk_open_se_sparse`) and FORMAT-NOTES.md §5, and are as strict as QEMU:
 *
 * - sector 0 holds the const header (u64 fields, then (offset, size) pairs in sectors for each
 *   region: volatile header, journal header, journal, grain directory, grain tables, free
 *   bitmap, back-map, grains) and zero padding;
 * - the volatile header holds the journal state; an unreplayed journal means the file may be
 *   inconsistent, so it is refused with VMDK_DIRTY_JOURNAL;
 * - grain-directory entries are u64: 0 = unallocated, else `0x10000000` in the top 32 bits and a
 *   grain-table index in the low 32 bits;
 * - grain-table entries are u64 with the kind in the top nibble: 0 unallocated (parent shows
 *   through), 1 SCSI-unmapped and 2 zero (both read as zeros), 3 allocated (cluster number in the
 *   remaining bits, stored as low 12 bits in bits 48..59 and the rest in bits 0..47).
 *
 * Only the layout QEMU knows is read: version 0x0000000200000001, 8-sector (4 KiB) grains and
 * 64-sector grain tables (4096 entries covering 16 MiB). The grain directory is read at open
 * (64 TiB / 16 MiB = 4 Mi entries at most, checked against the file size first); grain tables
 * are loaded lazily into a bounded LRU cache and validated as they are loaded.
 */
import { VmdkError, type ErrorLocation } from '../errors.js';
import { checkLimit, Limits } from '../io/limits.js';
import { assertOffset, Reader } from '../io/reader.js';
import { SECTOR_SIZE_BYTES, sectorsToBytes, toSafeNumber } from '../io/safe-number.js';
import type { RandomAccessFile } from '../platform.js';
import {
	EsxSparseExtent,
	GRAIN_UNALLOCATED,
	type DecodedGrainTable,
	type EsxSparseOpenOptions,
} from './esx-sparse-extent.js';
import { GRAIN_ZEROS } from './grain-reads.js';

/** Const-header magic, a little-endian u64 at byte 0 (QEMU: `SESPARSE_CONST_HEADER_MAGIC`). */
export const SESPARSE_CONST_MAGIC = 0xcafebaben;
/** Volatile-header magic (QEMU: `SESPARSE_VOLATILE_HEADER_MAGIC`). */
export const SESPARSE_VOLATILE_MAGIC = 0xcafecafen;
/** The only const-header version QEMU (and we) read. */
export const SESPARSE_VERSION = 0x0000000200000001n;
/** The only supported grain size, in sectors (4 KiB). */
export const SESPARSE_GRAIN_SIZE_SECTORS = 8;
/** The only supported grain-table size, in sectors (4096 u64 entries). */
export const SESPARSE_GT_SIZE_SECTORS = 64;
/** Size of the const header and of the volatile header, in bytes (one sector each). */
export const SESPARSE_HEADER_SIZE_BYTES = 512;
/** Bytes per grain-directory / grain-table entry. */
export const SESPARSE_ENTRY_SIZE_BYTES = 8;
/** Entries per grain table. */
export const SESPARSE_GT_ENTRIES = (SESPARSE_GT_SIZE_SECTORS * SECTOR_SIZE_BYTES) / SESPARSE_ENTRY_SIZE_BYTES;
/** Grain tables kept in memory per extent by default (32 KiB raw each). */
export const SESPARSE_DEFAULT_GT_CACHE_ENTRIES = 128;

/** Top 32 bits of an allocated grain-directory entry (QEMU's strict check). */
const GD_ALLOCATED_HIGH = 0x10000000;
/** Grain-table entry kinds: the top nibble of the u64 (FORMAT-NOTES.md §5). */
export const SeSparseGteKind = {
	UNALLOCATED: 0x0,
	UNMAPPED: 0x1,
	ZERO: 0x2,
	ALLOCATED: 0x3,
} as const;

/** One (offset, size) pair of the const header, both in sectors. */
export interface SeSparseRegion {
	/** Start of the region, in sectors from the start of the file. */
	readonly offsetSectors: number;
	/** Length of the region, in sectors. */
	readonly sizeSectors: number;
}

/** The parsed const header (sector 0). */
export interface SeSparseConstHeader {
	/** Format version; 0x0000000200000001. */
	readonly version: bigint;
	/** Virtual size of the extent, in sectors. */
	readonly capacitySectors: number;
	/** Grain size, in sectors; 8. */
	readonly grainSizeSectors: number;
	/** Grain-table size, in sectors; 64. */
	readonly grainTableSizeSectors: number;
	/** Flags; 0. */
	readonly flags: bigint;
	/** The volatile header (journal state). */
	readonly volatileHeader: SeSparseRegion;
	/** The journal header. */
	readonly journalHeader: SeSparseRegion;
	/** The journal. */
	readonly journal: SeSparseRegion;
	/** The grain directory (u64 entries). */
	readonly grainDirectory: SeSparseRegion;
	/** The grain tables, 64 sectors each, addressed by index from GD entries. */
	readonly grainTables: SeSparseRegion;
	/** The free-space bitmap. */
	readonly freeBitmap: SeSparseRegion;
	/** The back-map (grain → table entry). */
	readonly backMap: SeSparseRegion;
	/** The grains, addressed by cluster number. */
	readonly grains: SeSparseRegion;
}

/** The parsed volatile header. */
export interface SeSparseVolatileHeader {
	/** Next free grain-table number. */
	readonly freeGtNumber: bigint;
	/** Next journal transaction sequence number. */
	readonly nextTxnSeqNumber: bigint;
	/** Non-zero when the journal must be replayed before the file is consistent. */
	readonly replayJournal: bigint;
}

/** True if `first` (the first bytes of a file) starts with the seSparse const-header magic. */
export function detectSeSparse(first: Uint8Array): boolean {
	if (first.length < 8) return false;
	return new DataView(first.buffer, first.byteOffset, 8).getBigUint64(0, true) === SESPARSE_CONST_MAGIC;
}

/**
 * Parses the const header (the file's first sector). Throws VMDK_BAD_MAGIC, VMDK_TRUNCATED,
 * VMDK_UNSUPPORTED_VERSION (version, grain size, grain-table size, flags) or VMDK_BAD_HEADER.
 */
export function parseSeSparseConstHeader(bytes: Uint8Array, file?: string): SeSparseConstHeader {
	const location: ErrorLocation = { file, offsetBytes: 0 };
	const r = new Reader(bytes, 'seSparse const header', location);
	const magic = r.u64le('magic');
	if (magic !== SESPARSE_CONST_MAGIC) {
		throw new VmdkError(
			'VMDK_BAD_MAGIC',
			`Invalid seSparse const header magic: expected ${hex64(SESPARSE_CONST_MAGIC)}, saw ${hex64(magic)}`,
			location,
		);
	}
	const version = r.u64le('version');
	const capacity = r.u64le('capacity');
	const grainSize = r.u64le('grain_size');
	const grainTableSize = r.u64le('grain_table_size');
	const flags = r.u64le('flags');
	const reserved = [r.u64le('reserved1'), r.u64le('reserved2'), r.u64le('reserved3'), r.u64le('reserved4')];
	const region = (name: string): SeSparseRegion => {
		const offsetAt = r.offset;
		const offset = r.u64le(`${name}_offset`);
		const size = r.u64le(`${name}_size`);
		return {
			offsetSectors: toSafeNumber(offset, `seSparse ${name}_offset`, { file, offsetBytes: offsetAt }),
			sizeSectors: toSafeNumber(size, `seSparse ${name}_size`, { file, offsetBytes: offsetAt + 8 }),
		};
	};
	const volatileHeader = region('volatile_header');
	const journalHeader = region('journal_header');
	const journal = region('journal');
	const grainDirectory = region('grain_dir');
	const grainTables = region('grain_tables');
	const freeBitmap = region('free_bitmap');
	const backMap = region('backmap');
	const grains = region('grains');
	assertOffset(r, 208, 'seSparse const header before padding');
	const pad = r.bytesView(SESPARSE_HEADER_SIZE_BYTES - 208, 'padding');

	if (version !== SESPARSE_VERSION) {
		throw new VmdkError(
			'VMDK_UNSUPPORTED_VERSION',
			`seSparse version ${hex64(version)} is not supported (only ${hex64(SESPARSE_VERSION)})`,
			{ file, offsetBytes: 8 },
		);
	}
	if (grainSize !== BigInt(SESPARSE_GRAIN_SIZE_SECTORS)) {
		throw new VmdkError(
			'VMDK_UNSUPPORTED_VERSION',
			`seSparse grain size ${grainSize} sectors is not supported (only ${SESPARSE_GRAIN_SIZE_SECTORS} sectors = 4 KiB)`,
			{ file, offsetBytes: 24 },
		);
	}
	if (grainTableSize !== BigInt(SESPARSE_GT_SIZE_SECTORS)) {
		throw new VmdkError(
			'VMDK_UNSUPPORTED_VERSION',
			`seSparse grain table size ${grainTableSize} sectors is not supported (only ${SESPARSE_GT_SIZE_SECTORS} sectors)`,
			{ file, offsetBytes: 32 },
		);
	}
	if (flags !== 0n) {
		throw new VmdkError(
			'VMDK_UNSUPPORTED_VERSION',
			`seSparse flags ${hex64(flags)} are not supported (only 0)`,
			{
				file,
				offsetBytes: 40,
			},
		);
	}
	const badReserved = reserved.findIndex((v) => v !== 0n);
	if (badReserved >= 0) {
		throw new VmdkError('VMDK_BAD_HEADER', `seSparse reserved${badReserved + 1} is not zero`, {
			file,
			offsetBytes: 48 + badReserved * 8,
		});
	}
	const badPad = pad.findIndex((b) => b !== 0);
	if (badPad >= 0) {
		throw new VmdkError('VMDK_BAD_HEADER', 'seSparse const header padding is not zero', {
			file,
			offsetBytes: 208 + badPad,
		});
	}
	const capacitySectors = toSafeNumber(capacity, 'seSparse capacity', { file, offsetBytes: 16 });
	if (capacitySectors === 0) {
		throw new VmdkError('VMDK_BAD_HEADER', 'seSparse capacity is 0 sectors', { file, offsetBytes: 16 });
	}
	checkLimit('seSparse capacity (bytes)', sectorsToBytes(capacitySectors), Limits.DISK_MAX_BYTES, {
		file,
		offsetBytes: 16,
	});
	return {
		version,
		capacitySectors,
		grainSizeSectors: SESPARSE_GRAIN_SIZE_SECTORS,
		grainTableSizeSectors: SESPARSE_GT_SIZE_SECTORS,
		flags,
		volatileHeader,
		journalHeader,
		journal,
		grainDirectory,
		grainTables,
		freeBitmap,
		backMap,
		grains,
	};
}

/**
 * Parses the volatile header. Throws VMDK_BAD_MAGIC, VMDK_TRUNCATED, VMDK_BAD_HEADER (non-zero
 * padding) or VMDK_DIRTY_JOURNAL.
 */
export function parseSeSparseVolatileHeader(
	bytes: Uint8Array,
	file?: string,
	atBytes = 0,
): SeSparseVolatileHeader {
	const location: ErrorLocation = { file, offsetBytes: atBytes };
	const r = new Reader(bytes, 'seSparse volatile header', location);
	const magic = r.u64le('magic');
	if (magic !== SESPARSE_VOLATILE_MAGIC) {
		throw new VmdkError(
			'VMDK_BAD_MAGIC',
			`Invalid seSparse volatile header magic: expected ${hex64(SESPARSE_VOLATILE_MAGIC)}, saw ${hex64(magic)}`,
			location,
		);
	}
	const freeGtNumber = r.u64le('free_gt_number');
	const nextTxnSeqNumber = r.u64le('next_txn_seq_number');
	const replayJournal = r.u64le('replay_journal');
	assertOffset(r, 32, 'seSparse volatile header before padding');
	const pad = r.bytesView(SESPARSE_HEADER_SIZE_BYTES - 32, 'padding');
	if (replayJournal !== 0n) {
		throw new VmdkError(
			'VMDK_DIRTY_JOURNAL',
			'seSparse journal has not been replayed (the snapshot was not closed cleanly); power the VM on and off in ESXi, or consolidate, then try again',
			{ file, offsetBytes: atBytes + 24 },
		);
	}
	const badPad = pad.findIndex((b) => b !== 0);
	if (badPad >= 0) {
		throw new VmdkError('VMDK_BAD_HEADER', 'seSparse volatile header padding is not zero', {
			file,
			offsetBytes: atBytes + 32 + badPad,
		});
	}
	return { freeGtNumber, nextTxnSeqNumber, replayJournal };
}

/**
 * Opens a seSparse extent: checks both headers, reads and checks the grain directory; grain
 * tables are read on demand. The returned reader owns `file` (its `close()` closes it); on
 * failure the file is left open for the caller to close.
 */
export async function openSeSparseExtent(
	file: RandomAccessFile,
	options: EsxSparseOpenOptions = {},
): Promise<SeSparseExtent> {
	const path = file.path;
	const constBytes = new Uint8Array(Math.min(SESPARSE_HEADER_SIZE_BYTES, file.sizeBytes));
	await file.readInto(0, constBytes, 0, constBytes.length);
	const header = parseSeSparseConstHeader(constBytes, path);

	// Regions are addressed in sectors; they must lie inside the file before anything is read.
	const volatileAt = regionStartBytes(header.volatileHeader, 'volatile_header', 80, path);
	const volatileBytes = new Uint8Array(
		Math.max(0, Math.min(SESPARSE_HEADER_SIZE_BYTES, file.sizeBytes - volatileAt)),
	);
	if (volatileBytes.length > 0) await file.readInto(volatileAt, volatileBytes, 0, volatileBytes.length);
	const volatileHeader = parseSeSparseVolatileHeader(volatileBytes, path, volatileAt);

	const gdEntries = Math.ceil(header.capacitySectors / (SESPARSE_GT_ENTRIES * SESPARSE_GRAIN_SIZE_SECTORS));
	const gdCapacityEntries =
		(header.grainDirectory.sizeSectors * SECTOR_SIZE_BYTES) / SESPARSE_ENTRY_SIZE_BYTES;
	if (gdCapacityEntries < gdEntries) {
		throw new VmdkError(
			'VMDK_BAD_HEADER',
			`seSparse grain directory of ${header.grainDirectory.sizeSectors} sectors holds ${gdCapacityEntries} entries; the capacity needs ${gdEntries}`,
			{ file: path, offsetBytes: 136 },
		);
	}
	const gdAt = regionStartBytes(header.grainDirectory, 'grain_dir', 128, path);
	const gdLengthBytes = gdEntries * SESPARSE_ENTRY_SIZE_BYTES;
	if (gdAt + gdLengthBytes > file.sizeBytes) {
		throw new VmdkError(
			'VMDK_CORRUPT',
			`seSparse grain directory (${gdEntries} entries at sector ${header.grainDirectory.offsetSectors}) ends past the end of the file (${file.sizeBytes} bytes)`,
			{ file: path, offsetBytes: 128 },
		);
	}
	const gtRegionAt = regionStartBytes(header.grainTables, 'grain_tables', 144, path);
	const grainsAt = regionStartBytes(header.grains, 'grains', 192, path);

	const gdBytes = new Uint8Array(gdLengthBytes);
	await file.readInto(gdAt, gdBytes, 0, gdLengthBytes);
	const gdView = new DataView(gdBytes.buffer);
	const gtSizeBytes = SESPARSE_GT_SIZE_SECTORS * SECTOR_SIZE_BYTES;
	const gtOffsetsBytes = new Float64Array(gdEntries);
	for (let i = 0; i < gdEntries; i++) {
		const lo = gdView.getUint32(i * SESPARSE_ENTRY_SIZE_BYTES, true);
		const hi = gdView.getUint32(i * SESPARSE_ENTRY_SIZE_BYTES + 4, true);
		if (lo === 0 && hi === 0) continue;
		const entryAt = gdAt + i * SESPARSE_ENTRY_SIZE_BYTES;
		if (hi !== GD_ALLOCATED_HIGH) {
			throw new VmdkError(
				'VMDK_CORRUPT',
				`seSparse grain directory entry ${i} is ${hex64((BigInt(hi) << 32n) | BigInt(lo))}: expected 0 or 0x${GD_ALLOCATED_HIGH.toString(16)} in the top 32 bits`,
				{ file: path, offsetBytes: entryAt },
			);
		}
		const gtAt = gtRegionAt + lo * gtSizeBytes;
		if (gtAt + gtSizeBytes > file.sizeBytes) {
			throw new VmdkError(
				'VMDK_CORRUPT',
				`seSparse grain directory entry ${i} names grain table ${lo} at byte ${gtAt}, past the end of the file (${file.sizeBytes} bytes)`,
				{ file: path, offsetBytes: entryAt },
			);
		}
		gtOffsetsBytes[i] = gtAt;
	}
	return new SeSparseExtent(file, {
		header,
		volatileHeader,
		gtOffsetsBytes,
		grainsAtBytes: grainsAt,
		cacheLimit: options.gtCacheEntries ?? SESPARSE_DEFAULT_GT_CACHE_ENTRIES,
	});
}

/** What `openSeSparseExtent` hands to the reader. */
export interface SeSparseLayout {
	/** The const header. */
	readonly header: SeSparseConstHeader;
	/** The volatile header (clean). */
	readonly volatileHeader: SeSparseVolatileHeader;
	/** Byte offset of each grain table in the file, by GD index; 0 = unallocated. */
	readonly gtOffsetsBytes: Float64Array;
	/** Byte offset of the grains region. */
	readonly grainsAtBytes: number;
	/** Grain tables kept in memory. */
	readonly cacheLimit: number;
}

/** A seSparse extent as an ExtentReader. */
export class SeSparseExtent extends EsxSparseExtent {
	/** The const header. */
	readonly header: SeSparseConstHeader;
	/** The volatile header. */
	readonly volatileHeader: SeSparseVolatileHeader;
	/** Byte offset of the grains region. */
	private readonly grainsAtBytes: number;

	constructor(file: RandomAccessFile, layout: SeSparseLayout) {
		super(file, {
			sizeBytes: layout.header.capacitySectors * SECTOR_SIZE_BYTES,
			grainSizeBytes: SESPARSE_GRAIN_SIZE_SECTORS * SECTOR_SIZE_BYTES,
			entriesPerTable: SESPARSE_GT_ENTRIES,
			tableSizeBytes: SESPARSE_GT_ENTRIES * SESPARSE_ENTRY_SIZE_BYTES,
			gtOffsetsBytes: layout.gtOffsetsBytes,
			cacheLimit: layout.cacheLimit,
			what: 'the seSparse extent',
		});
		this.header = layout.header;
		this.volatileHeader = layout.volatileHeader;
		this.grainsAtBytes = layout.grainsAtBytes;
	}

	/** Each entry is a u64 with its kind in the top nibble (see the module comment). */
	protected decodeTable(gdIndex: number, raw: DataView, gtAtBytes: number): DecodedGrainTable {
		const table = new Float64Array(SESPARSE_GT_ENTRIES);
		const fileSize = this.file.sizeBytes;
		for (let i = 0; i < SESPARSE_GT_ENTRIES; i++) {
			const lo = raw.getUint32(i * SESPARSE_ENTRY_SIZE_BYTES, true);
			const hi = raw.getUint32(i * SESPARSE_ENTRY_SIZE_BYTES + 4, true);
			const entryAt = gtAtBytes + i * SESPARSE_ENTRY_SIZE_BYTES;
			const kindNibble = hi >>> 28;
			switch (kindNibble) {
				case SeSparseGteKind.UNALLOCATED:
					if (lo !== 0 || hi !== 0)
						throw this.badEntry(gdIndex, i, hi, lo, entryAt, 'an unallocated entry must be 0');
					table[i] = GRAIN_UNALLOCATED;
					break;
				case SeSparseGteKind.UNMAPPED:
				case SeSparseGteKind.ZERO:
					table[i] = GRAIN_ZEROS;
					break;
				case SeSparseGteKind.ALLOCATED: {
					// Cluster = bits 48..59 as its low 12 bits, bits 0..47 above them.
					const low12 = (hi >>> 16) & 0xfff;
					const rest48 = (hi & 0xffff) * 2 ** 32 + lo;
					const cluster = rest48 * 2 ** 12 + low12;
					const physBytes = this.grainsAtBytes + cluster * this.grainSizeBytes;
					// Region sizes are not checked (QEMU does not either); the file size is what matters.
					if (!Number.isSafeInteger(physBytes) || physBytes + this.grainSizeBytes > fileSize) {
						throw this.badEntry(
							gdIndex,
							i,
							hi,
							lo,
							entryAt,
							`grain ${cluster} lies past the end of the file (${fileSize} bytes)`,
						);
					}
					table[i] = physBytes;
					break;
				}
				default:
					throw this.badEntry(gdIndex, i, hi, lo, entryAt, `unknown entry kind ${kindNibble}`);
			}
		}
		return table;
	}

	private badEntry(gdIndex: number, i: number, hi: number, lo: number, at: number, why: string): VmdkError {
		const value = hex64((BigInt(hi) << 32n) | BigInt(lo));
		return new VmdkError('VMDK_CORRUPT', `seSparse grain table ${gdIndex} entry ${i} is ${value}: ${why}`, {
			file: this.file.path,
			offsetBytes: at,
		});
	}
}

/** Start of a region in bytes; every region we read lies after the const header. */
function regionStartBytes(region: SeSparseRegion, name: string, fieldAt: number, file: string): number {
	const atBytes = sectorsToBytes(region.offsetSectors, `seSparse ${name}_offset`, {
		file,
		offsetBytes: fieldAt,
	});
	if (atBytes < SESPARSE_HEADER_SIZE_BYTES) {
		throw new VmdkError(
			'VMDK_CORRUPT',
			`seSparse ${name}_offset ${region.offsetSectors} (sectors) overlaps the const header`,
			{
				file,
				offsetBytes: fieldAt,
			},
		);
	}
	return atBytes;
}

function hex64(v: bigint): string {
	return `0x${v.toString(16).padStart(16, '0')}`;
}
