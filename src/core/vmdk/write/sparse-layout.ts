// SPDX-License-Identifier: MIT
/**
 * Binary pieces of the hosted sparse extents we write: the 512-byte header, stream markers, and
 * where the grain directories and tables go (docs/vmdk-format.md "Sparse extents we write").
 */
import { SECTOR_SIZE_BYTES } from '../../io/safe-number.js';
import { GTES_PER_GT, KDMV_MAGIC, SPARSE_HEADER_SIZE_BYTES, type GD_AT_END } from '../sparse-header.js';

/** Grain size we write: 128 sectors (64 KiB), what VMware and QEMU write. */
export const GRAIN_SECTORS = 128;
/** {@link GRAIN_SECTORS} in bytes. */
export const GRAIN_BYTES = GRAIN_SECTORS * SECTOR_SIZE_BYTES;
/** Bytes of one grain table (512 u32 entries = 4 sectors). */
export const GT_BYTES = GTES_PER_GT * 4;
/** Sectors of one grain table. */
export const GT_SECTORS = GT_BYTES / SECTOR_SIZE_BYTES;
/** Virtual bytes one grain table covers (32 MiB). */
export const GT_COVERS_BYTES = GTES_PER_GT * GRAIN_BYTES;
/** Sectors reserved for an embedded descriptor (10 KiB, as VMware and QEMU reserve). */
export const EMBEDDED_DESCRIPTOR_SECTORS = 20;

/** Fields of a header we write. Offsets and sizes in sectors. */
export interface SparseHeaderFields {
	readonly version: 1 | 3;
	readonly flags: number;
	readonly capacitySectors: number;
	readonly descriptorOffsetSectors: number;
	readonly descriptorSizeSectors: number;
	readonly rgdOffsetSectors: number;
	/** A sector number, or `GD_AT_END` for the leading header of a stream. */
	readonly gdOffsetSectors: number | typeof GD_AT_END;
	readonly overheadSectors: number;
	/** 0 none, 1 deflate. */
	readonly compressAlgorithm: 0 | 1;
}

/** The 512-byte header (also a stream's footer). */
export function encodeSparseHeader(h: SparseHeaderFields): Uint8Array {
	const out = new Uint8Array(SPARSE_HEADER_SIZE_BYTES);
	const v = new DataView(out.buffer);
	v.setUint32(0, KDMV_MAGIC, true);
	v.setUint32(4, h.version, true);
	v.setUint32(8, h.flags, true);
	v.setBigUint64(12, BigInt(h.capacitySectors), true);
	v.setBigUint64(20, BigInt(GRAIN_SECTORS), true);
	v.setBigUint64(28, BigInt(h.descriptorOffsetSectors), true);
	v.setBigUint64(36, BigInt(h.descriptorSizeSectors), true);
	v.setUint32(44, GTES_PER_GT, true);
	v.setBigUint64(48, BigInt(h.rgdOffsetSectors), true);
	v.setBigUint64(
		56,
		typeof h.gdOffsetSectors === 'bigint' ? h.gdOffsetSectors : BigInt(h.gdOffsetSectors),
		true,
	);
	v.setBigUint64(64, BigInt(h.overheadSectors), true);
	out[72] = 0; // clean shutdown
	out.set([0x0a, 0x20, 0x0d, 0x0a], 73); // newline-damage detector
	v.setUint16(77, h.compressAlgorithm, true);
	return out;
}

/** A metadata marker sector: `sizeSectors` of table follow it; `type` per StreamMarkerType. */
export function encodeMetadataMarker(type: number, sizeSectors: number): Uint8Array {
	const out = new Uint8Array(SECTOR_SIZE_BYTES);
	const v = new DataView(out.buffer);
	v.setBigUint64(0, BigInt(sizeSectors), true);
	v.setUint32(8, 0, true);
	v.setUint32(12, type, true);
	return out;
}

/** Where the tables of a monolithic sparse extent go, all in sectors. */
export interface SparseLayout {
	readonly capacitySectors: number;
	/** Grain tables (= grain-directory entries). */
	readonly gtCount: number;
	readonly descriptorOffsetSectors: number;
	readonly descriptorSizeSectors: number;
	/** Redundant GD, then its tables. */
	readonly rgdOffsetSectors: number;
	readonly rgtOffsetSectors: number;
	/** GD, then its tables. */
	readonly gdOffsetSectors: number;
	readonly gtOffsetSectors: number;
	/** First grain; a multiple of the grain size. */
	readonly overheadSectors: number;
}

/**
 * VMware's layout of a hosted sparse extent: header, descriptor (when embedded), redundant GD and
 * its GTs, GD and its GTs, padding to a grain boundary. Every GT is reserved up front, so a GT's
 * place is known before its grains are written (one pass, constant memory).
 */
export function sparseLayout(capacitySectors: number, embeddedDescriptor: boolean): SparseLayout {
	const gtCount = Math.ceil(capacitySectors / (GTES_PER_GT * GRAIN_SECTORS));
	const gdSectors = Math.max(1, Math.ceil((gtCount * 4) / SECTOR_SIZE_BYTES));
	const descriptorOffsetSectors = embeddedDescriptor ? 1 : 0;
	const descriptorSizeSectors = embeddedDescriptor ? EMBEDDED_DESCRIPTOR_SECTORS : 0;
	const rgdOffsetSectors = 1 + descriptorSizeSectors;
	const rgtOffsetSectors = rgdOffsetSectors + gdSectors;
	const gdOffsetSectors = rgtOffsetSectors + gtCount * GT_SECTORS;
	const gtOffsetSectors = gdOffsetSectors + gdSectors;
	const end = gtOffsetSectors + gtCount * GT_SECTORS;
	return {
		capacitySectors,
		gtCount,
		descriptorOffsetSectors,
		descriptorSizeSectors,
		rgdOffsetSectors,
		rgtOffsetSectors,
		gdOffsetSectors,
		gtOffsetSectors,
		overheadSectors: Math.ceil(end / GRAIN_SECTORS) * GRAIN_SECTORS,
	};
}

/** A grain directory whose entry `i` points at table `i` of a run of tables starting at `firstGtSector`. */
export function encodeGrainDirectory(gtCount: number, firstGtSector: number): Uint8Array {
	const out = new Uint8Array(Math.max(1, Math.ceil((gtCount * 4) / SECTOR_SIZE_BYTES)) * SECTOR_SIZE_BYTES);
	const v = new DataView(out.buffer);
	for (let i = 0; i < gtCount; i++) v.setUint32(i * 4, firstGtSector + i * GT_SECTORS, true);
	return out;
}
