// SPDX-License-Identifier: MIT
/**
 * The LVM2 physical-volume label (lvm2 `lib/label/label.h`, `lib/format_text/layout.h`):
 * a `LABELONE` sector in one of the first four sectors, holding the PV header with the PV
 * UUID and the lists of data and metadata areas. All fields are little-endian.
 */
import type { ByteSource } from '../io/byte-source.js';
import { Reader } from '../io/reader.js';
import { crc32Update } from '../partitions/crc32.js';

/** Bytes per sector in LVM2's on-disk offsets. */
export const LVM_SECTOR_SIZE_BYTES = 512;
/** The label may sit in any of the first four sectors. */
const LABEL_SCAN_SECTORS = 4;
/** Label header signature. */
const LABEL_ID = 'LABELONE';
/** Label type of the text format. */
const LABEL_TYPE_LVM2 = 'LVM2 001';
/** The label CRC covers the sector from this offset (just after the CRC field) to its end. */
const LABEL_CRC_START = 20;
/** LVM2's CRC seed (lvm2 `INITIAL_CRC`); the CRC has no final inversion. */
export const LVM_INITIAL_CRC = 0xf597a6cf;
/** Length of a PV/VG UUID without dashes. */
const LVM_ID_LENGTH = 32;
/** Most entries we read from one disk-location list (LVM writes at most two metadata areas). */
const DISK_LOCATIONS_MAX = 8;

/** A region of the PV (lvm2 `struct disk_locn`). */
export interface LvmDiskArea {
	/** Byte offset from the start of the PV. */
	readonly offsetBytes: number;
	/** Length in bytes; 0 for a data area means "to the end of the device". */
	readonly sizeBytes: number;
}

/** The PV label and header. */
export interface LvmLabel {
	/** Sector (0..3) the label was found in. */
	readonly labelSector: number;
	/** PV UUID, 32 characters without dashes. */
	readonly pvUuid: string;
	/** Device size the PV was created with, in bytes. */
	readonly deviceSizeBytes: number;
	/** Data areas (where extents live); the first's offset is `pe_start`. */
	readonly dataAreas: readonly LvmDiskArea[];
	/** Metadata areas (circular text buffers with an `mda_header`). */
	readonly metadataAreas: readonly LvmDiskArea[];
	/** Problems met (CRC mismatch). */
	readonly warnings: readonly string[];
}

/** Formats a 32-character LVM id with dashes as `pvs`/`vgs` print it (6-4-4-4-4-4-6). */
export function formatLvmId(raw: string): string {
	const compact = raw.replace(/-/g, '');
	if (compact.length !== LVM_ID_LENGTH) return raw;
	const groups = [6, 4, 4, 4, 4, 4, 6];
	const out: string[] = [];
	let at = 0;
	for (const n of groups) {
		out.push(compact.slice(at, at + n));
		at += n;
	}
	return out.join('-');
}

function text(raw: Uint8Array): string {
	return String.fromCharCode(...raw);
}

/** Reads a zero-terminated list of areas from the PV header. */
function readAreas(r: Reader, what: string): LvmDiskArea[] | string {
	const areas: LvmDiskArea[] = [];
	for (;;) {
		const offset = r.u64le(`${what} offset`);
		const size = r.u64le(`${what} size`);
		if (offset === 0n) return areas;
		if (areas.length >= DISK_LOCATIONS_MAX) return `more than ${DISK_LOCATIONS_MAX} ${what}s`;
		if (offset > BigInt(Number.MAX_SAFE_INTEGER) || size > BigInt(Number.MAX_SAFE_INTEGER)) {
			return `${what} beyond 2^53 bytes`;
		}
		areas.push({ offsetBytes: Number(offset), sizeBytes: Number(size) });
	}
}

/**
 * Looks for an LVM2 label in the first four sectors of `src`. Returns null when there is
 * none (or it is unreadable: the reason is in `problem`).
 */
export async function readLvmLabel(src: ByteSource): Promise<{ label: LvmLabel | null; problem?: string }> {
	const scanBytes = Math.min(src.sizeBytes, LABEL_SCAN_SECTORS * LVM_SECTOR_SIZE_BYTES);
	if (scanBytes < LVM_SECTOR_SIZE_BYTES) return { label: null };
	const head = await src.read(0, scanBytes);
	for (let sector = 0; (sector + 1) * LVM_SECTOR_SIZE_BYTES <= scanBytes; sector++) {
		const at = sector * LVM_SECTOR_SIZE_BYTES;
		const bytes = head.subarray(at, at + LVM_SECTOR_SIZE_BYTES);
		if (text(bytes.subarray(0, LABEL_ID.length)) !== LABEL_ID) continue;
		try {
			return parseLabelSector(bytes, sector, at);
		} catch (error) {
			// A truncated PV header inside the sector: report, do not crash the volume list.
			return { label: null, problem: `LVM2 label in sector ${sector}: ${(error as Error).message}` };
		}
	}
	return { label: null };
}

function parseLabelSector(
	bytes: Uint8Array,
	sector: number,
	offsetBytes: number,
): { label: LvmLabel | null; problem?: string } {
	const warnings: string[] = [];
	const r = new Reader(bytes, 'LVM2 label', { offsetBytes });
	r.skip(LABEL_ID.length, 'id');
	const sectorField = r.u64le('sector_xl');
	const storedCrc = r.u32le('crc_xl');
	const headerOffset = r.u32le('offset_xl');
	const type = text(r.bytesView(8, 'type'));
	if (type !== LABEL_TYPE_LVM2)
		return { label: null, problem: `LVM label type "${type}" is not ${LABEL_TYPE_LVM2}` };
	if (sectorField !== BigInt(sector))
		warnings.push(`LVM2 label in sector ${sector} says it is in sector ${sectorField}`);
	const actualCrc = crc32Update(LVM_INITIAL_CRC, bytes.subarray(LABEL_CRC_START));
	if (actualCrc !== storedCrc) warnings.push(`LVM2 label checksum mismatch in sector ${sector}`);
	if (headerOffset < r.offset || headerOffset >= bytes.length) {
		return { label: null, problem: `LVM2 PV header offset ${headerOffset} is outside the label sector` };
	}
	const h = new Reader(bytes.subarray(headerOffset), 'LVM2 PV header', {
		offsetBytes: offsetBytes + headerOffset,
	});
	const pvUuid = text(h.bytesView(LVM_ID_LENGTH, 'pv_uuid'));
	const deviceSize = h.u64le('device_size_xl');
	const dataAreas = readAreas(h, 'data area');
	if (typeof dataAreas === 'string') return { label: null, problem: dataAreas };
	const metadataAreas = readAreas(h, 'metadata area');
	if (typeof metadataAreas === 'string') return { label: null, problem: metadataAreas };
	const deviceSizeBytes =
		deviceSize > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(deviceSize);
	return { label: { labelSector: sector, pvUuid, deviceSizeBytes, dataAreas, metadataAreas, warnings } };
}
