// SPDX-License-Identifier: MIT
// Minimal ext, FAT12 and NTFS volumes built byte by byte, for health flags and corner cases the
// mkfs tools do not produce (filesystems-blkid.test.ts also checks blkid agrees on them).
import { ascii } from './bytes.js';

/** A 1 MiB ext2/3 volume with just a superblock. */
export function buildExt(fields: {
	compat?: number;
	incompat?: number;
	roCompat?: number;
	state?: number;
	label?: string;
}): Uint8Array {
	const bytes = new Uint8Array(1024 * 1024);
	const v = new DataView(bytes.buffer);
	const s = 1024;
	v.setUint32(s + 4, 1024, true); // s_blocks_count
	v.setUint32(s + 24, 0, true); // s_log_block_size: 1 KiB
	v.setUint16(s + 56, 0xef53, true);
	v.setUint16(s + 58, fields.state ?? 1, true);
	v.setUint32(s + 76, 1, true); // s_rev_level
	v.setUint32(s + 92, fields.compat ?? 0, true);
	v.setUint32(s + 96, fields.incompat ?? 0, true);
	v.setUint32(s + 100, fields.roCompat ?? 0, true);
	bytes.set([0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], s + 104);
	bytes.set(ascii(fields.label ?? ''), s + 120);
	return bytes;
}

/** A 4 MiB FAT12 volume: boot sector, FATs, and a root directory with an optional label entry. */
export function buildFat(options: {
	bootLabel: string;
	rootLabel?: string;
	dirty?: boolean;
	magic?: string;
}): Uint8Array {
	const bytes = new Uint8Array(4 * 1024 * 1024);
	const v = new DataView(bytes.buffer);
	bytes.set([0xeb, 0x3c, 0x90], 0);
	bytes.set(ascii('mkfs.fat'), 3);
	v.setUint16(11, 512, true); // bytes per sector
	bytes[13] = 4; // sectors per cluster
	v.setUint16(14, 1, true); // reserved sectors
	bytes[16] = 2; // FATs
	v.setUint16(17, 512, true); // root entries
	v.setUint16(19, 8192, true); // sectors
	bytes[21] = 0xf8; // media
	v.setUint16(22, 8, true); // sectors per FAT
	bytes[0x25] = options.dirty ? 1 : 0;
	bytes[0x26] = 0x29; // extended boot signature
	bytes.set([0x78, 0x56, 0x34, 0x12], 0x27); // serial 1234-5678
	bytes.set(ascii(options.bootLabel.padEnd(11)), 0x2b);
	bytes.set(ascii(options.magic ?? 'FAT12   '), 0x36);
	bytes.set([0x55, 0xaa], 510);
	if (options.rootLabel !== undefined) {
		const root = (1 + 16) * 512;
		// A deleted entry and a long-name entry first: both must be skipped.
		bytes[root] = 0xe5;
		bytes.set(ascii('DELETED    '), root + 1);
		bytes[root + 11] = 0x08;
		bytes.set(ascii('ALONGNAME  '), root + 32);
		bytes[root + 32 + 11] = 0x0f;
		bytes.set(ascii(options.rootLabel.padEnd(11)), root + 64);
		bytes[root + 64 + 11] = 0x08;
	}
	return bytes;
}

/** A 1 MiB NTFS volume: boot sector, MFT record 0 and $Volume (record 3) with name and flags. */
/**
 * `attrsOffset` 480 (default) makes the volume name straddle the first sector's end, where the
 * update-sequence fixup applies; blkid does not apply fixups, so compare with it using 56.
 */
export function buildNtfs(options: { name: string; dirty: boolean; attrsOffset?: number }): Uint8Array {
	const bytes = new Uint8Array(1024 * 1024);
	const v = new DataView(bytes.buffer);
	bytes.set([0xeb, 0x52, 0x90], 0);
	bytes.set(ascii('NTFS    '), 3);
	v.setUint16(11, 512, true);
	bytes[13] = 8; // 4 KiB clusters
	bytes[21] = 0xf8;
	v.setBigUint64(0x28, 2047n, true); // sectors
	v.setBigUint64(0x30, 4n, true); // $MFT at cluster 4
	v.setBigUint64(0x38, 8n, true);
	bytes[0x40] = 0xf6; // MFT records of 2^10 bytes
	bytes[0x44] = 1;
	v.setBigUint64(0x48, 0x0123456789abcdefn, true);
	bytes.set([0x55, 0xaa], 510);
	const mft = 4 * 4096;
	bytes.set(ascii('FILE'), mft);
	const rec = mft + 3 * 1024;
	bytes.set(ascii('FILE'), rec);
	v.setUint16(rec + 4, 48, true); // update sequence array offset
	v.setUint16(rec + 6, 3, true); // 1 + 2 sectors
	const attrs = options.attrsOffset ?? 480;
	v.setUint16(rec + 20, attrs, true);
	v.setUint32(rec + 28, 1024, true); // bytes allocated
	const nameBytes = options.name.length * 2;
	const nameAttrLength = 24 + Math.ceil(nameBytes / 8) * 8;
	v.setUint32(rec + attrs, 0x60, true);
	v.setUint32(rec + attrs + 4, nameAttrLength, true);
	v.setUint32(rec + attrs + 16, nameBytes, true);
	v.setUint16(rec + attrs + 20, 24, true);
	for (let i = 0; i < options.name.length; i++)
		v.setUint16(rec + attrs + 24 + i * 2, options.name.charCodeAt(i), true);
	const info = attrs + nameAttrLength;
	v.setUint32(rec + info, 0x70, true);
	v.setUint32(rec + info + 4, 40, true);
	v.setUint32(rec + info + 16, 12, true);
	v.setUint16(rec + info + 20, 24, true);
	bytes[rec + info + 24 + 8] = 3; // NTFS 3.1
	bytes[rec + info + 24 + 9] = 1;
	v.setUint16(rec + info + 24 + 10, options.dirty ? 0x0001 : 0, true);
	v.setUint32(rec + info + 40, 0xffffffff, true);
	// Fixups: save each sector's last two bytes in the array and stamp the sequence number there.
	const sequence = 0x0007;
	v.setUint16(rec + 48, sequence, true);
	for (let i = 1; i <= 2; i++) {
		const end = rec + i * 512 - 2;
		v.setUint16(rec + 48 + i * 2, v.getUint16(end, true), true);
		v.setUint16(end, sequence, true);
	}
	return bytes;
}
