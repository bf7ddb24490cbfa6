// SPDX-License-Identifier: MIT
/**
 * `vmdk-mounter unmount [--json] [--force] [--keep [--attach]] <mountpoint | disk path | --all>`:
 * unmounts the volumes, then the disk's FUSE export and loop devices. A busy volume names the
 * processes holding it; `--force` detaches it lazily. `--keep` writes a `--rw` mount's changes
 * next to the disk as a VMware snapshot instead of discarding them; `--attach` also points the
 * VM's `.vmx` at that snapshot.
 */
import { resolve } from 'node:path';
import { isDaemonNotRunning } from '../../daemon/client.js';
import { AppError } from '../../shared/app-error.js';
import type { MountListResult } from '../../shared/models.js';
import { flag, type CliCommand } from '../command.js';
import { printMounts, withDaemon } from './mount.js';

/** The `unmount` command. */
export const unmountCommand: CliCommand = {
	command: 'unmount',
	description: 'Unmount a disk (by mountpoint or disk path) or everything',
	args: [{ name: 'target', description: 'a mountpoint (or a folder in it), a disk path', optional: true }],
	options: [
		{ flags: '--all', description: 'unmount every mounted disk' },
		{ flags: '--force', description: 'detach busy volumes lazily (umount -l)' },
		{
			flags: '--keep',
			description:
				'keep the changes of a --rw mount as a VMware snapshot next to the disk (<disk>-000001.vmdk)',
		},
		{
			flags: '--attach',
			description: "with --keep: point the VM's .vmx at the new snapshot (refused while the VM is running)",
		},
	],
	async handler({ args, options, io }) {
		const all = flag(options, 'all');
		const target = args[0];
		if (!all && target === undefined)
			throw new AppError('USAGE', 'name a mountpoint or disk path, or give --all');
		if (all && target !== undefined) throw new AppError('USAGE', 'give either a target or --all, not both');
		const keep = flag(options, 'keep');
		if (flag(options, 'attach') && !keep) throw new AppError('USAGE', '--attach goes with --keep');
		// With no daemon running there is nothing to unmount (but a crashed one is cleaned up).
		const result: MountListResult = await withDaemon(
			io,
			(c) =>
				c.unmount({
					...(all ? { all: true } : { target: resolve(target ?? '') }),
					force: flag(options, 'force'),
					...(keep ? { keep: true, attach: flag(options, 'attach') } : {}),
				}),
			'if-leftovers',
		).catch((error: unknown) => {
			if (isDaemonNotRunning(error) && all) return { disks: [] };
			if (isDaemonNotRunning(error)) {
				throw new AppError(
					'NOT_MOUNTED',
					`${resolve(target ?? '')} is not mounted: the mount service is not running`,
				);
			}
			throw error;
		});
		if (flag(options, 'json')) {
			printMounts(io, result, true);
			return;
		}
		if (result.disks.length === 0) io.stdout.write('Nothing was mounted.\n');
		if (result.unmountedVolume !== undefined) {
			// One volume went; the disk's others stay mounted.
			const disk = result.disks[0]?.path ?? 'its disk';
			io.stdout.write(`Unmounted ${result.unmountedVolume} (the other volumes of ${disk} stay mounted)\n`);
			return;
		}
		for (const d of result.disks) {
			io.stdout.write(`Unmounted ${d.path}\n`);
			const k = result.kept?.find((x) => x.diskPath === d.path);
			if (k !== undefined) {
				io.stdout.write(
					`  changes kept as ${k.childPath} (${k.grains} grains of 64 KiB; its parent is unchanged)\n`,
				);
				if (k.attached !== undefined) {
					io.stdout.write(`  ${k.attached.vmxPath} now uses it (${k.attached.slots.join(', ')})\n`);
				}
				if (k.attachProblem !== undefined)
					io.stderr.write(`vmdk-mounter: not attached: ${k.attachProblem}\n`);
			} else if (keep && d.readWrite) {
				io.stdout.write('  no changes were written: nothing kept\n');
			}
		}
	},
};
