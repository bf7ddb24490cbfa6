// SPDX-License-Identifier: MIT
/**
 * `vmdk-mounter list [--json]`: what the daemon has mounted. No daemon running means nothing
 * is mounted, and the output says that is why; a socket that is not ours is an error, never
 * an empty list. JSON adds `daemonRunning`.
 */
import { isDaemonNotRunning } from '../../daemon/client.js';
import { flag, type CliCommand } from '../command.js';
import { writeJson } from '../output.js';
import { renderMounts, withDaemon } from './mount.js';

/** The `list` command. */
export const listCommand: CliCommand = {
	command: 'list',
	description: 'List mounted disks and their volumes',
	args: [],
	options: [],
	async handler({ options, io }) {
		// No daemon means nothing is mounted: do not start one just to say so.
		const result = await withDaemon(io, (c) => c.list(), 'if-leftovers').then(
			(r) => ({ ...r, daemonRunning: true }),
			(error: unknown) => {
				if (isDaemonNotRunning(error)) return { disks: [], daemonRunning: false };
				throw error;
			},
		);
		if (flag(options, 'json')) writeJson(io, result);
		else if (!result.daemonRunning)
			io.stdout.write('Nothing is mounted (the mount service is not running).\n');
		else io.stdout.write(renderMounts(result.disks));
	},
};
