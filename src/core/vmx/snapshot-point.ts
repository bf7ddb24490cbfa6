// SPDX-License-Identifier: MIT
/**
 * Snapshot points of a VMware VM: finding the snapshot a user names, walking its ancestry, and
 * the order `info` draws the tree in. What a snapshot point *is* on disk: for each disk, the
 * `.vmsd` entry `snapshotN.diskK.fileName` names the file that was that disk's leaf when the
 * snapshot was taken (VMware then starts a new delta on top of it and never writes it again).
 * Opening that file and following its parents gives the disk exactly as it was at the snapshot,
 * and never touches the deltas written after it. See docs/snapshots.md.
 *
 * Decisions:
 * - A selector matches a uid first, then a display name exactly, then a display name ignoring
 *   case. A name several snapshots share is `VMX_SNAPSHOT_AMBIGUOUS` (the message lists their
 *   uids); a uid the file lists twice, or an ancestry that loops, makes the `.vmsd`
 *   untrustworthy for that snapshot: `VMX_BAD_FILE`.
 * - A parent uid that is not in the file ends the ancestry (the tree already warns about it).
 */
import { VmdkError, type ErrorLocation } from '../errors.js';
import type { Snapshot, SnapshotTree } from './vmsd-file.js';
import type { DiskBus } from './vmx-file.js';

/** How many snapshots an error message lists before "…". */
const LIST_MAX = 20;

/** A snapshot chosen by the user, with its ancestors. */
export interface SnapshotPoint {
	readonly snapshot: Snapshot;
	/** Its ancestors, parent first. */
	readonly ancestors: readonly Snapshot[];
}

/** "uid 2 "Updated"" for messages. */
export function describeSnapshot(s: Snapshot): string {
	return s.displayName === null || s.displayName === ''
		? `uid ${s.uid}`
		: `"${s.displayName}" (uid ${s.uid})`;
}

/** Finds the snapshot `selector` names and its ancestry; throws the typed errors above. */
export function findSnapshotPoint(
	tree: SnapshotTree,
	selector: string,
	location: ErrorLocation = {},
): SnapshotPoint {
	const snapshot = findSnapshot(tree, selector, location);
	return { snapshot, ancestors: snapshotAncestors(tree, snapshot, location) };
}

function findSnapshot(tree: SnapshotTree, selector: string, location: ErrorLocation): Snapshot {
	const wanted = selector.trim();
	const byUid = tree.snapshots.filter((s) => s.uid === wanted);
	if (byUid.length > 1) {
		throw new VmdkError(
			'VMX_BAD_FILE',
			`the .vmsd describes snapshot uid ${wanted} ${byUid.length} times, so its disks are ambiguous`,
			location,
		);
	}
	if (byUid[0] !== undefined) return byUid[0];
	for (const same of [
		(s: Snapshot) => s.displayName === wanted,
		(s: Snapshot) => (s.displayName ?? '').toLowerCase() === wanted.toLowerCase(),
	]) {
		const matches = tree.snapshots.filter(same);
		if (matches.length > 1) {
			throw new VmdkError(
				'VMX_SNAPSHOT_AMBIGUOUS',
				`${matches.length} snapshots are named "${wanted}" (uids ${matches.map((s) => s.uid).join(', ')}); choose one by its uid`,
				location,
			);
		}
		if (matches[0] !== undefined) return matches[0];
	}
	const known = tree.snapshots.slice(0, LIST_MAX).map(describeSnapshot);
	const more = tree.snapshots.length > LIST_MAX ? ', …' : '';
	throw new VmdkError(
		'VMX_SNAPSHOT_NOT_FOUND',
		`the VM has no snapshot "${wanted}"${known.length === 0 ? ' (it has no snapshots)' : `; its snapshots: ${known.join(', ')}${more}`}`,
		location,
	);
}

/** `snapshot`'s ancestors, parent first. Throws `VMX_BAD_FILE` when the parents loop. */
export function snapshotAncestors(
	tree: SnapshotTree,
	snapshot: Snapshot,
	location: ErrorLocation = {},
): Snapshot[] {
	const byUid = new Map<string, Snapshot>();
	for (const s of tree.snapshots) if (!byUid.has(s.uid)) byUid.set(s.uid, s);
	const out: Snapshot[] = [];
	const seen = [snapshot.uid];
	for (let uid = snapshot.parentUid; uid !== null;) {
		if (seen.includes(uid)) {
			throw new VmdkError(
				'VMX_BAD_FILE',
				`the snapshot tree loops: ${[...seen, uid].join(' → ')} (parent uids)`,
				location,
			);
		}
		seen.push(uid);
		const parent = byUid.get(uid);
		if (parent === undefined) break;
		out.push(parent);
		uid = parent.parentUid;
	}
	return out;
}

/** A snapshot placed in the drawn tree. */
export interface SnapshotTreeRow<T> {
	readonly snapshot: T;
	/** 0 for a root. */
	readonly depth: number;
	/** True for snapshots no root leads to (their parents loop). */
	readonly inLoop: boolean;
}

/**
 * The tree in drawing order: depth first from each root (a snapshot without a known parent),
 * children in list order; then, flagged, the snapshots caught in a loop of parents. Works on
 * the engine's snapshots and on `info --json`'s alike.
 */
export function snapshotTreeRows<T extends { readonly uid: string; readonly parentUid: string | null }>(
	snapshots: readonly T[],
): SnapshotTreeRow<T>[] {
	const uids = new Set(snapshots.map((s) => s.uid));
	const children = new Map<string, T[]>();
	const roots: T[] = [];
	for (const s of snapshots) {
		if (s.parentUid === null || !uids.has(s.parentUid)) {
			roots.push(s);
			continue;
		}
		const list = children.get(s.parentUid) ?? [];
		list.push(s);
		children.set(s.parentUid, list);
	}
	const rows: SnapshotTreeRow<T>[] = [];
	const placed = new Set<T>();
	// Iterative, so a deep or hostile tree cannot overflow the stack.
	const stack = [...roots].reverse().map((snapshot) => ({ snapshot, depth: 0 }));
	while (stack.length > 0) {
		const { snapshot, depth } = stack.pop()!;
		if (placed.has(snapshot)) continue;
		placed.add(snapshot);
		rows.push({ snapshot, depth, inLoop: false });
		const kids = children.get(snapshot.uid) ?? [];
		for (let i = kids.length - 1; i >= 0; i--) stack.push({ snapshot: kids[i]!, depth: depth + 1 });
	}
	for (const s of snapshots) if (!placed.has(s)) rows.push({ snapshot: s, depth: 0, inLoop: true });
	return rows;
}

/** A `.vmsd` disk node (`scsi0:1`) as a slot, or undefined if it is not one. */
export function parseDiskNode(
	node: string,
): { readonly bus: DiskBus; readonly busNumber: number; readonly unitNumber: number } | undefined {
	const m = /^(ide|scsi|sata|nvme)(\d{1,3}):(\d{1,3})$/i.exec(node.trim());
	if (!m) return undefined;
	return { bus: m[1]!.toLowerCase() as DiskBus, busNumber: Number(m[2]), unitNumber: Number(m[3]) };
}
