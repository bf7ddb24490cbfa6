// SPDX-License-Identifier: MIT
/**
 * `vmdk-mounter doctor [--json]`: which mount helpers are installed, which filesystem types
 * this host can mount and by what, the exact `apt-get install` line for what is missing, and
 * where the daemon's socket, log and state are.
 */
import { readSettings } from '../../host/common/settings.js';
import { DEBIAN_PACKAGES, probeLinuxHost } from '../../host/linux/capabilities.js';
import { loadFuse3Addon } from '../../host/node/fuse3-addon.js';
import { appPaths } from '../../host/node/paths.js';
import { mountableTypes, planVolume, typesOfHelper, FUSE_HELPERS } from '../../core/index.js';
import { pingDaemon, DaemonClient } from '../../daemon/client.js';
import type { DoctorReport, HelperStatus } from '../../shared/models.js';
import { flag, type CliCommand } from '../command.js';
import { writeJson } from '../output.js';

/** Builds the report for this host. */
export async function buildDoctorReport(): Promise<DoctorReport> {
	const paths = appPaths();
	const host = await probeLinuxHost();
	const tools = [...FUSE_HELPERS, 'losetup', 'mount', 'umount', 'fusermount3'];
	const helpers: HelperStatus[] = tools.map((id) => ({
		id,
		path: host.toolPaths.get(id) ?? null,
		types: (FUSE_HELPERS as readonly string[]).includes(id)
			? typesOfHelper(id as (typeof FUSE_HELPERS)[number])
			: [],
		install: `apt-get install ${DEBIAN_PACKAGES[id] ?? id}`,
		// exfat-fuse always asks FUSE for a block device, which fusermount3 grants to root only.
		...(id === 'exfat-fuse' && process.getuid?.() !== 0 ? { note: 'works only as root' } : {}),
		// Debian's ntfs-3g is setuid root: it reaches a user's export only through allow_other.
		...(id === 'ntfs-3g' && process.getuid?.() !== 0 && !host.userAllowOther
			? { note: 'as a user, needs `user_allow_other` in /etc/fuse.conf' }
			: {}),
	}));
	const missing = [
		...new Set(helpers.filter((h) => h.path === null).map((h) => DEBIAN_PACKAGES[h.id] ?? h.id)),
	];
	const coverage = mountableTypes().map((type) => {
		const plan = planVolume({ index: 1, type }, host, { readWrite: false });
		return { type, helpers: plan.kind === 'mount' ? plan.attempts.map((a) => a.label) : [] };
	});
	let mountRoot = paths.mountRootOverride ?? paths.defaultMountRoot;
	if (paths.mountRootOverride === undefined) {
		mountRoot =
			(await readSettings(paths.settingsPath).catch(() => ({ mountRoot: undefined }))).mountRoot ?? mountRoot;
	}
	let pid: number | null = null;
	if (await pingDaemon(paths.socketPath)) {
		const c = await DaemonClient.connect({ autoStart: false }).catch(() => undefined);
		pid = (await c?.hello().catch(() => undefined))?.pid ?? null;
		c?.close();
	}
	return {
		platform: process.platform,
		isRoot: host.isRoot,
		fuseAvailable: host.fuseDevice && host.toolPaths.has('fusermount3'),
		fuseBinding:
			process.env.VMDK_MOUNTER_FUSE_BINDING !== 'fuse-native' && loadFuse3Addon() !== null
				? 'fuse3'
				: 'fuse-native',
		helpers,
		kernelFilesystems: [...host.kernelFilesystems].sort(),
		coverage,
		installCommand: missing.length > 0 ? `sudo apt-get install ${missing.join(' ')}` : null,
		socketPath: paths.socketPath,
		logPath: paths.logPath,
		stateDir: paths.stateDir,
		mountRoot,
		settingsPath: paths.settingsPath,
		daemon: { running: pid !== null, pid },
	};
}

function render(r: DoctorReport): string {
	const lines = [
		`Platform: ${r.platform}${r.isRoot ? ' (root: loop devices and kernel mounts are used)' : ''}`,
	];
	lines.push(
		`FUSE: ${r.fuseAvailable ? 'available' : 'NOT available (install fuse3; /dev/fuse must be readable and writable by you, mode 0666)'}`,
	);
	lines.push(
		`FUSE binding: ${r.fuseBinding === 'fuse3' ? 'libfuse 3 addon' : 'fuse-native (libfuse 2; build native/fuse3 with `npm run build:native` for faster reads)'}`,
	);
	lines.push('', 'Helpers:');
	for (const h of r.helpers) {
		const types = h.types.length > 0 ? ` — ${h.types.join(', ')}` : '';
		lines.push(
			`  ${h.path !== null ? 'ok     ' : 'missing'} ${h.id}${types}${h.path !== null ? `  (${h.path})` : `  → ${h.install}`}${h.note === undefined ? '' : ` — ${h.note}`}`,
		);
	}
	lines.push('', 'Filesystem types this host can mount:');
	for (const c of r.coverage)
		lines.push(`  ${c.type.padEnd(8)} ${c.helpers.length > 0 ? c.helpers.join(', ') : '(none)'}`);
	if (r.installCommand !== null) lines.push('', `To install what is missing: ${r.installCommand}`);
	lines.push(
		'',
		`Daemon: ${r.daemon.running ? `running (pid ${String(r.daemon.pid)})` : 'not running (starts on demand)'}`,
		`Socket: ${r.socketPath}`,
		`Log: ${r.logPath}`,
		`State: ${r.stateDir}`,
		`Mount root: ${r.mountRoot}`,
		`Settings: ${r.settingsPath}`,
	);
	return lines.join('\n') + '\n';
}

/** The `doctor` command. */
export const doctorCommand: CliCommand = {
	command: 'doctor',
	description: 'Check mount helpers and show where the daemon keeps its socket and log',
	args: [],
	options: [],
	async handler({ options, io }) {
		const report = await buildDoctorReport();
		if (flag(options, 'json')) writeJson(io, report);
		else io.stdout.write(render(report));
	},
};
