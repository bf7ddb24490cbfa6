// SPDX-License-Identifier: MIT
/**
 * Crash clean-up on macOS: what a dead daemon left mounted or attached, found in the mount
 * table and in `hdiutil info -plist` — never taken on the word of the registry alone. Ours is:
 *
 * - a disk image whose `image-path` is one of our export files (`<exports>/<id>/p1`), and an
 *   APFS container macOS synthesized on such an image;
 * - a volume mounted from one of those disks (`/dev/disk5s1`), or a FUSE volume whose source
 *   is one of our export files (ntfs-3g, fuse-ext2 and ext4fuse name their mounts after it);
 * - an export: a FUSE mount at `<exports>/<8 hex digits>`, a folder nobody else mounts on.
 *
 * Volumes go first (`diskutil unmount force`), then images (`hdiutil detach -force`), then
 * the exports. Anything a record names that fails these tests is left alone and reported.
 */
import type { RecoveryReport, RecoveryScope } from '../common/host.js';
import { readMounts, toolPath, type DarwinContext } from './context.js';
import { forceDetach, listImages } from './disk-images.js';
import { FUSE_MOUNT_TYPES, type MountLine } from './mount-table.js';
import { forceUnmount } from './mounter.js';
import {
	APFS_CONTAINER_HINTS,
	imageDiskOf,
	parseApfsContainers,
	wholeDiskOf,
	type AttachedImage,
} from './plist-output.js';

function isUnder(path: string, dir: string): boolean {
	return path.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
}

/** Cleans up after a dead daemon. */
export async function recoverDarwin(ctx: DarwinContext, scope: RecoveryScope): Promise<RecoveryReport> {
	const done: string[] = [];
	const refused: string[] = [];
	const mounts = await readMounts(ctx).catch(() => [] as MountLine[]);
	let images: AttachedImage[] | undefined;
	try {
		images = await listImages(ctx);
	} catch {
		images = undefined;
	}
	const ourImages = (images ?? []).filter(
		(i) => isUnder(i.imagePath, scope.exportsDir) && i.entities.length > 0,
	);
	const ourDisks = new Set(ourImages.map((i) => imageDiskOf(i.entities)));
	if (ourImages.some((i) => i.entities.some((e) => APFS_CONTAINER_HINTS.has(e.contentHint)))) {
		for (const disk of await synthesizedOn(ctx, ourDisks)) ourDisks.add(disk);
	}

	const isExport = (m: MountLine): boolean =>
		FUSE_MOUNT_TYPES.has(m.fsType) &&
		isUnder(m.mountPoint, scope.exportsDir) &&
		/^[0-9a-f]{8}$/.test(m.mountPoint.slice(scope.exportsDir.length + 1));
	const isOurVolume = (m: MountLine): boolean =>
		(m.source.startsWith('/dev/disk') && ourDisks.has(wholeDiskOf(m.source))) ||
		isUnder(m.source, scope.exportsDir);

	// 1. Volumes.
	for (const m of mounts.filter(isOurVolume)) {
		if (await forceUnmount(ctx, m.mountPoint)) done.push(`unmounted ${m.mountPoint}`);
	}
	for (const r of scope.recorded) {
		const there = r.mountpoint === null ? undefined : mounts.find((m) => m.mountPoint === r.mountpoint);
		if (there !== undefined && !isOurVolume(there)) {
			refused.push(
				`left ${there.mountPoint} mounted: it is ${there.fsType} from ${there.source}, not one of ours`,
			);
		}
	}
	// 2. Disk images of our export files.
	for (const image of ourImages) {
		const device = imageDiskOf(image.entities);
		if (await forceDetach(ctx, device)) done.push(`detached ${device} (${image.imagePath})`);
		else refused.push(`could not detach ${device} (${image.imagePath})`);
	}
	for (const r of scope.recorded) {
		if (r.attachment === undefined || ourDisks.has(r.attachment)) continue;
		refused.push(
			images === undefined
				? `did not touch ${r.attachment}: hdiutil is not here to show which file is behind it`
				: `did not touch ${r.attachment}: it is not the image of one of our export files`,
		);
	}
	// 3. The exports themselves.
	for (const m of mounts.filter(isExport)) {
		if (await forceUnmount(ctx, m.mountPoint)) done.push(`removed the disk export ${m.mountPoint}`);
	}
	for (const r of scope.recorded) {
		if (!isUnder(r.exportDir, scope.exportsDir))
			refused.push(`ignored export folder ${r.exportDir}: not in ${scope.exportsDir}`);
	}
	return { done, refused: [...new Set(refused)] };
}

/** APFS containers macOS synthesized on `disks` (`/dev/disk5` for a store on `/dev/disk4`). */
async function synthesizedOn(ctx: DarwinContext, disks: ReadonlySet<string>): Promise<string[]> {
	try {
		const out = await ctx.system.run(toolPath(ctx, 'diskutil'), ['list', '-plist'], {
			name: 'list disks',
			timeoutMs: 15_000,
		});
		return parseApfsContainers(out.stdout)
			.filter((c) => c.physicalStores.some((s) => disks.has(wholeDiskOf(`/dev/${s}`))))
			.map((c) => `/dev/${c.deviceIdentifier}`);
	} catch {
		return [];
	}
}
