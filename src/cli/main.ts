// SPDX-License-Identifier: MIT
/** Entry of `vmdk-mounter` (bin/vmdk-mounter.js imports the built copy of this file). */
import './threadpool.js';
import type { CliIo } from './command.js';
import { runCli } from './run.js';

const io: CliIo = {
	stdout: process.stdout,
	stderr: process.stderr,
	stderrIsTTY: process.stderr.isTTY === true,
	env: process.env,
	onInterrupt: (listener) => {
		process.once('SIGINT', listener);
		return () => process.removeListener('SIGINT', listener);
	},
};

process.exitCode = await runCli(process.argv.slice(2), io);
