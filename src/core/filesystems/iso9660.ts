// SPDX-License-Identifier: MIT
/**
 * ISO 9660 (ECMA-119) with libblkid's rules: volume descriptors from 32 KiB, the root directory
 * "." check against false CD001 matches, the label from the primary volume id or — with Joliet —
 * the UTF-16BE Joliet volume id merged with the ASCII one, and the UUID built from the
 * modification (else creation) date as `YYYY-MM-DD-hh-mm-ss-cc`. VERSION is "Joliet Extension"
 * with Joliet. High Sierra ("CDROM") discs are not probed.
 */
import { Reader, assertOffset } from '../io/reader.js';
import type { FilesystemInfo } from './types.js';
import { type ProbeReader, checkedProduct, damaged, matches } from './probe-io.js';
import { decodeUtf16, latin1Label } from './text.js';

/** The volume descriptor set starts at sector 16 of 2 KiB. */
const ISO_DESCRIPTORS_OFFSET_BYTES = 0x8000;
const ISO_SECTOR_BYTES = 2048;
/** blkid reads at most 16 volume descriptors. */
const ISO_MAX_DESCRIPTORS = 16;
const IsoVd = { BOOT: 0, PRIMARY: 1, SUPPLEMENTARY: 2, TERMINATOR: 0xff } as const;
/** Joliet escape sequences (UCS-2 levels 1..3). */
const JOLIET_ESCAPES = ['%/@', '%/C', '%/E'] as const;
/** Bytes of a volume descriptor we parse (through the effective date). */
const ISO_VD_READ_BYTES = 881;
const ISO_MIN_DIR_RECORD_BYTES = 34;

interface VolumeDescriptor {
	readonly volumeId: Uint8Array;
	readonly spaceBlocks: number;
	readonly logicalBlockBytes: number;
	readonly rootDirRecord: Uint8Array;
	readonly created: Uint8Array;
	readonly modified: Uint8Array;
}

function parseDescriptor(bytes: Uint8Array, offsetBytes: number): VolumeDescriptor {
	const d = new Reader(bytes, 'ISO 9660 volume descriptor', { offsetBytes });
	d.skip(1 + 5 + 1 + 1, 'type, id, version, flags');
	d.skip(32, 'system_id');
	const volumeId = d.bytesView(32, 'volume_id');
	d.skip(8, 'unused');
	const spaceBlocks = d.u32le('space_size (LE half)');
	d.u32be('space_size (BE half)');
	d.skip(32, 'escape_sequences');
	d.skip(4 + 4, 'set_size, vol_seq_num');
	const logicalBlockBytes = d.u16le('logical_block_size (LE half)');
	d.u16be('logical_block_size (BE half)');
	d.skip(8 + 4 * 4, 'path_table_size, path tables');
	const rootDirRecord = d.bytesView(34, 'root_dir_record');
	d.skip(128 * 4 + 37 * 3, 'volume_set_id .. bibliographic_file_id');
	const created = d.bytesView(17, 'created');
	const modified = d.bytesView(17, 'modified');
	d.skip(17 + 17, 'expiration, effective');
	assertOffset(d, ISO_VD_READ_BYTES, 'ISO 9660 volume descriptor');
	return { volumeId, spaceBlocks, logicalBlockBytes, rootDirRecord, created, modified };
}

/** blkid's date UUID: the 16 digits of a dec-datetime, or null when the date is unset. */
export function isoDateUuid(date: Uint8Array): string | null {
	const digits = String.fromCharCode(...date.subarray(0, 16));
	if (/^0{16}$/u.test(digits) && date[16] === 0) return null;
	const d = digits;
	return `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}-${d.slice(8, 10)}-${d.slice(10, 12)}-${d.slice(12, 14)}-${d.slice(14, 16)}`;
}

/**
 * Joliet keeps 16 UTF-16 characters, the primary descriptor 32 ASCII ones with '_' for what ASCII
 * cannot hold. When the Joliet name is a prefix of the ASCII one (ignoring case and '_'), blkid
 * rebuilds the longer name; otherwise it returns null and the Joliet name is used as is.
 */
function mergeJolietAscii(utf16be: Uint8Array, ascii: Uint8Array): string | null {
	const units: number[] = [];
	let a = 0;
	let u = 0;
	const len = ascii.length;
	for (; u + 1 < len && a < len; a++, u += 2) {
		let hi = utf16be[u] ?? 0;
		let lo = utf16be[u + 1] ?? 0;
		const next = utf16be[u + 2] ?? 0;
		if (hi >= 0xd8 && hi <= 0xdb && u + 3 < len && next >= 0xdc && next <= 0xdf) {
			// A surrogate pair stands for one '_' in the ASCII name.
			units.push((hi << 8) | lo);
			u += 2;
			hi = utf16be[u] ?? 0;
			lo = utf16be[u + 1] ?? 0;
		}
		const c = ascii[a] ?? 0;
		const upper = (x: number): number => (x >= 0x61 && x <= 0x7a ? x - 0x20 : x);
		if (c === 0x5f) units.push((hi << 8) | lo);
		else if (hi === 0 && lo === 0x5f) units.push(c);
		else if (hi === 0 && upper(c) === upper(lo)) units.push(c >= 0x41 && c <= 0x5a ? lo : c);
		else return null;
	}
	for (; a < len; a++) units.push(ascii[a] ?? 0);
	const bytes = new Uint8Array(units.length * 2);
	units.forEach((unit, i) => {
		bytes[i * 2] = unit >> 8;
		bytes[i * 2 + 1] = unit & 0xff;
	});
	return decodeUtf16(bytes, false);
}

function trimLabel(text: string): string | null {
	const trimmed = text.replace(/[ \t\n\v\f\r]+$/u, '');
	return trimmed.length === 0 ? null : trimmed;
}

/** Probes an ISO 9660 volume. */
export async function probeIso9660(r: ProbeReader): Promise<FilesystemInfo | null> {
	const magic = await r.peek(ISO_DESCRIPTORS_OFFSET_BYTES + 1, 5);
	if (!magic || !matches(magic, 0, 'CD001')) return null;
	let primary: VolumeDescriptor | null = null;
	let joliet: VolumeDescriptor | null = null;
	for (let i = 0; i < ISO_MAX_DESCRIPTORS && (!primary || !joliet); i++) {
		const at = ISO_DESCRIPTORS_OFFSET_BYTES + i * ISO_SECTOR_BYTES;
		if (!r.has(at, ISO_VD_READ_BYTES)) break;
		const bytes = await r.read(at, ISO_VD_READ_BYTES, 'ISO 9660 volume descriptor');
		const type = bytes[0];
		if (type === IsoVd.TERMINATOR) break;
		if (type === IsoVd.PRIMARY && !primary) primary = parseDescriptor(bytes, at);
		else if (type === IsoVd.SUPPLEMENTARY && !joliet) {
			const escapes = bytes.subarray(88, 91);
			if (JOLIET_ESCAPES.some((e) => matches(escapes, 0, e))) joliet = parseDescriptor(bytes, at);
		}
	}
	if (!primary) damaged('ISO 9660', 'no primary volume descriptor', ISO_DESCRIPTORS_OFFSET_BYTES);
	const blockBytes = primary.logicalBlockBytes;
	if (blockBytes === 0)
		damaged('ISO 9660 primary volume descriptor', 'logical block size is 0', ISO_DESCRIPTORS_OFFSET_BYTES);
	await checkRootDirectory(r, primary.rootDirRecord, blockBytes);

	let label: string | null;
	if (joliet) {
		const merged = mergeJolietAscii(joliet.volumeId, primary.volumeId);
		label = trimLabel(merged ?? decodeUtf16(joliet.volumeId, false));
	} else {
		label = latin1Label(primary.volumeId);
	}
	return {
		type: 'iso9660',
		label,
		uuid: isoDateUuid(primary.modified) ?? isoDateUuid(primary.created),
		version: joliet ? 'Joliet Extension' : undefined,
		sizeBytes: checkedProduct(primary.spaceBlocks, blockBytes, 'ISO 9660 size'),
		blockSizeBytes: blockBytes,
	};
}

/** The root directory's first record must be "." pointing at itself (blkid's false-positive guard). */
async function checkRootDirectory(r: ProbeReader, record: Uint8Array, blockBytes: number): Promise<void> {
	const view = new DataView(record.buffer, record.byteOffset, record.byteLength);
	const rootBlock = view.getUint32(2, true);
	const rootLength = view.getUint32(10, true);
	const what = 'ISO 9660 root directory';
	if (rootLength < ISO_MIN_DIR_RECORD_BYTES) damaged(what, `length ${rootLength} is too small`);
	const offsetBytes = checkedProduct(rootBlock, blockBytes, 'root directory offset');
	const first = await r.read(offsetBytes, ISO_MIN_DIR_RECORD_BYTES, what);
	const self = new DataView(first.buffer, first.byteOffset, first.byteLength).getUint32(2, true);
	if (
		(first[0] ?? 0) < ISO_MIN_DIR_RECORD_BYTES ||
		first[32] !== 1 ||
		first[33] !== 0 ||
		self !== rootBlock
	) {
		damaged(what, 'first record is not "."', offsetBytes);
	}
}
