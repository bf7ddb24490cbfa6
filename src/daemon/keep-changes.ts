// SPDX-License-Identifier: MIT
/**
 * `unmount --keep`: the changes of a `--rw` mount, collected from its copy-on-write overlays
 * (one per mounted volume, in 4 KiB blocks, offsets relative to the volume), written next to the
 * disk as a new VMware snapshot; `--attach` points the VM's `.vmx` at it.
 */
import { readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { splitArchivePath } from '../core/index.js';
import type { ChangedRange } from '../core/write.js';
import { attachSnapshotToVmx, keepChangesAsSnapshot } from '../host/output.js';
import { AppError } from '../shared/app-error.js';
import type { KeptSnapshotInfo } from '../shared/models.js';
import type { OpenedDisk } from './disk-opener.js';
import type { DiskExport } from './fuse/disk-export.js';
import type { DaemonLog } from './log.js';
import type { DiskRecord } from './mount-registry.js';

/** Refuses `--keep` early, before anything is unmounted, where it cannot work. */
export function checkKeepable(record: DiskRecord, opened: OpenedDisk | undefined): void {
	if (!record.readWrite) {
		throw new AppError(
			'USAGE',
			`${record.path} was mounted read-only: it has no changes to keep (mount with --rw)`,
		);
	}
	if (splitArchivePath(record.path) !== undefined) {
		throw new AppError(
			'USAGE',
			`${record.path} is inside an appliance: a snapshot cannot be written next to it`,
		);
	}
	const lvm = opened?.volumes.find((v) => v.kind === 'lvm');
	if (lvm !== undefined) {
		throw new AppError(
			'USAGE',
			`${record.path} has LVM volumes (${lvm.name}): changes inside LVM cannot be kept yet`,
		);
	}
}

/** What keeping needs of a mounted disk. */
export interface KeepContext {
	/** The open disk and its volumes (where each overlay's file starts). */
	readonly opened: OpenedDisk;
	/** The export holding the overlays. */
	readonly exp: DiskExport;
	readonly log: DaemonLog;
	/** Hears the progress of writing the snapshot. */
	readonly onProgress: (done: number, total: number) => void;
}

/**
 * Writes the overlays' changes as a snapshot of the disk, next to it (and points the `.vmx` at
 * it). Resolves undefined when nothing was written. Call once the volumes are unmounted (no
 * more writes) and before the overlays are discarded.
 */
export async function keepChanges(
	record: DiskRecord,
	live: KeepContext | undefined,
	attach: boolean,
): Promise<KeptSnapshotInfo | undefined> {
	const disk = live?.opened.disk;
	if (live === undefined || disk === undefined) {
		throw new AppError('INTERNAL', `${record.path}: its export is gone; the changes cannot be kept`);
	}
	const changes: ChangedRange[] = [];
	for (const [name, overlay] of live.exp.overlays()) {
		const start = name === 'disk' ? 0 : (live.opened.volumes.find((v) => v.name === name)?.startBytes ?? -1);
		if (start < 0) throw new AppError('INTERNAL', `${record.path}: no volume ${name} for its overlay`);
		for (const r of await overlay.writtenRanges()) {
			changes.push({
				offsetBytes: start + r.offsetBytes,
				lengthBytes: r.lengthBytes,
				source: overlay,
				sourceOffsetBytes: r.offsetBytes,
			});
		}
	}
	if (changes.length === 0) {
		live.log.info(`${record.path}: no changes were written; nothing to keep`);
		return undefined;
	}
	const kept = await keepChangesAsSnapshot(disk, changes, { onProgress: live.onProgress });
	live.log.info(`kept the changes to ${record.path} as ${kept.childPath} (${kept.grains} grains)`);
	const info: KeptSnapshotInfo = {
		diskPath: record.path,
		childPath: kept.childPath,
		cid: kept.cid,
		parentCid: kept.parentCid,
		grains: kept.grains,
	};
	if (!attach) return info;
	try {
		const attached = await attachSnapshotToVmx(await vmxNextTo(record.path), record.path, kept.childPath);
		return { ...info, attached };
	} catch (error) {
		// The snapshot is written and safe; only the .vmx is unchanged.
		return { ...info, attachProblem: errorText(error) };
	}
}

/** The `.vmx` next to a disk (for `--attach`): the only one in its folder. */
async function vmxNextTo(diskPath: string): Promise<string> {
	const folder = dirname(diskPath);
	const vmx = (await readdir(folder).catch(() => [] as string[])).filter((e) => /\.vmx$/i.test(e));
	if (vmx.length !== 1) {
		throw new AppError(
			'USAGE',
			vmx.length === 0
				? `no .vmx next to ${diskPath}: there is no VM to attach the snapshot to`
				: `${folder} holds ${vmx.length} .vmx files; attach the snapshot in the right one by hand`,
		);
	}
	return join(folder, vmx[0] ?? '');
}

function errorText(error: unknown): string {
	return error instanceof Error ? error.message : String(error);
}
