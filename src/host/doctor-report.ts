// SPDX-License-Identifier: MIT
/**
 * The `doctor` report, from the same host probe the daemon mounts with (never worked out a
 * second way): helpers, coverage per filesystem type, the install line, FUSE, and where the
 * daemon keeps its files. The daemon's `doctor` method and the CLI's `doctor` both call it.
 */
import { mountableTypes, planVolume } from '../core/index.js';
import type { DoctorReport } from '../shared/models.js';
import type { Host } from './common/host.js';
import type { AppPaths } from './node/paths.js';
import { readSettings, type MountSettings } from './node/settings.js';

/** Everything but the daemon's own status, which only the caller knows. */
export async function buildDoctorReport(host: Host, paths: AppPaths): Promise<Omit<DoctorReport, 'daemon'>> {
	const probe = await host.refresh();
	const coverage = mountableTypes(probe.helperTable).map((type) => {
		const plan = planVolume({ index: 1, type }, probe.helperTable, probe, { readWrite: false });
		return { type, helpers: plan.kind === 'mount' ? plan.attempts.map((a) => a.label) : [] };
	});
	let settingsProblem: string | undefined;
	const settings = await readSettings(paths.settingsPath).catch((error: unknown): MountSettings => {
		settingsProblem = error instanceof Error ? error.message : String(error);
		return {};
	});
	return {
		platform: probe.platform,
		osDescription: probe.osDescription,
		isRoot: probe.isRoot,
		fuseAvailable: probe.fuse.available,
		...(probe.fuse.problem === undefined ? {} : { fuseProblem: probe.fuse.problem }),
		fuseBinding: probe.fuse.binding,
		helpers: probe.toolList.map((t) => ({
			id: t.id,
			path: t.path,
			types: t.types,
			install: t.install,
			...(t.note === undefined ? {} : { note: t.note }),
		})),
		kernelFilesystems: [...probe.kernelFilesystems].sort(),
		coverage,
		installCommand: probe.installCommand,
		notes: [...probe.notes, ...(settingsProblem === undefined ? [] : [settingsProblem])],
		socketPath: paths.socketPath,
		logPath: paths.logPath,
		stateDir: paths.stateDir,
		mountRoot: paths.mountRootOverride ?? settings.mountRoot ?? paths.defaultMountRoot,
		settingsPath: paths.settingsPath,
	};
}
