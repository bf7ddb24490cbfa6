// SPDX-License-Identifier: MIT
/**
 * What a path holds, as the `info --json` contract (docs/architecture.md): the engine's
 * inspection on this machine's files (archives included), with lock liveness asked of this
 * machine's processes. The CLI's `info` and the daemon's `inspect` both call
 * {@link inspectPath}, so they print the same thing.
 */
import { stat } from 'node:fs/promises';
import { closeInspection, inspect, withArchives } from '../../core/index.js';
import type {
	DiskInspection,
	Inspection,
	Snapshot,
	SnapshotTree,
	VirtualDisk,
	Volume,
} from '../../core/index.js';
import type { DiskLayout } from '../../core/index.js';
import { AppError } from '../../shared/app-error.js';
import { isLockStale } from './lock-liveness.js';
import { nodePlatform } from './node-platform.js';
import type {
	DiskInfo,
	InfoResult,
	ManifestCheckInfo,
	SnapshotInfo,
	VmInfo,
	VolumeInfo,
} from '../../shared/models.js';

/** The `DiskInfo` of an open disk and its layout (`notes`: what it contradicts in its VM or appliance). */
export function buildDiskInfo(
	disk: VirtualDisk,
	layout: DiskLayout,
	controller?: string,
	notes: readonly string[] = [],
): DiskInfo {
	const chain = disk.chain.map((l) => ({
		path: l.path,
		createType: l.createType,
		cid: l.cid,
		parentCid: l.parentCid,
	}));
	return {
		path: disk.path,
		...(controller === undefined ? {} : { controller }),
		createType: chain[0]?.createType ?? 'unknown',
		capacityBytes: disk.sizeBytes,
		chain,
		partitionTable: {
			scheme: layout.partitionTable.scheme,
			...(layout.partitionTable.diskId === undefined ? {} : { diskId: layout.partitionTable.diskId }),
		},
		volumes: layout.volumes.map(volumeInfo),
		warnings: [...disk.warnings, ...layout.warnings, ...notes],
	};
}

function volumeInfo(v: Volume): VolumeInfo {
	return {
		index: v.index,
		name: v.name,
		kind: v.kind,
		startBytes: v.startBytes,
		sizeBytes: v.sizeBytes,
		...(v.partition === undefined
			? {}
			: { partitionType: { id: v.partition.typeId, name: v.partition.typeName } }),
		...(v.partition?.name === undefined || v.partition.name === ''
			? {}
			: { partitionName: v.partition.name }),
		...(v.lvmName === undefined ? {} : { lvmName: v.lvmName }),
		filesystem: v.filesystem === null ? null : { ...v.filesystem },
		...(v.unsupported === undefined ? {} : { unsupported: v.unsupported }),
	};
}

function diskEntry(d: DiskInspection): DiskInfo {
	if (d.disk !== undefined) return buildDiskInfo(d.disk, d.layout, d.controller, d.warnings);
	return {
		path: d.path,
		...(d.controller === undefined ? {} : { controller: d.controller }),
		createType: 'unknown',
		capacityBytes: 0,
		chain: [],
		partitionTable: { scheme: 'none' },
		volumes: [],
		warnings: [],
		error: { code: d.error.code, message: d.error.message },
	};
}

function snapshotInfos(tree: SnapshotTree | null): SnapshotInfo[] {
	if (tree === null) return [];
	return tree.snapshots.map((s: Snapshot) => ({
		uid: s.uid,
		parentUid: s.parentUid ?? null,
		displayName: s.displayName ?? null,
		description: s.description ?? null,
		...(s.createTimeUtc === undefined ? {} : { createTimeUtc: s.createTimeUtc }),
		disks: s.disks.map((d) => ({ node: d.node, fileName: d.fileName })),
		current: tree.current !== null && tree.current === s.uid,
	}));
}

/** `info --json` for a whole inspection (`manifestCheck`: the result of `--verify`). */
export function buildInfoResult(inspection: Inspection, manifestCheck?: ManifestCheckInfo): InfoResult {
	const disks = inspection.disks.map(diskEntry);
	const t = inspection.target;
	let vm: VmInfo | null = null;
	switch (t.kind) {
		case 'disk':
			break;
		case 'vm':
			vm = {
				vmxPath: t.vmxPath,
				kind: 'vmware',
				displayName: t.vm.displayName ?? null,
				guestOS: t.vm.guestOS ?? null,
				locked: t.lock.locked,
				staleLock: t.lock.locked && isLockStale(t.lock),
				lockPaths: t.lock.lockPaths,
				snapshots: snapshotInfos(t.snapshots),
				...(t.snapshot === null
					? {}
					: { snapshot: { uid: t.snapshot.snapshot.uid, displayName: t.snapshot.snapshot.displayName } }),
				warnings: [...t.warnings, ...(t.snapshots?.warnings ?? [])],
			};
			break;
		case 'ova':
			vm = {
				vmxPath: t.path,
				kind: 'ova',
				displayName: t.vm.displayName,
				guestOS: t.vm.guestOS,
				locked: false,
				snapshots: [],
				ovfPath: t.ovfPath,
				manifestPath: t.manifest?.path ?? null,
				...(manifestCheck === undefined ? {} : { manifestCheck }),
				warnings: [
					...t.warnings,
					...(t.manifest?.problem === undefined
						? []
						: [`manifest not readable: ${t.manifest.problem.message}`]),
				],
			};
			break;
		case 'vbox':
			vm = {
				vmxPath: t.vboxPath,
				kind: 'virtualbox',
				displayName: t.vm.displayName,
				guestOS: t.vm.guestOS,
				locked: false,
				snapshots: [],
				warnings: t.warnings,
			};
			break;
		case 'folder':
			vm = {
				vmxPath: t.path,
				kind: 'folder',
				displayName: null,
				locked: false,
				snapshots: [],
				warnings: t.warnings,
			};
			break;
	}
	return { disks, vm };
}

/** Options of {@link inspectPath}. */
export interface InspectPathOptions {
	readonly ignoreCid?: boolean | undefined;
	/** Show a VMware VM at this snapshot point (uid or name). */
	readonly snapshot?: string | undefined;
	/** The result of a manifest check made before, to report with an appliance. */
	readonly manifestCheck?: ManifestCheckInfo | undefined;
}

/**
 * Inspects an absolute `path` — a disk, a `.vmx`/`.vbox`, a bundle, a folder, an `.ova`/`.ovf`
 * or a member of an `.ova` — into the `info` contract.
 */
export async function inspectPath(path: string, options: InspectPathOptions = {}): Promise<InfoResult> {
	const platform = withArchives(nodePlatform);
	try {
		await stat(path);
	} catch (cause) {
		if (!(await platform.fileExists(path).catch(() => false))) {
			throw new AppError('INPUT_NOT_FOUND', `${path}: no such file or folder`, { cause });
		}
	}
	const inspection = await inspect(path, platform, {
		ignoreCid: options.ignoreCid === true,
		...(options.snapshot === undefined ? {} : { snapshot: options.snapshot }),
	});
	try {
		return buildInfoResult(inspection, options.manifestCheck);
	} finally {
		await closeInspection(inspection);
	}
}
