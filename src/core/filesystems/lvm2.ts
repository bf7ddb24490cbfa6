// SPDX-License-Identifier: MIT
/**
 * LVM2 physical-volume label (LVM2 on-disk format: a 512-byte "LABELONE" label in one of the
 * first four sectors, followed by the PV header). Only the label is read: type LVM2_member, the
 * PV UUID formatted 6-4-4-4-4-4-6 as blkid prints it, version "LVM2 001".
 */
import { Reader, assertOffset } from '../io/reader.js';
import { SECTOR_SIZE_BYTES } from '../io/safe-number.js';
import type { FilesystemInfo } from './types.js';
import { type ProbeReader, damaged, matches } from './probe-io.js';
import { crc32Update } from './checksums.js';

/** The label may sit in any of sectors 0..3. */
const LVM2_LABEL_SCAN_SECTORS = 4;
/** Seed of LVM2's label CRC (lib/misc/crc.c INITIAL_CRC). */
const LVM2_CRC_SEED = 0xf597a6cf;
/** Offset in the label of the first byte covered by the CRC (offset_xl). */
const LVM2_CRC_START = 20;
/** Dash positions in the 32-character PV id (blkid / lvm print 6-4-4-4-4-4-6). */
const LVM2_UUID_GROUPS = [6, 4, 4, 4, 4, 4, 6] as const;

/** Probes an LVM2 PV label. */
export async function probeLvm2(r: ProbeReader): Promise<FilesystemInfo | null> {
	for (let sector = 0; sector < LVM2_LABEL_SCAN_SECTORS; sector++) {
		const offsetBytes = sector * SECTOR_SIZE_BYTES;
		const bytes = await r.peek(offsetBytes, SECTOR_SIZE_BYTES);
		if (!bytes) return null;
		if (!matches(bytes, 0, 'LABELONE') || !matches(bytes, 24, 'LVM2 001')) continue;
		const h = new Reader(bytes, 'LVM2 label', { offsetBytes });
		h.skip(8, 'id');
		const sectorXl = h.u64le('sector_xl');
		const crcXl = h.u32le('crc_xl');
		assertOffset(h, LVM2_CRC_START, 'LVM2 label before offset_xl');
		h.u32le('offset_xl');
		h.skip(8, 'type');
		const pvId = h.bytesView(32, 'pv_uuid');
		if (sectorXl !== BigInt(sector)) {
			damaged('LVM2 label', `sector_xl is ${sectorXl}, found in sector ${sector}`, offsetBytes + 8);
		}
		const crc = crc32Update(LVM2_CRC_SEED, bytes.subarray(LVM2_CRC_START));
		if (crc !== crcXl) {
			damaged(
				'LVM2 label',
				`CRC mismatch: stored 0x${crcXl.toString(16)}, computed 0x${crc.toString(16)}`,
				offsetBytes + 16,
				'VMDK_CORRUPT',
			);
		}
		const id = String.fromCharCode(...pvId);
		const groups: string[] = [];
		let at = 0;
		for (const length of LVM2_UUID_GROUPS) {
			groups.push(id.slice(at, at + length));
			at += length;
		}
		return { type: 'LVM2_member', label: null, uuid: groups.join('-'), version: 'LVM2 001' };
	}
	return null;
}
