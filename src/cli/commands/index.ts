// SPDX-License-Identifier: MIT
/**
 * Every `vmdk-mounter` command, in the order `--help` lists them. To add one, create
 * `commands/<name>.ts` exporting a `CliCommand` and add it here.
 */
import type { CliCommand } from '../command.js';
import { exportCommand } from './export.js';
import { infoCommand } from './info.js';
import { mountCommand } from './mount.js';
import { listCommand } from './list.js';
import { unmountCommand } from './unmount.js';
import { doctorCommand } from './doctor.js';

/** The registered commands. */
export const COMMANDS: readonly CliCommand[] = [
	infoCommand,
	exportCommand,
	mountCommand,
	listCommand,
	unmountCommand,
	doctorCommand,
];
