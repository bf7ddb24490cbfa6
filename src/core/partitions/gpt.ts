// SPDX-License-Identifier: MIT
/**
 * GUID Partition Table (UEFI spec §5.3): a header at LBA 1 with a CRC32 over itself and over
 * the entry array, and a backup copy at the disk's last LBA. Damaged primaries fall back to
 * the backup with a warning; absurd entry counts or sizes are refused before any allocation.
 */
import type { ByteSource } from '../io/byte-source.js';
import { Reader } from '../io/reader.js';
import { crc32 } from './crc32.js';
import { gptTypeName } from './type-names.js';
import type { Partition } from './types.js';

/** "EFI PART" read as the first 8 header bytes. */
const GPT_SIGNATURE = 'EFI PART';
/** Smallest header the spec allows (revision 1.0 has exactly this many bytes). */
const GPT_HEADER_MIN_BYTES = 92;
/** Offset of the header CRC32 field, zeroed while the CRC is computed. */
const HEADER_CRC_OFFSET = 16;
/** Entries are 128 × 2^n bytes; 128 is what every tool writes. */
const GPT_ENTRY_MIN_BYTES = 128;
/** Largest entry size we accept; a larger one is corrupt (or hostile) and not allocated. */
const GPT_ENTRY_MAX_BYTES = 4096;
/** Most entries we read (tools write 128; sgdisk allows a few thousand). */
const GPT_ENTRIES_MAX = 16384;
/** Largest entry array we read, in bytes. */
const GPT_ENTRY_ARRAY_MAX_BYTES = 4 * 1024 * 1024;
/** Length of the UTF-16LE name field of an entry, in bytes (36 code units). */
const ENTRY_NAME_BYTES = 72;
/** The all-zero GUID marks an unused entry. */
const UNUSED_GUID = '00000000-0000-0000-0000-000000000000';

/** The fields of a GPT header we use (UEFI spec table 5-5). */
export interface GptHeader {
	/** LBA this header says it is at (must equal where it was read). */
	readonly myLba: number;
	/** LBA of the other copy of the header. */
	readonly alternateLba: number;
	/** First LBA usable by partitions. */
	readonly firstUsableLba: number;
	/** Last LBA usable by partitions (inclusive). */
	readonly lastUsableLba: number;
	/** Disk GUID, formatted lower case. */
	readonly diskGuid: string;
	/** LBA of the first sector of the entry array. */
	readonly entriesLba: number;
	/** Number of entries in the array. */
	readonly entryCount: number;
	/** Size of one entry in bytes. */
	readonly entrySizeBytes: number;
	/** CRC32 of the entry array (entryCount × entrySizeBytes bytes). */
	readonly entriesCrc32: number;
}

/** A GPT as read, before clamping to the disk. */
export interface GptTable {
	/** Disk GUID, lower case. */
	readonly diskGuid: string;
	/** Sector size the table was found with (512, or 4096 for 4Kn disks). */
	readonly sectorSizeBytes: number;
	/** Used entries, numbered by slot (Linux `pN` = entry N). */
	readonly partitions: readonly Partition[];
	/** Problems: backup used, CRC mismatches, bad entries. */
	readonly warnings: readonly string[];
}

/**
 * Formats 16 GUID bytes as blkid and sgdisk do: the first three fields are little-endian
 * on disk, the last two big-endian. Lower case.
 */
export function formatGuid(raw: Uint8Array): string {
	const hex = (indexes: number[]): string =>
		indexes.map((i) => (raw[i] ?? 0).toString(16).padStart(2, '0')).join('');
	return [hex([3, 2, 1, 0]), hex([5, 4]), hex([7, 6]), hex([8, 9]), hex([10, 11, 12, 13, 14, 15])].join('-');
}

/** Decodes a NUL-terminated UTF-16LE field. */
function decodeUtf16Name(raw: Uint8Array): string {
	const units: number[] = [];
	for (let i = 0; i + 1 < raw.length; i += 2) {
		const unit = raw[i]! | (raw[i + 1]! << 8);
		if (unit === 0) break;
		units.push(unit);
	}
	return String.fromCharCode(...units);
}

/** Converts a u64 LBA, or returns null when it cannot be a real position. */
function lbaNumber(value: bigint): number | null {
	return value > BigInt(Number.MAX_SAFE_INTEGER) ? null : Number(value);
}

/** True when `[offset, offset+length)` lies inside the source. */
function within(src: ByteSource, offsetBytes: number, length: number): boolean {
	return (
		Number.isSafeInteger(offsetBytes + length) && offsetBytes >= 0 && offsetBytes + length <= src.sizeBytes
	);
}

/** True when the sector at `lba` starts with the GPT signature. */
export async function hasGptSignature(
	src: ByteSource,
	lba: number,
	sectorSizeBytes: number,
): Promise<boolean> {
	const at = lba * sectorSizeBytes;
	if (!within(src, at, GPT_SIGNATURE.length)) return false;
	const sig = await src.read(at, GPT_SIGNATURE.length);
	return String.fromCharCode(...sig) === GPT_SIGNATURE;
}

/** Reads and validates the header at `lba`; returns the reason when it is unusable. */
async function readGptHeader(
	src: ByteSource,
	lba: number,
	sectorSizeBytes: number,
): Promise<GptHeader | string> {
	const offsetBytes = lba * sectorSizeBytes;
	if (!within(src, offsetBytes, sectorSizeBytes)) return `LBA ${lba} is outside the disk`;
	const sector = await src.read(offsetBytes, sectorSizeBytes);
	const r = new Reader(sector, 'GPT header', { offsetBytes });
	if (String.fromCharCode(...r.bytesView(8, 'signature')) !== GPT_SIGNATURE) return 'no "EFI PART" signature';
	r.u32le('revision');
	const headerSize = r.u32le('header size');
	const headerCrc = r.u32le('header CRC32');
	r.skip(4, 'reserved');
	const myLba = lbaNumber(r.u64le('my LBA'));
	const alternateLba = lbaNumber(r.u64le('alternate LBA'));
	const firstUsableLba = lbaNumber(r.u64le('first usable LBA'));
	const lastUsableLba = lbaNumber(r.u64le('last usable LBA'));
	const diskGuid = formatGuid(r.bytesView(16, 'disk GUID'));
	const entriesLba = lbaNumber(r.u64le('partition entry LBA'));
	const entryCount = r.u32le('number of partition entries');
	const entrySizeBytes = r.u32le('size of partition entry');
	const entriesCrc32 = r.u32le('partition entry array CRC32');

	if (headerSize < GPT_HEADER_MIN_BYTES || headerSize > sectorSizeBytes) {
		return `header size ${headerSize} is outside ${GPT_HEADER_MIN_BYTES}..${sectorSizeBytes}`;
	}
	const crcInput = sector.slice(0, headerSize);
	crcInput.fill(0, HEADER_CRC_OFFSET, HEADER_CRC_OFFSET + 4);
	const actualCrc = crc32(crcInput);
	if (actualCrc !== headerCrc) {
		return `header CRC32 mismatch (stored 0x${hex32(headerCrc)}, computed 0x${hex32(actualCrc)})`;
	}
	if (myLba !== lba) return `header says it is at LBA ${myLba ?? 'beyond 2^53'}, read at LBA ${lba}`;
	if (alternateLba === null || firstUsableLba === null || lastUsableLba === null || entriesLba === null) {
		return 'an LBA field exceeds 2^53';
	}
	if (
		entrySizeBytes < GPT_ENTRY_MIN_BYTES ||
		entrySizeBytes > GPT_ENTRY_MAX_BYTES ||
		entrySizeBytes % GPT_ENTRY_MIN_BYTES !== 0
	) {
		return `partition entry size ${entrySizeBytes} is not a multiple of 128 in 128..${GPT_ENTRY_MAX_BYTES}`;
	}
	if (entryCount > GPT_ENTRIES_MAX || entryCount * entrySizeBytes > GPT_ENTRY_ARRAY_MAX_BYTES) {
		return `${entryCount} partition entries of ${entrySizeBytes} bytes exceed our limit of ${GPT_ENTRIES_MAX} entries / ${GPT_ENTRY_ARRAY_MAX_BYTES} bytes`;
	}
	if (!within(src, entriesLba * sectorSizeBytes, entryCount * entrySizeBytes)) {
		return `partition entry array at LBA ${entriesLba} is outside the disk`;
	}
	return {
		myLba,
		alternateLba,
		firstUsableLba,
		lastUsableLba,
		diskGuid,
		entriesLba,
		entryCount,
		entrySizeBytes,
		entriesCrc32,
	};
}

function hex32(value: number): string {
	return value.toString(16).padStart(8, '0');
}

/** Reads a header's entry array (size already bounded by readGptHeader). */
async function readEntryArray(
	src: ByteSource,
	header: GptHeader,
	sectorSizeBytes: number,
): Promise<Uint8Array> {
	return src.read(header.entriesLba * sectorSizeBytes, header.entryCount * header.entrySizeBytes);
}

/**
 * Reads the GPT with the given sector size: the primary at LBA 1, else the backup at the
 * primary's alternate LBA or the disk's last LBA. Returns null plus the reasons when no
 * usable header exists.
 */
export async function readGpt(
	src: ByteSource,
	sectorSizeBytes: number,
): Promise<{ table: GptTable | null; warnings: string[] }> {
	const warnings: string[] = [];
	const primary = await readGptHeader(src, 1, sectorSizeBytes);
	const lastLba = Math.floor(src.sizeBytes / sectorSizeBytes) - 1;
	const backupLbas = new Set<number>();
	if (typeof primary !== 'string' && primary.alternateLba !== 1) backupLbas.add(primary.alternateLba);
	if (lastLba > 1) backupLbas.add(lastLba);

	if (typeof primary !== 'string') {
		const entries = await readEntryArray(src, primary, sectorSizeBytes);
		if (crc32(entries) === primary.entriesCrc32) {
			// Like `sgdisk -v`, say when the copy that would rescue a future failure is gone.
			const backup = await readGptHeader(src, primary.alternateLba, sectorSizeBytes);
			if (typeof backup === 'string') {
				warnings.push(
					`backup GPT header at LBA ${primary.alternateLba} is unusable (${backup}); the primary is fine`,
				);
			}
			return { table: decodeTable(primary, entries, sectorSizeBytes, warnings), warnings };
		}
	}
	const primaryProblem =
		typeof primary === 'string'
			? `primary GPT header is damaged (${primary})`
			: 'primary GPT entry array fails its CRC32';

	for (const lba of backupLbas) {
		const backup = await readGptHeader(src, lba, sectorSizeBytes);
		if (typeof backup === 'string') {
			warnings.push(`backup GPT header at LBA ${lba} is unusable (${backup})`);
			continue;
		}
		const entries = await readEntryArray(src, backup, sectorSizeBytes);
		if (crc32(entries) !== backup.entriesCrc32) {
			warnings.push(`backup GPT entry array at LBA ${backup.entriesLba} fails its CRC32`);
			continue;
		}
		warnings.unshift(`${primaryProblem}; using the backup GPT header at LBA ${lba}`);
		return { table: decodeTable(backup, entries, sectorSizeBytes, warnings), warnings };
	}
	if (typeof primary !== 'string') {
		// Both arrays fail their CRC: the primary entries are still the best guess, flagged.
		warnings.unshift(`${primaryProblem} and no valid backup exists; partitions may be wrong`);
		const entries = await readEntryArray(src, primary, sectorSizeBytes);
		return { table: decodeTable(primary, entries, sectorSizeBytes, warnings), warnings };
	}
	warnings.unshift(`${primaryProblem} and no valid backup exists`);
	return { table: null, warnings };
}

/** Turns the entry array into partitions, skipping unused and inverted entries. */
function decodeTable(
	header: GptHeader,
	entries: Uint8Array,
	sectorSizeBytes: number,
	warnings: string[],
): GptTable {
	const partitions: Partition[] = [];
	const base = header.entriesLba * sectorSizeBytes;
	for (let i = 0; i < header.entryCount; i++) {
		const at = i * header.entrySizeBytes;
		const r = new Reader(entries.subarray(at, at + header.entrySizeBytes), 'GPT partition entry', {
			offsetBytes: base + at,
		});
		const typeGuid = formatGuid(r.bytesView(16, 'partition type GUID'));
		if (typeGuid === UNUSED_GUID) continue;
		const uuid = formatGuid(r.bytesView(16, 'unique partition GUID'));
		const firstLba = lbaNumber(r.u64le('starting LBA'));
		const lastLba = lbaNumber(r.u64le('ending LBA'));
		r.u64le('attributes');
		const name = decodeUtf16Name(r.bytesView(ENTRY_NAME_BYTES, 'partition name'));
		const index = i + 1;
		if (firstLba === null || lastLba === null || lastLba < firstLba) {
			warnings.push(`GPT entry ${index} has an invalid LBA range; skipped`);
			continue;
		}
		const startBytes = firstLba * sectorSizeBytes;
		const sizeBytes = (lastLba - firstLba + 1) * sectorSizeBytes;
		if (!Number.isSafeInteger(startBytes + sizeBytes)) {
			warnings.push(`GPT entry ${index} lies beyond 2^53 bytes; skipped`);
			continue;
		}
		partitions.push({
			index,
			startBytes,
			sizeBytes,
			typeId: typeGuid,
			typeName: gptTypeName(typeGuid),
			name,
			uuid,
		});
	}
	return { diskGuid: header.diskGuid, sectorSizeBytes, partitions, warnings };
}
