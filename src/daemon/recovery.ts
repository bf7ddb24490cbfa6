// SPDX-License-Identifier: MIT
/**
 * Crash clean-up at daemon start: whatever a previous daemon left behind — volume mounts,
 * attached devices, FUSE exports, overlays, mountpoint folders — is unmounted, detached and
 * removed. The registry only says where to look: the host acts on a mount or device only when
 * the system shows it is ours (see the host's `recover`), and this module removes only our own
 * folders — empty mountpoint folders under the mount root, export folders `<runtime>/disks/<id>`,
 * overlay folders `<state>/overlays/<id>` and the overlay files in them. Never a recursive
 * delete. Returns sentences for the user.
 */
import { readdir, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { AppPaths, Host } from '../host/index.js';
import type { DaemonLog } from './log.js';
import { DISK_ID, readPersistedRegistry } from './mount-registry.js';
import { EXPORT_SOURCE_PREFIX } from './mount-service.js';

/** Overlay files inside an overlay folder: `<export file name>.overlay`. */
const OVERLAY_FILE = /^[A-Za-z0-9_.-]{1,255}\.overlay$/;

function isUnder(path: string, dir: string): boolean {
	return path.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
}

/** Cleans up after a previous daemon; returns what was done, one sentence each. */
export async function recoverFromCrash(
	paths: AppPaths,
	mountRoot: string,
	host: Host,
	log: DaemonLog,
): Promise<string[]> {
	const persisted = await readPersistedRegistry(paths.registryPath);
	const records = persisted.disks;
	const notices: string[] = [...persisted.problems];
	const volumes = records.flatMap((d) => d.volumes);
	const report = await host.recover({
		exportsDir: paths.exportsDir,
		mountRoot,
		sourcePrefix: EXPORT_SOURCE_PREFIX,
		recorded: records.flatMap((d) =>
			d.volumes.map((v) => ({ exportDir: d.exportDir, mountpoint: v.mountpoint, attachment: v.attachment })),
		),
	});
	notices.push(...report.done);
	for (const r of report.refused) log.info(`recovery refused: ${r}`);

	// Mountpoint folders we made: only under the mount root, only when empty (rmdir).
	for (const dir of volumes.flatMap((v) => v.createdDirs ?? [])) {
		if (!isUnder(dir, mountRoot)) {
			log.info(`recovery refused: ${dir} is not under the mount root ${mountRoot}`);
			continue;
		}
		if (
			await rmdir(dir).then(
				() => true,
				() => false,
			)
		)
			log.info(`recovery: removed the empty folder ${dir}`);
	}
	// Export folders: `<exports>/<id>`, empty once unmounted.
	for (const name of await readdir(paths.exportsDir).catch(() => [] as string[])) {
		if (DISK_ID.test(name)) await rmdir(join(paths.exportsDir, name)).catch(() => undefined);
	}
	// Overlays: `<overlays>/<id>/<file>.overlay`, deleted file by file, then the folder.
	for (const name of await readdir(paths.overlaysDir).catch(() => [] as string[])) {
		if (!DISK_ID.test(name)) continue;
		const dir = join(paths.overlaysDir, name);
		for (const file of await readdir(dir).catch(() => [] as string[])) {
			if (OVERLAY_FILE.test(file)) await rm(join(dir, file), { force: true }).catch(() => undefined);
		}
		await rmdir(dir).catch(() => undefined);
	}
	if (records.length > 0) {
		const disks = records.map((d) => d.path).join(', ');
		notices.unshift(`The previous mount service stopped unexpectedly; cleaned up what it left of ${disks}`);
	}
	for (const n of notices) log.info(`recovery: ${n}`);
	return notices;
}
