// SPDX-License-Identifier: MIT
/**
 * The shape of a CLI command: one file per command under `commands/`, listed in
 * `commands/index.ts`. `run.ts` turns these descriptions into commander commands, so a new
 * command is a new file plus one line. Expected failures throw `AppError` (or the engine's
 * `VmdkError`): printed as one line, no stack.
 */
import { AppError } from '../shared/app-error.js';

/** Where a command writes. Tests pass their own; `main.ts` passes the process's streams. */
export interface CliIo {
	/** Results (human text or JSON). */
	readonly stdout: { write(text: string): unknown };
	/** Errors, warnings and progress. */
	readonly stderr: { write(text: string): unknown };
	/** True when stderr is a terminal (progress bars are drawn only then). */
	readonly stderrIsTTY: boolean;
	/** The environment (`DEBUG` turns on stack traces). */
	readonly env: Readonly<Record<string, string | undefined>>;
	/** Signals the command may listen to (Ctrl-C during export); absent in tests. */
	readonly onInterrupt?: ((listener: () => void) => () => void) | undefined;
}

/** A positional argument. */
export interface CommandArg {
	/** Name as shown in help, e.g. `disk`. */
	readonly name: string;
	readonly description: string;
	/** True when it may be left out (shown as `[name]`). */
	readonly optional?: boolean | undefined;
}

/** An option, in commander's flag syntax (`--ignore-cid`, `--partition <n>`). */
export interface CommandOption {
	readonly flags: string;
	readonly description: string;
}

/** What a handler receives. */
export interface CommandInput {
	/** Positional arguments, in the order of `args`. */
	readonly args: readonly string[];
	/** Parsed options, camel-cased by commander (`--ignore-cid` → `ignoreCid`). */
	readonly options: Readonly<Record<string, unknown>>;
	readonly io: CliIo;
}

/** One `vmdk-mounter <command>`. */
export interface CliCommand {
	/** The word after `vmdk-mounter`. */
	readonly command: string;
	/** One line for `--help`. */
	readonly description: string;
	readonly args: readonly CommandArg[];
	/** Options besides `--json`, which every command has. */
	readonly options: readonly CommandOption[];
	/** Does the work; throws {@link AppError} (or a VmdkError) for expected failures. */
	handler(input: CommandInput): Promise<void>;
}

/** True if option `name` was given as a flag. */
export function flag(options: Readonly<Record<string, unknown>>, name: string): boolean {
	return options[name] === true;
}

/** The positional argument at `index` (commander has checked that required ones exist). */
export function arg(input: CommandInput, index: number): string {
	const value = input.args[index];
	if (value === undefined) throw new AppError('USAGE', `missing argument ${index + 1}`);
	return value;
}

/** The value of option `name` (`--snapshot <s>`), or undefined when it was not given. */
export function stringOption(options: Readonly<Record<string, unknown>>, name: string): string | undefined {
	const value = options[name];
	if (value === undefined) return undefined;
	if (typeof value !== 'string' || value.trim() === '') {
		throw new AppError('USAGE', `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} needs a value`);
	}
	return value;
}
