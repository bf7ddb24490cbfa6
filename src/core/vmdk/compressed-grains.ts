// SPDX-License-Identifier: MIT
/**
 * Reading the compressed grains of a streamOptimized extent (FORMAT-NOTES.md §4): each grain is
 * a record — with markers, a 12-byte marker (u64 LBA, u32 size) and zlib data — inflated through
 * the platform and kept in a bounded cache. Without markers (an old compressed sparse extent)
 * the compressed size is unknown and zlib stops at the end of its stream.
 *
 * Speed: records that follow each other in the file (as a stream writes them) are fetched with
 * one read, a record's size is known from where the next grain's record starts, and up to
 * INFLATE_CONCURRENCY grains inflate at once. Memory is bounded by the cache, not the disk size.
 */
import { VmdkError } from '../errors.js';
import { runBounded } from '../io/run-bounded.js';
import { SECTOR_SIZE_BYTES } from '../io/safe-number.js';
import type { DiskPlatform, RandomAccessFile } from '../platform.js';
import { forEachStoredGrain, type GrainRequest, type LocateGrain } from './grain-reads.js';
import { LoadingCache } from './lru-cache.js';
import type { SparseExtentHeader } from './sparse-header.js';
import { GRAIN_MARKER_HEADER_BYTES, maxCompressedGrainBytes, parseStreamMarker } from './stream-optimized.js';

/** Most inflated-grain bytes cached per extent. */
export const GRAIN_CACHE_MAX_BYTES = 32 * 1024 * 1024;

/** Compressed grains read and inflated at once by one `read`: a 2 MiB read-ahead window of 64 KiB grains goes to the platform's inflate workers as one batch. */
export const INFLATE_CONCURRENCY = 32;

/** Largest single read that fetches several compressed grains of one `read`. */
const GROUP_READ_MAX_BYTES = 8 * 1024 * 1024;

/**
 * The sector of grain `grain`'s record when it is known without I/O, or 0. Used to size a
 * record's read from where the next one starts.
 */
export type KnownGrainSector = (grain: number) => number;

/** One grain's share of a request. */
interface GrainPiece {
	readonly destOffset: number;
	readonly length: number;
	readonly grain: number;
	readonly inGrain: number;
	/** Sector of the grain's record (its marker, with markers). */
	readonly sector: number;
	/** Set when the record is fetched together with its neighbours. */
	group?: RecordGroup;
}

/** Neighbouring records fetched with one read. */
interface RecordGroup {
	/** Sector of the first record's marker. */
	readonly firstSector: number;
	/** Bytes to read from there. */
	lengthBytes: number;
	/** Started by the first worker that needs it. */
	bytes?: Promise<Uint8Array>;
}

/** Where a compressed grain's record already is in memory. */
interface RecordSource {
	readonly bytes: Uint8Array;
	/** Offset of the marker in `bytes`. */
	readonly at: number;
}

/** The compressed grains of one extent: read, inflated and cached. */
export class CompressedGrains {
	private readonly file: RandomAccessFile;
	private readonly platform: DiskPlatform;
	private readonly header: SparseExtentHeader;
	/** Capacity of the extent, bytes: the last grain may be short. */
	private readonly sizeBytes: number;
	private readonly grainBytes: number;
	/** Largest plausible compressed size of one grain. */
	private readonly maxCompressedBytes: number;
	/** Largest plausible record of one grain: marker + compressed data. */
	private readonly maxRecordBytes: number;
	private readonly knownSector: KnownGrainSector;
	private readonly cache: LoadingCache<number, Uint8Array>;

	constructor(
		file: RandomAccessFile,
		platform: DiskPlatform,
		header: SparseExtentHeader,
		knownSector: KnownGrainSector,
	) {
		this.file = file;
		this.platform = platform;
		this.header = header;
		this.knownSector = knownSector;
		this.grainBytes = header.grainSizeSectors * SECTOR_SIZE_BYTES;
		this.sizeBytes = header.capacitySectors * SECTOR_SIZE_BYTES;
		this.maxCompressedBytes = maxCompressedGrainBytes(this.grainBytes);
		this.maxRecordBytes = GRAIN_MARKER_HEADER_BYTES + this.maxCompressedBytes;
		this.cache = new LoadingCache<number, Uint8Array>({
			maxEntries: Math.max(1, Math.floor(GRAIN_CACHE_MAX_BYTES / this.grainBytes)),
			maxWeight: GRAIN_CACHE_MAX_BYTES,
			weigh: (g) => g.length,
		});
	}

	/**
	 * Reads a request; `locate` gives the file offset of each grain's record, or GRAIN_ZEROS (the
	 * caller has range-checked).
	 */
	async read(request: GrainRequest, locate: LocateGrain): Promise<void> {
		const pieces: GrainPiece[] = [];
		await forEachStoredGrain(this.grainBytes, locate, request, (grainAt, grain, inGrain, n, destAt) => {
			pieces.push({ destOffset: destAt, length: n, grain, inGrain, sector: grainAt / SECTOR_SIZE_BYTES });
		});
		const dest = request.dest;
		if (this.header.hasMarkers) this.groupRecords(pieces);
		await runBounded(pieces, INFLATE_CONCURRENCY, async (p) => {
			const group = p.group;
			let source: RecordSource | undefined;
			if (group !== undefined && !this.cache.has(p.grain)) {
				group.bytes ??= this.readGroup(group);
				source = { bytes: await group.bytes, at: (p.sector - group.firstSector) * SECTOR_SIZE_BYTES };
			}
			const data = await this.inflated(p.grain, p.sector, source);
			dest.set(data.subarray(p.inGrain, p.inGrain + p.length), p.destOffset);
		});
	}

	/** Forgets the inflated grains. */
	clear(): void {
		this.cache.clear();
	}

	/**
	 * Puts grains whose records follow each other in the file into groups read at once: one read
	 * instead of one per grain. Cached grains are left out.
	 */
	private groupRecords(pieces: GrainPiece[]): void {
		let group: RecordGroup | undefined;
		let lastSector = 0;
		let members = 0;
		const closeGroup = (): void => {
			if (group !== undefined && members < 2) group.lengthBytes = 0; // a lone grain reads by itself
			group = undefined;
			members = 0;
		};
		for (const p of pieces) {
			if (this.cache.has(p.grain)) continue;
			const gapBytes = (p.sector - lastSector) * SECTOR_SIZE_BYTES;
			if (
				group === undefined ||
				p.sector <= lastSector ||
				gapBytes > this.maxRecordBytes ||
				(p.sector - group.firstSector) * SECTOR_SIZE_BYTES + this.recordReadBytes(p.grain, p.sector) >
					GROUP_READ_MAX_BYTES
			) {
				closeGroup();
				group = { firstSector: p.sector, lengthBytes: 0 };
			}
			group.lengthBytes =
				(p.sector - group.firstSector) * SECTOR_SIZE_BYTES + this.recordReadBytes(p.grain, p.sector);
			p.group = group;
			lastSector = p.sector;
			members++;
		}
		closeGroup();
		for (const p of pieces) if (p.group !== undefined && p.group.lengthBytes === 0) delete p.group;
	}

	private async readGroup(group: RecordGroup): Promise<Uint8Array> {
		const at = group.firstSector * SECTOR_SIZE_BYTES;
		const bytes = new Uint8Array(Math.min(group.lengthBytes, this.file.sizeBytes - at));
		await this.file.readInto(at, bytes, 0, bytes.length);
		return bytes;
	}

	/**
	 * Bytes to read for a record at `sector`. Streams store grains in order, so when the next
	 * grain's record follows, the gap is the exact record size; otherwise guess one grain plus
	 * slack (a second read fetches the rest of a larger record).
	 */
	private recordReadBytes(grain: number, sector: number): number {
		const next = this.knownSector(grain + 1);
		const gapBytes = (next - sector) * SECTOR_SIZE_BYTES;
		if (next > sector && gapBytes <= this.maxRecordBytes) return gapBytes;
		return GRAIN_MARKER_HEADER_BYTES + this.grainBytes + 1024;
	}

	/** The inflated bytes of a grain, shared between concurrent readers and cached. */
	private inflated(grain: number, sector: number, source?: RecordSource): Promise<Uint8Array> {
		return this.cache.get(grain, () => this.inflate(grain, sector, source));
	}

	private async inflate(grain: number, sector: number, source?: RecordSource): Promise<Uint8Array> {
		const at = sector * SECTOR_SIZE_BYTES;
		const location = { file: this.file.path, offsetBytes: at };
		const data = this.header.hasMarkers
			? await this.markedRecord(grain, sector, source)
			: await this.unmarkedRecord(at);
		let out: Uint8Array;
		try {
			out = await this.platform.inflate(data, this.grainBytes);
		} catch (cause) {
			const why = cause instanceof Error ? cause.message : String(cause);
			throw new VmdkError('VMDK_DECOMPRESS', `grain ${grain} does not inflate: ${why}`, location, { cause });
		}
		const neededBytes = Math.min(this.grainBytes, this.sizeBytes - grain * this.grainBytes);
		if (out.length < neededBytes) {
			throw new VmdkError(
				'VMDK_DECOMPRESS',
				`grain ${grain} inflates to ${out.length} bytes, expected ${neededBytes}`,
				location,
			);
		}
		return out;
	}

	/** The zlib data of a record with a marker, checked against the grain it should hold. */
	private async markedRecord(grain: number, sector: number, source?: RecordSource): Promise<Uint8Array> {
		const at = sector * SECTOR_SIZE_BYTES;
		const location = { file: this.file.path, offsetBytes: at };
		const available = this.file.sizeBytes - at;
		let buf: Uint8Array;
		if (source !== undefined && source.at < source.bytes.length) {
			buf = source.bytes.subarray(source.at);
		} else {
			// One read usually covers marker and data (see recordReadBytes).
			buf = new Uint8Array(Math.min(available, this.recordReadBytes(grain, sector)));
			await this.file.readInto(at, buf, 0, buf.length);
		}
		const marker = parseStreamMarker(padTo16(buf), 0);
		const expectedLba = BigInt(grain) * BigInt(this.header.grainSizeSectors);
		if (marker.kind !== 'grain' || marker.lbaSectors !== expectedLba) {
			const saw =
				marker.kind === 'grain' ? `LBA ${marker.lbaSectors}` : `a metadata marker of type ${marker.type}`;
			throw new VmdkError(
				'VMDK_CORRUPT',
				`grain ${grain} should start with a grain marker for LBA ${expectedLba}, saw ${saw}`,
				location,
			);
		}
		const size = marker.compressedSizeBytes;
		if (size > this.maxCompressedBytes || GRAIN_MARKER_HEADER_BYTES + size > available) {
			throw new VmdkError(
				'VMDK_CORRUPT',
				`compressed grain ${grain} of ${size} bytes is too large or runs past the end of the file (${this.file.sizeBytes} bytes)`,
				location,
			);
		}
		if (GRAIN_MARKER_HEADER_BYTES + size > buf.length) {
			const bigger = new Uint8Array(GRAIN_MARKER_HEADER_BYTES + size);
			bigger.set(buf);
			await this.file.readInto(at + buf.length, bigger, buf.length, bigger.length - buf.length);
			buf = bigger;
		}
		return buf.subarray(GRAIN_MARKER_HEADER_BYTES, GRAIN_MARKER_HEADER_BYTES + size);
	}

	/** Without markers the compressed size is unknown: read as much as a grain could take. */
	private async unmarkedRecord(at: number): Promise<Uint8Array> {
		const data = new Uint8Array(Math.min(this.file.sizeBytes - at, this.maxCompressedBytes));
		await this.file.readInto(at, data, 0, data.length);
		return data;
	}
}

/** A marker needs 16 bytes to parse; a short final read is padded with zeros. */
function padTo16(buf: Uint8Array): Uint8Array {
	if (buf.length >= 16) return buf;
	const out = new Uint8Array(16);
	out.set(buf);
	return out;
}
