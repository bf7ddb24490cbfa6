// SPDX-License-Identifier: MIT
/**
 * What an `unmount` target names: a disk by its id, its path, its export files, a volume's
 * mountpoint or a folder inside it, the disk folder the daemon made — or, for a VM bundle,
 * folder, `.vmx`, `.vbox`, `.ova` or `.ovf`, every disk inside it.
 */
import { readdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { DiskRecord } from './mount-registry.js';

/** Names of what holds disks: an appliance, a VM's configuration, a VM bundle or folder. */
const CONTAINER_FILE = /\.(ova|ovf|vmx|vbox)$/i;

/**
 * The folder whose disks `target` stands for, when it names a VM or appliance rather than one
 * disk: an `.ova` (its members are `<file>.ova/<member>`), the folder of a `.vmx`, `.vbox` or
 * `.ovf`, or a VM folder (one holding a `.vmx`, `.vbox` or `.ovf`). Otherwise undefined.
 */
export async function containerOf(target: string): Promise<string | undefined> {
	const info = await stat(target).catch(() => undefined);
	if (info === undefined) return undefined;
	if (info.isFile()) {
		if (/\.ova$/i.test(target)) return target;
		return CONTAINER_FILE.test(target) ? dirname(target) : undefined;
	}
	if (!info.isDirectory()) return undefined;
	const entries = await readdir(target).catch(() => [] as string[]);
	return entries.some((e) => CONTAINER_FILE.test(e)) ? target : undefined;
}

export function matches(d: DiskRecord, target: string): boolean {
	if (d.id === target || d.path === target || d.rawPath === target || d.exportDir === target) return true;
	return d.volumes.some(
		(v) =>
			v.rawPath === target ||
			(v.mountpoint !== null && (target === v.mountpoint || target.startsWith(`${v.mountpoint}/`))) ||
			(v.createdDirs ?? []).slice(1).includes(target),
	);
}

/** The mounted volume whose mountpoint is one of `targets` or holds it, and its disk. */
export function volumeNamed(
	records: readonly DiskRecord[],
	targets: readonly string[],
): { readonly record: DiskRecord; readonly volume: DiskRecord['volumes'][number] } | undefined {
	for (const record of records) {
		for (const volume of record.volumes) {
			const mp = volume.mountpoint;
			if (mp !== null && targets.some((t) => t === mp || t.startsWith(`${mp}/`))) return { record, volume };
		}
	}
	return undefined;
}
