// SPDX-License-Identifier: MIT
/**
 * `vmdk-mounter unmount [--json] <mountpoint | disk path | --all> [--force]`: unmounts the
 * volumes, then the disk's FUSE export and loop devices. A busy volume names the processes
 * holding it; `--force` detaches it lazily.
 */
import { resolve } from 'node:path';
import { isDaemonNotRunning } from '../../daemon/client.js';
import { AppError } from '../../shared/app-error.js';
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
	],
	async handler({ args, options, io }) {
		const all = flag(options, 'all');
		const target = args[0];
		if (!all && target === undefined)
			throw new AppError('USAGE', 'name a mountpoint or disk path, or give --all');
		if (all && target !== undefined) throw new AppError('USAGE', 'give either a target or --all, not both');
		// With no daemon running there is nothing to unmount (but a crashed one is cleaned up).
		const result = await withDaemon(
			io,
			(c) =>
				c.unmount({
					...(all ? { all: true } : { target: resolve(target ?? '') }),
					force: flag(options, 'force'),
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
		if (flag(options, 'json')) printMounts(io, result, true);
		else if (result.disks.length === 0) io.stdout.write('Nothing was mounted.\n');
		else for (const d of result.disks) io.stdout.write(`Unmounted ${d.path}\n`);
	},
};
