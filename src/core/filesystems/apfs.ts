// SPDX-License-Identifier: MIT
/**
 * APFS container superblock (block 0, "NXSB"), with libblkid's checks: Fletcher-64 object
 * checksum, object type 1 / subtype 0, 4 KiB blocks. The UUID is the container's. Volume names
 * live in volume superblocks reached through the object map B-tree; that walk is not cheap, so
 * the label stays null (blkid reports none either).
 */
import { Reader, assertOffset } from '../io/reader.js';
import { toSafeNumber } from '../io/safe-number.js';
import type { FilesystemInfo } from './types.js';
import { type ProbeReader, checkedProduct, damaged, matches } from './probe-io.js';
import { apfsFletcher64 } from './checksums.js';
import { formatUuid } from './text.js';

/** The container superblock is one 4 KiB block at offset 0. */
const APFS_BLOCK_SIZE_BYTES = 4096;
/** OBJECT_TYPE_NX_SUPERBLOCK. */
const APFS_TYPE_NX_SUPERBLOCK = 1;

/** Probes an APFS container superblock. */
export async function probeApfs(r: ProbeReader): Promise<FilesystemInfo | null> {
	const magic = await r.peek(32, 4);
	if (!magic || !matches(magic, 0, 'NXSB')) return null;
	const what = 'APFS container superblock';
	const block = await r.read(0, APFS_BLOCK_SIZE_BYTES, what);
	const s = new Reader(block, what);
	const checksumLow = s.u32le('o_cksum low');
	const checksumHigh = s.u32le('o_cksum high');
	s.skip(8 + 8, 'o_oid, o_xid');
	const type = s.u16le('o_type');
	s.u16le('o_type flags');
	const subtype = s.u16le('o_subtype');
	const pad = s.u16le('o_subtype high');
	s.skip(4, 'nx_magic');
	const blockSizeBytes = s.u32le('nx_block_size');
	const blockCount = toSafeNumber(s.u64le('nx_block_count'), 'nx_block_count');
	s.skip(8 * 3, 'nx_features, nx_readonly_compatible_features, nx_incompatible_features');
	assertOffset(s, 72, `${what} before nx_uuid`);
	const uuid = formatUuid(s.bytesView(16, 'nx_uuid'));
	const [low, high] = apfsFletcher64(block.subarray(8));
	if (low !== checksumLow || high !== checksumHigh) damaged(what, 'checksum mismatch', 0, 'VMDK_CORRUPT');
	if (type !== APFS_TYPE_NX_SUPERBLOCK || subtype !== 0 || pad !== 0) {
		damaged(what, `object type ${type}/${subtype} is not a container superblock`, 24);
	}
	if (blockSizeBytes !== APFS_BLOCK_SIZE_BYTES) damaged(what, `block size ${blockSizeBytes} is not 4096`, 36);
	return {
		type: 'apfs',
		label: null,
		uuid,
		sizeBytes: checkedProduct(blockCount, blockSizeBytes, 'APFS size'),
		blockSizeBytes,
	};
}
