// SPDX-License-Identifier: MIT
/**
 * Crash clean-up on Linux: what a dead daemon left mounted or attached, found in the mount
 * table and the loop list — never taken on the word of the registry alone. A mount is ours only
 * when the kernel shows our name as its source:
 *
 * - an export: FUSE, source `vmdk-mounter:<id>`, mounted at `<exports>/<id>`;
 * - a volume: source one of our export files (`<exports>/<id>/p1`, how fuse2fs, ntfs-3g and
 *   fusefat with `fsname=` show it) or a loop device whose backing file is one, mounted under
 *   the mount root or where the registry recorded it;
 * - a loop device: its backing file is one of our export files.
 *
 * Anything a record names that fails these tests is left alone and reported.
 */
import type { RecoveryReport, RecoveryScope } from '../common/host.js';
import type { LinuxProbe } from './capabilities.js';
import { abortFuseConnection } from './fusectl.js';
import { detachLoop, loopsBackedUnder } from './loop.js';
import { forceUnmount } from './mounter.js';
import { readMounts, type MountEntry } from './mountinfo.js';

function isUnder(path: string, dir: string): boolean {
	return path.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
}

/** Cleans up after a dead daemon. */
export async function recoverLinux(host: LinuxProbe, scope: RecoveryScope): Promise<RecoveryReport> {
	const done: string[] = [];
	const refused: string[] = [];
	const mounts = await readMounts().catch(() => [] as MountEntry[]);
	const exportsDir = scope.exportsDir;
	const isExport = (m: MountEntry): boolean =>
		m.fsType.startsWith('fuse') &&
		m.source.startsWith(scope.sourcePrefix) &&
		isUnder(m.mountPoint, exportsDir) &&
		m.mountPoint.slice(exportsDir.length + 1).match(/^[0-9a-f]{8}$/) !== null;
	const exports = mounts.filter(isExport);

	// 0. Dead exports: abort their FUSE connections so nothing blocks on them any more.
	for (const m of exports) await abortFuseConnection(host, m, mounts);

	const losetup = host.toolPaths.get('losetup');
	const ourLoops = new Set<string>(
		losetup !== undefined && host.isRoot
			? await loopsBackedUnder(losetup, `${exportsDir}/`).catch(() => [] as string[])
			: [],
	);
	const recordedMountpoints = new Set(
		scope.recorded.flatMap((r) => (r.mountpoint === null ? [] : [r.mountpoint])),
	);
	const isOurVolume = (m: MountEntry): boolean =>
		(isUnder(m.source, exportsDir) || ourLoops.has(m.source)) &&
		(isUnder(m.mountPoint, scope.mountRoot) || recordedMountpoints.has(m.mountPoint));

	// 1. Volume mounts.
	for (const m of mounts.filter(isOurVolume)) {
		if (await forceUnmount(host, m.mountPoint)) done.push(`unmounted ${m.mountPoint}`);
	}
	for (const mp of recordedMountpoints) {
		const there = mounts.find((m) => m.mountPoint === mp);
		if (there !== undefined && !isOurVolume(there)) {
			refused.push(`left ${mp} mounted: it is ${there.fsType} from ${there.source}, not one of ours`);
		}
	}
	// 2. Loop devices over our exports (only those the loop list shows backed by our files).
	if (losetup !== undefined) {
		for (const dev of ourLoops) {
			try {
				await detachLoop(losetup, dev);
				done.push(`detached ${dev}`);
			} catch (error) {
				refused.push(`could not detach ${dev}: ${String(error)}`);
			}
		}
	}
	for (const r of scope.recorded) {
		if (r.attachment !== undefined && !ourLoops.has(r.attachment)) {
			refused.push(`did not touch ${r.attachment}: it is not backed by one of our export files`);
		}
	}
	// 3. The exports themselves.
	for (const m of exports) {
		if (await forceUnmount(host, m.mountPoint)) done.push(`removed the disk export ${m.mountPoint}`);
	}
	for (const r of scope.recorded) {
		if (!isUnder(r.exportDir, exportsDir))
			refused.push(`ignored export folder ${r.exportDir}: not in ${exportsDir}`);
	}
	return { done, refused: [...new Set(refused)] };
}
