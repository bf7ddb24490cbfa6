// SPDX-License-Identifier: MIT
// Minimal HFS / HFS+ volumes built byte by byte (Debian has no mkfs.hfsplus). Just enough for a
// prober: the HFS master directory block or HFS+ volume header at 1 KiB, and for HFS+ a catalog
// B-tree whose header node points at one leaf holding the root folder's thread key (the name).

const HFSPLUS_BLOCK_BYTES = 4096;
const HFSPLUS_TOTAL_BLOCKS = 16;
/** Catalog file: blocks 2 (header node) and 3 (first leaf node). */
const CATALOG_START_BLOCK = 2;
const CATALOG_BLOCKS = 2;
const JOURNAL_INFO_BLOCK = 5;
const JOURNAL_BLOCK = 6;

export interface HfsPlusOptions {
	readonly name: string;
	readonly hfsx?: boolean;
	/** The 8-byte Finder-info volume id (blkid's UUID source); default a fixed non-zero id. */
	readonly volumeId?: readonly number[];
	/** kHFSVolumeUnmountedBit set (clean); default true. */
	readonly cleanlyUnmounted?: boolean;
	/** Add an in-volume journal whose header has start ≠ end when `dirty`. */
	readonly journal?: { readonly dirty: boolean };
}

const DEFAULT_VOLUME_ID = [0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0];

/** A 64 KiB HFS+ (or HFSX) volume. */
export function buildHfsPlusVolume(options: HfsPlusOptions): Uint8Array {
	const bytes = new Uint8Array(HFSPLUS_BLOCK_BYTES * HFSPLUS_TOTAL_BLOCKS);
	const v = new DataView(bytes.buffer);
	const h = 1024;
	bytes.set(options.hfsx ? [0x48, 0x58] : [0x48, 0x2b], h); // 'HX' / 'H+'
	v.setUint16(h + 2, options.hfsx ? 5 : 4); // version
	let attributes = options.cleanlyUnmounted === false ? 0 : 1 << 8;
	if (options.journal) attributes |= 1 << 13;
	v.setUint32(h + 4, attributes);
	v.setUint32(h + 8, 0x31302e30); // lastMountedVersion '10.0'
	v.setUint32(h + 12, options.journal ? JOURNAL_INFO_BLOCK : 0);
	v.setUint32(h + 40, HFSPLUS_BLOCK_BYTES);
	v.setUint32(h + 44, HFSPLUS_TOTAL_BLOCKS);
	bytes.set(options.volumeId ?? DEFAULT_VOLUME_ID, h + 0x50 + 24); // finderInfo[6..7]
	// Catalog fork: logicalSize, clumpSize, totalBlocks, extents[0].
	v.setBigUint64(h + 0x110, BigInt(CATALOG_BLOCKS * HFSPLUS_BLOCK_BYTES));
	v.setUint32(h + 0x11c, CATALOG_BLOCKS);
	v.setUint32(h + 0x120, CATALOG_START_BLOCK);
	v.setUint32(h + 0x124, CATALOG_BLOCKS);

	// Header node: descriptor (kind 1 = header, 3 records), then the header record.
	const headerNode = CATALOG_START_BLOCK * HFSPLUS_BLOCK_BYTES;
	bytes[headerNode + 8] = 1;
	v.setUint16(headerNode + 10, 3);
	v.setUint16(headerNode + 14, 1); // treeDepth
	v.setUint32(headerNode + 16, 1); // rootNode
	v.setUint32(headerNode + 20, 1); // leafRecords
	v.setUint32(headerNode + 24, 1); // firstLeafNode
	v.setUint32(headerNode + 28, 1); // lastLeafNode
	v.setUint16(headerNode + 32, HFSPLUS_BLOCK_BYTES); // nodeSize

	// Leaf node 1: kind −1, height 1, one record: key (keyLength, parentID 1, name).
	const leaf = headerNode + HFSPLUS_BLOCK_BYTES;
	bytes[leaf + 8] = 0xff;
	bytes[leaf + 9] = 1;
	v.setUint16(leaf + 10, 1);
	v.setUint16(leaf + 14, 6 + options.name.length * 2);
	v.setUint32(leaf + 16, 1);
	v.setUint16(leaf + 20, options.name.length);
	for (let i = 0; i < options.name.length; i++) v.setUint16(leaf + 22 + i * 2, options.name.charCodeAt(i));

	if (options.journal) {
		const info = JOURNAL_INFO_BLOCK * HFSPLUS_BLOCK_BYTES;
		v.setUint32(info, 1); // kJIJournalInFSMask
		v.setBigUint64(info + 36, BigInt(JOURNAL_BLOCK * HFSPLUS_BLOCK_BYTES));
		v.setBigUint64(info + 44, BigInt(HFSPLUS_BLOCK_BYTES));
		// Journal header as an Intel Mac writes it: little-endian.
		const j = JOURNAL_BLOCK * HFSPLUS_BLOCK_BYTES;
		v.setUint32(j, 0x4a4e4c78, true);
		v.setUint32(j + 4, 0x12345678, true);
		v.setBigUint64(j + 8, 512n, true);
		v.setBigUint64(j + 16, options.journal.dirty ? 1024n : 512n, true);
	}
	return bytes;
}

/** Writes a plain HFS master directory block at `at`. */
function writeMdb(
	bytes: Uint8Array,
	name: string,
	fields: { allocationBlockBytes: number; firstAllocationSector: number; embed?: number },
): void {
	const v = new DataView(bytes.buffer, bytes.byteOffset);
	const m = 1024;
	bytes.set([0x42, 0x44], m); // 'BD'
	v.setUint16(m + 10, 1 << 8); // drAtrb: kHFSVolumeUnmountedBit
	v.setUint16(m + 18, 100); // drNmAlBlks
	v.setUint32(m + 20, fields.allocationBlockBytes);
	v.setUint16(m + 28, fields.firstAllocationSector);
	bytes[m + 36] = name.length;
	for (let i = 0; i < name.length; i++) bytes[m + 37 + i] = name.charCodeAt(i);
	bytes.set(DEFAULT_VOLUME_ID, m + 92 + 24);
	if (fields.embed !== undefined) {
		bytes.set([0x48, 0x2b], m + 124); // 'H+'
		v.setUint16(m + 126, fields.embed);
		v.setUint16(m + 128, HFSPLUS_TOTAL_BLOCKS);
	}
}

/** A 64 KiB plain HFS volume. */
export function buildHfsVolume(name: string): Uint8Array {
	const bytes = new Uint8Array(64 * 1024);
	writeMdb(bytes, name, { allocationBlockBytes: 512, firstAllocationSector: 16 });
	return bytes;
}

/** An HFS wrapper whose embedded HFS+ volume starts at 8 KiB (sector 8 + one 4 KiB block). */
export function buildWrappedHfsPlusVolume(name: string): Uint8Array {
	const embedded = buildHfsPlusVolume({ name });
	const bytes = new Uint8Array(8192 + embedded.length);
	writeMdb(bytes, 'Wrapper', { allocationBlockBytes: 4096, firstAllocationSector: 8, embed: 1 });
	bytes.set(embedded.subarray(1024), 8192 + 1024);
	return bytes;
}
