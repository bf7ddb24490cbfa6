// SPDX-License-Identifier: MIT
/**
 * Master Boot Record: four primary entries at byte 446, the 0x55AA signature at 510, and the
 * chain of Extended Boot Records that holds logical partitions. Numbering follows Linux:
 * primaries by slot (p1..p4), logical partitions from p5 in chain order.
 */
import type { ByteSource } from '../io/byte-source.js';
import { Reader, assertOffset } from '../io/reader.js';
import type { Partition } from './types.js';
import { formatMbrTypeId, mbrTypeName } from './type-names.js';

/** MBR sector size; the LBA fields of MBR entries count 512-byte sectors. */
const MBR_SECTOR_SIZE_BYTES = 512;
/** Offset of the 32-bit disk signature (Windows disk id). */
const DISK_SIGNATURE_OFFSET = 440;
/** Offset of the first of the four 16-byte partition entries. */
const ENTRY_TABLE_OFFSET = 446;
/** Size of one partition entry. */
const ENTRY_SIZE_BYTES = 16;
/** Entries in an MBR or EBR. */
const ENTRY_COUNT = 4;
/** Offset of the boot signature bytes 0x55 0xAA. */
const BOOT_SIGNATURE_OFFSET = 510;
/** Linux stops after this many logical partitions; a longer chain is corrupt or hostile. */
const MBR_LOGICAL_MAX = 128;
/** Type byte of the GPT protective entry. */
export const MBR_TYPE_GPT_PROTECTIVE = 0xee;
/** Type bytes of extended (container) partitions: DOS, Windows LBA, Linux. */
const EXTENDED_TYPES: ReadonlySet<number> = new Set([0x05, 0x0f, 0x85]);
/** Boot-indicator values allowed in an entry; anything else means this is not an MBR. */
const BOOT_FLAG_ACTIVE = 0x80;

/** One 16-byte entry as stored (CHS fields are ignored: LBA is authoritative). */
export interface MbrEntry {
	/** Slot 0..3 in its sector. */
	readonly slot: number;
	/** Boot indicator byte (0x00 or 0x80). */
	readonly bootFlag: number;
	/** System id byte. */
	readonly type: number;
	/** First sector, relative to the MBR (primary) or as the EBR rules say (logical). */
	readonly startLba: number;
	/** Length in sectors. */
	readonly sectorCount: number;
}

/** What the MBR holds before clamping to the disk. */
export interface MbrTable {
	/** Disk signature as `0x` + 8 hex digits. */
	readonly diskSignature: string;
	/** Data partitions: primaries (not extended, not 0xee) then logical ones. */
	readonly partitions: readonly Partition[];
	/** The raw primary entries, non-empty ones only. */
	readonly primaryEntries: readonly MbrEntry[];
	/** True when at least one primary entry has type 0xEE (a GPT follows). */
	readonly hasProtectiveEntry: boolean;
	/** Problems met while reading (EBR loops, links that leave the disk). */
	readonly warnings: readonly string[];
}

function isExtended(type: number): boolean {
	return EXTENDED_TYPES.has(type);
}

/** Reads the four entries of an MBR/EBR sector; null when a boot flag is invalid. */
function parseEntries(sector: Uint8Array, offsetBytes: number): MbrEntry[] | null {
	const reader = new Reader(sector, 'MBR partition entries', { offsetBytes });
	reader.skip(ENTRY_TABLE_OFFSET, 'boot code');
	const entries: MbrEntry[] = [];
	for (let slot = 0; slot < ENTRY_COUNT; slot++) {
		const bootFlag = reader.u8('boot indicator');
		reader.skip(3, 'CHS first');
		const type = reader.u8('system id');
		reader.skip(3, 'CHS last');
		const startLba = reader.u32le('first LBA');
		const sectorCount = reader.u32le('sector count');
		if (bootFlag !== 0 && bootFlag !== BOOT_FLAG_ACTIVE) return null;
		entries.push({ slot, bootFlag, type, startLba, sectorCount });
	}
	assertOffset(reader, ENTRY_TABLE_OFFSET + ENTRY_COUNT * ENTRY_SIZE_BYTES, 'MBR entries');
	return entries;
}

function hasBootSignature(sector: Uint8Array): boolean {
	return sector[BOOT_SIGNATURE_OFFSET] === 0x55 && sector[BOOT_SIGNATURE_OFFSET + 1] === 0xaa;
}

/**
 * True when sector 0 is a FAT/NTFS/exFAT boot sector rather than an MBR: those carry 0x55AA
 * too, and a filesystem written to the whole disk (old Xen images) must not be read as a table.
 */
function looksLikeVolumeBootRecord(sector: Uint8Array): boolean {
	const text = (at: number, length: number): string =>
		String.fromCharCode(...sector.subarray(at, at + length));
	const jump = sector[0];
	if (jump !== 0xeb && jump !== 0xe9) return false;
	const oem = text(3, 8);
	if (oem === 'NTFS    ' || oem === 'EXFAT   ') return true;
	// FAT12/16 keep the type string at 54, FAT32 at 82.
	return text(54, 5) === 'FAT12' || text(54, 5) === 'FAT16' || text(82, 5) === 'FAT32';
}

function entryToPartition(
	entry: MbrEntry,
	index: number,
	firstLba: number,
	kind: 'primary' | 'logical',
): Partition {
	return {
		index,
		startBytes: firstLba * MBR_SECTOR_SIZE_BYTES,
		sizeBytes: entry.sectorCount * MBR_SECTOR_SIZE_BYTES,
		typeId: formatMbrTypeId(entry.type),
		typeName: mbrTypeName(entry.type),
		bootable: entry.bootFlag === BOOT_FLAG_ACTIVE,
		mbrKind: kind,
	};
}

/**
 * Reads the MBR at byte 0 and its logical-partition chain. Returns null when sector 0 is not
 * an MBR (no 0x55AA, invalid boot flags, a filesystem boot sector, or no entry in use).
 * Never throws for bad content; problems become warnings.
 */
export async function readMbr(src: ByteSource): Promise<MbrTable | null> {
	if (src.sizeBytes < MBR_SECTOR_SIZE_BYTES) return null;
	const sector = await src.read(0, MBR_SECTOR_SIZE_BYTES);
	if (!hasBootSignature(sector) || looksLikeVolumeBootRecord(sector)) return null;
	const entries = parseEntries(sector, 0);
	if (entries === null) return null;
	const used = entries.filter((e) => e.type !== 0 && e.sectorCount !== 0);
	if (used.length === 0) return null;

	const warnings: string[] = [];
	const partitions: Partition[] = [];
	let extended: MbrEntry | undefined;
	for (const entry of used) {
		if (entry.type === MBR_TYPE_GPT_PROTECTIVE) continue;
		if (isExtended(entry.type)) {
			if (extended === undefined) extended = entry;
			else warnings.push(`MBR: a second extended partition in slot ${entry.slot + 1} was ignored`);
			continue;
		}
		if (entry.startLba === 0) {
			warnings.push(`MBR: partition ${entry.slot + 1} starts at sector 0 (over the MBR); skipped`);
			continue;
		}
		partitions.push(entryToPartition(entry, entry.slot + 1, entry.startLba, 'primary'));
	}
	if (extended !== undefined) {
		partitions.push(...(await readLogicalChain(src, extended, warnings)));
	}
	const signature = new DataView(sector.buffer, sector.byteOffset).getUint32(DISK_SIGNATURE_OFFSET, true);
	return {
		diskSignature: `0x${signature.toString(16).padStart(8, '0')}`,
		partitions,
		primaryEntries: used,
		hasProtectiveEntry: used.some((e) => e.type === MBR_TYPE_GPT_PROTECTIVE),
		warnings,
	};
}

/**
 * Follows the EBR chain inside `extended`. Each EBR's data entry is relative to that EBR;
 * its link entry is relative to the start of the extended partition. The chain is cut at a
 * loop, a link outside the extended partition or the disk, a missing signature, or
 * MBR_LOGICAL_MAX partitions.
 */
async function readLogicalChain(
	src: ByteSource,
	extended: MbrEntry,
	warnings: string[],
): Promise<Partition[]> {
	const diskSectors = Math.floor(src.sizeBytes / MBR_SECTOR_SIZE_BYTES);
	const extStart = extended.startLba;
	const extEnd = extStart + extended.sectorCount;
	const logicals: Partition[] = [];
	const visited = new Set<number>();
	let ebrLba = extStart;
	// Each EBR is visited once and at most MBR_LOGICAL_MAX of them, so the loop ends.
	for (;;) {
		if (visited.size >= MBR_LOGICAL_MAX) {
			warnings.push(`MBR: more than ${MBR_LOGICAL_MAX} logical partitions; the rest were ignored`);
			break;
		}
		if (ebrLba >= diskSectors) {
			warnings.push(`MBR: EBR at sector ${ebrLba} is past the end of the disk; logical chain cut`);
			break;
		}
		if (visited.has(ebrLba)) {
			warnings.push(`MBR: EBR chain loops back to sector ${ebrLba}; logical chain cut`);
			break;
		}
		visited.add(ebrLba);
		const offsetBytes = ebrLba * MBR_SECTOR_SIZE_BYTES;
		const sector = await src.read(offsetBytes, MBR_SECTOR_SIZE_BYTES);
		const entries = hasBootSignature(sector) ? parseEntries(sector, offsetBytes) : null;
		if (entries === null) {
			warnings.push(`MBR: no valid EBR at sector ${ebrLba}; logical chain cut`);
			break;
		}
		let next: number | undefined;
		for (const entry of entries) {
			if (entry.type === 0 || entry.sectorCount === 0) continue;
			if (isExtended(entry.type)) {
				next ??= extStart + entry.startLba;
				continue;
			}
			if (logicals.length >= MBR_LOGICAL_MAX) break;
			const firstLba = ebrLba + entry.startLba;
			if (entry.startLba === 0) {
				warnings.push(`MBR: logical partition in EBR at sector ${ebrLba} overlaps its EBR; skipped`);
				continue;
			}
			if (firstLba + entry.sectorCount > extEnd) {
				warnings.push(`MBR: logical partition at sector ${firstLba} extends past the extended partition`);
			}
			logicals.push(entryToPartition(entry, 5 + logicals.length, firstLba, 'logical'));
		}
		if (next === undefined) break;
		if (next < extStart || next >= extEnd) {
			warnings.push(`MBR: EBR link to sector ${next} leaves the extended partition; logical chain cut`);
			break;
		}
		ebrLba = next;
	}
	return logicals;
}
