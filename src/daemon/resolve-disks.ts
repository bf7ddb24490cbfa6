// SPDX-License-Identifier: MIT
/**
 * Expands what the user opened into the disks to mount: a `.vmdk` is itself; a VM bundle,
 * folder, `.vmx` or `.vbox` gives each existing disk the VM uses (through the engine's bundle
 * resolver). A VM's lock (`.lck`) is reported so `--rw` can be refused.
 */
import { assertNever, resolveOpenTarget } from '../core/index.js';
import { AppError } from '../shared/app-error.js';
import { nodePlatform } from '../host/index.js';

/** The disks behind a path, and whether their VM is locked. */
export interface ResolvedDisks {
	readonly disks: readonly string[];
	/** A lock path when the VM is locked by VMware. */
	readonly vmLock?: string | undefined;
}

/** The absolute `.vmdk` paths behind `path`. */
export async function resolveDiskPaths(path: string): Promise<ResolvedDisks> {
	const target = await resolveOpenTarget(path, nodePlatform);
	switch (target.kind) {
		case 'disk':
			return { disks: [target.path] };
		case 'vm': {
			const disks = target.disks.filter((d) => d.exists).map((d) => d.path);
			if (disks.length === 0)
				throw new AppError('INPUT_NOT_FOUND', `${target.vmxPath}: the VM has no disk that exists here`);
			return { disks, vmLock: target.lock.locked ? target.lock.lockPaths[0] : undefined };
		}
		case 'vbox': {
			const disks = target.disks.map((d) => d.path);
			if (disks.length === 0)
				throw new AppError('INPUT_NOT_FOUND', `${target.vboxPath}: the VM has no VMDK disk`);
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
