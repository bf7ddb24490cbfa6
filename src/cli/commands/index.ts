// SPDX-License-Identifier: MIT
/**
 * Every `vmdk-mounter` command, in the order `--help` lists them. To add one, create
 * `commands/<name>.ts` exporting a `CliCommand` and add a line here.
 *
 * Commands are loaded lazily: `vmdk-mounter info` imports only `info.ts`, so it does not pay
 * for what `mount` or `doctor` pull in (execa, the daemon client …). That keeps `info` well
 * under its 200 ms budget; `--help` and unknown commands load them all.
 */
import type { CliCommand } from '../command.js';

/** A command's name and how to load its module. */
export interface CommandLoader {
	/** The word after `vmdk-mounter`; must equal the loaded command's `command`. */
	readonly command: string;
	load(): Promise<CliCommand>;
}

/** The registered commands. */
export const COMMAND_LOADERS: readonly CommandLoader[] = [
	{ command: 'info', load: async () => (await import('./info.js')).infoCommand },
	{ command: 'export', load: async () => (await import('./export.js')).exportCommand },
	{ command: 'convert', load: async () => (await import('./convert.js')).convertCommand },
	{ command: 'mount', load: async () => (await import('./mount.js')).mountCommand },
	{ command: 'list', load: async () => (await import('./list.js')).listCommand },
	{ command: 'unmount', load: async () => (await import('./unmount.js')).unmountCommand },
	{ command: 'doctor', load: async () => (await import('./doctor.js')).doctorCommand },
	{ command: 'setup-links', load: async () => (await import('./setup-links.js')).setupLinksCommand },
];

/**
 * The commands `argv` needs: just the named one when the first word is a known command,
 * otherwise all of them (for `--help`, `--version` and the "unknown command" message).
 */
export async function loadCommands(argv: readonly string[]): Promise<readonly CliCommand[]> {
	const word = argv.find((a) => !a.startsWith('-'));
	const one = COMMAND_LOADERS.find((l) => l.command === word);
	return Promise.all((one !== undefined ? [one] : COMMAND_LOADERS).map((l) => l.load()));
}
