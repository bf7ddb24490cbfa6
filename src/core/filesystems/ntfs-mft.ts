// SPDX-License-Identifier: MIT
/**
 * Just enough of the NTFS master file table to answer two questions cheaply: the $Volume
 * attributes (name, flags) and whether Windows left the volume hibernated (fast start-up). The
 * latter follows ntfs-3g's rule: `\hiberfil.sys` exists and its first four bytes are "hibr"
 * (any case). Finding it takes the $MFT data runs, the root directory's $I30 index (resident
 * root plus, when needed, a bounded linear scan of its index blocks), hiberfil.sys's record, and
 * one read of its first cluster. Every count and offset is bounded; anything inconsistent yields
 * "don't know" (undefined), never a guess.
 */
import type { FilesystemHealth } from './types.js';
import { type ProbeReader, PROBE_MAX_READ_BYTES, matches } from './probe-io.js';

/** Attribute types (NTFS 3.1). */
const NtfsAttr = {
	VOLUME_NAME: 0x60,
	VOLUME_INFORMATION: 0x70,
	DATA: 0x80,
	INDEX_ROOT: 0x90,
	INDEX_ALLOCATION: 0xa0,
	END: 0xffffffff,
} as const;
/** Record number of the root directory. */
const MFT_RECORD_ROOT = 5;
/** Low 48 bits of a file reference are the record number. */
const FILE_REFERENCE_RECORD_MASK = 0xffffffffffffn;
/** Index entry flags. */
const INDEX_ENTRY_LAST = 0x2;
/** Bounds on what a crafted volume can make us walk. */
const MAX_ATTRIBUTES = 64;
const MAX_RUNS = 256;
const MAX_INDEX_ENTRIES = 4096;
const MAX_INDEX_BLOCK_BYTES = 64 * 1024;
const HIBERFIL_NAME = 'HIBERFIL.SYS';
const HIBERNATION_MAGIC = 'HIBR';

/** One attribute header in an MFT record. */
export interface NtfsAttribute {
	/** Attribute type code (see NtfsAttr). */
	readonly type: number;
	/** Offset of the header in the record. */
	readonly at: number;
	/** Length of the whole attribute (header and value) in bytes. */
	readonly length: number;
	/** Value stored in clusters elsewhere (described by a run list). */
	readonly nonResident: boolean;
	/** Length of the attribute's name in UTF-16 units (0: unnamed). */
	readonly nameLength: number;
	/** Resident value (a view into the record), or null for non-resident attributes. */
	readonly value: Uint8Array | null;
}

/** A run of clusters; `lcn` null for a sparse run. */
interface Run {
	readonly lcn: number | null;
	readonly clusters: number;
}

/** Where the volume's structures are. */
export interface NtfsGeometry {
	/** Bytes per cluster (the unit of run lists). */
	readonly clusterBytes: number;
	/** Bytes per MFT record. */
	readonly mftRecordBytes: number;
}

/** The update sequence stride is 512 bytes whatever the sector size (Linux NTFS_BLOCK_SIZE). */
const FIXUP_STRIDE_BYTES = 512;

/**
 * Undoes the update sequence array: the last two bytes of every 512-byte stride of a record were
 * replaced by the sequence number on write. Returns null when the array is inconsistent (torn).
 */
export function applyFixups(record: Uint8Array): Uint8Array | null {
	const view = new DataView(record.buffer, record.byteOffset, record.byteLength);
	const usaOffset = view.getUint16(4, true);
	const usaCount = view.getUint16(6, true);
	const sectors = Math.floor(record.length / FIXUP_STRIDE_BYTES);
	if (usaCount === 0 || usaCount - 1 > sectors || usaOffset + usaCount * 2 > record.length) return null;
	const sequence = view.getUint16(usaOffset, true);
	for (let i = 1; i < usaCount; i++) {
		const end = i * FIXUP_STRIDE_BYTES - 2;
		if (view.getUint16(end, true) !== sequence) return null;
		view.setUint16(end, view.getUint16(usaOffset + i * 2, true), true);
	}
	return record;
}

/** The attributes of an MFT record, in order, stopping at the end marker or anything out of bounds. */
function listAttributes(record: Uint8Array): NtfsAttribute[] {
	const view = new DataView(record.buffer, record.byteOffset, record.byteLength);
	const attributes: NtfsAttribute[] = [];
	if (record.length < 32) return attributes;
	const bytesAllocated = view.getUint32(28, true);
	let at = view.getUint16(20, true);
	while (attributes.length < MAX_ATTRIBUTES && at + 24 <= record.length && at <= bytesAllocated) {
		const type = view.getUint32(at, true);
		const length = view.getUint32(at + 4, true);
		if (length === 0 || type === NtfsAttr.END) break;
		const nonResident = record[at + 8] !== 0;
		let value: Uint8Array | null = null;
		if (!nonResident) {
			const valueLength = view.getUint32(at + 16, true);
			const valueOffset = view.getUint16(at + 20, true);
			if (valueOffset <= record.length - at && valueLength <= record.length - at - valueOffset) {
				value = record.subarray(at + valueOffset, at + valueOffset + valueLength);
			}
		}
		attributes.push({ type, at, length, nonResident, nameLength: record[at + 9] ?? 0, value });
		at += length;
	}
	return attributes;
}

/** Decodes a non-resident attribute's mapping pairs, or null when malformed. */
function decodeRuns(record: Uint8Array, attribute: NtfsAttribute): Run[] | null {
	const view = new DataView(record.buffer, record.byteOffset, record.byteLength);
	if (attribute.at + 34 > record.length) return null;
	const end = Math.min(record.length, attribute.at + attribute.length);
	let at = attribute.at + view.getUint16(attribute.at + 32, true);
	const runs: Run[] = [];
	let lcn = 0;
	while (at < end && runs.length < MAX_RUNS) {
		const header = record[at] ?? 0;
		if (header === 0) return runs;
		const lengthBytes = header & 0x0f;
		const offsetBytes = header >> 4;
		if (lengthBytes === 0 || lengthBytes > 6 || offsetBytes > 6 || at + 1 + lengthBytes + offsetBytes > end)
			return null;
		let clusters = 0;
		for (let i = lengthBytes - 1; i >= 0; i--) clusters = clusters * 256 + (record[at + 1 + i] ?? 0);
		if (offsetBytes === 0) {
			runs.push({ lcn: null, clusters });
		} else {
			let delta = 0;
			for (let i = offsetBytes - 1; i >= 0; i--)
				delta = delta * 256 + (record[at + 1 + lengthBytes + i] ?? 0);
			// The offset is signed: a set top bit means a move backwards.
			if ((record[at + lengthBytes + offsetBytes] ?? 0) & 0x80) delta -= 2 ** (8 * offsetBytes);
			lcn += delta;
			if (lcn < 0) return null;
			runs.push({ lcn, clusters });
		}
		at += 1 + lengthBytes + offsetBytes;
	}
	return null;
}

/** Byte offset on the volume of `length` bytes at `offsetBytes` of a run-mapped stream, or null. */
function mapStream(
	runs: readonly Run[],
	clusterBytes: number,
	offsetBytes: number,
	length: number,
): number | null {
	let streamStart = 0;
	for (const run of runs) {
		const runBytes = run.clusters * clusterBytes;
		if (offsetBytes < streamStart + runBytes) {
			if (run.lcn === null || offsetBytes + length > streamStart + runBytes) return null;
			return run.lcn * clusterBytes + (offsetBytes - streamStart);
		}
		streamStart += runBytes;
	}
	return null;
}

/** Reads an MFT record by number through the $MFT data runs, with fixups applied; null if unreadable. */
async function readRecord(
	r: ProbeReader,
	g: NtfsGeometry,
	mftRuns: readonly Run[],
	n: number,
): Promise<Uint8Array | null> {
	const at = mapStream(mftRuns, g.clusterBytes, n * g.mftRecordBytes, g.mftRecordBytes);
	if (at === null || !r.has(at, g.mftRecordBytes)) return null;
	const raw = await r.read(at, g.mftRecordBytes, `NTFS MFT record ${n}`);
	if (!matches(raw, 0, 'FILE')) return null;
	return applyFixups(raw.slice());
}

/** The record number named `name` (case-insensitive ASCII) among index entries at `at`, or null. */
function findInEntries(
	block: Uint8Array,
	at: number,
	end: number,
	name: string,
	budget: { entries: number },
): bigint | null {
	const view = new DataView(block.buffer, block.byteOffset, block.byteLength);
	while (at + 16 <= end && budget.entries-- > 0) {
		const entryLength = view.getUint16(at + 8, true);
		const keyLength = view.getUint16(at + 10, true);
		const flags = view.getUint16(at + 12, true);
		if (flags & INDEX_ENTRY_LAST || entryLength < 16) return null;
		const key = at + 16;
		if (keyLength >= 66 && key + keyLength <= end) {
			const nameChars = block[key + 64] ?? 0;
			if (nameChars === name.length && key + 66 + nameChars * 2 <= end) {
				let same = true;
				for (let i = 0; i < nameChars && same; i++) {
					const unit = view.getUint16(key + 66 + i * 2, true);
					const upper = unit >= 0x61 && unit <= 0x7a ? unit - 0x20 : unit;
					same = upper === name.charCodeAt(i);
				}
				if (same) return view.getBigUint64(at, true) & FILE_REFERENCE_RECORD_MASK;
			}
		}
		at += entryLength;
	}
	return null;
}

/** Looks `name` up in the root directory's $I30 index. */
async function findInRoot(
	r: ProbeReader,
	g: NtfsGeometry,
	root: Uint8Array,
	name: string,
): Promise<bigint | null> {
	const attributes = listAttributes(root);
	const indexRoot = attributes.find((a) => a.type === NtfsAttr.INDEX_ROOT && a.value !== null);
	const value = indexRoot?.value;
	if (!value || value.length < 32) return null;
	const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
	const indexBlockBytes = view.getUint32(8, true);
	const budget = { entries: MAX_INDEX_ENTRIES };
	// The index header follows 16 bytes of root header; its offsets are relative to itself.
	const found = findInEntries(
		value,
		16 + view.getUint32(16, true),
		Math.min(value.length, 16 + view.getUint32(20, true)),
		name,
		budget,
	);
	if (found !== null) return found;
	const allocation = attributes.find((a) => a.type === NtfsAttr.INDEX_ALLOCATION && a.nonResident);
	if (!allocation || indexBlockBytes < 512 || indexBlockBytes > MAX_INDEX_BLOCK_BYTES) return null;
	const runs = decodeRuns(root, allocation);
	if (!runs) return null;
	const streamBytes = runs.reduce((sum, run) => sum + run.clusters * g.clusterBytes, 0);
	const blocks = Math.min(
		Math.floor(streamBytes / indexBlockBytes),
		Math.floor(PROBE_MAX_READ_BYTES / indexBlockBytes),
	);
	for (let b = 0; b < blocks && budget.entries > 0; b++) {
		const at = mapStream(runs, g.clusterBytes, b * indexBlockBytes, indexBlockBytes);
		if (at === null || !r.has(at, indexBlockBytes)) continue;
		const raw = await r.read(at, indexBlockBytes, 'NTFS index block');
		if (!matches(raw, 0, 'INDX')) continue;
		const block = applyFixups(raw.slice());
		if (!block) continue;
		const header = new DataView(block.buffer, block.byteOffset, block.byteLength);
		const hit = findInEntries(
			block,
			24 + header.getUint32(24, true),
			Math.min(block.length, 24 + header.getUint32(28, true)),
			name,
			budget,
		);
		if (hit !== null) return hit;
	}
	return null;
}

/**
 * True when `\hiberfil.sys` starts with "hibr" (Windows is hibernated or fast start-up is on and
 * the volume was not shut down fully), false when it is absent or does not, undefined when the
 * structures needed to tell are damaged or beyond our bounds.
 */
export async function readHibernated(
	r: ProbeReader,
	g: NtfsGeometry,
	mftRecord0: Uint8Array,
): Promise<boolean | undefined> {
	const mftData = listAttributes(mftRecord0).find(
		(a) => a.type === NtfsAttr.DATA && a.nonResident && a.nameLength === 0,
	);
	const mftRuns = mftData ? decodeRuns(mftRecord0, mftData) : null;
	if (!mftRuns) return undefined;
	const root = await readRecord(r, g, mftRuns, MFT_RECORD_ROOT);
	if (!root) return undefined;
	const recordNumber = await findInRoot(r, g, root, HIBERFIL_NAME);
	if (recordNumber === null) return false;
	if (recordNumber > BigInt(Number.MAX_SAFE_INTEGER) / BigInt(g.mftRecordBytes)) return undefined;
	const file = await readRecord(r, g, mftRuns, Number(recordNumber));
	if (!file) return undefined;
	const data = listAttributes(file).find((a) => a.type === NtfsAttr.DATA && a.nameLength === 0);
	if (!data) return undefined;
	let head: Uint8Array;
	if (data.value) {
		head = data.value.subarray(0, 4);
	} else {
		const runs = decodeRuns(file, data);
		const first = runs?.[0];
		if (!first) return false;
		if (first.lcn === null) return false;
		const at = first.lcn * g.clusterBytes;
		if (!r.has(at, 4)) return undefined;
		head = await r.read(at, 4, 'hiberfil.sys');
	}
	if (head.length < 4) return false;
	return matches(
		Uint8Array.from(head, (b) => (b >= 0x61 && b <= 0x7a ? b - 0x20 : b)),
		0,
		HIBERNATION_MAGIC,
	);
}

/** The $Volume attributes: volume name and the dirty flag of $VOLUME_INFORMATION. */
export function readVolumeAttributes(record: Uint8Array): {
	label: Uint8Array | null;
	flags: number | undefined;
} {
	let label: Uint8Array | null = null;
	let flags: number | undefined;
	for (const attribute of listAttributes(record)) {
		if (!attribute.value) continue;
		if (attribute.type === NtfsAttr.VOLUME_NAME) label = attribute.value;
		// 8 reserved bytes, major and minor version, then the flags.
		else if (attribute.type === NtfsAttr.VOLUME_INFORMATION && attribute.value.length >= 12) {
			flags = (attribute.value[10] ?? 0) | ((attribute.value[11] ?? 0) << 8);
		}
	}
	return { label, flags };
}

/** Convenience for the probe: health from $Volume flags plus the hibernation check. */
export function ntfsHealth(
	flags: number | undefined,
	hibernated: boolean | undefined,
): FilesystemHealth | undefined {
	if (flags === undefined && hibernated === undefined) return undefined;
	return { dirty: flags === undefined ? undefined : (flags & 0x0001) !== 0, hibernated };
}
