// SPDX-License-Identifier: MIT
/**
 * APFS container superblock (block 0, "NXSB"), with libblkid's checks: Fletcher-64 object
 * checksum, object type 1 / subtype 0, 4 KiB blocks. The UUID is the container's; the label stays
 * null, as in blkid. `volumeNames` lists the volumes' names (Apple File System Reference: the
 * container's object map B-tree maps each nx_fs_oid to the volume superblock, apfs_volname):
 * a few 4 KiB reads, every object checksummed, the tree walk bounded. Block 0 is used as blkid
 * uses it; on a container not cleanly unmounted the checkpoint area may hold newer state.
 */
import { Reader, assertOffset } from '../io/reader.js';
import { toSafeNumber } from '../io/safe-number.js';
import type { FilesystemInfo } from './types.js';
import { type ProbeReader, checkedProduct, damaged, matches } from './probe-io.js';
import { apfsFletcher64 } from './checksums.js';
import { cStringLabel, formatUuid } from './text.js';
import { isVmdkError } from '../errors.js';

/** The container superblock is one 4 KiB block at offset 0. */
const APFS_BLOCK_SIZE_BYTES = 4096;
/** OBJECT_TYPE_NX_SUPERBLOCK. */
const APFS_TYPE_NX_SUPERBLOCK = 1;
/** NX_MAX_FILE_SYSTEMS: size of nx_fs_oid[]. */
const APFS_MAX_FILE_SYSTEMS = 100;
/** btree_node_phys_t header and the root's trailing btree_info_t. */
const APFS_NODE_HEADER_BYTES = 56;
const APFS_BTREE_INFO_BYTES = 40;
/** Bounds on the object map walk. */
const APFS_MAX_TREE_DEPTH = 8;
const APFS_MAX_NODE_KEYS = 1024;
/** btn_flags. */
const BtreeNode = { ROOT: 0x1, LEAF: 0x2, FIXED_KV_SIZE: 0x4 } as const;
/** apfs_superblock_t.apfs_volname: offset and size (UTF-8, NUL-terminated). */
const APFS_VOLNAME_OFFSET = 704;
const APFS_VOLNAME_BYTES = 256;

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
	s.skip(8 + 8 + 4 + 4 + 8 + 8 + 4 * 6 + 8, 'nx_next_oid .. nx_spaceman_oid');
	const omapOid = s.u64le('nx_omap_oid');
	s.skip(8 + 4, 'nx_reaper_oid, nx_test_type');
	const maxFileSystems = s.u32le('nx_max_file_systems');
	assertOffset(s, 184, `${what} before nx_fs_oid`);
	const fsOids: bigint[] = [];
	for (let i = 0; i < Math.min(maxFileSystems, APFS_MAX_FILE_SYSTEMS); i++) {
		const oid = s.u64le('nx_fs_oid');
		if (oid !== 0n) fsOids.push(oid);
	}
	const [low, high] = apfsFletcher64(block.subarray(8));
	if (low !== checksumLow || high !== checksumHigh) damaged(what, 'checksum mismatch', 0, 'VMDK_CORRUPT');
	if (type !== APFS_TYPE_NX_SUPERBLOCK || subtype !== 0 || pad !== 0) {
		damaged(what, `object type ${type}/${subtype} is not a container superblock`, 24);
	}
	if (blockSizeBytes !== APFS_BLOCK_SIZE_BYTES) damaged(what, `block size ${blockSizeBytes} is not 4096`, 36);
	const xid = new DataView(block.buffer, block.byteOffset).getBigUint64(16, true);
	let volumeNames: string[] | undefined;
	try {
		volumeNames = await readVolumeNames(r, blockCount, omapOid, xid, fsOids);
	} catch (error) {
		// Names are a bonus: a damaged object map leaves them out, the container is still apfs.
		if (!isVmdkError(error)) throw error;
	}
	return {
		type: 'apfs',
		label: null,
		uuid,
		sizeBytes: checkedProduct(blockCount, blockSizeBytes, 'APFS size'),
		blockSizeBytes,
		volumeNames,
	};
}

/** Reads one 4 KiB object by physical block number and checks its Fletcher-64; null if invalid. */
async function readObject(
	r: ProbeReader,
	blockCount: number,
	paddr: bigint,
	what: string,
): Promise<Uint8Array | null> {
	if (paddr <= 0n || paddr >= BigInt(blockCount)) return null;
	const at = Number(paddr) * APFS_BLOCK_SIZE_BYTES;
	if (!r.has(at, APFS_BLOCK_SIZE_BYTES)) return null;
	const block = await r.read(at, APFS_BLOCK_SIZE_BYTES, what);
	const view = new DataView(block.buffer, block.byteOffset, block.byteLength);
	const [low, high] = apfsFletcher64(block.subarray(8));
	return view.getUint32(0, true) === low && view.getUint32(4, true) === high ? block : null;
}

/**
 * Resolves a virtual object id through the object map B-tree (fixed 16-byte keys and values):
 * the newest mapping with xid ≤ the container's. Returns the physical block or null.
 */
async function omapLookup(
	r: ProbeReader,
	blockCount: number,
	treeOid: bigint,
	oid: bigint,
	xid: bigint,
): Promise<bigint | null> {
	let node = await readObject(r, blockCount, treeOid, 'APFS object map node');
	for (let depth = 0; node && depth < APFS_MAX_TREE_DEPTH; depth++) {
		const v = new DataView(node.buffer, node.byteOffset, node.byteLength);
		const flags = v.getUint16(32, true);
		const level = v.getUint16(34, true);
		const keys = Math.min(v.getUint32(36, true), APFS_MAX_NODE_KEYS);
		const tocStart = APFS_NODE_HEADER_BYTES + v.getUint16(40, true);
		const keyStart = tocStart + v.getUint16(42, true);
		// The root node keeps a btree_info_t at its very end; values count back from there.
		const valueEnd = node.length - (flags & BtreeNode.ROOT ? APFS_BTREE_INFO_BYTES : 0);
		if (!(flags & BtreeNode.FIXED_KV_SIZE)) return null;
		let best: { xid: bigint; value: number } | null = null;
		for (let i = 0; i < keys; i++) {
			const entry = tocStart + i * 4;
			if (entry + 4 > node.length) return null;
			const keyAt = keyStart + v.getUint16(entry, true);
			const valueAt = valueEnd - v.getUint16(entry + 2, true);
			if (keyAt + 16 > node.length || valueAt < 0 || valueAt + 16 > node.length) return null;
			const keyOid = v.getBigUint64(keyAt, true);
			const keyXid = v.getBigUint64(keyAt + 8, true);
			if (level === 0) {
				if (keyOid === oid && keyXid <= xid && (!best || keyXid > best.xid))
					best = { xid: keyXid, value: valueAt };
			} else if (keyOid < oid || (keyOid === oid && keyXid <= xid)) {
				// Index node: the last key not after (oid, xid) leads to the child.
				best = { xid: keyXid, value: valueAt };
			}
		}
		if (!best) return null;
		if (level === 0) return v.getBigUint64(best.value + 8, true); // omap_val_t.ov_paddr
		node = await readObject(r, blockCount, v.getBigUint64(best.value, true), 'APFS object map node');
	}
	return null;
}

async function readVolumeNames(
	r: ProbeReader,
	blockCount: number,
	omapOid: bigint,
	xid: bigint,
	fsOids: readonly bigint[],
): Promise<string[] | undefined> {
	const omap = await readObject(r, blockCount, omapOid, 'APFS object map');
	if (!omap) return undefined;
	const treeOid = new DataView(omap.buffer, omap.byteOffset).getBigUint64(48, true);
	const names: string[] = [];
	for (const fsOid of fsOids) {
		const paddr = await omapLookup(r, blockCount, treeOid, fsOid, xid);
		const volume = paddr === null ? null : await readObject(r, blockCount, paddr, 'APFS volume superblock');
		if (!volume || !matches(volume, 32, 'APSB')) continue;
		names.push(
			cStringLabel(volume.subarray(APFS_VOLNAME_OFFSET, APFS_VOLNAME_OFFSET + APFS_VOLNAME_BYTES)) ?? '',
		);
	}
	return names;
}
