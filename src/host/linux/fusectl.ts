// SPDX-License-Identifier: MIT
/**
 * Aborting dead FUSE connections through fusectl (`/sys/fs/fuse/connections/<n>/abort`).
 * After the daemon is killed, a helper process still reading its export can keep the
 * connection open; every access then hangs. Aborting makes them fail at once, so the clean-up
 * can unmount. Root only; fusectl is mounted on demand.
 */
import { access, writeFile } from 'node:fs/promises';
import { runTool } from '../node/run-tool.js';
import type { LinuxProbe } from './capabilities.js';
import type { MountEntry } from './mountinfo.js';

/** Where fusectl lives. */
const FUSECTL_DIR = '/sys/fs/fuse/connections';

async function ensureFusectl(host: LinuxProbe, mounts: readonly MountEntry[]): Promise<boolean> {
	if (mounts.some((m) => m.mountPoint === FUSECTL_DIR)) return true;
	const mount = host.toolPaths.get('mount');
	if (!host.isRoot || mount === undefined) return false;
	try {
		await access(FUSECTL_DIR);
		await runTool(mount, ['-t', 'fusectl', 'fusectl', FUSECTL_DIR], {
			name: 'mount fusectl',
			timeoutMs: 10_000,
		});
		return true;
	} catch {
		return false;
	}
}

/** Aborts the FUSE connection behind `entry`; true when it was aborted. */
export async function abortFuseConnection(
	host: LinuxProbe,
	entry: MountEntry,
	mounts: readonly MountEntry[],
): Promise<boolean> {
	const [major, minor] = entry.device.split(':');
	if (major !== '0' || minor === undefined || !/^\d+$/.test(minor)) return false;
	if (!(await ensureFusectl(host, mounts))) return false;
	try {
		await writeFile(`${FUSECTL_DIR}/${minor}/abort`, '1');
		return true;
	} catch {
		return false;
	}
}
