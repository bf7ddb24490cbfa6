// SPDX-License-Identifier: MIT
/**
 * `writeVmdk`: a disk (any WriteSource) → a new VMDK of one of the subformats VMware products
 * create, with the descriptor, geometry, directories, markers and file naming they expect
 * (docs/vmdk-format.md). Pure: files, compression and randomness come from the platform.
 */
import { VmdkError } from '../../errors.js';
import { SECTOR_SIZE_BYTES } from '../../io/safe-number.js';
import type { VmdkWritePlatform, WritableFile } from '../../platform.js';
import { NO_PARENT_CID } from '../descriptor.js';
import { SPARSE_EXTENT_MAX_SECTORS } from '../sparse-header.js';
import {
	formatDdbUuid,
	formatDescriptor,
	hex,
	makeCid,
	type DescriptorFields,
	type ExtentLine,
} from './descriptor-text.js';
import { ddbAdapterType, virtualHwVersionFor, vmwareGeometry, type Adapter } from './geometry.js';
import { pipeGrains, type GrainChunk, type WriteControl, type WriteSource } from './grain-pipeline.js';
import { SparseExtentWriter } from './sparse-extent-writer.js';
import { GRAIN_BYTES } from './sparse-layout.js';
import { StreamExtentWriter } from './stream-extent-writer.js';

/** The subformats `convert` writes. */
export const WRITE_SUBFORMATS = [
	'monolithicSparse',
	'twoGbMaxExtentSparse',
	'streamOptimized',
	'monolithicFlat',
	'twoGbMaxExtentFlat',
] as const;
/** A subformat `convert` writes. */
export type WriteSubformat = (typeof WRITE_SUBFORMATS)[number];

/**
 * Sectors per piece of a split disk: 2047 MiB, what VMware writes (QEMU writes 2 GiB); the
 * last piece holds the rest.
 */
export const SPLIT_EXTENT_SECTORS = 4192256;

/** Options of {@link writeVmdk}. */
export interface WriteVmdkOptions extends WriteControl {
	readonly subformat: WriteSubformat;
	readonly adapter: Adapter;
	/** Output file name without `.vmdk` (`disk` → `disk.vmdk`, `disk-s001.vmdk`, `disk-flat.vmdk`). */
	readonly baseName: string;
}

/** What {@link writeVmdk} wrote. */
export interface WriteVmdkResult {
	/** File names created, descriptor (the file to open) first. */
	readonly files: readonly string[];
	/** Virtual size in bytes (the input's size rounded up to a sector). */
	readonly capacityBytes: number;
	/** Grains (64 KiB) or flat bytes holding data. */
	readonly dataBytes: number;
	/** The new disk's CID. */
	readonly cid: string;
}

/**
 * Writes `source` as a VMDK through `platform`. The capacity is the source's size rounded up to
 * a whole sector (the tail reads as zeros). Throws VMDK_LIMIT for sizes a subformat cannot hold.
 */
export async function writeVmdk(
	source: WriteSource,
	platform: VmdkWritePlatform,
	options: WriteVmdkOptions,
): Promise<WriteVmdkResult> {
	const capacitySectors = Math.ceil(source.sizeBytes / SECTOR_SIZE_BYTES);
	if (capacitySectors === 0) {
		throw new VmdkError('VMDK_LIMIT', 'the input is empty (0 bytes); a VMDK needs at least one sector');
	}
	const monolithicSparse =
		options.subformat === 'monolithicSparse' || options.subformat === 'streamOptimized';
	if (monolithicSparse && capacitySectors > SPARSE_EXTENT_MAX_SECTORS) {
		throw new VmdkError(
			'VMDK_LIMIT',
			`a ${options.subformat} disk holds at most 2 TiB; the input is ${source.sizeBytes} bytes (use twoGbMaxExtentSparse or monolithicFlat)`,
		);
	}
	const cid = makeCid((n) => platform.randomBytes(n));
	const descriptorFor = (createType: string, extents: readonly ExtentLine[]): Uint8Array =>
		new TextEncoder().encode(
			formatDescriptor(baseDescriptor(createType, extents, capacitySectors, cid, options.adapter, platform)),
		);
	const vmdkName = `${options.baseName}.vmdk`;

	switch (options.subformat) {
		case 'monolithicSparse': {
			const extents: ExtentLine[] = [{ sizeSectors: capacitySectors, type: 'SPARSE', fileName: vmdkName }];
			const file = await platform.createFile(vmdkName);
			const grains = await withFile(file, () =>
				writeSparseExtent(
					source,
					file,
					0,
					capacitySectors,
					descriptorFor('monolithicSparse', extents),
					options,
					0,
				),
			);
			return {
				files: [vmdkName],
				capacityBytes: capacitySectors * SECTOR_SIZE_BYTES,
				dataBytes: grains * GRAIN_BYTES,
				cid,
			};
		}
		case 'streamOptimized': {
			const extents: ExtentLine[] = [{ sizeSectors: capacitySectors, type: 'SPARSE', fileName: vmdkName }];
			const file = await platform.createFile(vmdkName);
			const grains = await withFile(file, () =>
				writeStreamExtent(
					source,
					file,
					capacitySectors,
					descriptorFor('streamOptimized', extents),
					platform,
					options,
				),
			);
			return {
				files: [vmdkName],
				capacityBytes: capacitySectors * SECTOR_SIZE_BYTES,
				dataBytes: grains * GRAIN_BYTES,
				cid,
			};
		}
		case 'twoGbMaxExtentSparse':
		case 'monolithicFlat':
		case 'twoGbMaxExtentFlat': {
			const sparse = options.subformat === 'twoGbMaxExtentSparse';
			const pieces = splitPieces(
				capacitySectors,
				options.subformat === 'monolithicFlat' ? Infinity : SPLIT_EXTENT_SECTORS,
			);
			const extents: ExtentLine[] = pieces.map((sizeSectors, i) => ({
				sizeSectors,
				type: sparse ? 'SPARSE' : 'FLAT',
				fileName:
					options.subformat === 'monolithicFlat'
						? `${options.baseName}-flat.vmdk`
						: `${options.baseName}-${sparse ? 's' : 'f'}${String(i + 1).padStart(3, '0')}.vmdk`,
			}));
			let dataBytes = 0;
			let startSector = 0;
			for (const extent of extents) {
				const file = await platform.createFile(extent.fileName);
				const start = startSector;
				dataBytes += await withFile(file, async () =>
					sparse
						? (await writeSparseExtent(
								source,
								file,
								start,
								extent.sizeSectors,
								undefined,
								options,
								start * SECTOR_SIZE_BYTES,
							)) * GRAIN_BYTES
						: writeFlatExtent(source, file, start, extent.sizeSectors, options),
				);
				startSector += extent.sizeSectors;
			}
			// The descriptor last: until it exists, nothing names the pieces.
			const descriptorFile = await platform.createFile(vmdkName);
			await withFile(descriptorFile, () =>
				descriptorFile.write(0, descriptorFor(options.subformat, extents)),
			);
			return {
				files: [vmdkName, ...extents.map((e) => e.fileName)],
				capacityBytes: capacitySectors * SECTOR_SIZE_BYTES,
				dataBytes,
				cid,
			};
		}
	}
}

/**
 * The names {@link writeVmdk} will create for a source of `sizeBytes`, descriptor first, so that
 * callers can check them before anything is written.
 */
export function plannedFileNames(subformat: WriteSubformat, baseName: string, sizeBytes: number): string[] {
	const capacitySectors = Math.ceil(sizeBytes / SECTOR_SIZE_BYTES);
	const vmdkName = `${baseName}.vmdk`;
	switch (subformat) {
		case 'monolithicSparse':
		case 'streamOptimized':
			return [vmdkName];
		case 'monolithicFlat':
			return [vmdkName, `${baseName}-flat.vmdk`];
		case 'twoGbMaxExtentSparse':
		case 'twoGbMaxExtentFlat': {
			const letter = subformat === 'twoGbMaxExtentSparse' ? 's' : 'f';
			const count = Math.max(1, Math.ceil(capacitySectors / SPLIT_EXTENT_SECTORS));
			return [
				vmdkName,
				...Array.from(
					{ length: count },
					(_, i) => `${baseName}-${letter}${String(i + 1).padStart(3, '0')}.vmdk`,
				),
			];
		}
	}
}

/** The descriptor fields of a new base disk. */
function baseDescriptor(
	createType: string,
	extents: readonly ExtentLine[],
	capacitySectors: number,
	cid: string,
	adapter: Adapter,
	platform: VmdkWritePlatform,
): DescriptorFields {
	const uuid = platform.randomBytes(16);
	// RFC 4122 version 4 bits, so the UUID reads as a random one wherever it is shown.
	uuid[6] = ((uuid[6] ?? 0) & 0x0f) | 0x40;
	uuid[8] = ((uuid[8] ?? 0) & 0x3f) | 0x80;
	return {
		cid,
		parentCid: NO_PARENT_CID,
		createType,
		extents,
		adapterType: ddbAdapterType(adapter),
		geometry: vmwareGeometry(capacitySectors, adapter),
		virtualHwVersion: virtualHwVersionFor(adapter),
		uuid: formatDdbUuid(uuid),
		longContentIdPrefix: hex(platform.randomBytes(12)),
	};
}

/** Sizes of the pieces of a disk cut every `maxSectors`. */
function splitPieces(capacitySectors: number, maxSectors: number): number[] {
	const pieces: number[] = [];
	for (let at = 0; at < capacitySectors; at += maxSectors)
		pieces.push(Math.min(maxSectors, capacitySectors - at));
	return pieces;
}

/** Runs `work`, then closes `file` (also when `work` fails). */
async function withFile<T>(file: WritableFile, work: () => Promise<T>): Promise<T> {
	try {
		return await work();
	} finally {
		await file.close();
	}
}

/** One sparse extent covering source sectors `[startSector, startSector + sizeSectors)`; resolves with grains written. */
async function writeSparseExtent(
	source: WriteSource,
	file: WritableFile,
	startSector: number,
	sizeSectors: number,
	descriptor: Uint8Array | undefined,
	control: WriteControl,
	progressBase: number,
): Promise<number> {
	const writer = await SparseExtentWriter.begin(file, sizeSectors, descriptor);
	const start = startSector * SECTOR_SIZE_BYTES;
	await pipeGrains(
		source,
		start,
		start + sizeSectors * SECTOR_SIZE_BYTES,
		async () => undefined,
		(_, chunk) => writer.placeGrains((chunk.offsetBytes - start) / GRAIN_BYTES, chunk.buffer, chunk.present),
		control,
		progressBase,
	);
	await writer.finish();
	return writer.grainsWritten;
}

/** The streamOptimized extent: grains compressed by the platform while earlier chunks are written. */
async function writeStreamExtent(
	source: WriteSource,
	file: WritableFile,
	capacitySectors: number,
	descriptor: Uint8Array,
	platform: VmdkWritePlatform,
	control: WriteControl,
): Promise<number> {
	const writer = await StreamExtentWriter.begin(file, capacitySectors, descriptor);
	const prepare = async (chunk: GrainChunk): Promise<{ grains: number[]; compressed: Uint8Array[] }> => {
		const grains: number[] = [];
		const inputs: Uint8Array[] = [];
		const first = chunk.offsetBytes / GRAIN_BYTES;
		for (let g = 0; g < chunk.grainCount; g++) {
			if (chunk.present[g] !== 1) continue;
			grains.push(first + g);
			inputs.push(chunk.buffer.subarray(g * GRAIN_BYTES, (g + 1) * GRAIN_BYTES));
		}
		return { grains, compressed: inputs.length === 0 ? [] : await platform.deflate(inputs) };
	};
	await pipeGrains(
		source,
		0,
		capacitySectors * SECTOR_SIZE_BYTES,
		prepare,
		(p) => writer.placeGrains(p.grains, p.compressed),
		control,
	);
	await writer.finish();
	return writer.grainsWritten;
}

/** One flat extent: data grains written in place, the rest left as holes. Resolves with data bytes. */
async function writeFlatExtent(
	source: WriteSource,
	file: WritableFile,
	startSector: number,
	sizeSectors: number,
	control: WriteControl,
): Promise<number> {
	const start = startSector * SECTOR_SIZE_BYTES;
	const end = start + sizeSectors * SECTOR_SIZE_BYTES;
	await file.truncate(end - start);
	let dataBytes = 0;
	await pipeGrains(
		source,
		start,
		end,
		async () => undefined,
		async (_, chunk) => {
			const writes: Promise<void>[] = [];
			let runStart = -1;
			for (let g = 0; g <= chunk.grainCount; g++) {
				if (g < chunk.grainCount && chunk.present[g] === 1) {
					if (runStart < 0) runStart = g;
					continue;
				}
				if (runStart < 0) continue;
				const from = chunk.offsetBytes + runStart * GRAIN_BYTES;
				// The last grain may reach past the extent's end: write only what belongs to it.
				const to = Math.min(end, chunk.offsetBytes + g * GRAIN_BYTES);
				writes.push(
					file.write(from - start, chunk.buffer.subarray(runStart * GRAIN_BYTES, to - chunk.offsetBytes)),
				);
				dataBytes += to - from;
				runStart = -1;
			}
			const results = await Promise.allSettled(writes);
			for (const r of results) if (r.status === 'rejected') throw r.reason;
		},
		control,
		start,
	);
	return dataBytes;
}
