// SPDX-License-Identifier: MIT
/**
 * Writes a streamOptimized extent front to back, as the VMware technote lays it out
 * (docs/vmdk-format.md "streamOptimized we write"): header (grain directory "at end"),
 * embedded descriptor, then for each grain a marker (LBA, compressed size) and its zlib data
 * padded to a sector; after the last grain of each grain table that has grains, a GT marker and
 * the table; at the end a GD marker and the directory, a footer marker, the footer (the header
 * with the real directory offset) and an end-of-stream marker. Strictly sequential: nothing is
 * written twice.
 */
import { SECTOR_SIZE_BYTES } from '../../io/safe-number.js';
import type { WritableFile } from '../../platform.js';
import { CompressAlgorithm, GTES_PER_GT, SparseFlag } from '../sparse-header.js';
import { GRAIN_MARKER_HEADER_BYTES, StreamMarkerType } from '../stream-optimized.js';
import {
	EMBEDDED_DESCRIPTOR_SECTORS,
	GRAIN_SECTORS,
	GT_BYTES,
	GT_SECTORS,
	encodeMetadataMarker,
	encodeSparseHeader,
	type SparseHeaderFields,
} from './sparse-layout.js';
import { GD_AT_END } from '../sparse-header.js';

/** A streamOptimized extent being written. */
export class StreamExtentWriter {
	private readonly file: WritableFile;
	private readonly header: SparseHeaderFields;
	private readonly gd: Uint32Array;
	private nextSector: number;
	private tableIndex = -1;
	private table = new Uint32Array(GTES_PER_GT);
	private tableUsed = false;
	/** Grains written so far. */
	grainsWritten = 0;
	/** Compressed bytes of grain data written (without markers and padding). */
	compressedBytes = 0;

	private constructor(file: WritableFile, header: SparseHeaderFields) {
		this.file = file;
		this.header = header;
		this.gd = new Uint32Array(Math.ceil(header.capacitySectors / (GTES_PER_GT * GRAIN_SECTORS)));
		this.nextSector = header.overheadSectors;
	}

	/** Writes the leading header and descriptor; grains start at the next 64 KiB. */
	static async begin(
		file: WritableFile,
		capacitySectors: number,
		descriptor: Uint8Array,
	): Promise<StreamExtentWriter> {
		if (descriptor.length > EMBEDDED_DESCRIPTOR_SECTORS * SECTOR_SIZE_BYTES) {
			throw new RangeError(`descriptor of ${descriptor.length} bytes does not fit its 10 KiB area`);
		}
		const header: SparseHeaderFields = {
			// ESXi refuses version 1 streamOptimized disks.
			version: 3,
			flags: SparseFlag.VALID_NEWLINE_TEST | SparseFlag.COMPRESSED_GRAINS | SparseFlag.HAS_MARKERS,
			capacitySectors,
			descriptorOffsetSectors: 1,
			descriptorSizeSectors: EMBEDDED_DESCRIPTOR_SECTORS,
			rgdOffsetSectors: 0,
			gdOffsetSectors: GD_AT_END,
			overheadSectors: Math.ceil((1 + EMBEDDED_DESCRIPTOR_SECTORS) / GRAIN_SECTORS) * GRAIN_SECTORS,
			compressAlgorithm: CompressAlgorithm.DEFLATE,
		};
		const lead = new Uint8Array(header.overheadSectors * SECTOR_SIZE_BYTES);
		lead.set(encodeSparseHeader(header), 0);
		lead.set(descriptor, SECTOR_SIZE_BYTES);
		await file.write(0, lead);
		return new StreamExtentWriter(file, header);
	}

	/**
	 * Appends compressed grains: `compressed[i]` is the zlib stream of extent grain `grains[i]`.
	 * Calls must come in increasing grain order.
	 */
	async placeGrains(grains: readonly number[], compressed: readonly Uint8Array[]): Promise<void> {
		const parts: Uint8Array[] = [];
		let bytes = 0;
		const startSector = this.nextSector;
		const push = (part: Uint8Array): void => {
			parts.push(part);
			bytes += part.length;
		};
		for (let i = 0; i < grains.length; i++) {
			const grain = grains[i] as number;
			const data = compressed[i] as Uint8Array;
			const gtIndex = Math.floor(grain / GTES_PER_GT);
			if (gtIndex !== this.tableIndex) {
				const table = this.takeTable(startSector + bytes / SECTOR_SIZE_BYTES);
				for (const p of table) push(p);
				this.tableIndex = gtIndex;
			}
			const marker = new Uint8Array(GRAIN_MARKER_HEADER_BYTES);
			const v = new DataView(marker.buffer);
			v.setBigUint64(0, BigInt(grain * GRAIN_SECTORS), true);
			v.setUint32(8, data.length, true);
			this.table[grain % GTES_PER_GT] = startSector + bytes / SECTOR_SIZE_BYTES;
			this.tableUsed = true;
			push(marker);
			push(data);
			const pad =
				(SECTOR_SIZE_BYTES - ((GRAIN_MARKER_HEADER_BYTES + data.length) % SECTOR_SIZE_BYTES)) %
				SECTOR_SIZE_BYTES;
			if (pad > 0) push(new Uint8Array(pad));
			this.grainsWritten++;
			this.compressedBytes += data.length;
		}
		if (bytes === 0) return;
		this.nextSector += bytes / SECTOR_SIZE_BYTES;
		await this.file.write(startSector * SECTOR_SIZE_BYTES, concat(parts, bytes));
	}

	/** Writes the last table, the directory, the footer and the end-of-stream marker. */
	async finish(): Promise<void> {
		const parts = this.takeTable(this.nextSector);
		let sector = this.nextSector + parts.reduce((n, p) => n + p.length, 0) / SECTOR_SIZE_BYTES;
		const gdSectors = Math.max(1, Math.ceil((this.gd.length * 4) / SECTOR_SIZE_BYTES));
		const gd = new Uint8Array(gdSectors * SECTOR_SIZE_BYTES);
		const v = new DataView(gd.buffer);
		this.gd.forEach((s, i) => v.setUint32(i * 4, s, true));
		parts.push(encodeMetadataMarker(StreamMarkerType.GRAIN_DIRECTORY, gdSectors));
		const gdSector = sector + 1;
		parts.push(gd);
		sector += 1 + gdSectors;
		parts.push(encodeMetadataMarker(StreamMarkerType.FOOTER, 1));
		parts.push(encodeSparseHeader({ ...this.header, gdOffsetSectors: gdSector }));
		parts.push(encodeMetadataMarker(StreamMarkerType.EOS, 0));
		const bytes = parts.reduce((n, p) => n + p.length, 0);
		await this.file.write(this.nextSector * SECTOR_SIZE_BYTES, concat(parts, bytes));
		this.nextSector += bytes / SECTOR_SIZE_BYTES;
	}

	/** The GT marker and table to append at `atSector` (nothing for a table without grains). */
	private takeTable(atSector: number): Uint8Array[] {
		if (this.tableIndex < 0 || !this.tableUsed) return [];
		const bytes = new Uint8Array(GT_BYTES);
		const v = new DataView(bytes.buffer);
		for (let i = 0; i < GTES_PER_GT; i++) v.setUint32(i * 4, this.table[i] ?? 0, true);
		this.gd[this.tableIndex] = atSector + 1;
		this.table = new Uint32Array(GTES_PER_GT);
		this.tableUsed = false;
		return [encodeMetadataMarker(StreamMarkerType.GRAIN_TABLE, GT_SECTORS), bytes];
	}
}

function concat(parts: readonly Uint8Array[], bytes: number): Uint8Array {
	const out = new Uint8Array(bytes);
	let at = 0;
	for (const p of parts) {
		out.set(p, at);
		at += p.length;
	}
	return out;
}
