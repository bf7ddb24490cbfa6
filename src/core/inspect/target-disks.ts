// SPDX-License-Identifier: MIT
/**
 * The disks an `OpenTarget` names, in one shape for every kind of target, so that `inspect`,
 * the CLI and the daemon agree on what opening "the VM", "the appliance" or "the snapshot" means
 * — including which disks cannot be opened and why, and what to check once a disk is open.
 */
import type { VirtualDisk } from '../disk/virtual-disk.js';
import { VmdkError } from '../errors.js';
import { basename } from '../io/paths.js';
import { describeSnapshot } from '../vmx/snapshot-point.js';
import type { OpenTarget } from '../vmx/vm-bundle.js';

/** One disk of a target. */
export interface TargetDisk {
	/** The disk's path (its leaf `.vmdk`; a member path for an appliance). */
	readonly path: string;
	/** The VM slot (`scsi0:0`) for VMs and appliances. */
	readonly controller?: string | undefined;
	/** Why it cannot be opened, when that is known before trying. */
	readonly problem?: VmdkError | undefined;
	/** Capacity the appliance declares for it, bytes. */
	readonly declaredCapacityBytes?: number | undefined;
	/** Files its chain must pass through (the same slot at the snapshot point's ancestors). */
	readonly ancestorFiles?: readonly { readonly fileName: string; readonly snapshot: string }[] | undefined;
}

/** The disks of `target`, in its order. */
export function targetDisks(target: OpenTarget): TargetDisk[] {
	switch (target.kind) {
		case 'disk':
			return [{ path: target.path }];
		case 'folder':
			return target.disks.map((path) => ({ path }));
		case 'vbox':
			return target.disks.map((d) => ({ path: d.path, controller: d.controller }));
		case 'ova':
			return target.disks.map((d) => ({
				path: d.path,
				controller: d.controller,
				problem: d.problem,
				declaredCapacityBytes: d.capacityBytes,
			}));
		case 'vm': {
			const point = target.snapshot;
			if (point === null) return target.disks.map((d) => ({ path: d.path, controller: d.controller }));
			const what = describeSnapshot(point.snapshot);
			return target.disks.map((d) => ({
				path: d.path,
				controller: d.controller,
				problem: d.exists
					? undefined
					: new VmdkError(
							'VMX_SNAPSHOT_DISK_MISSING',
							`snapshot ${what} needs ${d.fileName} for ${d.controller}, and it is missing`,
							{ file: d.path },
						),
				ancestorFiles: point.ancestors.flatMap((a) =>
					a.disks
						.filter((r) => r.node.trim().toLowerCase() === d.controller)
						.map((r) => ({ fileName: r.fileName, snapshot: describeSnapshot(a) })),
				),
			}));
		}
	}
}

/**
 * What an opened disk contradicts in its target: a capacity other than the appliance declares,
 * or a chain that skips a file an ancestor snapshot froze (the `.vmsd` and the files disagree).
 */
export function checkOpenedDisk(disk: VirtualDisk, wanted: TargetDisk): string[] {
	const warnings: string[] = [];
	const declared = wanted.declaredCapacityBytes;
	if (declared !== undefined && declared !== disk.sizeBytes) {
		warnings.push(`the OVF declares a capacity of ${declared} bytes; the disk holds ${disk.sizeBytes}`);
	}
	const inChain = new Set(disk.chain.map((l) => basename(l.path).toLowerCase()));
	for (const a of wanted.ancestorFiles ?? []) {
		if (!inChain.has(basename(a.fileName).toLowerCase())) {
			warnings.push(
				`its snapshot chain does not pass through ${a.fileName}, which snapshot ${a.snapshot} froze: the .vmsd and the disk files disagree`,
			);
		}
	}
	return warnings;
}
