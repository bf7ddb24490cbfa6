// SPDX-License-Identifier: MIT
/**
 * `vmdk-mounter mount [--json] [--rw] [--force] [--ignore-cid] [--partition N] [--snapshot S]
 * [--verify] <disk | bundle | appliance>`:
 * asks the mount daemon (started on demand) to export the disk over FUSE and mount each
 * volume under the mount root. Also holds what `list` and `unmount` share: talking to the
 * daemon and printing mounted disks.
 */
import { resolve } from 'node:path';
import { DaemonClient } from '../../daemon/client.js';
import type { MountedDisk, MountListResult } from '../../shared/models.js';
import { AppError } from '../../shared/app-error.js';
import { arg, flag, stringOption, type CliCommand, type CliIo } from '../command.js';
import { writeJson } from '../output.js';
import { verifyInput } from '../verify-input.js';

/**
 * Runs `work` with a daemon connection (started on demand unless `autoStart` says otherwise);
 * prints what the daemon wants the user to hear (e.g. crash clean-up) on stderr.
 */
export async function withDaemon<T>(
	io: CliIo,
	work: (client: DaemonClient) => Promise<T>,
	autoStart: boolean | 'if-leftovers' = true,
): Promise<T> {
	const client = await DaemonClient.connect({ autoStart, clientName: 'cli' });
	try {
		return await work(client);
	} finally {
		for (const n of client.notices) io.stderr.write(`vmdk-mounter: ${n}\n`);
		client.close();
	}
}

/** Human rendering of mounted disks. */
export function renderMounts(disks: readonly MountedDisk[]): string {
	if (disks.length === 0) return 'Nothing is mounted.\n';
	const lines: string[] = [];
	for (const d of disks) {
		lines.push(`${d.path}${d.readWrite ? '  (read-write, changes are discarded on unmount)' : ''}`);
		lines.push(`  raw disk: ${d.rawPath}`);
		for (const v of d.volumes) {
			const fs = v.filesystem === null ? 'unknown' : v.filesystem.type;
			const label = v.filesystem?.label ? ` "${v.filesystem.label}"` : '';
			if (v.mountpoint !== null) {
				lines.push(
					`  ${v.index}  ${fs}${label}  ${v.mountpoint}  (${v.helper ?? '?'}, ${v.readOnly ? 'read-only' : 'read-write'})`,
				);
				if (v.state === 'degraded') lines.push(`     ! DEGRADED: ${v.problem ?? 'unknown reason'}`);
			} else {
				lines.push(`  ${v.index}  ${fs}${label}  not mounted: ${v.problem ?? 'unknown reason'}`);
			}
		}
		for (const w of d.warnings ?? []) lines.push(`  ! ${w}`);
	}
	return lines.join('\n') + '\n';
}

/** Prints a mount list as JSON (`{ disks: [...] }`) or text. */
export function printMounts(io: CliIo, result: MountListResult, json: boolean): void {
	if (json) writeJson(io, result);
	else io.stdout.write(renderMounts(result.disks));
}

function parsePartition(value: unknown): number | undefined {
	if (value === undefined) return undefined;
	const n = Number(value);
	if (!Number.isSafeInteger(n) || n < 1)
		throw new AppError(
			'USAGE',
			`--partition wants a volume number ≥ 1, not "${typeof value === 'string' ? value : JSON.stringify(value)}"`,
		);
	return n;
}

/** The `mount` command. */
export const mountCommand: CliCommand = {
	command: 'mount',
	description: 'Mount the volumes of a disk (or of each disk of a VM) as folders',
	args: [
		{ name: 'disk', description: 'a .vmdk file, a VM bundle or folder, a .vmx, or an .ova/.ovf appliance' },
	],
	options: [
		{
			flags: '--rw',
			description: 'writable copy-on-write mount: changes go to an overlay and are discarded on unmount',
		},
		{ flags: '--force', description: 'with --rw: mount even if the VM is locked or a filesystem is unclean' },
		{ flags: '--ignore-cid', description: 'open a snapshot even if its parent has changed (CID mismatch)' },
		{ flags: '--partition <n>', description: 'mount only volume number n (as `info` numbers them)' },
		{
			flags: '--snapshot <name|uid>',
			description: 'mount the VM as this snapshot froze it (read-only; --rw gives an overlay as usual)',
		},
		{ flags: '--verify', description: 'first check the appliance against its manifest (.mf)' },
	],
	async handler(input) {
		const { options, io } = input;
		const path = resolve(arg(input, 0));
		const partition = parsePartition(options.partition);
		const snapshot = stringOption(options, 'snapshot');
		// Hashing is done here, in the client: the daemon only ever reads what is mounted.
		if (flag(options, 'verify')) await verifyInput(path, io, flag(options, 'json'));
		const result = await withDaemon(io, (c) =>
			c.mount({
				path,
				readWrite: flag(options, 'rw'),
				force: flag(options, 'force'),
				ignoreCid: flag(options, 'ignoreCid'),
				partition,
				...(snapshot === undefined ? {} : { snapshot }),
			}),
		);
		printMounts(io, result, flag(options, 'json'));
	},
};
