// SPDX-License-Identifier: MIT
/** `vmdk-mounter list [--json]`: what the daemon has mounted (nothing when no daemon runs). */
import { DaemonClient } from '../../daemon/client.js';
import { flag, type CliCommand } from '../command.js';
import { printMounts } from './mount.js';

/** The `list` command. */
export const listCommand: CliCommand = {
	command: 'list',
	description: 'List mounted disks and their volumes',
	args: [],
	options: [],
	async handler({ options, io }) {
		let client: DaemonClient | undefined;
		try {
			// No daemon means nothing is mounted: do not start one just to say so.
			client = await DaemonClient.connect({ autoStart: 'if-leftovers' }).catch(() => undefined);
			const result = client === undefined ? { disks: [] } : await client.list();
			for (const n of client?.notices ?? []) io.stderr.write(`vmdk-mounter: ${n}\n`);
			printMounts(io, result, flag(options, 'json'));
		} finally {
			client?.close();
		}
	},
};
