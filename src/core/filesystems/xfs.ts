// SPDX-License-Identifier: MIT
/**
 * XFS superblock (big-endian, sector 0), with libblkid's sanity checks and the v5 CRC.
 * `sizeBytes` is sb_dblocks × sb_blocksize (blkid's FSSIZE also subtracts an internal log).
 */
import { Reader, assertOffset } from '../io/reader.js';
import { toSafeNumber } from '../io/safe-number.js';
import type { FilesystemInfo } from './types.js';
import { type ProbeReader, checkedProduct, damaged, matches } from './probe-io.js';
import { crc32c } from './checksums.js';
import { cStringLabel, formatUuid } from './text.js';

/** Bytes of the superblock fields we read (through sb_crc). */
const XFS_SB_READ_BYTES = 228;
/** Offset of sb_crc in the superblock. */
const XFS_SB_CRC_OFFSET = 224;
const XFS_MIN_SECTOR_LOG = 9;
const XFS_MAX_SECTOR_LOG = 15;
const XFS_MIN_BLOCK_LOG = 9;
const XFS_MAX_BLOCK_LOG = 16;
const XFS_MIN_INODE_LOG = 8;
const XFS_MAX_INODE_LOG = 11;
const XFS_MIN_RTEXT_BYTES = 4 * 1024;
const XFS_MAX_RTEXT_BYTES = 1024 * 1024 * 1024;
const XFS_MIN_AG_BLOCKS = 64;
/** sb_versionnum: more feature bits in sb_features2. */
const XFS_SB_VERSION_MOREBITS = 0x8000;
/** sb_features2: metadata CRCs. */
const XFS_SB_VERSION2_CRC = 0x100;

/** Probes an XFS superblock. */
export async function probeXfs(r: ProbeReader): Promise<FilesystemInfo | null> {
	const magic = await r.peek(0, 4);
	if (!magic || !matches(magic, 0, 'XFSB')) return null;
	const bytes = await r.read(0, XFS_SB_READ_BYTES, 'xfs superblock');
	const s = new Reader(bytes, 'xfs superblock');
	s.skip(4, 'sb_magicnum');
	const blockSizeBytes = s.u32be('sb_blocksize');
	const dataBlocks = toSafeNumber(s.u64be('sb_dblocks'), 'sb_dblocks');
	s.skip(8 + 8, 'sb_rblocks, sb_rextents');
	const uuid = formatUuid(s.bytesView(16, 'sb_uuid'));
	s.skip(8 * 4, 'sb_logstart .. sb_rsumino');
	const rtExtentBlocks = s.u32be('sb_rextsize');
	const agBlocks = s.u32be('sb_agblocks');
	const agCount = s.u32be('sb_agcount');
	s.skip(4 + 4, 'sb_rbmblocks, sb_logblocks');
	const versionNum = s.u16be('sb_versionnum');
	const sectorSizeBytes = s.u16be('sb_sectsize');
	const inodeSizeBytes = s.u16be('sb_inodesize');
	s.u16be('sb_inopblock');
	const fname = s.bytesView(12, 'sb_fname');
	const blockLog = s.u8('sb_blocklog');
	const sectorLog = s.u8('sb_sectlog');
	const inodeLog = s.u8('sb_inodelog');
	const inodesPerBlockLog = s.u8('sb_inopblog');
	s.skip(3, 'sb_agblklog, sb_rextslog, sb_inprogress');
	const imaxPct = s.u8('sb_imax_pct');
	s.skip(8 * 6 + 2 + 1 + 1 + 4 * 3 + 1 + 1 + 2 + 4, 'sb_icount .. sb_logsunit');
	const features2 = s.u32be('sb_features2');
	s.skip(4 * 5, 'sb_bad_features2 .. sb_features_log_incompat');
	assertOffset(s, XFS_SB_CRC_OFFSET, 'xfs superblock before sb_crc');

	const rtExtentBytes = rtExtentBlocks * blockSizeBytes;
	const checks: [boolean, string][] = [
		[agCount > 0, `sb_agcount ${agCount}`],
		[sectorLog >= XFS_MIN_SECTOR_LOG && sectorLog <= XFS_MAX_SECTOR_LOG, `sb_sectlog ${sectorLog}`],
		[sectorSizeBytes === 2 ** sectorLog, `sb_sectsize ${sectorSizeBytes}`],
		[blockLog >= XFS_MIN_BLOCK_LOG && blockLog <= XFS_MAX_BLOCK_LOG, `sb_blocklog ${blockLog}`],
		[blockSizeBytes === 2 ** blockLog, `sb_blocksize ${blockSizeBytes}`],
		[inodeLog >= XFS_MIN_INODE_LOG && inodeLog <= XFS_MAX_INODE_LOG, `sb_inodelog ${inodeLog}`],
		[inodeSizeBytes === 2 ** inodeLog, `sb_inodesize ${inodeSizeBytes}`],
		[blockLog - inodeLog === inodesPerBlockLog, `sb_inopblog ${inodesPerBlockLog}`],
		[
			rtExtentBytes >= XFS_MIN_RTEXT_BYTES && rtExtentBytes <= XFS_MAX_RTEXT_BYTES,
			`sb_rextsize ${rtExtentBlocks}`,
		],
		[imaxPct <= 100, `sb_imax_pct ${imaxPct}`],
		[dataBlocks > 0, 'sb_dblocks is 0'],
		[
			dataBlocks <= agCount * agBlocks && dataBlocks >= (agCount - 1) * agBlocks + XFS_MIN_AG_BLOCKS,
			`sb_dblocks ${dataBlocks} does not fit ${agCount} AGs of ${agBlocks} blocks`,
		],
	];
	for (const [ok, field] of checks) if (!ok) damaged('xfs superblock', `${field} is invalid`);

	if ((versionNum & 0x0f) === 5) {
		if (!(versionNum & XFS_SB_VERSION_MOREBITS) || !(features2 & XFS_SB_VERSION2_CRC)) {
			damaged('xfs superblock', 'version 5 without the CRC feature');
		}
		const sector = await r.read(0, sectorSizeBytes, 'xfs superblock sector');
		const copy = sector.slice();
		copy.fill(0, XFS_SB_CRC_OFFSET, XFS_SB_CRC_OFFSET + 4);
		const computed = crc32c(copy);
		const stored = new DataView(sector.buffer, sector.byteOffset).getUint32(XFS_SB_CRC_OFFSET, true);
		if (computed !== stored) {
			damaged(
				'xfs superblock',
				`CRC mismatch: stored 0x${stored.toString(16)}, computed 0x${computed.toString(16)}`,
				XFS_SB_CRC_OFFSET,
				'VMDK_CORRUPT',
			);
		}
	}
	return {
		type: 'xfs',
		label: fname[0] === 0 ? null : cStringLabel(fname),
		uuid,
		sizeBytes: checkedProduct(dataBlocks, blockSizeBytes, 'xfs size'),
		blockSizeBytes,
	};
}
