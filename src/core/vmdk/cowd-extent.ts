// SPDX-License-Identifier: MIT
/**
 * ESX sparse extents ("COWD", the `VMFSSPARSE` redo logs of vmfsSparse snapshots): a 2048-byte
 * header, a grain directory of u32 sector numbers, grain tables of 4096 u32 sector numbers, and
 * grains. An entry of 0 means "not in this layer", so the parent shows through.
 *
 * Layout: FORMAT-NOTES.md §3 (libyal field offsets), cross-checked against QEMU's
 * `block/vmdk.c` (`vmdk_open_vmfs_sparse`), which is also our differential peer.
 *
 * Decisions:
 * - Only header version 1 is read (the only one VMware writes); flags are kept but not
 *   interpreted, as QEMU does.
 * - The grain directory is read whole at open (at most 2^20 entries = 4 MiB for the 2 TiB COWD
 *   maximum); grain tables are loaded lazily into a bounded LRU cache and validated entry by
 *   entry on load, so a bad pointer is reported with its own file offset.
 * - A grain must lie wholly inside the file; a grain directory shorter than the capacity needs
 *   is refused rather than read as holes.
 */
import { VmdkError, type ErrorLocation } from '../errors.js';
import { checkLimit, Limits } from '../io/limits.js';
import { assertOffset, Reader } from '../io/reader.js';
import { SECTOR_SIZE_BYTES } from '../io/safe-number.js';
import type { RandomAccessFile } from '../platform.js';
import { EsxSparseExtent, type DecodedGrainTable, type EsxSparseOpenOptions } from './esx-sparse-extent.js';

/** `'COWD'` as the first four bytes, read as a little-endian u32 (QEMU: `VMDK3_MAGIC`). */
export const COWD_MAGIC = 0x44574f43;
/** The only header version VMware writes. */
export const COWD_VERSION = 1;
/** Size of the COWD header in bytes (4 sectors). */
export const COWD_HEADER_SIZE_BYTES = 2048;
/** Entries per grain table: fixed at 4096 u32 for COWD (QEMU passes 4096 as the L2 size). */
export const COWD_GT_ENTRIES = 4096;
/** Bytes per grain-directory or grain-table entry (a u32 sector number). */
export const COWD_ENTRY_SIZE_BYTES = 4;
/** Bytes of one grain table. */
export const COWD_GT_SIZE_BYTES = COWD_GT_ENTRIES * COWD_ENTRY_SIZE_BYTES;
/** Grain tables kept in memory per extent by default (16 KiB each, so 4 MiB). */
export const COWD_DEFAULT_GT_CACHE_ENTRIES = 256;

const NAME_FIELD_BYTES = 60;
const DESCRIPTION_FIELD_BYTES = 512;
const PARENT_FILE_NAME_BYTES = 1024;

/** The parsed COWD header (FORMAT-NOTES.md §3). */
export interface CowdHeader {
	/** Header version; 1. */
	readonly version: number;
	/** Header flags (3 in files seen); kept, not interpreted. */
	readonly flags: number;
	/** Virtual size of the extent, in sectors (`numSectors`). */
	readonly capacitySectors: number;
	/** Grain size in sectors (`grainSize`); ESX writes 1, QEMU reads any. */
	readonly grainSizeSectors: number;
	/** Sector of the grain directory (`gdOffset`; 4 = right after the header). */
	readonly gdOffsetSectors: number;
	/** Entries in the grain directory as written (`numGDEntries`). */
	readonly numGdEntries: number;
	/** Next free sector of the file (`freeSector`); informational. */
	readonly freeSector: number;
	/**
	 * NUL-terminated parent path of a child redo log (bytes 32..1056). Usually empty in modern
	 * deltas, where the chain comes from the descriptor; a root disk keeps geometry here instead,
	 * so this is only meaningful for children.
	 */
	readonly parentFileName: string;
	/** Parent's generation for a child redo log (u32 at byte 1056). */
	readonly parentGeneration: number;
	/** Generation counter of this file. */
	readonly generation: number;
	/** Free-text name (60 bytes, NUL-terminated). */
	readonly name: string;
	/** Free-text description (512 bytes, NUL-terminated). */
	readonly description: string;
	/** Generation at the last clean save. */
	readonly savedGeneration: number;
	/** Non-zero if the writer did not shut down cleanly. */
	readonly uncleanShutdown: number;
}

/** True if `first` (the first bytes of a file) starts with the COWD signature. */
export function detectCowd(first: Uint8Array): boolean {
	return (
		first.length >= 4 && first[0] === 0x43 && first[1] === 0x4f && first[2] === 0x57 && first[3] === 0x44
	);
}

/**
 * Parses a COWD header from the first bytes of an extent file. Throws VMDK_BAD_MAGIC,
 * VMDK_TRUNCATED (at the field that does not fit), VMDK_UNSUPPORTED_VERSION or VMDK_BAD_HEADER.
 */
export function parseCowdHeader(bytes: Uint8Array, file?: string): CowdHeader {
	const location: ErrorLocation = { file, offsetBytes: 0 };
	const r = new Reader(bytes, 'COWD header', location);
	const magic = r.u32le('magic');
	if (magic !== COWD_MAGIC) {
		throw new VmdkError(
			'VMDK_BAD_MAGIC',
			`Invalid COWD header magic: expected ${hex32(COWD_MAGIC)} ('COWD'), saw ${hex32(magic)}`,
			location,
		);
	}
	const version = r.u32le('version');
	const flags = r.u32le('flags');
	const capacitySectors = r.u32le('numSectors');
	const grainSizeSectors = r.u32le('grainSize');
	const gdOffsetSectors = r.u32le('gdOffset');
	const numGdEntries = r.u32le('numGDEntries');
	const freeSector = r.u32le('freeSector');
	// Union: root disks keep cylinders/heads/sectors here, children the parent's name + generation.
	const parentFileName = cString(r.bytesView(PARENT_FILE_NAME_BYTES, 'parentFileName'));
	const parentGeneration = r.u32le('parentGeneration');
	const generation = r.u32le('generation');
	const name = cString(r.bytesView(NAME_FIELD_BYTES, 'name'));
	const description = cString(r.bytesView(DESCRIPTION_FIELD_BYTES, 'description'));
	const savedGeneration = r.u32le('savedGeneration');
	r.skip(8, 'reserved');
	const uncleanShutdown = r.u32le('uncleanShutdown');
	assertOffset(r, 1652, 'COWD header before padding');
	r.skip(COWD_HEADER_SIZE_BYTES - 1652, 'padding');

	if (version !== COWD_VERSION) {
		throw new VmdkError(
			'VMDK_UNSUPPORTED_VERSION',
			`COWD header version ${version} is not supported (only ${COWD_VERSION})`,
			{ file, offsetBytes: 4 },
		);
	}
	if (capacitySectors === 0) {
		throw new VmdkError('VMDK_BAD_HEADER', 'COWD numSectors (capacity) is 0', { file, offsetBytes: 12 });
	}
	if (grainSizeSectors === 0) {
		throw new VmdkError('VMDK_BAD_HEADER', 'COWD grainSize is 0 sectors', { file, offsetBytes: 16 });
	}
	checkLimit('COWD grainSize (sectors)', grainSizeSectors, Limits.GRAIN_MAX_SECTORS, {
		file,
		offsetBytes: 16,
	});
	const neededGdEntries = Math.ceil(capacitySectors / (COWD_GT_ENTRIES * grainSizeSectors));
	if (numGdEntries < neededGdEntries) {
		throw new VmdkError(
			'VMDK_BAD_HEADER',
			`COWD numGDEntries ${numGdEntries} is too small: ${capacitySectors} sectors in grains of ${grainSizeSectors} need ${neededGdEntries}`,
			{ file, offsetBytes: 24 },
		);
	}
	if (gdOffsetSectors * SECTOR_SIZE_BYTES < COWD_HEADER_SIZE_BYTES) {
		throw new VmdkError(
			'VMDK_CORRUPT',
			`COWD gdOffset ${gdOffsetSectors} (sectors) overlaps the ${COWD_HEADER_SIZE_BYTES}-byte header`,
			{ file, offsetBytes: 20 },
		);
	}
	return {
		version,
		flags,
		capacitySectors,
		grainSizeSectors,
		gdOffsetSectors,
		numGdEntries,
		freeSector,
		parentFileName,
		parentGeneration,
		generation,
		name,
		description,
		savedGeneration,
		uncleanShutdown,
	};
}

/**
 * Opens a COWD extent. Reads and checks the header and the grain directory; grain tables are
 * read on demand. The returned reader owns `file` (its `close()` closes it); on failure the file
 * is left open for the caller to close.
 */
export async function openCowdExtent(
	file: RandomAccessFile,
	options: EsxSparseOpenOptions = {},
): Promise<CowdExtent> {
	const headBytes = new Uint8Array(Math.min(COWD_HEADER_SIZE_BYTES, file.sizeBytes));
	await file.readInto(0, headBytes, 0, headBytes.length);
	const header = parseCowdHeader(headBytes, file.path);

	const gdEntries = Math.ceil(header.capacitySectors / (COWD_GT_ENTRIES * header.grainSizeSectors));
	const gdOffsetBytes = header.gdOffsetSectors * SECTOR_SIZE_BYTES;
	const gdBytesLength = gdEntries * COWD_ENTRY_SIZE_BYTES;
	if (gdOffsetBytes + gdBytesLength > file.sizeBytes) {
		throw new VmdkError(
			'VMDK_CORRUPT',
			`COWD grain directory (${gdEntries} entries at sector ${header.gdOffsetSectors}) ends past the end of the file (${file.sizeBytes} bytes)`,
			{ file: file.path, offsetBytes: 20 },
		);
	}
	const gdBytes = new Uint8Array(gdBytesLength);
	await file.readInto(gdOffsetBytes, gdBytes, 0, gdBytesLength);
	const gdView = new DataView(gdBytes.buffer, gdBytes.byteOffset, gdBytes.byteLength);
	const gtOffsetsBytes = new Float64Array(gdEntries);
	for (let i = 0; i < gdEntries; i++) {
		const gtSector = gdView.getUint32(i * COWD_ENTRY_SIZE_BYTES, true);
		if (gtSector === 0) continue;
		const gtOffsetBytes = gtSector * SECTOR_SIZE_BYTES;
		if (gtOffsetBytes < COWD_HEADER_SIZE_BYTES || gtOffsetBytes + COWD_GT_SIZE_BYTES > file.sizeBytes) {
			throw new VmdkError(
				'VMDK_CORRUPT',
				`COWD grain directory entry ${i} points at sector ${gtSector}, outside the file (${file.sizeBytes} bytes) or inside the header`,
				{ file: file.path, offsetBytes: gdOffsetBytes + i * COWD_ENTRY_SIZE_BYTES },
			);
		}
		gtOffsetsBytes[i] = gtOffsetBytes;
	}
	return new CowdExtent(
		file,
		header,
		gtOffsetsBytes,
		options.gtCacheEntries ?? COWD_DEFAULT_GT_CACHE_ENTRIES,
	);
}

/** A COWD extent as an ExtentReader. Unallocated grains are `unallocated` runs. */
export class CowdExtent extends EsxSparseExtent {
	/** The parsed header. */
	readonly header: CowdHeader;

	constructor(file: RandomAccessFile, header: CowdHeader, gtOffsetsBytes: Float64Array, cacheLimit: number) {
		super(file, {
			sizeBytes: header.capacitySectors * SECTOR_SIZE_BYTES,
			grainSizeBytes: header.grainSizeSectors * SECTOR_SIZE_BYTES,
			entriesPerTable: COWD_GT_ENTRIES,
			tableSizeBytes: COWD_GT_SIZE_BYTES,
			gtOffsetsBytes,
			cacheLimit,
			what: 'the COWD extent',
		});
		this.header = header;
	}

	/** Each entry is a sector; a grain there must lie wholly inside the file, after the header. */
	protected decodeTable(gdIndex: number, raw: DataView, gtAtBytes: number): DecodedGrainTable {
		const table = new Float64Array(COWD_GT_ENTRIES);
		const fileSize = this.file.sizeBytes;
		for (let i = 0; i < COWD_GT_ENTRIES; i++) {
			const sector = raw.getUint32(i * COWD_ENTRY_SIZE_BYTES, true);
			if (sector === 0) continue;
			const phys = sector * SECTOR_SIZE_BYTES;
			if (phys < COWD_HEADER_SIZE_BYTES || phys + this.grainSizeBytes > fileSize) {
				throw new VmdkError(
					'VMDK_CORRUPT',
					`COWD grain table ${gdIndex} entry ${i} points at sector ${sector}, a grain of ${this.grainSizeBytes} bytes there is outside the file (${fileSize} bytes) or inside the header`,
					{ file: this.file.path, offsetBytes: gtAtBytes + i * COWD_ENTRY_SIZE_BYTES },
				);
			}
			table[i] = phys;
		}
		return table;
	}
}

/** Decodes a NUL-terminated text field. */
function cString(field: Uint8Array): string {
	const nul = field.indexOf(0);
	return new TextDecoder('utf-8').decode(nul < 0 ? field : field.subarray(0, nul));
}

function hex32(v: number): string {
	return `0x${v.toString(16).padStart(8, '0')}`;
}
