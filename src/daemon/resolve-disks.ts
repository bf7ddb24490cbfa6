// SPDX-License-Identifier: MIT
/**
 * Expands what the user opened into the disks to mount: a `.vmdk` is itself; a VM bundle,
 * folder, `.vmx` or `.vbox` gives each existing disk the VM uses (through the engine's bundle
 * resolver); an `.ova`/`.ovf` appliance gives each of its disks (member paths, read in place);
 * a snapshot point gives each disk as that snapshot froze it. A VM's lock (`.lck`) is reported
 * so `--rw` can be refused.
 */
import { stat } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import {
	assertNever,
	describeSnapshot,
	resolveOpenTarget,
	targetDisks,
	withArchives,
	type TargetDisk,
} from '../core/index.js';
import { AppError } from '../shared/app-error.js';
import { nodePlatform } from '../host/index.js';

/** True when `path` is a file or folder, or a member of an `.ova` archive. */
export async function inputExists(path: string): Promise<boolean> {
	if (
		await stat(path).then(
			() => true,
			() => false,
		)
	)
		return true;
	return withArchives(nodePlatform)
		.fileExists(path)
		.catch(() => false);
}

/** The disks behind a path, and whether their VM is locked. */
export interface ResolvedDisks {
	readonly disks: readonly string[];
	/** A lock path when the VM is locked by VMware. */
	readonly vmLock?: string | undefined;
	/**
	 * Names for the disks' mount folders, parallel to `disks`, when the disk file's own name
	 * would not say what is mounted: a snapshot point is named `<VM> @ <snapshot>`, so that
	 * several points of one VM can be mounted side by side and told apart.
	 */
	readonly folderNames?: readonly string[] | undefined;
}

/** What to resolve besides the path. */
export interface ResolveDisksOptions {
	/** A snapshot of a VMware VM, by uid or name. */
	readonly snapshot?: string | undefined;
}

/** Every disk of a VM or appliance, or the first one's reason it cannot be opened. */
function openable(wanted: readonly TargetDisk[]): string[] {
	const bad = wanted.find((d) => d.problem !== undefined);
	if (bad?.problem !== undefined) throw bad.problem;
	return wanted.map((d) => d.path);
}

/** The absolute `.vmdk` paths behind `path`. */
export async function resolveDiskPaths(
	path: string,
	options: ResolveDisksOptions = {},
): Promise<ResolvedDisks> {
	const target = await resolveOpenTarget(path, nodePlatform, { snapshot: options.snapshot });
	switch (target.kind) {
		case 'disk':
			return { disks: [target.path] };
		case 'vm': {
			const vmLock = target.lock.locked ? target.lock.lockPaths[0] : undefined;
			if (target.snapshot !== null) {
				const wanted = targetDisks(target);
				const disks = openable(wanted);
				const { snapshot } = target.snapshot;
				const point = snapshot.displayName || `snapshot ${snapshot.uid}`;
				const vmName = target.vm.displayName || basename(target.vmxPath, extname(target.vmxPath));
				const folderNames = wanted.map((d) =>
					wanted.length === 1 ? `${vmName} @ ${point}` : `${vmName} @ ${point} (${d.controller ?? ''})`,
				);
				if (disks.length === 0) {
					throw new AppError(
						'INPUT_NOT_FOUND',
						`${target.vmxPath}: snapshot ${describeSnapshot(snapshot)} has no disk`,
					);
				}
				return { disks, vmLock, folderNames };
			}
			const disks = target.disks.filter((d) => d.exists).map((d) => d.path);
			if (disks.length === 0)
				throw new AppError('INPUT_NOT_FOUND', `${target.vmxPath}: the VM has no disk that exists here`);
			return { disks, vmLock };
		}
		case 'vbox': {
			const disks = target.disks.map((d) => d.path);
			if (disks.length === 0)
				throw new AppError('INPUT_NOT_FOUND', `${target.vboxPath}: the VM has no VMDK disk`);
			return { disks };
		}
		case 'ova': {
			const disks = openable(targetDisks(target));
			if (disks.length === 0)
				throw new AppError('INPUT_NOT_FOUND', `${target.path}: the appliance has no disk with a file`);
			return { disks };
		}
		case 'folder':
			if (target.disks.length === 0)
				throw new AppError('INPUT_NOT_FOUND', `${target.path}: no .vmdk disk in this folder`);
			return { disks: target.disks };
		default:
			return assertNever(target, 'unknown open target');
	}
}
