// SPDX-License-Identifier: MIT
/**
 * HFS ("BD" master directory block) and HFS+/HFSX ("H+"/"HX" volume header), including HFS+
 * wrapped in an HFS volume, all at 1 KiB (Apple TN1150). As in libblkid:
 * - the UUID is derived from the 64-bit Finder-info volume id: MD5 over a fixed namespace plus
 *   the id, with the version/variant bits of a v3 UUID; no UUID when the id is zero;
 * - the HFS+ label is the name in the first key of the catalog B-tree's first leaf node (the
 *   root folder's thread record), read with two small reads.
 * Health: `dirty` when kHFSVolumeUnmountedBit is clear (HFS and HFS+); `journalDirty` when the journal header
 * shows unreplayed transactions (start ≠ end).
 */
import { Reader, assertOffset } from '../io/reader.js';
import type { FilesystemInfo } from './types.js';
import { type ProbeReader, checkedProduct, damaged, isPowerOfTwo, matches } from './probe-io.js';
import { md5 } from './checksums.js';
import { formatUuid, latin1Label, utf16Label } from './text.js';

/** Both the HFS MDB and the HFS+ volume header sit 1 KiB into the volume. */
const HFS_HEADER_OFFSET_BYTES = 1024;
const HFS_SECTOR_SIZE_BYTES = 512;
/** Bytes of the HFS+ volume header through the catalog file fork. */
const HFSPLUS_HEADER_READ_BYTES = 0x160;
/** Namespace blkid (and Apple) hash the HFS volume id with. */
const HFS_UUID_NAMESPACE = [
	0xb3, 0xe2, 0x0f, 0x39, 0xf2, 0x92, 0x11, 0xd6, 0x97, 0xa4, 0x00, 0x30, 0x65, 0x43, 0xec, 0xac,
] as const;
/** B-tree node descriptor size and kind of a leaf node (kBTLeafNode = −1). */
const BTREE_NODE_DESCRIPTOR_BYTES = 14;
const BTREE_LEAF_KIND = 0xff;
/** Parent id of the root folder's thread record (kHFSRootParentID). */
const HFS_ROOT_PARENT_ID = 1;
/** blkid's minimum leaf node size: descriptor + a maximal catalog key (2 + 4 + 2 + 510). */
const HFSPLUS_MIN_LEAF_NODE_BYTES = BTREE_NODE_DESCRIPTOR_BYTES + 518;
const HFSPLUS_MAX_NAME_CHARS = 255;
const HFSPLUS_EXTENTS_PER_FORK = 8;
/** Volume attributes (TN1150). */
const HfsAttr = { UNMOUNTED: 1 << 8, JOURNALED: 1 << 13 } as const;
/** Journal header magic 'JNLx' and endianness marker. */
const JOURNAL_MAGIC = 0x4a4e4c78;
const JOURNAL_ENDIAN = 0x12345678;
/** JournalInfoBlock flag: the journal lives inside this volume. */
const JOURNAL_IN_FS = 0x1;

/** The UUID blkid derives from an HFS/HFS+ Finder-info volume id, or null for a zero id. */
export function hfsUuidFromVolumeId(volumeId: Uint8Array): string | null {
	if (volumeId.every((b) => b === 0)) return null;
	const input = new Uint8Array(16 + volumeId.length);
	input.set(HFS_UUID_NAMESPACE);
	input.set(volumeId, 16);
	const digest = md5(input);
	digest[6] = 0x30 | ((digest[6] ?? 0) & 0x0f);
	digest[8] = 0x80 | ((digest[8] ?? 0) & 0x3f);
	return formatUuid(digest);
}

interface Mdb {
	readonly attributes: number;
	readonly allocationBlockBytes: number;
	readonly firstAllocationSector: number;
	readonly labelLength: number;
	readonly label: Uint8Array;
	readonly volumeId: Uint8Array;
	readonly embedSignature: Uint8Array;
	readonly embedStartBlock: number;
}

function parseMdb(bytes: Uint8Array): Mdb {
	const m = new Reader(bytes, 'HFS master directory block', { offsetBytes: HFS_HEADER_OFFSET_BYTES });
	m.skip(2, 'drSigWord');
	m.skip(4 + 4, 'drCrDate, drLsMod');
	const attributes = m.u16be('drAtrb');
	m.skip(2 + 2 + 2 + 2, 'drNmFls .. drNmAlBlks');
	const allocationBlockBytes = m.u32be('drAlBlkSiz');
	m.u32be('drClpSiz');
	const firstAllocationSector = m.u16be('drAlBlSt');
	m.skip(4 + 2, 'drNxtCNID, drFreeBks');
	const labelLength = m.u8('drVN length');
	const label = m.bytesView(27, 'drVN');
	m.skip(4 + 2 + 4 + 4 + 4 + 2 + 4 + 4, 'drVolBkUp .. drDirCnt');
	m.skip(6 * 4, 'drFndrInfo[0..5]');
	const volumeId = m.bytesView(8, 'drFndrInfo[6..7]');
	const embedSignature = m.bytesView(2, 'drEmbedSigWord');
	const embedStartBlock = m.u16be('drEmbedExtent.startBlock');
	m.u16be('drEmbedExtent.blockCount');
	assertOffset(m, 0x82, 'HFS MDB through drEmbedExtent');
	return {
		attributes,
		allocationBlockBytes,
		firstAllocationSector,
		labelLength,
		label,
		volumeId,
		embedSignature,
		embedStartBlock,
	};
}

const isHfsPlusSignature = (bytes: Uint8Array, at: number): boolean =>
	matches(bytes, at, 'H+') || matches(bytes, at, 'HX');

/** Probes HFS, HFS+ and HFSX (plain or wrapped). */
export async function probeHfs(r: ProbeReader): Promise<FilesystemInfo | null> {
	const signature = await r.peek(HFS_HEADER_OFFSET_BYTES, 2);
	if (!signature) return null;
	if (isHfsPlusSignature(signature, 0)) return probeHfsPlus(r, 0);
	if (!matches(signature, 0, 'BD')) return null;
	const mdb = parseMdb(await r.read(HFS_HEADER_OFFSET_BYTES, 0x82, 'HFS master directory block'));
	const blockBytes = mdb.allocationBlockBytes;
	if (isHfsPlusSignature(mdb.embedSignature, 0)) {
		// HFS+ wrapped in HFS: the embedded volume starts at the wrapper's allocation block.
		if (blockBytes < HFS_SECTOR_SIZE_BYTES || blockBytes % HFS_SECTOR_SIZE_BYTES !== 0) {
			damaged('HFS wrapper', `allocation block size ${blockBytes} is invalid`, HFS_HEADER_OFFSET_BYTES + 20);
		}
		const embeddedOffsetBytes =
			mdb.firstAllocationSector * HFS_SECTOR_SIZE_BYTES + mdb.embedStartBlock * blockBytes;
		return probeHfsPlus(r, embeddedOffsetBytes);
	}
	if (blockBytes === 0 || blockBytes % HFS_SECTOR_SIZE_BYTES !== 0) {
		damaged(
			'HFS master directory block',
			`allocation block size ${blockBytes} is invalid`,
			HFS_HEADER_OFFSET_BYTES + 20,
		);
	}
	return {
		type: 'hfs',
		label: latin1Label(mdb.label.subarray(0, Math.min(mdb.labelLength, mdb.label.length))),
		uuid: hfsUuidFromVolumeId(mdb.volumeId),
		blockSizeBytes: blockBytes,
		health: { dirty: (mdb.attributes & HfsAttr.UNMOUNTED) === 0 },
	};
}

interface Extent {
	readonly startBlock: number;
	readonly blockCount: number;
}

async function probeHfsPlus(r: ProbeReader, volumeOffsetBytes: number): Promise<FilesystemInfo> {
	const what = 'HFS+ volume header';
	const headerOffsetBytes = volumeOffsetBytes + HFS_HEADER_OFFSET_BYTES;
	const bytes = await r.read(headerOffsetBytes, HFSPLUS_HEADER_READ_BYTES, what);
	if (!isHfsPlusSignature(bytes, 0))
		damaged(what, 'no H+/HX signature in the wrapped volume', headerOffsetBytes);
	const h = new Reader(bytes, what, { offsetBytes: headerOffsetBytes });
	h.skip(2, 'signature');
	h.u16be('version');
	const attributes = h.u32be('attributes');
	h.u32be('lastMountedVersion');
	const journalInfoBlock = h.u32be('journalInfoBlock');
	h.skip(4 * 4 + 4 + 4, 'createDate .. folderCount');
	const blockSizeBytes = h.u32be('blockSize');
	const totalBlocks = h.u32be('totalBlocks');
	h.skip(4 * 6 + 8, 'freeBlocks .. encodingsBitmap');
	h.skip(6 * 4, 'finderInfo[0..5]');
	const volumeId = h.bytesView(8, 'finderInfo[6..7]');
	h.skip(80 + 80, 'allocationFile, extentsFile');
	assertOffset(h, 0x110, `${what} before catalogFile`);
	h.skip(8 + 4 + 4, 'catalogFile logicalSize, clumpSize, totalBlocks');
	const extents: Extent[] = [];
	for (let i = 0; i < HFSPLUS_EXTENTS_PER_FORK; i++) {
		extents.push({ startBlock: h.u32be('extent startBlock'), blockCount: h.u32be('extent blockCount') });
	}
	if (blockSizeBytes < HFS_SECTOR_SIZE_BYTES || !isPowerOfTwo(blockSizeBytes)) {
		damaged(what, `blockSize ${blockSizeBytes} is invalid`, headerOffsetBytes + 40);
	}
	const catalogStartBlock = extents[0]?.startBlock ?? 0;
	if (volumeOffsetBytes + catalogStartBlock * blockSizeBytes > r.sizeBytes) {
		damaged(what, `catalog start block ${catalogStartBlock} is beyond the volume`, headerOffsetBytes + 0x120);
	}
	const journaled = (attributes & HfsAttr.JOURNALED) !== 0;
	return {
		type: 'hfsplus',
		label: await readCatalogLabel(r, volumeOffsetBytes, blockSizeBytes, extents),
		uuid: hfsUuidFromVolumeId(volumeId),
		sizeBytes: checkedProduct(totalBlocks, blockSizeBytes, 'HFS+ size'),
		blockSizeBytes,
		health: {
			dirty: (attributes & HfsAttr.UNMOUNTED) === 0,
			journalDirty: journaled
				? await readJournalDirty(r, volumeOffsetBytes, blockSizeBytes, journalInfoBlock)
				: undefined,
		},
	};
}

/** The volume name from the catalog's first leaf node, or null when blkid would find none. */
async function readCatalogLabel(
	r: ProbeReader,
	volumeOffsetBytes: number,
	blockSizeBytes: number,
	extents: readonly Extent[],
): Promise<string | null> {
	const catalogStartBlock = extents[0]?.startBlock ?? 0;
	const headerNodeOffset = volumeOffsetBytes + catalogStartBlock * blockSizeBytes;
	const headerNode = await r.read(
		headerNodeOffset,
		BTREE_NODE_DESCRIPTOR_BYTES + 20,
		'HFS+ catalog header node',
	);
	const n = new Reader(headerNode, 'HFS+ catalog header record', { offsetBytes: headerNodeOffset });
	n.skip(BTREE_NODE_DESCRIPTOR_BYTES, 'node descriptor');
	n.u16be('treeDepth');
	n.u32be('rootNode');
	const leafRecords = n.u32be('leafRecords');
	const firstLeafNode = n.u32be('firstLeafNode');
	n.u32be('lastLeafNode');
	const nodeSizeBytes = n.u16be('nodeSize');
	if (nodeSizeBytes < HFSPLUS_MIN_LEAF_NODE_BYTES || leafRecords === 0) return null;
	let leafBlock = Math.floor((firstLeafNode * nodeSizeBytes) / blockSizeBytes);
	let physicalBlock: number | null = null;
	for (const extent of extents) {
		if (extent.blockCount === 0) return null;
		if (leafBlock < extent.blockCount) {
			physicalBlock = extent.startBlock + leafBlock;
			break;
		}
		leafBlock -= extent.blockCount;
	}
	if (physicalBlock === null) return null;
	const leafOffset = volumeOffsetBytes + physicalBlock * blockSizeBytes;
	if (!r.has(leafOffset, nodeSizeBytes)) return null;
	const leaf = await r.read(leafOffset, nodeSizeBytes, 'HFS+ catalog leaf node');
	const l = new Reader(leaf, 'HFS+ catalog leaf node', { offsetBytes: leafOffset });
	l.skip(4 + 4, 'fLink, bLink');
	const kind = l.u8('kind');
	l.u8('height');
	const numRecords = l.u16be('numRecords');
	l.u16be('reserved');
	if (numRecords === 0 || kind !== BTREE_LEAF_KIND) return null;
	l.u16be('keyLength');
	const parentId = l.u32be('parentID');
	const nameLength = l.u16be('nodeName.length');
	if (parentId !== HFS_ROOT_PARENT_ID || nameLength > HFSPLUS_MAX_NAME_CHARS) return null;
	return utf16Label(l.bytesView(nameLength * 2, 'nodeName.unicode'), false);
}

/** True when the journal header has transactions not yet replayed. */
async function readJournalDirty(
	r: ProbeReader,
	volumeOffsetBytes: number,
	blockSizeBytes: number,
	journalInfoBlock: number,
): Promise<boolean | undefined> {
	const infoOffset =
		volumeOffsetBytes + checkedProduct(journalInfoBlock, blockSizeBytes, 'journal info offset');
	if (!r.has(infoOffset, 52)) return undefined;
	const info = new Reader(await r.read(infoOffset, 52, 'HFS+ journal info block'), 'HFS+ journal info block');
	const flags = info.u32be('flags');
	info.skip(32, 'device_signature');
	const journalOffset = info.u64be('offset');
	// A journal on another device cannot be checked from here.
	if ((flags & JOURNAL_IN_FS) === 0 || journalOffset > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
	const headerOffset = volumeOffsetBytes + Number(journalOffset);
	if (!r.has(headerOffset, 24)) return undefined;
	const header = await r.read(headerOffset, 24, 'HFS+ journal header');
	const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
	// The journal is written in the byte order of the machine that wrote it.
	const littleEndian = view.getUint32(4, true) === JOURNAL_ENDIAN;
	if (view.getUint32(0, littleEndian) !== JOURNAL_MAGIC) return undefined;
	return view.getBigUint64(8, littleEndian) !== view.getBigUint64(16, littleEndian);
}
