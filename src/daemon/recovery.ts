// SPDX-License-Identifier: MIT
/**
 * Crash clean-up at daemon start: whatever a previous daemon left behind — volume mounts,
 * loop devices, FUSE exports, overlays, mountpoint folders — is unmounted, detached and
 * removed. Sources: the persisted registry and `/proc/self/mountinfo` / `losetup --list`
 * (anything backed by a file in our exports folder is ours). Returns sentences for the user.
 */
import { readdir, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { LinuxHost } from '../host/linux/capabilities.js';
import { detachLoop, loopsBackedUnder } from '../host/linux/loop.js';
import { abortFuseConnection } from '../host/linux/fusectl.js';
import { forceUnmount } from '../host/linux/mounter.js';
import { readMounts } from '../host/linux/mountinfo.js';
import type { AppPaths } from '../host/node/paths.js';
import type { DaemonLog } from './log.js';
import { readPersistedRegistry } from './mount-registry.js';

/** Cleans up after a previous daemon; returns what was done, one sentence each. */
export async function recoverFromCrash(paths: AppPaths, host: LinuxHost, log: DaemonLog): Promise<string[]> {
	const notices: string[] = [];
	const records = await readPersistedRegistry(paths.registryPath);
	const exportsPrefix = `${paths.exportsDir}/`;
	const mounts = await readMounts().catch(() => []);
	// 0. Our dead exports: abort their FUSE connections so nothing blocks on them any more.
	const exportMounts = new Set<string>(records.map((d) => d.exportDir));
	for (const m of mounts) if (m.mountPoint.startsWith(exportsPrefix)) exportMounts.add(m.mountPoint);
	for (const m of mounts) {
		if (exportMounts.has(m.mountPoint) && (await abortFuseConnection(host, m, mounts))) {
			log.info(`aborted the dead FUSE connection of ${m.mountPoint}`);
		}
	}
	const losetup = host.toolPaths.get('losetup');
	const loops = new Set<string>();
	for (const d of records) for (const v of d.volumes) if (v.loopDevice !== undefined) loops.add(v.loopDevice);
	if (losetup !== undefined && host.isRoot) {
		for (const dev of await loopsBackedUnder(losetup, exportsPrefix).catch(() => [] as string[]))
			loops.add(dev);
	}
	// 1. Volume mounts: recorded mountpoints, and any mount whose source is one of our files or loops.
	const volumeMounts = new Set<string>();
	for (const d of records)
		for (const v of d.volumes) if (v.mountpoint !== null) volumeMounts.add(v.mountpoint);
	for (const m of mounts) {
		if (m.source.startsWith(exportsPrefix) || loops.has(m.source)) volumeMounts.add(m.mountPoint);
	}
	for (const mp of volumeMounts) {
		if (await forceUnmount(host, mp)) notices.push(`unmounted ${mp}`);
	}
	// 2. Loop devices over our exports.
	if (losetup !== undefined) {
		for (const dev of loops) {
			try {
				await detachLoop(losetup, dev);
				notices.push(`detached ${dev}`);
			} catch (error) {
				log.info(`could not detach ${dev}: ${String(error)}`);
			}
		}
	}
	// 3. FUSE exports (dead since their daemon died).
	for (const mp of exportMounts) {
		if (await forceUnmount(host, mp)) notices.push(`removed the disk export ${mp}`);
		await rmdir(mp).catch(() => undefined);
	}
	for (const name of await readdir(paths.exportsDir).catch(() => [] as string[])) {
		await rmdir(join(paths.exportsDir, name)).catch(() => undefined);
	}
	// 4. Our folders and overlays.
	for (const d of records) {
		for (const v of d.volumes) for (const dir of v.createdDirs ?? []) await rmdir(dir).catch(() => undefined);
		if (d.overlayDir !== undefined)
			await rm(d.overlayDir, { recursive: true, force: true }).catch(() => undefined);
	}
	await rm(paths.overlaysDir, { recursive: true, force: true }).catch(() => undefined);
	if (records.length > 0) {
		const disks = records.map((d) => d.path).join(', ');
		notices.unshift(`The previous mount service stopped unexpectedly; cleaned up what it left of ${disks}`);
	}
	for (const n of notices) log.info(`recovery: ${n}`);
	return notices;
}
