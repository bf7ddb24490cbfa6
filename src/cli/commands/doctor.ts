// SPDX-License-Identifier: MIT
/**
 * `vmdk-mounter doctor [--json]`: which mount helpers are installed, which filesystem types
 * this host can mount and by what, the exact `apt-get install` line for what is missing, and
 * where the daemon's socket, log and state are.
 */
import { DaemonClient, isDaemonNotRunning } from '../../daemon/client.js';
import { appPaths, buildDoctorReport, createHost } from '../../host/index.js';
import type { DoctorReport } from '../../shared/models.js';
import { flag, type CliCommand } from '../command.js';
import { writeJson } from '../output.js';

/**
 * Builds the report with the same host code the daemon mounts with. A running daemon is asked
 * for its pid; none is started for this.
 */
export async function buildDoctor(): Promise<DoctorReport> {
	const paths = appPaths();
	const report = await buildDoctorReport(await createHost(), paths);
	let pid: number | null = null;
	let problem: string | undefined;
	try {
		const client = await DaemonClient.connect({ autoStart: false, clientName: 'doctor' });
		pid = (await client.hello()).pid;
		client.close();
	} catch (error) {
		// Not running is normal; anything else (an untrusted socket, an unsafe folder) is news.
		if (!isDaemonNotRunning(error)) problem = error instanceof Error ? error.message : String(error);
	}
	return {
		...report,
		notes: problem === undefined ? report.notes : [...report.notes, problem],
		daemon: { running: pid !== null, pid },
	};
}

function render(r: DoctorReport): string {
	const lines = [
		`Platform: ${r.osDescription}${r.isRoot ? ' (root: loop devices and kernel mounts are used)' : ''}`,
	];
	lines.push(
		`FUSE: ${r.fuseAvailable ? 'available' : `NOT available: ${r.fuseProblem ?? 'unknown reason'}`}`,
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
	if (r.notes.length > 0) lines.push('', 'Notes:', ...r.notes.map((n) => `  - ${n}`));
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
		const report = await buildDoctor();
		if (flag(options, 'json')) writeJson(io, report);
		else io.stdout.write(render(report));
	},
};
