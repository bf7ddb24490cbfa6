// SPDX-License-Identifier: MIT
/**
 * UDF (ECMA-167 / OSTA UDF) as libblkid probes it: the volume recognition sequence at 32 KiB
 * (BEA01 … NSR02/NSR03 … TEA01), the anchor at block 256 (or 512) found by trying block sizes,
 * then the main volume descriptor sequence: LABEL from the Logical Volume Identifier, UUID from
 * the Volume Set Identifier (blkid's rule), VERSION from the UDF revision (LVD and LVID).
 * Only the first session (offset 0) is probed.
 */
import { Reader } from '../io/reader.js';
import type { FilesystemInfo } from './types.js';
import { type ProbeReader, damaged, matches } from './probe-io.js';
import { decodeUtf16, hex } from './text.js';

const UDF_VSD_OFFSET_BYTES = 0x8000;
/** blkid scans at most 64 volume structure descriptors and 64 volume descriptors. */
const UDF_MAX_VSDS = 64;
const UDF_MAX_VDS_DESCRIPTORS = 64;
/** Block sizes tried: the 512-byte sector of an image file, then 1, 2 and 4 KiB. */
const UDF_BLOCK_SIZES_BYTES = [512, 1024, 2048, 4096] as const;
const UdfTag = { PVD: 1, AVDP: 2, IUVD: 4, LVD: 6, TD: 8, LVID: 9 } as const;
/** Identifiers allowed before NSR in the recognition sequence. */
const VRS_OTHER_IDS = ['BEA01', 'BOOT2', 'CD001', 'CDW02', 'TEA01'] as const;
/** Bytes of a descriptor we read (the largest we parse, LVD, is 440). */
const UDF_DESCRIPTOR_READ_BYTES = 512;
const OSTA_CHARSET = 'OSTA Compressed Unicode';
const OSTA_DOMAIN = '*OSTA UDF Compliant';
/** sizeof(struct volume_descriptor) in blkid: an LVID extent shorter than this is ignored. */
const UDF_DESCRIPTOR_STRUCT_BYTES = 440;
/** Size of the LVID header up to the partition tables (ECMA-167 3/10.10). */
const LVID_FIXED_BYTES = 80;
/** Bytes of the LVID implementation-use area we read (through max write revision). */
const LVIDIU_BYTES = 46;

/** Decodes an OSTA CS0 d-string: byte 0 is the compression id (8 = Latin-1, 16 = UTF-16BE), the last byte the length. */
function dstring(field: Uint8Array): string | null {
	let used = field[field.length - 1] ?? 0;
	if (used > 0) used -= 1;
	used = Math.min(used, field.length - 2);
	const chars = field.subarray(1, 1 + used);
	const compressionId = field[0];
	if (compressionId === 8) {
		let text = '';
		for (const c of chars) {
			if (c === 0) break;
			text += String.fromCharCode(c);
		}
		return text;
	}
	if (compressionId === 16) return decodeUtf16(chars, false);
	return null;
}

function trimmed(text: string | null): string | null {
	if (text === null) return null;
	const t = text.replace(/[ \t\n\v\f\r]+$/u, '');
	return t.length === 0 ? null : t;
}

/** A charspec naming the OSTA Compressed Unicode character set. */
function isOstaCharset(charspec: Uint8Array): boolean {
	return charspec[0] === 0 && matches(charspec, 1, OSTA_CHARSET) && charspec[1 + OSTA_CHARSET.length] === 0;
}

/** blkid's UUID from the Volume Set Identifier (first 16 UTF-8 bytes; see libblkid udf.c). */
export function udfUuidFromVolumeSetId(volumeSetId: string): string | null {
	const encoder = new TextEncoder();
	const bytes: number[] = [];
	for (const ch of volumeSetId) {
		const encoded = encoder.encode(ch);
		if (bytes.length + encoded.length > 16) break;
		bytes.push(...encoded);
	}
	if (bytes.length < 8) return null;
	const isHex = (b: number | undefined): boolean =>
		b !== undefined && /^[0-9a-fA-F]$/u.test(String.fromCharCode(b));
	let nonHexAt = 16;
	for (let i = 0; i < 16; i++) {
		if (!isHex(bytes[i])) {
			nonHexAt = i;
			break;
		}
	}
	const lower = (part: number[]): string => String.fromCharCode(...part).toLowerCase();
	const padded = Uint8Array.from({ length: 16 }, (_, i) => bytes[i] ?? 0);
	if (nonHexAt < 8) return hex(padded.subarray(0, 8));
	if (nonHexAt < 16) return lower(bytes.slice(0, 8)) + hex(padded.subarray(8, 12));
	return lower(bytes.slice(0, 16));
}

/** Probes a UDF volume. */
export async function probeUdf(r: ProbeReader): Promise<FilesystemInfo | null> {
	const first = await r.peek(UDF_VSD_OFFSET_BYTES + 1, 5);
	if (!first || !['NSR02', 'NSR03', ...VRS_OTHER_IDS].some((id) => matches(first, 0, id))) return null;
	const anchor = await findAnchor(r);
	if (!anchor) return null;
	const { blockBytes, descriptor } = anchor;
	const a = new DataView(descriptor.buffer, descriptor.byteOffset, descriptor.byteLength);
	const count = Math.min(Math.floor(a.getUint32(16, true) / blockBytes), UDF_MAX_VDS_DESCRIPTORS);
	const location = a.getUint32(20, true);

	let label: string | null = null;
	let uuid: string | null = null;
	let isUdf = false;
	let udfRevision = 0;
	let lvidLength = 0;
	let lvidLocation = 0;
	for (let b = 0; b < count; b++) {
		const at = (location + b) * blockBytes;
		if (!r.has(at, UDF_DESCRIPTOR_READ_BYTES)) break;
		const vd = await r.read(at, UDF_DESCRIPTOR_READ_BYTES, 'UDF volume descriptor');
		const v = new DataView(vd.buffer, vd.byteOffset, vd.byteLength);
		const tag = v.getUint16(0, true);
		if (tag === 0 || v.getUint32(12, true) !== location + b || tag === UdfTag.TD) break;
		if (tag === UdfTag.PVD && uuid === null && isOstaCharset(vd.subarray(200, 264))) {
			const volumeSetId = dstring(vd.subarray(72, 200));
			if (volumeSetId !== null) uuid = udfUuidFromVolumeSetId(volumeSetId);
		} else if (tag === UdfTag.LVD) {
			const l = new Reader(vd, 'UDF logical volume descriptor', { offsetBytes: at });
			l.skip(16 + 4, 'tag, seq_num');
			const charset = l.bytesView(64, 'desc_charset');
			const logicalVolumeId = l.bytesView(128, 'logvol_id');
			l.u32le('logical_blocksize');
			l.u8('domain_id_flags');
			const domainId = l.bytesView(23, 'domain_id');
			const domainRevision = l.u16le('udf_rev');
			l.skip(1 + 5 + 16, 'domain_suffix_flags, reserved, logical_contents_use');
			l.u32le('map_table_length');
			const partitionMaps = l.u32le('num_partition_maps');
			l.skip(32 + 128, 'imp_id, imp_use');
			const integrityLength = l.u32le('lvid_length');
			const integrityLocation = l.u32le('lvid_location');
			if ((!lvidLength || !lvidLocation) && partitionMaps) {
				lvidLength = integrityLength;
				lvidLocation = integrityLocation;
			}
			if (!isUdf && matches(domainId, 0, OSTA_DOMAIN) && domainId[OSTA_DOMAIN.length] === 0) {
				isUdf = true;
				udfRevision = domainRevision;
			}
			if (label === null && isOstaCharset(charset)) label = trimmed(dstring(logicalVolumeId));
		}
	}
	// Another ECMA-167 filesystem, not UDF.
	if (!isUdf) return null;
	udfRevision = Math.max(udfRevision, await readIntegrityRevision(r, lvidLocation, lvidLength, blockBytes));
	return {
		type: 'udf',
		label,
		uuid,
		// The revision is BCD-like: 0x0201 is "2.01".
		version: udfRevision
			? `${(udfRevision >> 8).toString(16)}.${(udfRevision & 0xff).toString(16).padStart(2, '0')}`
			: undefined,
		blockSizeBytes: blockBytes,
	};
}

/** The block size and anchor descriptor, or null when no NSR / anchor is found. */
async function findAnchor(r: ProbeReader): Promise<{ blockBytes: number; descriptor: Uint8Array } | null> {
	let vrs2048: boolean | undefined;
	for (const blockBytes of UDF_BLOCK_SIZES_BYTES) {
		const vsdBytes = Math.max(blockBytes, 2048);
		// The 2 KiB recognition sequence is the same for every block size up to 2 KiB.
		let hasNsr = vsdBytes === 2048 ? vrs2048 : undefined;
		if (hasNsr === undefined) {
			hasNsr = await scanRecognitionSequence(r, vsdBytes);
			if (vsdBytes === 2048) vrs2048 = hasNsr;
		}
		if (!hasNsr) continue;
		for (const anchorBlock of [256, 512]) {
			const at = anchorBlock * blockBytes;
			if (!r.has(at, UDF_DESCRIPTOR_READ_BYTES)) continue;
			const descriptor = await r.read(at, UDF_DESCRIPTOR_READ_BYTES, 'UDF anchor');
			const v = new DataView(descriptor.buffer, descriptor.byteOffset, descriptor.byteLength);
			if (v.getUint32(12, true) === anchorBlock && v.getUint16(0, true) === UdfTag.AVDP) {
				return { blockBytes, descriptor };
			}
		}
	}
	return null;
}

async function scanRecognitionSequence(r: ProbeReader, vsdBytes: number): Promise<boolean> {
	for (let b = 0; b < UDF_MAX_VSDS; b++) {
		const at = UDF_VSD_OFFSET_BYTES + b * vsdBytes;
		if (!r.has(at, 7)) return false;
		const vsd = await r.read(at, 7, 'UDF volume structure descriptor');
		if (vsd[1] === 0) return false;
		if (matches(vsd, 1, 'NSR02') || matches(vsd, 1, 'NSR03')) return true;
		if (!VRS_OTHER_IDS.some((id) => matches(vsd, 1, id))) return false;
	}
	return false;
}

/** The highest UDF revision the (first) Logical Volume Integrity Descriptor claims, or 0. */
async function readIntegrityRevision(
	r: ProbeReader,
	location: number,
	length: number,
	blockBytes: number,
): Promise<number> {
	const at = location * blockBytes;
	if (!location || length < UDF_DESCRIPTOR_STRUCT_BYTES || !r.has(at, LVID_FIXED_BYTES)) return 0;
	const lvid = await r.read(at, LVID_FIXED_BYTES, 'UDF logical volume integrity descriptor');
	const v = new DataView(lvid.buffer, lvid.byteOffset, lvid.byteLength);
	const partitions = v.getUint32(72, true);
	const impUseLength = v.getUint32(76, true);
	if (
		v.getUint16(0, true) !== UdfTag.LVID ||
		v.getUint32(12, true) !== location ||
		impUseLength < LVIDIU_BYTES
	)
		return 0;
	const impUseAt = at + LVID_FIXED_BYTES + 8 * partitions;
	if (!r.has(impUseAt, LVIDIU_BYTES))
		damaged('UDF integrity descriptor', 'implementation use area is beyond the volume', at);
	const impUse = await r.read(impUseAt, LVIDIU_BYTES, 'UDF LVID implementation use');
	const iu = new DataView(impUse.buffer, impUse.byteOffset, impUse.byteLength);
	return Math.max(iu.getUint16(40, true), iu.getUint16(42, true));
}
