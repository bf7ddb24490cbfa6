// SPDX-License-Identifier: MIT
// Hosted sparse headers and VMware-layout streamOptimized extents in memory, for the sparse,
// stream, appliance and qemu differential tests; plus an in-memory file and byte comparisons.
// QEMU writes streamOptimized with the grain directory in the header and no footer, so the
// footer path (GD_AT_END) is built here; the qemu differential test checks qemu reads it too.
import { deflateSync } from 'node:zlib';
import { expect } from 'vitest';
import { VmdkError, type RandomAccessFile } from '../../src/core/index.js';
import { bytes, u16le, u32le, u64le, u8, zeros, padTo } from './bytes.js';

/** Header fields; every one can be set to something broken. */
export interface HeaderFields {
	magic?: number;
	version?: number;
	flags?: number;
	capacitySectors?: bigint;
	grainSizeSectors?: bigint;
	descriptorOffsetSectors?: bigint;
	descriptorSizeSectors?: bigint;
	numGtesPerGt?: number;
	rgdOffsetSectors?: bigint;
	gdOffsetSectors?: bigint;
	overheadSectors?: bigint;
	uncleanShutdown?: number;
	newline?: number[];
	compressAlgorithm?: number;
}

/** A 512-byte KDMV header; defaults describe a 1 MiB monolithicSparse extent. */
export function sparseHeader(f: HeaderFields = {}): Uint8Array {
	return padTo(
		bytes(
			u32le(f.magic ?? 0x564d444b), // 0 magic 'KDMV'
			u32le(f.version ?? 1), // 4 version
			u32le(f.flags ?? 0x3), // 8 flags: newline test + redundant GD
			u64le(f.capacitySectors ?? 2048n), // 12 capacity (sectors)
			u64le(f.grainSizeSectors ?? 128n), // 20 grain size (sectors)
			u64le(f.descriptorOffsetSectors ?? 1n), // 28 descriptor offset (sectors)
			u64le(f.descriptorSizeSectors ?? 20n), // 36 descriptor size (sectors)
			u32le(f.numGtesPerGt ?? 512), // 44 numGTEsPerGT
			u64le(f.rgdOffsetSectors ?? 21n), // 48 redundant GD offset (sectors)
			u64le(f.gdOffsetSectors ?? 26n), // 56 GD offset (sectors)
			u64le(f.overheadSectors ?? 128n), // 64 overhead (sectors)
			u8(f.uncleanShutdown ?? 0), // 72 uncleanShutdown
			f.newline ?? [0x0a, 0x20, 0x0d, 0x0a], // 73 end-of-line check
			u16le(f.compressAlgorithm ?? 0), // 77 compressAlgorithm
		), // 79: 433 bytes of zero padding follow
	);
}

/** Grain marker: u64 LBA (sectors), u32 compressed size, zlib data, padded to a sector. */
export function grainMarker(lbaSectors: number, compressed: Uint8Array): Uint8Array {
	return padTo(bytes(u64le(lbaSectors), u32le(compressed.length), compressed));
}

/** Metadata marker (one sector): u64 sectors that follow, u32 size 0, u32 type. */
export function metadataMarker(type: number, sizeSectors: number): Uint8Array {
	return padTo(bytes(u64le(sizeSectors), u32le(0), u32le(type)));
}

export interface StreamSpec {
	capacitySectors: number;
	grainSizeSectors: number;
	/** Grain index → its bytes (one grain; the last may be short). */
	grains: Map<number, Uint8Array>;
	descriptor?: string;
	compress?: (b: Uint8Array) => Uint8Array;
	/** Header version (3 by default, as current VMware writes). */
	version?: number;
}

export interface BuiltStream {
	bytes: Uint8Array;
	/** Byte offset of each grain's marker. */
	grainMarkerAt: Map<number, number>;
	/** Byte offset of the footer marker. */
	footerMarkerAt: number;
	/** Byte offset of the GD (after its marker). */
	gdAt: number;
}

/** A VMware-layout streamOptimized extent: header (GD_AT_END), grains, GTs, GD, footer, EOS. */
export function buildStreamOptimized(spec: StreamSpec): BuiltStream {
	const compress = spec.compress ?? ((b: Uint8Array) => new Uint8Array(deflateSync(b)));
	const overheadSectors = 128;
	const gdEntries = Math.ceil(spec.capacitySectors / (spec.grainSizeSectors * 512));
	const head = (gdOffset: bigint, rgd: bigint) =>
		sparseHeader({
			version: spec.version ?? 3,
			flags: 0x30001, // newline test + compressed + markers
			capacitySectors: BigInt(spec.capacitySectors),
			grainSizeSectors: BigInt(spec.grainSizeSectors),
			descriptorOffsetSectors: 1n,
			descriptorSizeSectors: 20n,
			rgdOffsetSectors: rgd,
			gdOffsetSectors: gdOffset,
			overheadSectors: BigInt(overheadSectors),
			compressAlgorithm: 1,
		});
	const parts: Uint8Array[] = [head(0xffffffffffffffffn, 0n)];
	const desc = new TextEncoder().encode(spec.descriptor ?? '# Disk DescriptorFile\n');
	parts.push(padTo(bytes(desc, zeros(20 * 512 - desc.length))));
	parts.push(zeros((overheadSectors - 21) * 512));
	let at = overheadSectors * 512;
	const gts = new Map<number, Uint32Array>();
	const grainMarkerAt = new Map<number, number>();
	for (const g of [...spec.grains.keys()].sort((a, b) => a - b)) {
		const m = grainMarker(g * spec.grainSizeSectors, compress(spec.grains.get(g)!));
		grainMarkerAt.set(g, at);
		const gdIndex = Math.floor(g / 512);
		const gt = gts.get(gdIndex) ?? new Uint32Array(512);
		gt[g % 512] = at / 512;
		gts.set(gdIndex, gt);
		parts.push(m);
		at += m.length;
	}
	const gd = new Uint32Array(gdEntries);
	for (const [gdIndex, gt] of [...gts.entries()].sort((a, b) => a[0] - b[0])) {
		parts.push(metadataMarker(1, 4)); // GT marker: 4 sectors follow
		at += 512;
		gd[gdIndex] = at / 512;
		parts.push(new Uint8Array(gt.buffer));
		at += 2048;
	}
	const gdSectors = Math.ceil((gdEntries * 4) / 512);
	parts.push(metadataMarker(2, gdSectors)); // GD marker
	at += 512;
	const gdAt = at;
	parts.push(padTo(new Uint8Array(gd.buffer)));
	at += gdSectors * 512;
	const footerMarkerAt = at;
	parts.push(metadataMarker(3, 1)); // footer marker
	parts.push(head(BigInt(gdAt / 512), 0n)); // footer: the real header
	parts.push(metadataMarker(0, 0)); // EOS
	return { bytes: bytes(...parts), grainMarkerAt, footerMarkerAt, gdAt };
}

/** Path the in-memory test files pretend to have. */
export const TEST_FILE = '/vm/test.vmdk';

/** A RandomAccessFile over memory that counts reads and closes, and fails like the Node one. */
export class MemoryFile implements RandomAccessFile {
	readonly path: string;
	readonly sizeBytes: number;
	readonly bytes: Uint8Array;
	reads: { positionBytes: number; length: number }[] = [];
	closed = 0;
	/** When true every read fails with VMDK_IO, as a failing disk would. */
	failReads = false;
	constructor(bytes: Uint8Array, path = TEST_FILE) {
		this.bytes = bytes;
		this.path = path;
		this.sizeBytes = bytes.length;
	}
	readInto(positionBytes: number, dest: Uint8Array, destOffset: number, length: number): Promise<void> {
		this.reads.push({ positionBytes, length });
		if (this.failReads) {
			return Promise.reject(
				new VmdkError('VMDK_IO', 'simulated I/O error', { file: this.path, offsetBytes: positionBytes }),
			);
		}
		if (positionBytes + length > this.sizeBytes) {
			return Promise.reject(
				new VmdkError('VMDK_TRUNCATED', `file ends at byte ${this.sizeBytes}`, {
					file: this.path,
					offsetBytes: this.sizeBytes,
				}),
			);
		}
		dest.set(this.bytes.subarray(positionBytes, positionBytes + length), destOffset);
		return Promise.resolve();
	}
	close(): Promise<void> {
		this.closed++;
		return Promise.resolve();
	}
}

/** Fails with the first differing offset (toEqual on large byte arrays is slow and verbose). */
export function expectSameBytes(actual: Uint8Array, expected: Uint8Array): void {
	expect(actual.length).toBe(expected.length);
	const diff = Buffer.compare(actual, expected) === 0 ? -1 : actual.findIndex((b, i) => b !== expected[i]);
	expect(diff, `first difference at byte ${diff}`).toBe(-1);
}

export async function rejection(p: Promise<unknown>): Promise<VmdkError> {
	try {
		await p;
	} catch (error) {
		expect(error).toBeInstanceOf(VmdkError);
		return error as VmdkError;
	}
	throw new Error('expected a rejection');
}
