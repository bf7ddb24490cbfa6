// SPDX-License-Identifier: MIT
// Byte builders for partition tables (MBR, GPT, APM) and LVM2 PVs, one field a line, for the
// partition, volume and mutation tests. CRCs use our crc32, which crc32.test.ts checks against
// published vectors and zlib.
import { crc32, crc32Update } from '../../src/core/partitions/crc32.js';
import { ascii, bytes, u16be, u32be, u32le, u64le, u8, zeros } from './bytes.js';

const SECTOR = 512;

/** One 16-byte MBR/EBR entry. */
export function mbrEntry(boot: number, type: number, startLba: number, sectors: number): Uint8Array {
	return bytes(
		u8(boot), // boot indicator
		zeros(3), // CHS first (ignored)
		u8(type), // system id
		zeros(3), // CHS last (ignored)
		u32le(startLba), // first LBA
		u32le(sectors), // sector count
	);
}

/** An MBR or EBR sector with up to four entries. */
export function mbrSector(entries: Uint8Array[], diskSignature = 0, signature = 0xaa55): Uint8Array {
	const all = [...entries];
	while (all.length < 4) all.push(zeros(16));
	return bytes(
		zeros(440), // boot code
		u32le(diskSignature), // disk signature
		zeros(2), // reserved
		...all, // four partition entries
		[signature & 0xff, signature >> 8], // 0x55 0xAA
	);
}

/** A disk of `sectors` zero sectors with `parts` placed at sector offsets. */
export function diskWith(sectors: number, parts: [number, Uint8Array][]): Uint8Array {
	const disk = new Uint8Array(sectors * SECTOR);
	for (const [lba, data] of parts) disk.set(data, lba * SECTOR);
	return disk;
}

/** 16 GUID bytes from a `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` string (mixed-endian). */
export function guidBytes(guid: string): Uint8Array {
	const hex = guid.replace(/-/g, '');
	const b = Uint8Array.from(hex.match(/../g)!.map((h) => parseInt(h, 16)));
	return bytes([b[3]!, b[2]!, b[1]!, b[0]!, b[5]!, b[4]!, b[7]!, b[6]!], b.subarray(8));
}

/** A GPT entry. */
export interface GptEntrySpec {
	type: string;
	uuid: string;
	firstLba: number;
	lastLba: number;
	name?: string;
	/** Slot in the array (default: position in the list). */
	slot?: number;
}

export interface GptSpec {
	sectors: number;
	sectorSize?: number;
	entries: GptEntrySpec[];
	diskGuid?: string;
	entryCount?: number;
	entrySize?: number;
	/** Omit the protective MBR. */
	noMbr?: boolean;
	/** Extra MBR entries for a hybrid MBR. */
	hybrid?: Uint8Array[];
}

export const LINUX_FS = '0fc63daf-8483-4772-8e79-3d69d8477de4';
export const EFI_SYSTEM = 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b';
export const BASIC_DATA = 'ebd0a0a2-b9e5-4433-87c0-68b6b72699c7';

function utf16Name(name: string): Uint8Array {
	const out = new Uint8Array(72);
	const view = new DataView(out.buffer);
	for (let i = 0; i < name.length && i < 36; i++) view.setUint16(i * 2, name.charCodeAt(i), true);
	return out;
}

/** Header fields at fixed offsets, used to re-sign mutated headers. */
const GPT_HEADER_SIZE = 92;

function gptHeader(
	myLba: number,
	altLba: number,
	firstUsable: number,
	lastUsable: number,
	diskGuid: string,
	entriesLba: number,
	entryCount: number,
	entrySize: number,
	entriesCrc: number,
	sectorSize: number,
): Uint8Array {
	const header = bytes(
		ascii('EFI PART'), // signature
		u32le(0x00010000), // revision 1.0
		u32le(GPT_HEADER_SIZE), // header size
		u32le(0), // header CRC32 (filled below)
		u32le(0), // reserved
		u64le(myLba), // my LBA
		u64le(altLba), // alternate LBA
		u64le(firstUsable), // first usable LBA
		u64le(lastUsable), // last usable LBA
		guidBytes(diskGuid), // disk GUID
		u64le(entriesLba), // partition entry LBA
		u32le(entryCount), // number of entries
		u32le(entrySize), // entry size
		u32le(entriesCrc), // entry array CRC32
	);
	new DataView(header.buffer).setUint32(16, crc32(header), true);
	const sector = new Uint8Array(sectorSize);
	sector.set(header);
	return sector;
}

/** A whole disk with protective MBR, primary GPT at LBA 1 and backup at the last LBA. */
export function gptDisk(spec: GptSpec): Uint8Array {
	const ss = spec.sectorSize ?? SECTOR;
	const entryCount = spec.entryCount ?? 128;
	const entrySize = spec.entrySize ?? 128;
	const diskGuid = spec.diskGuid ?? '01234567-89ab-cdef-0011-223344556677';
	// Absurd counts/sizes are written into the header only; the array stays 128 × 128 bytes.
	const arrayBytes = entryCount * entrySize <= 1024 * 1024 ? entryCount * entrySize : 128 * 128;
	const array = new Uint8Array(arrayBytes);
	spec.entries.forEach((e, i) => {
		const slot = e.slot ?? i;
		array.set(
			bytes(
				guidBytes(e.type), // partition type GUID
				guidBytes(e.uuid), // unique partition GUID
				u64le(e.firstLba), // starting LBA
				u64le(e.lastLba), // ending LBA (inclusive)
				u64le(0), // attributes
				utf16Name(e.name ?? ''), // name, UTF-16LE
			),
			slot * entrySize,
		);
	});
	const arrayCrc = crc32(array);
	const arraySectors = Math.ceil(arrayBytes / ss);
	const last = spec.sectors - 1;
	const disk = new Uint8Array(spec.sectors * ss);
	if (!spec.noMbr) {
		const protective = mbrEntry(0, 0xee, 1, Math.min(spec.sectors - 1, 0xffffffff));
		disk.set(mbrSector([protective, ...(spec.hybrid ?? [])], 0));
	}
	const firstUsable = 2 + arraySectors;
	const lastUsable = last - 1 - arraySectors;
	disk.set(
		gptHeader(1, last, firstUsable, lastUsable, diskGuid, 2, entryCount, entrySize, arrayCrc, ss),
		1 * ss,
	);
	disk.set(array, 2 * ss);
	disk.set(array, (last - arraySectors) * ss);
	disk.set(
		gptHeader(
			last,
			1,
			firstUsable,
			lastUsable,
			diskGuid,
			last - arraySectors,
			entryCount,
			entrySize,
			arrayCrc,
			ss,
		),
		last * ss,
	);
	return disk;
}

/** Recomputes the entry-array CRC and header CRC of the header at `lba` (after mutations). */
export function resignGpt(disk: Uint8Array, lba: number, sectorSize = SECTOR): void {
	const view = new DataView(disk.buffer, disk.byteOffset);
	const at = lba * sectorSize;
	const entriesLba = Number(view.getBigUint64(at + 72, true));
	const count = view.getUint32(at + 80, true);
	const size = view.getUint32(at + 84, true);
	const start = entriesLba * sectorSize;
	if (count * size <= 1024 * 1024 && start + count * size <= disk.length) {
		view.setUint32(at + 88, crc32(disk.subarray(start, start + count * size)), true);
	}
	const headerSize = Math.min(view.getUint32(at + 12, true), sectorSize);
	view.setUint32(at + 16, 0, true);
	view.setUint32(at + 16, crc32(disk.subarray(at, at + headerSize)), true);
}

/** An Apple Partition Map entry block. */
export function apmEntry(
	mapCount: number,
	start: number,
	count: number,
	name: string,
	type: string,
	blockSize = 512,
): Uint8Array {
	const entry = new Uint8Array(blockSize);
	entry.set(
		bytes(
			u16be(0x504d), // 'PM'
			zeros(2), // pmSigPad
			u32be(mapCount), // pmMapBlkCnt
			u32be(start), // pmPyPartStart (blocks)
			u32be(count), // pmPartBlkCnt (blocks)
			ascii(name.padEnd(32, '\0')), // pmPartName
			ascii(type.padEnd(32, '\0')), // pmParType
		),
	);
	return entry;
}

/** The Driver Descriptor Map in block 0. */
export function apmDdm(blockSize: number, blockCount: number): Uint8Array {
	const block = new Uint8Array(blockSize < 512 ? 512 : blockSize);
	block.set(
		bytes(
			u16be(0x4552), // 'ER'
			u16be(blockSize), // sbBlkSize
			u32be(blockCount), // sbBlkCount
		),
	);
	return block;
}

// ---- LVM2 ----

const LVM_INITIAL_CRC = 0xf597a6cf;
export const PV_UUID = 'Abcdef0123456789Abcdef0123456789';
/** Where the test PV keeps its metadata area and first extent. */
export const MDA_OFFSET = 4096;
export const MDA_SIZE = 64 * 1024;
export const PE_START_SECTORS = 256; // 128 KiB
/** 4 KiB extents keep images tiny. */
export const EXTENT_SECTORS = 8;

/** LVM2 label sector (label header + PV header), CRC computed as lvm2 does. */
export function lvmLabelSector(
	pvUuid: string,
	deviceSize: number,
	sector = 1,
	crcOverride?: number,
): Uint8Array {
	const s = new Uint8Array(512);
	s.set(
		bytes(
			ascii('LABELONE'), // id
			u64le(sector), // sector_xl
			u32le(0), // crc_xl (filled below)
			u32le(32), // offset_xl: PV header follows the 32-byte label header
			ascii('LVM2 001'), // type
			ascii(pvUuid), // pv_uuid
			u64le(deviceSize), // device_size_xl
			u64le(PE_START_SECTORS * 512), // data area 0 offset (pe_start)
			u64le(0), // data area 0 size (to the end)
			u64le(0), // terminator
			u64le(0),
			u64le(MDA_OFFSET), // metadata area 0 offset
			u64le(MDA_SIZE), // metadata area 0 size
			u64le(0), // terminator
			u64le(0),
		),
	);
	new DataView(s.buffer).setUint32(16, crcOverride ?? crc32Update(LVM_INITIAL_CRC, s.subarray(20)), true);
	return s;
}

/** The mda_header sector with one raw location. */
function mdaHeader(textOffset: number, text: Uint8Array, textCrc?: number): Uint8Array {
	const s = new Uint8Array(512);
	s.set(
		bytes(
			u32le(0), // checksum_xl (filled below)
			ascii(' LVM2 x[5A%r0N*>'), // magic
			u32le(1), // version
			u64le(MDA_OFFSET), // start
			u64le(MDA_SIZE), // size
			u64le(textOffset), // raw_locn[0].offset (from the area start)
			u64le(text.length), // raw_locn[0].size
			u32le(textCrc ?? crc32Update(LVM_INITIAL_CRC, text)), // raw_locn[0].checksum
			u32le(0), // raw_locn[0].flags
		),
	);
	new DataView(s.buffer).setUint32(0, crc32Update(LVM_INITIAL_CRC, s.subarray(4)), true);
	return s;
}

export interface LvSpec {
	name: string;
	visible?: boolean;
	/** [type, startExtent, extentCount, stripes ("pv0", pe)...] */
	segments: { type?: string; start: number; count: number; stripes?: [string, number][] }[];
}

/** LVM text metadata like lvm2 writes it. */
export function lvmMetadataText(
	vg: string,
	lvs: LvSpec[],
	opts: { seqno?: number; extraPv?: boolean } = {},
): string {
	const id = (n: number): string =>
		`${'abcdef'.slice(0, 6)}-${String(n).padStart(4, '0')}-aaaa-bbbb-cccc-dddd-eeeeee`;
	const lvText = lvs
		.map((lv, i) => {
			const segs = lv.segments
				.map((s, j) => {
					const type = s.type ?? 'striped';
					const stripes = s.stripes ?? [];
					const body =
						type === 'striped'
							? `stripe_count = ${stripes.length}\n\t\t\t\tstripes = [\n${stripes.map(([pv, pe]) => `\t\t\t\t\t"${pv}", ${pe}`).join(',\n')}\n\t\t\t\t]`
							: `thin_pool = "pool"\n\t\t\t\ttransaction_id = 0`;
					return `\t\t\tsegment${j + 1} {\n\t\t\t\tstart_extent = ${s.start}\n\t\t\t\textent_count = ${s.count}\t# ${s.count * 4} Kilobytes\n\n\t\t\t\ttype = "${type}"\n\t\t\t\t${body}\n\t\t\t}`;
				})
				.join('\n');
			const status = lv.visible === false ? '["READ", "WRITE"]' : '["READ", "WRITE", "VISIBLE"]';
			return `\t\t${lv.name} {\n\t\t\tid = "${id(100 + i)}"\n\t\t\tstatus = ${status}\n\t\t\tflags = []\n\t\t\tcreation_host = "test \\"host\\""\n\t\t\tcreation_time = 1700000000\t# 2023-11-14\n\t\t\tsegment_count = ${lv.segments.length}\n\n${segs}\n\t\t}`;
		})
		.join('\n\n');
	const pv = (key: string, uuid: string, dev: string): string =>
		`\t\t${key} {\n\t\t\tid = "${uuid.slice(0, 6)}-${uuid.slice(6, 10)}-${uuid.slice(10, 14)}-${uuid.slice(14, 18)}-${uuid.slice(18, 22)}-${uuid.slice(22, 26)}-${uuid.slice(26)}"\n\t\t\tdevice = "${dev}"\t# Hint only\n\n\t\t\tstatus = ["ALLOCATABLE"]\n\t\t\tflags = []\n\t\t\tdev_size = 8192\n\t\t\tpe_start = ${PE_START_SECTORS}\n\t\t\tpe_count = 64\n\t\t}`;
	const pvs = [pv('pv0', PV_UUID, '/dev/loop0')];
	if (opts.extraPv) pvs.push(pv('pv1', 'Zyxwvu9876543210Zyxwvu9876543210', '/dev/sdz1'));
	return `${vg} {\n\tid = "${id(1)}"\n\tseqno = ${opts.seqno ?? 3}\n\tformat = "lvm2"\n\tstatus = ["RESIZEABLE", "READ", "WRITE"]\n\tflags = []\n\textent_size = ${EXTENT_SECTORS}\n\tmax_lv = 0\n\tmax_pv = 0\n\tmetadata_copies = 0\n\n\tphysical_volumes {\n\n${pvs.join('\n\n')}\n\t}\n\n\tlogical_volumes {\n\n${lvText}\n\t}\n\n}\n# Generated by LVM2 version 2.03.16(2) (2022-05-18): Fri Nov 27 05:00:00 2026\n\ncontents = "Text Format Volume Group"\nversion = 1\n\ndescription = "Write from lvcreate."\n\ncreation_host = "test"\t# Linux test 6.1.0 x86_64\ncreation_time = 1700000000\t# Fri Nov 27 05:00:00 2026\n\n`;
}

/**
 * A whole-disk PV of `sizeBytes` with `text` as its current metadata, stored at
 * `textOffset` inside the metadata area (wrapping around the circular buffer if needed).
 */
export function lvmPv(text: string, sizeBytes = 512 * 1024, textOffset = 512, textCrc?: number): Uint8Array {
	const disk = new Uint8Array(sizeBytes);
	disk.set(lvmLabelSector(PV_UUID, sizeBytes), 512);
	const raw = new TextEncoder().encode(text);
	disk.set(mdaHeader(textOffset, raw, textCrc), MDA_OFFSET);
	const first = Math.min(raw.length, MDA_SIZE - textOffset);
	disk.set(raw.subarray(0, first), MDA_OFFSET + textOffset);
	disk.set(raw.subarray(first), MDA_OFFSET + 512);
	return disk;
}

/** Fills extent `pe` of the PV with `fill`, stamped with its PV extent number. */
export function fillExtent(disk: Uint8Array, pe: number, fill: number): void {
	const at = PE_START_SECTORS * 512 + pe * EXTENT_SECTORS * 512;
	disk.fill(fill, at, at + EXTENT_SECTORS * 512);
	disk.set(ascii(`pe${pe}`), at);
}
