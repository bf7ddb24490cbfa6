// SPDX-License-Identifier: MIT
/**
 * `.vmsd`: VMware's snapshot tree, in the same dictionary syntax as `.vmx`:
 * `snapshot.current`, `snapshot.numSnapshots`, and per snapshot N `snapshotN.uid`, `.parent`,
 * `.displayName`, `.description`, `.createTimeHigh`/`.createTimeLow`, `.numDisks`,
 * `.diskK.fileName`, `.diskK.node`. The creation time is one 64-bit count of microseconds since
 * 1970 split into two signed 32-bit halves (observed in real files; not in a VMware spec).
 */
import type { ErrorLocation } from '../errors.js';
import { parseDictionary, type VmxFile } from './vmx-file.js';

/** The disk a snapshot froze: the file that was the leaf of that slot's chain at the time. */
export interface SnapshotDisk {
	/** The slot, `scsi0:0`. */
	readonly node: string;
	/** The disk file as written (relative to the VM folder). */
	readonly fileName: string;
}

/** One snapshot of the tree. */
export interface Snapshot {
	/** VMware's snapshot uid (a decimal string, unique within the VM). */
	readonly uid: string;
	/** The parent snapshot's uid, or null for a root. */
	readonly parentUid: string | null;
	/** The name the user gave it, or null. */
	readonly displayName: string | null;
	/** The user's description, or null. */
	readonly description: string | null;
	/** Creation time as an ISO-8601 UTC string, when recorded. */
	readonly createTimeUtc?: string | undefined;
	/** Disks it covers, in `diskK` order. */
	readonly disks: readonly SnapshotDisk[];
}

/** A VM's snapshots. */
export interface SnapshotTree {
	/** The uid of the snapshot the running state descends from, or null. */
	readonly current: string | null;
	/** Snapshots in file order (`snapshot0`, `snapshot1`, …). */
	readonly snapshots: readonly Snapshot[];
	/** Inconsistencies found (dangling parent, count mismatch); the tree is still usable. */
	readonly warnings: readonly string[];
}

/** Most snapshots we read from one file (VMware supports far fewer per VM). */
export const VMSD_MAX_SNAPSHOTS = 4096;

const SNAPSHOT_UID_KEY = /^snapshot(\d{1,6})\.uid$/;
const SNAPSHOT_DISK_KEY = /^snapshot(\d{1,6})\.disk(\d{1,4})\.filename$/;
const MICROSECONDS_PER_MS = 1000;
const TWO_POW_32 = 2 ** 32;

/** Parses a `.vmsd` (bytes or decoded text). Throws `VMX_BAD_FILE` on junk. */
export function parseVmsd(text: Uint8Array | string, location: ErrorLocation = {}): SnapshotTree {
	return snapshotTreeOf(parseDictionary(text, location, '.vmsd'));
}

/** Builds the tree from an already parsed dictionary. */
export function snapshotTreeOf(vmsd: VmxFile): SnapshotTree {
	const warnings = [...vmsd.warnings];
	// Index strings are kept as written (`snapshot01` is not `snapshot1`) and sorted numerically.
	const indices: string[] = [];
	for (const key of vmsd.entries.keys()) {
		const m = SNAPSHOT_UID_KEY.exec(key);
		if (m) indices.push(m[1]!);
	}
	indices.sort(byNumber);
	if (indices.length > VMSD_MAX_SNAPSHOTS) {
		warnings.push(`${indices.length} snapshots; only the first ${VMSD_MAX_SNAPSHOTS} are read`);
		indices.length = VMSD_MAX_SNAPSHOTS;
	}
	const diskIndices = diskIndicesBySnapshot(vmsd);
	const snapshots: Snapshot[] = indices.map((i) =>
		readSnapshot(vmsd, `snapshot${i}`, diskIndices.get(i) ?? [], warnings),
	);
	const uids = new Set(snapshots.map((s) => s.uid));
	if (uids.size !== snapshots.length) {
		for (const uid of uids) {
			const count = snapshots.filter((s) => s.uid === uid).length;
			if (count > 1) warnings.push(`snapshot uid ${uid} is described ${count} times`);
		}
	}
	for (const s of snapshots) {
		if (s.parentUid !== null && !uids.has(s.parentUid)) {
			warnings.push(`snapshot ${s.uid} names parent ${s.parentUid}, which is not in the file`);
		}
	}
	const declaredCount = vmsd.get('snapshot.numSnapshots');
	if (declaredCount !== undefined && Number(declaredCount) !== snapshots.length) {
		warnings.push(
			`snapshot.numSnapshots is ${declaredCount} but ${snapshots.length} snapshots are described`,
		);
	}
	let current = vmsd.get('snapshot.current')?.trim() || null;
	if (current !== null && !uids.has(current)) {
		warnings.push(`snapshot.current ${current} is not a known snapshot`);
		current = null;
	}
	return { current, snapshots, warnings };
}

/** `snapshotN.diskK.fileName` keys in one pass: N → sorted K. */
function diskIndicesBySnapshot(vmsd: VmxFile): Map<string, string[]> {
	const out = new Map<string, string[]>();
	for (const key of vmsd.entries.keys()) {
		const m = SNAPSHOT_DISK_KEY.exec(key);
		if (!m) continue;
		const list = out.get(m[1]!) ?? [];
		list.push(m[2]!);
		out.set(m[1]!, list);
	}
	for (const list of out.values()) list.sort(byNumber);
	return out;
}

function byNumber(a: string, b: string): number {
	return Number(a) - Number(b);
}

function readSnapshot(
	vmsd: VmxFile,
	prefix: string,
	diskIndices: readonly string[],
	warnings: string[],
): Snapshot {
	const uid = vmsd.get(`${prefix}.uid`)!.trim();
	const disks: SnapshotDisk[] = diskIndices.map((k) => ({
		node: vmsd.get(`${prefix}.disk${k}.node`) ?? '',
		fileName: vmsd.get(`${prefix}.disk${k}.fileName`) ?? '',
	}));
	return {
		uid,
		parentUid: vmsd.get(`${prefix}.parent`)?.trim() || null,
		displayName: vmsd.get(`${prefix}.displayName`) ?? null,
		description: vmsd.get(`${prefix}.description`) ?? null,
		createTimeUtc: createTime(vmsd, prefix, uid, warnings),
		disks,
	};
}

function createTime(vmsd: VmxFile, prefix: string, uid: string, warnings: string[]): string | undefined {
	const high = vmsd.get(`${prefix}.createTimeHigh`);
	const low = vmsd.get(`${prefix}.createTimeLow`);
	if (high === undefined || low === undefined) return undefined;
	const h = Number(high);
	const l = Number(low);
	if (
		!Number.isInteger(h) ||
		!Number.isInteger(l) ||
		Math.abs(h) >= TWO_POW_32 ||
		Math.abs(l) >= TWO_POW_32
	) {
		warnings.push(`snapshot ${uid} has an unreadable creation time`);
		return undefined;
	}
	// The low half is written as a signed 32-bit number; reinterpret it as unsigned.
	const micros = h * TWO_POW_32 + (l < 0 ? l + TWO_POW_32 : l);
	const date = new Date(micros / MICROSECONDS_PER_MS);
	if (Number.isNaN(date.getTime())) {
		warnings.push(`snapshot ${uid} has an unreadable creation time`);
		return undefined;
	}
	return date.toISOString();
}
