// SPDX-License-Identifier: MIT
/**
 * ext2/ext3/ext4 (and `jbd`, an external journal device) from the superblock at 1 KiB. The type
 * is decided from feature flags exactly as libblkid's ext probes decide, in their order:
 * ext4dev, ext4, ext3, ext2, jbd.
 */
import { Reader, assertOffset } from '../io/reader.js';
import type { FilesystemInfo } from './types.js';
import { type ProbeReader, checkedProduct, damaged } from './probe-io.js';
import { crc32cUpdate } from './checksums.js';
import { cStringLabel, formatUuid } from './text.js';

/** The primary superblock starts 1 KiB into the volume and is 1 KiB long. */
const EXT_SUPERBLOCK_OFFSET_BYTES = 1024;
const EXT_SUPERBLOCK_SIZE_BYTES = 1024;
/** s_magic. */
const EXT_MAGIC = 0xef53;
/** s_checksum covers the superblock up to itself. */
const EXT_CHECKSUM_OFFSET = 1020;
/** blkid: without metadata_csum, a log block size ≥ 256 marks a false positive. */
const EXT_MAX_LOG_BLOCK_SIZE = 256;

/** Feature and state bits (e2fsprogs lib/ext2fs/ext2_fs.h). */
const ExtFeature = {
	COMPAT_HAS_JOURNAL: 0x0004,
	INCOMPAT_FILETYPE: 0x0002,
	INCOMPAT_RECOVER: 0x0004,
	INCOMPAT_JOURNAL_DEV: 0x0008,
	INCOMPAT_META_BG: 0x0010,
	INCOMPAT_64BIT: 0x0080,
	RO_COMPAT_SPARSE_SUPER: 0x0001,
	RO_COMPAT_LARGE_FILE: 0x0002,
	RO_COMPAT_BTREE_DIR: 0x0004,
	RO_COMPAT_METADATA_CSUM: 0x0400,
} as const;
/** s_flags: filesystem is for testing ext4dev code. */
const EXT_FLAGS_TEST_FILESYS = 0x0004;
/** s_state: cleanly unmounted. */
const EXT_STATE_VALID_FS = 0x0001;

/** ro_compat features ext2 and ext3 understand; anything else means ext4. */
const EXT3_RO_COMPAT_SUPPORTED =
	ExtFeature.RO_COMPAT_SPARSE_SUPER | ExtFeature.RO_COMPAT_LARGE_FILE | ExtFeature.RO_COMPAT_BTREE_DIR;
const EXT2_RO_COMPAT_SUPPORTED = EXT3_RO_COMPAT_SUPPORTED;
const EXT2_INCOMPAT_SUPPORTED = ExtFeature.INCOMPAT_FILETYPE | ExtFeature.INCOMPAT_META_BG;
const EXT3_INCOMPAT_SUPPORTED = EXT2_INCOMPAT_SUPPORTED | ExtFeature.INCOMPAT_RECOVER;

/** The blkid type for a set of feature flags, or null when no ext probe of blkid accepts it. */
export function extTypeFromFeatures(
	compat: number,
	incompat: number,
	roCompat: number,
	flags: number,
): 'ext2' | 'ext3' | 'ext4' | 'ext4dev' | 'jbd' | null {
	const journalDev = (incompat & ExtFeature.INCOMPAT_JOURNAL_DEV) !== 0;
	const testFs = (flags & EXT_FLAGS_TEST_FILESYS) !== 0;
	const hasJournal = (compat & ExtFeature.COMPAT_HAS_JOURNAL) !== 0;
	const beyondExt3 =
		(roCompat & ~EXT3_RO_COMPAT_SUPPORTED) !== 0 || (incompat & ~EXT3_INCOMPAT_SUPPORTED) !== 0;
	const beyondExt2 =
		(roCompat & ~EXT2_RO_COMPAT_SUPPORTED) !== 0 || (incompat & ~EXT2_INCOMPAT_SUPPORTED) !== 0;
	if (!journalDev && testFs) return 'ext4dev';
	if (!journalDev && beyondExt3) return 'ext4';
	if (hasJournal && !beyondExt3) return 'ext3';
	if (!hasJournal && !beyondExt2) return 'ext2';
	if (journalDev) return 'jbd';
	return null;
}

/** Probes an ext2/3/4 superblock. */
export async function probeExt(r: ProbeReader): Promise<FilesystemInfo | null> {
	const magic = await r.peek(EXT_SUPERBLOCK_OFFSET_BYTES + 56, 2);
	if (!magic || (magic[0] ?? 0) + ((magic[1] ?? 0) << 8) !== EXT_MAGIC) return null;
	const bytes = await r.read(EXT_SUPERBLOCK_OFFSET_BYTES, EXT_SUPERBLOCK_SIZE_BYTES, 'ext superblock');
	const s = new Reader(bytes, 'ext superblock', { offsetBytes: EXT_SUPERBLOCK_OFFSET_BYTES });
	s.u32le('s_inodes_count');
	const blocksCountLo = s.u32le('s_blocks_count');
	s.skip(4 * 4, 's_r_blocks_count .. s_first_data_block');
	const logBlockSize = s.u32le('s_log_block_size');
	s.skip(6 * 4, 's_log_cluster_size .. s_wtime');
	s.skip(2 + 2, 's_mnt_count, s_max_mnt_count');
	s.u16le('s_magic');
	const state = s.u16le('s_state');
	s.u16le('s_errors');
	const minorRev = s.u16le('s_minor_rev_level');
	s.skip(4 * 3, 's_lastcheck, s_checkinterval, s_creator_os');
	const revLevel = s.u32le('s_rev_level');
	s.skip(2 + 2 + 4 + 2 + 2, 's_def_resuid .. s_block_group_nr');
	const compat = s.u32le('s_feature_compat');
	const incompat = s.u32le('s_feature_incompat');
	const roCompat = s.u32le('s_feature_ro_compat');
	assertOffset(s, 104, 'ext superblock before s_uuid');
	const uuid = formatUuid(s.bytesView(16, 's_uuid'));
	const volumeName = s.bytesView(16, 's_volume_name');
	s.skip(
		64 + 4 + 1 + 1 + 2 + 16 + 4 + 4 + 4 + 16 + 1 + 1 + 2 + 4 + 4 + 4 + 17 * 4,
		's_last_mounted .. s_jnl_blocks',
	);
	assertOffset(s, 336, 'ext superblock before s_blocks_count_hi');
	const blocksCountHi = s.u32le('s_blocks_count_hi');
	s.skip(4 + 4 + 2 + 2, 's_r_blocks_count_hi .. s_want_extra_isize');
	const flags = s.u32le('s_flags');
	const at = (field: number): number => EXT_SUPERBLOCK_OFFSET_BYTES + field;

	if (roCompat & ExtFeature.RO_COMPAT_METADATA_CSUM) {
		const stored = new DataView(bytes.buffer, bytes.byteOffset).getUint32(EXT_CHECKSUM_OFFSET, true);
		// ext4 stores the raw CRC-32C register (seeded ~0, no final inversion).
		const computed = crc32cUpdate(0xffffffff, bytes.subarray(0, EXT_CHECKSUM_OFFSET));
		if (stored !== computed) {
			damaged(
				'ext superblock',
				`checksum mismatch: stored 0x${stored.toString(16)}, computed 0x${computed.toString(16)}`,
				at(EXT_CHECKSUM_OFFSET),
				'VMDK_CORRUPT',
			);
		}
	} else if (logBlockSize >= EXT_MAX_LOG_BLOCK_SIZE) {
		damaged('ext superblock', `s_log_block_size ${logBlockSize} is out of range`, at(24));
	}
	const type = extTypeFromFeatures(compat, incompat, roCompat, flags);
	if (type === null) {
		damaged(
			'ext superblock',
			`no ext type matches features compat 0x${compat.toString(16)} incompat 0x${incompat.toString(16)} ro_compat 0x${roCompat.toString(16)}`,
			at(92),
		);
	}
	const blockSizeBytes = logBlockSize < 32 ? 1024 * 2 ** logBlockSize : undefined;
	const blocksCount =
		incompat & ExtFeature.INCOMPAT_64BIT ? blocksCountHi * 2 ** 32 + blocksCountLo : blocksCountLo;
	return {
		type,
		label: volumeName[0] === 0 ? null : cStringLabel(volumeName),
		uuid,
		version: `${revLevel}.${minorRev}`,
		sizeBytes:
			blockSizeBytes === undefined ? undefined : checkedProduct(blockSizeBytes, blocksCount, 'ext size'),
		blockSizeBytes,
		health: {
			needsRecovery: (incompat & ExtFeature.INCOMPAT_RECOVER) !== 0,
			dirty: (state & EXT_STATE_VALID_FS) === 0,
		},
	};
}
