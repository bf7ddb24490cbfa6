// SPDX-License-Identifier: MIT
/**
 * btrfs primary superblock at 64 KiB. The CRC-32C checksum is verified (the default csum_type);
 * superblocks using xxhash/sha256/blake2 are accepted without verification.
 */
import { Reader, assertOffset } from '../io/reader.js';
import { toSafeNumber } from '../io/safe-number.js';
import type { FilesystemInfo } from './types.js';
import { type ProbeReader, damaged, matches } from './probe-io.js';
import { crc32c } from './checksums.js';
import { cStringLabel, formatUuid } from './text.js';

/** The primary superblock copy. */
const BTRFS_SUPERBLOCK_OFFSET_BYTES = 64 * 1024;
/** BTRFS_SUPER_INFO_SIZE: the checksummed superblock size. */
const BTRFS_SUPERBLOCK_SIZE_BYTES = 4096;
/** The checksum field; the checksum covers everything after it. */
const BTRFS_CSUM_SIZE_BYTES = 32;
/** "_BHRfS_M" at 0x40. */
const BTRFS_MAGIC_OFFSET = 0x40;
/** blkid skips btrfs on volumes under 1 MiB. */
const BTRFS_MIN_SIZE_BYTES = 1024 * 1024;
/** csum_type value of CRC-32C. */
const BTRFS_CSUM_TYPE_CRC32C = 0;

/** Probes a btrfs superblock. */
export async function probeBtrfs(r: ProbeReader): Promise<FilesystemInfo | null> {
	if (r.sizeBytes < BTRFS_MIN_SIZE_BYTES) return null;
	const magic = await r.peek(BTRFS_SUPERBLOCK_OFFSET_BYTES + BTRFS_MAGIC_OFFSET, 8);
	if (!magic || !matches(magic, 0, '_BHRfS_M')) return null;
	const bytes = await r.read(BTRFS_SUPERBLOCK_OFFSET_BYTES, BTRFS_SUPERBLOCK_SIZE_BYTES, 'btrfs superblock');
	const s = new Reader(bytes, 'btrfs superblock', { offsetBytes: BTRFS_SUPERBLOCK_OFFSET_BYTES });
	const storedCrc = s.u32le('csum');
	s.skip(BTRFS_CSUM_SIZE_BYTES - 4, 'csum');
	const uuid = formatUuid(s.bytesView(16, 'fsid'));
	s.skip(8 + 8 + 8, 'bytenr, flags, magic');
	s.skip(8 * 5, 'generation .. log_root_transid');
	const totalBytes = toSafeNumber(s.u64le('total_bytes'), 'total_bytes');
	s.skip(8 * 2, 'bytes_used, root_dir_objectid');
	const deviceCount = toSafeNumber(s.u64le('num_devices'), 'num_devices');
	const sectorSizeBytes = s.u32le('sectorsize');
	s.skip(4 * 4 + 8 * 4, 'nodesize .. incompat_flags');
	const csumType = s.u16le('csum_type');
	s.skip(3, 'root_level, chunk_root_level, log_root_level');
	s.skip(98, 'dev_item');
	assertOffset(s, 0x12b, 'btrfs superblock before label');
	const label = s.bytesView(256, 'label');
	if (csumType === BTRFS_CSUM_TYPE_CRC32C) {
		const computed = crc32c(bytes.subarray(BTRFS_CSUM_SIZE_BYTES));
		if (computed !== storedCrc) {
			damaged(
				'btrfs superblock',
				`checksum mismatch: stored 0x${storedCrc.toString(16)}, computed 0x${computed.toString(16)}`,
				BTRFS_SUPERBLOCK_OFFSET_BYTES,
				'VMDK_CORRUPT',
			);
		}
	}
	if (sectorSizeBytes === 0)
		damaged('btrfs superblock', 'sectorsize is 0', BTRFS_SUPERBLOCK_OFFSET_BYTES + 0x90);
	return {
		type: 'btrfs',
		label: label[0] === 0 ? null : cStringLabel(label),
		uuid,
		sizeBytes: totalBytes,
		blockSizeBytes: sectorSizeBytes,
		...(deviceCount > 1 ? { deviceCount } : {}),
	};
}
