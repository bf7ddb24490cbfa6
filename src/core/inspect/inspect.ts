// SPDX-License-Identifier: MIT
/**
 * `inspect`: what a path holds, without mounting anything — the VM around it (if any), each
 * disk opened through its snapshot chain, and each disk's partitions, LVM volumes and
 * filesystems. `info` prints it; the mounter picks helpers from it.
 */
import { isVmdkError, type VmdkError } from '../errors.js';
import type { VirtualDisk } from '../disk/virtual-disk.js';
import { probeFilesystem } from '../filesystems/probe.js';
import { withArchives } from '../ova/archive-platform.js';
import type { DiskPlatform } from '../platform.js';
import { openDisk, type OpenDiskOptions } from '../vmdk/open-disk.js';
import { listVolumes } from '../volumes/list-volumes.js';
import type { DiskLayout } from '../volumes/types.js';
import { resolveOpenTarget, type OpenTarget } from '../vmx/vm-bundle.js';
import { checkOpenedDisk, targetDisks, type TargetDisk } from './target-disks.js';

/** How `inspect` opens what it is given. */
export interface InspectOptions extends OpenDiskOptions {
	/** A snapshot of a VMware VM (uid or name): inspect that snapshot point. */
	readonly snapshot?: string | undefined;
}

/** One disk of an inspection: opened and laid out, or the error that stopped it. */
export type DiskInspection =
	| {
			readonly path: string;
			/** VM slot (`scsi0:0`) when the disk came from a .vmx or .vbox. */
			readonly controller?: string | undefined;
			readonly disk: VirtualDisk;
			readonly layout: DiskLayout;
			/** What the disk contradicts in its VM or appliance (see `checkOpenedDisk`). */
			readonly warnings?: readonly string[] | undefined;
			readonly error?: undefined;
	  }
	| {
			readonly path: string;
			readonly controller?: string | undefined;
			readonly disk?: undefined;
			readonly layout?: undefined;
			readonly warnings?: undefined;
			readonly error: VmdkError;
	  };

/** The result of `inspect`. Close it with `closeInspection` when done with the disks. */
export interface Inspection {
	readonly target: OpenTarget;
	readonly disks: readonly DiskInspection[];
}

/** Partitions, LVM volumes and filesystems of an open disk. */
export function inspectLayout(disk: VirtualDisk): Promise<DiskLayout> {
	return listVolumes(disk, probeFilesystem);
}

/**
 * Inspects a `.vmdk`, a `.vmx`/`.vbox`, a `.vmwarevm` bundle, a folder, or an `.ova`/`.ovf`
 * appliance (optionally at a snapshot point). A single disk that cannot be opened rejects (the
 * user named it); in a VM, appliance or folder each disk's error is kept with that disk, so the
 * others are still shown.
 */
export async function inspect(
	path: string,
	rawPlatform: DiskPlatform,
	options: InspectOptions = {},
): Promise<Inspection> {
	const platform = withArchives(rawPlatform);
	const target = await resolveOpenTarget(path, platform, { snapshot: options.snapshot });
	if (target.kind === 'disk') {
		const disk = await openDisk(target.path, platform, options);
		try {
			return { target, disks: [{ path: target.path, disk, layout: await inspectLayout(disk) }] };
		} catch (error) {
			await disk.close();
			throw error;
		}
	}
	const disks: DiskInspection[] = [];
	for (const wanted of targetDisks(target)) disks.push(await inspectOne(wanted, platform, options));
	return { target, disks };
}

async function inspectOne(
	wanted: TargetDisk,
	platform: DiskPlatform,
	options: OpenDiskOptions,
): Promise<DiskInspection> {
	const { path, controller } = wanted;
	if (wanted.problem !== undefined) return { path, controller, error: wanted.problem };
	let disk: VirtualDisk;
	try {
		disk = await openDisk(path, platform, options);
	} catch (error) {
		if (!isVmdkError(error)) throw error;
		return { path, controller, error };
	}
	try {
		const layout = await inspectLayout(disk);
		return { path, controller, disk, layout, warnings: checkOpenedDisk(disk, wanted) };
	} catch (error) {
		await disk.close();
		if (!isVmdkError(error)) throw error;
		return { path, controller, error };
	}
}

/** Closes every disk an inspection opened. */
export async function closeInspection(inspection: Inspection): Promise<void> {
	await Promise.all(inspection.disks.map(async (d) => d.disk?.close()));
}
