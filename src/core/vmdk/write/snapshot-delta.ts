// SPDX-License-Identifier: MIT
/**
 * Keeping the changes of a `--rw` mount as a VMware snapshot: a new monolithicSparse child of the
 * disk (docs/vmdk-format.md "Snapshot deltas we write") whose grains hold the changed bytes and
 * whose descriptor names the parent (`parentCID` = the parent's CID, `parentFileNameHint`).
 * Grains the changes touch only in part are completed from the parent, because a present grain
 * hides the parent's whole grain. Nothing of the parent is written.
 */
import { VmdkError } from '../../errors.js';
import type { ByteSource } from '../../io/byte-source.js';
import { SECTOR_SIZE_BYTES } from '../../io/safe-number.js';
import type { VmdkWritePlatform } from '../../platform.js';
import type { DiskGeometry } from '../descriptor.js';
import { formatDescriptor, hex, makeCid } from './descriptor-text.js';
import type { CancelSignal } from './grain-pipeline.js';
import { SparseExtentWriter } from './sparse-extent-writer.js';
import { GRAIN_BYTES } from './sparse-layout.js';

/** Where changed bytes come from: an overlay file of the whole disk or of one partition. */
export interface ChangeSource {
	/** Reads `length` bytes at `offsetBytes` (in the source's own offsets) into `dest` at `destOffset`. */
	readInto(offsetBytes: number, dest: Uint8Array, destOffset: number, length: number): Promise<void>;
}

/** One changed byte range of the disk and where its new bytes are. */
export interface ChangedRange {
	/** Offset in the disk (a partition overlay's offsets plus the partition's start). */
	readonly offsetBytes: number;
	readonly lengthBytes: number;
	readonly source: ChangeSource;
	/** Offset of the range's first byte in `source` (partition-relative for a partition overlay). */
	readonly sourceOffsetBytes: number;
}

/** What the parent says about itself, copied into the child as VMware does. */
export interface SnapshotParent {
	/** The disk as the guest sees it before the changes (the whole chain, resolved). */
	readonly disk: ByteSource;
	/** CID of the parent's leaf image (the child's `parentCID`). */
	readonly cid: string;
	/** The parent's descriptor path as the child names it (usually its file name: same folder). */
	readonly fileNameHint: string;
	/** `ddb.adapterType` of the parent. */
	readonly adapterType: string;
	readonly geometry: DiskGeometry;
	/** `ddb.virtualHWVersion` of the parent. */
	readonly virtualHwVersion: number;
}

/** Options of {@link writeSnapshotDelta}. */
export interface SnapshotDeltaOptions {
	/** File name of the child, e.g. `disk-000001.vmdk` (see {@link nextSnapshotName}). */
	readonly fileName: string;
	readonly signal?: CancelSignal | undefined;
	/** Called after each run of grains with the changed grains done so far. */
	readonly onProgress?: ((doneGrains: number, totalGrains: number) => void) | undefined;
}

/** What {@link writeSnapshotDelta} wrote. */
export interface SnapshotDeltaResult {
	readonly fileName: string;
	readonly cid: string;
	/** Grains (64 KiB) stored in the child. */
	readonly grains: number;
}

/** Most consecutive grains read and written in one step (bounds memory). */
const RUN_MAX_GRAINS = 32;

/**
 * Writes the child through `platform`. Later entries of `changes` win where ranges overlap (the
 * daemon lists them in the order their overlays should apply). Throws VMDK_OUT_OF_RANGE for a
 * range outside the disk.
 */
export async function writeSnapshotDelta(
	parent: SnapshotParent,
	changes: readonly ChangedRange[],
	platform: VmdkWritePlatform,
	options: SnapshotDeltaOptions,
): Promise<SnapshotDeltaResult> {
	const sizeBytes = parent.disk.sizeBytes;
	if (sizeBytes % SECTOR_SIZE_BYTES !== 0)
		throw new RangeError('the parent disk is not a whole number of sectors');
	for (const c of changes) {
		if (!(
			Number.isSafeInteger(c.offsetBytes) &&
			c.offsetBytes >= 0 &&
			c.lengthBytes >= 0 &&
			c.offsetBytes + c.lengthBytes <= sizeBytes
		)) {
			throw new VmdkError(
				'VMDK_OUT_OF_RANGE',
				`changed range of ${c.lengthBytes} bytes at ${c.offsetBytes} is outside the disk (${sizeBytes} bytes)`,
			);
		}
	}
	// Sorted by start; `priority` keeps the caller's order for overlaps.
	const sorted = changes
		.map((c, priority) => ({ ...c, priority }))
		.filter((c) => c.lengthBytes > 0)
		.sort((a, b) => a.offsetBytes - b.offsetBytes || a.priority - b.priority);
	const grainRuns = touchedGrainRuns(sorted);
	const totalGrains = grainRuns.reduce((n, [a, b]) => n + b - a, 0);

	const cid = makeCid((n) => platform.randomBytes(n));
	const descriptor = formatDescriptor({
		cid,
		parentCid: parent.cid,
		createType: 'monolithicSparse',
		parentFileNameHint: parent.fileNameHint,
		extents: [{ sizeSectors: sizeBytes / SECTOR_SIZE_BYTES, type: 'SPARSE', fileName: options.fileName }],
		adapterType: parent.adapterType,
		geometry: parent.geometry,
		virtualHwVersion: parent.virtualHwVersion,
		longContentIdPrefix: hex(platform.randomBytes(12)),
	});
	const file = await platform.createFile(options.fileName);
	try {
		const writer = await SparseExtentWriter.begin(
			file,
			sizeBytes / SECTOR_SIZE_BYTES,
			new TextEncoder().encode(descriptor),
		);
		let done = 0;
		let first = 0; // first range of `sorted` that may still overlap
		for (const [runStart, runEnd] of grainRuns) {
			for (let g = runStart; g < runEnd; g += RUN_MAX_GRAINS) {
				options.signal?.throwIfAborted();
				const count = Math.min(RUN_MAX_GRAINS, runEnd - g);
				const start = g * GRAIN_BYTES;
				const end = Math.min(sizeBytes, start + count * GRAIN_BYTES);
				const buffer = new Uint8Array(count * GRAIN_BYTES);
				buffer.set(await parent.disk.read(start, end - start));
				while (first < sorted.length && endOf(sorted[first]!) <= start) first++;
				const overlapping = [];
				for (let i = first; i < sorted.length && sorted[i]!.offsetBytes < end; i++) {
					if (endOf(sorted[i]!) > start) overlapping.push(sorted[i]!);
				}
				overlapping.sort((a, b) => a.priority - b.priority);
				for (const c of overlapping) {
					const from = Math.max(start, c.offsetBytes);
					const to = Math.min(end, endOf(c));
					await c.source.readInto(
						c.sourceOffsetBytes + (from - c.offsetBytes),
						buffer,
						from - start,
						to - from,
					);
				}
				await writer.placeGrains(g, buffer, new Uint8Array(count).fill(1));
				done += count;
				options.onProgress?.(done, totalGrains);
			}
		}
		await writer.finish();
		return { fileName: options.fileName, cid, grains: writer.grainsWritten };
	} finally {
		await file.close();
	}
}

function endOf(c: { offsetBytes: number; lengthBytes: number }): number {
	return c.offsetBytes + c.lengthBytes;
}

/** The grains any range touches, as merged [first, end) runs, from ranges sorted by start. */
function touchedGrainRuns(
	sorted: readonly { offsetBytes: number; lengthBytes: number }[],
): [number, number][] {
	const runs: [number, number][] = [];
	for (const c of sorted) {
		const a = Math.floor(c.offsetBytes / GRAIN_BYTES);
		const b = Math.floor((endOf(c) - 1) / GRAIN_BYTES) + 1;
		const last = runs[runs.length - 1];
		if (last !== undefined && a <= last[1]) last[1] = Math.max(last[1], b);
		else runs.push([a, b]);
	}
	return runs;
}

/**
 * The name VMware gives the next snapshot of `parentFileName` in a folder holding `existing`
 * names: `<base>-NNNNNN.vmdk` with the first free six-digit number, where `<base>` drops a
 * parent's own `-NNNNNN` (the child of `disk-000001.vmdk` is `disk-000002.vmdk`).
 */
export function nextSnapshotName(parentFileName: string, existing: readonly string[]): string {
	const stem = parentFileName.replace(/\.vmdk$/i, '');
	const base = stem.replace(/-\d{6}$/, '');
	const taken = new Set(existing.map((n) => n.toLowerCase()));
	for (let n = 1; n <= 999999; n++) {
		const name = `${base}-${String(n).padStart(6, '0')}.vmdk`;
		// A name is taken by the file itself, or by a leftover `.partial` of an interrupted write.
		if (!taken.has(name.toLowerCase()) && !taken.has(`${name}.partial`.toLowerCase())) return name;
	}
	throw new VmdkError('VMDK_LIMIT', `no free snapshot name for ${parentFileName}`);
}
