// SPDX-License-Identifier: MIT
/**
 * FAT12/16/32 ("vfat" in blkid's vocabulary), following libblkid's rules: which magics count,
 * the BPB sanity checks that keep MBRs and other boot sectors from passing as FAT, FAT12/16 vs
 * FAT32 by cluster count, the FAT32 FSInfo check, and the label search in the root directory.
 *
 * Dirty: Linux's dirty bit in the boot sector, or Windows' cleared clean-shutdown bit in FAT
 * entry 1 (FAT16/FAT32).
 *
 * Label: blkid's LABEL is the root directory's volume-label entry only; the boot sector's label
 * (unless "NO NAME") goes to LABEL_FATBOOT. We report the root-directory label and fall back to
 * the boot-sector label when the root directory has none.
 */
import { Reader, assertOffset } from '../io/reader.js';
import type { FilesystemInfo } from './types.js';
import { type ProbeReader, checkedProduct, damaged, isPowerOfTwo, matches } from './probe-io.js';
import { cStringLabel, formatSerial32 } from './text.js';

/** Largest cluster counts of FAT12 and FAT16 (blkid FAT12_MAX / FAT16_MAX) and FAT32. */
const FAT12_MAX_CLUSTERS = 0xff4;
const FAT16_MAX_CLUSTERS = 0xfff4;
const FAT32_MAX_CLUSTERS = 0x0ffffff6;
const DIR_ENTRY_BYTES = 32;
const DirAttr = { VOLUME_ID: 0x08, DIRECTORY: 0x10, LONG_NAME: 0x0f, MASK: 0x3f } as const;
/** First byte of a deleted directory entry; 0x05 in a name stands for it. */
const DIR_ENTRY_FREE = 0xe5;
/** blkid follows at most this many root-directory clusters on FAT32. */
const FAT32_ROOT_MAX_CLUSTERS = 99;
/** …and we look at no more than this many entries in all (crafted huge clusters stay cheap). */
const FAT32_ROOT_MAX_ENTRIES = 65536;
/** We scan at most this many root-directory entries on FAT12/16 (the label is nearly always first). */
const FAT16_ROOT_MAX_ENTRIES = 4096;
/** The boot-sector label that means "no label". */
const NO_NAME = 'NO NAME    ';
/** Extended boot signatures: 0x29 has serial and label, 0x28 only the serial. */
const EXT_BOOT_SIG_WITH_LABEL = 0x29;
const EXT_BOOT_SIG_SERIAL_ONLY = 0x28;
/** Bit 0 of the "reserved"/boot-flags byte: volume not cleanly unmounted (Linux FAT_STATE_DIRTY). */
const FAT_STATE_DIRTY = 0x01;
/** Windows' clean-shutdown bit in FAT entry 1 (FAT12 has none); cleared while mounted. */
const FAT16_CLEAN_SHUTDOWN = 0x8000;
const FAT32_CLEAN_SHUTDOWN = 0x08000000;
/** Boot sector signature 0x55 0xAA at 510. */
const BOOT_SIGNATURE = [0x55, 0xaa] as const;

/** Magics in blkid's order: [offset, text]; the last three are weak (1–2 bytes). */
const STRONG_MAGICS: readonly (readonly [number, string])[] = [
	[0x52, 'MSWIN'],
	[0x52, 'FAT32   '],
	[0x36, 'MSDOS'],
	[0x36, 'FAT16   '],
	[0x36, 'FAT12   '],
	[0x36, 'FAT     '],
];

interface Bpb {
	readonly sectorSizeBytes: number;
	readonly sectorsPerCluster: number;
	readonly reservedSectors: number;
	readonly fats: number;
	readonly rootEntries: number;
	readonly media: number;
	readonly fatLength16: number;
	readonly totalSectors: number;
	readonly fatLength32: number;
	readonly rootCluster: number;
	readonly fsInfoSector: number;
}

/** Probes a FAT boot sector. */
export async function probeFat(r: ProbeReader): Promise<FilesystemInfo | null> {
	const boot = await r.peek(0, 512);
	if (!boot) return null;
	const strong = STRONG_MAGICS.some(([at, text]) => matches(boot, at, text));
	const weak = !strong && (boot[0] === 0xeb || boot[0] === 0xe9 || matches(boot, 510, BOOT_SIGNATURE));
	if (!strong && !weak) return null;
	// A bad BPB behind a strong magic is a damaged FAT; behind a weak one it is just not FAT.
	const invalid = (reason: string, at: number): null =>
		strong ? damaged('FAT boot sector', reason, at) : null;
	if (weak) {
		if (!matches(boot, 510, BOOT_SIGNATURE)) return null;
		// OS/2 and DFSee put a FAT-like pseudo-BPB in front of JFS and HPFS.
		if (matches(boot, 0x36, 'JFS     ') || matches(boot, 0x36, 'HPFS    ')) return null;
	}
	const bpb = parseBpb(boot);
	if (bpb.fats === 0) return invalid('number of FATs is 0', 0x10);
	if (bpb.reservedSectors === 0) return invalid('reserved sector count is 0', 0x0e);
	if (!(bpb.media >= 0xf8 || bpb.media === 0xf0))
		return invalid(`media byte 0x${bpb.media.toString(16)}`, 0x15);
	if (!isPowerOfTwo(bpb.sectorsPerCluster))
		return invalid(`sectors per cluster ${bpb.sectorsPerCluster}`, 0x0d);
	const { sectorSizeBytes } = bpb;
	if (!isPowerOfTwo(sectorSizeBytes) || sectorSizeBytes < 512 || sectorSizeBytes > 4096) {
		return invalid(`bytes per sector ${sectorSizeBytes}`, 0x0b);
	}
	const fatLength = bpb.fatLength16 !== 0 ? bpb.fatLength16 : bpb.fatLength32;
	const fatSectors = fatLength * bpb.fats;
	const rootDirSectors = Math.ceil((bpb.rootEntries * DIR_ENTRY_BYTES) / sectorSizeBytes);
	const dataSectors = bpb.totalSectors - (bpb.reservedSectors + fatSectors + rootDirSectors);
	const clusterCount = Math.floor(dataSectors / bpb.sectorsPerCluster);
	const isFat32 = bpb.fatLength16 === 0 && bpb.fatLength32 !== 0;
	const maxClusters = isFat32
		? FAT32_MAX_CLUSTERS
		: clusterCount > FAT12_MAX_CLUSTERS
			? FAT16_MAX_CLUSTERS
			: FAT12_MAX_CLUSTERS;
	if (dataSectors < 0 || clusterCount > maxClusters) {
		return invalid(`cluster count ${clusterCount} does not fit the FAT type`, 0x13);
	}

	let rootLabel: string | null = null;
	let bootLabelBytes: Uint8Array | null = null;
	let serial: Uint8Array | null = null;
	let version: string | undefined;
	let dirty: boolean | undefined;
	const clusterBytes = bpb.sectorsPerCluster * sectorSizeBytes;
	if (bpb.fatLength16 !== 0) {
		const rootStartBytes = (bpb.reservedSectors + fatSectors) * sectorSizeBytes;
		rootLabel = await searchLabel(r, rootStartBytes, Math.min(bpb.rootEntries, FAT16_ROOT_MAX_ENTRIES));
		const extBootSig = boot[0x26];
		if (extBootSig === EXT_BOOT_SIG_WITH_LABEL) bootLabelBytes = boot.subarray(0x2b, 0x2b + 11);
		if (extBootSig === EXT_BOOT_SIG_WITH_LABEL || extBootSig === EXT_BOOT_SIG_SERIAL_ONLY) {
			serial = boot.subarray(0x27, 0x27 + 4);
		}
		if (clusterCount < FAT12_MAX_CLUSTERS) version = 'FAT12';
		else if (clusterCount < FAT16_MAX_CLUSTERS) version = 'FAT16';
		dirty = ((boot[0x25] ?? 0) & FAT_STATE_DIRTY) !== 0;
		if (version === 'FAT16') dirty ||= await cleanShutdownBitClear(r, bpb, 2, FAT16_CLEAN_SHUTDOWN);
	} else if (bpb.fatLength32 !== 0) {
		rootLabel = await searchFat32Root(r, bpb, fatSectors, clusterBytes);
		version = 'FAT32';
		if (boot[0x42] === EXT_BOOT_SIG_WITH_LABEL) bootLabelBytes = boot.subarray(0x47, 0x47 + 11);
		serial = boot.subarray(0x43, 0x43 + 4);
		dirty = ((boot[0x41] ?? 0) & FAT_STATE_DIRTY) !== 0;
		dirty ||= await cleanShutdownBitClear(r, bpb, 4, FAT32_CLEAN_SHUTDOWN);
		if (bpb.fsInfoSector !== 0) {
			const fsInfoOffsetBytes = bpb.fsInfoSector * sectorSizeBytes;
			const fsInfo = await r.read(fsInfoOffsetBytes, 488, 'FAT32 FSInfo sector');
			const lead = fsInfo.subarray(0, 4);
			const struct = fsInfo.subarray(484, 488);
			const zero = [0, 0, 0, 0];
			if (!matches(lead, 0, 'RRaA') && !matches(lead, 0, 'RRdA') && !matches(lead, 0, zero)) {
				damaged('FAT32 FSInfo sector', 'bad lead signature', fsInfoOffsetBytes);
			}
			if (!matches(struct, 0, 'rrAa') && !matches(struct, 0, zero)) {
				damaged('FAT32 FSInfo sector', 'bad structure signature', fsInfoOffsetBytes + 484);
			}
		}
	}
	const bootLabel =
		bootLabelBytes && !matches(bootLabelBytes, 0, NO_NAME) ? cStringLabel(bootLabelBytes) : null;
	return {
		type: 'vfat',
		label: rootLabel ?? bootLabel,
		uuid: serial ? formatSerial32(serial) : null,
		version,
		sizeBytes: checkedProduct(sectorSizeBytes, bpb.totalSectors, 'FAT size'),
		blockSizeBytes: clusterBytes,
		health: dirty === undefined ? undefined : { dirty },
	};
}

/** True when FAT entry 1 of the first FAT says the volume was not shut down cleanly (Windows' flag). */
async function cleanShutdownBitClear(
	r: ProbeReader,
	bpb: Bpb,
	entryBytes: 2 | 4,
	cleanBit: number,
): Promise<boolean> {
	const at = bpb.reservedSectors * bpb.sectorSizeBytes + entryBytes;
	if (!r.has(at, entryBytes)) return false;
	const entry = new DataView((await r.read(at, entryBytes, 'FAT entry 1')).slice().buffer);
	const value = entryBytes === 2 ? entry.getUint16(0, true) : entry.getUint32(0, true);
	return (value & cleanBit) === 0;
}

function parseBpb(boot: Uint8Array): Bpb {
	const b = new Reader(boot, 'FAT boot sector');
	b.skip(3 + 8, 'jump, oem name');
	const sectorSizeBytes = b.u16le('bytes_per_sector');
	const sectorsPerCluster = b.u8('sectors_per_cluster');
	const reservedSectors = b.u16le('reserved_sectors');
	const fats = b.u8('fats');
	const rootEntries = b.u16le('root_entries');
	const sectors16 = b.u16le('sectors');
	const media = b.u8('media');
	const fatLength16 = b.u16le('fat_length');
	b.skip(2 + 2 + 4, 'secs_track, heads, hidden');
	const sectors32 = b.u32le('total_sect');
	// FAT32 extended BPB (meaningless on FAT12/16, read only when fat_length is 0).
	const fatLength32 = b.u32le('fat32_length');
	b.skip(2 + 2, 'flags, version');
	const rootCluster = b.u32le('root_cluster');
	const fsInfoSector = b.u16le('fsinfo_sector');
	assertOffset(b, 0x32, 'FAT32 BPB before backup_boot');
	return {
		sectorSizeBytes,
		sectorsPerCluster,
		reservedSectors,
		fats,
		rootEntries,
		media,
		fatLength16,
		// A zero 16-bit count means the 32-bit one holds it.
		totalSectors: sectors16 !== 0 ? sectors16 : sectors32,
		fatLength32,
		rootCluster,
		fsInfoSector,
	};
}

/** Looks for the volume-label entry in `entries` directory entries at `offsetBytes`. */
async function searchLabel(r: ProbeReader, offsetBytes: number, entries: number): Promise<string | null> {
	for (let i = 0; i < entries; i++) {
		const at = offsetBytes + i * DIR_ENTRY_BYTES;
		if (!r.has(at, DIR_ENTRY_BYTES)) return null;
		const entry = await r.read(at, DIR_ENTRY_BYTES, 'FAT directory entry');
		const first = entry[0] ?? 0;
		if (first === 0x00) return null;
		const attr = entry[11] ?? 0;
		const clusterHigh = (entry[20] ?? 0) | ((entry[21] ?? 0) << 8);
		const clusterLow = (entry[26] ?? 0) | ((entry[27] ?? 0) << 8);
		if (first === DIR_ENTRY_FREE || clusterHigh !== 0 || clusterLow !== 0) continue;
		if ((attr & DirAttr.MASK) === DirAttr.LONG_NAME) continue;
		if ((attr & (DirAttr.VOLUME_ID | DirAttr.DIRECTORY)) === DirAttr.VOLUME_ID) {
			const name = entry.slice(0, 11);
			if (name[0] === 0x05) name[0] = DIR_ENTRY_FREE;
			return cStringLabel(name);
		}
	}
	return null;
}

/** Follows the FAT32 root directory's cluster chain (bounded) looking for the label entry. */
async function searchFat32Root(
	r: ProbeReader,
	bpb: Bpb,
	fatSectors: number,
	clusterBytes: number,
): Promise<string | null> {
	const fatEntries = Math.floor((bpb.fatLength32 * bpb.sectorSizeBytes) / 4);
	const dataStartSector = bpb.reservedSectors + fatSectors;
	const entriesPerCluster = clusterBytes / DIR_ENTRY_BYTES;
	let budget = FAT32_ROOT_MAX_ENTRIES;
	let next = bpb.rootCluster;
	for (
		let loop = 0;
		loop < FAT32_ROOT_MAX_CLUSTERS && next !== 0 && next < fatEntries && budget > 0;
		loop++
	) {
		// Clusters 0 and 1 do not exist; blkid's arithmetic would wrap, we stop.
		if (next < 2) return null;
		const clusterOffsetBytes = (dataStartSector + (next - 2) * bpb.sectorsPerCluster) * bpb.sectorSizeBytes;
		const entries = Math.min(entriesPerCluster, budget);
		budget -= entries;
		const label = await searchLabel(r, clusterOffsetBytes, entries);
		if (label !== null) return label;
		const fatEntryOffset = bpb.reservedSectors * bpb.sectorSizeBytes + next * 4;
		if (!r.has(fatEntryOffset, 4)) return null;
		const entry = await r.read(fatEntryOffset, 4, 'FAT32 FAT entry');
		next = new DataView(entry.buffer, entry.byteOffset, 4).getUint32(0, true) & 0x0fffffff;
	}
	return null;
}
