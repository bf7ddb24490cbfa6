// SPDX-License-Identifier: MIT
/**
 * The command line without the process around it: parses `argv` with commander, runs the
 * command and turns every failure into one line on stderr (or `{ "error": … }` on stdout with
 * `--json`) and an exit status. Stack traces are printed only for unexpected errors and only
 * when `DEBUG` is set.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { isVmdkError } from '../core/index.js';
import type { ErrorCode, SerializedError } from '../shared/error-codes.js';
import { userMessage } from '../shared/user-messages.js';
import { AppError } from '../shared/app-error.js';
import type { CliCommand, CliIo } from './command.js';
import { loadCommands } from './commands/index.js';
import { EXIT_CODES, exitCodeFor, type ExitCode } from './exit-codes.js';
import { writeJson } from './output.js';

/** The program name in messages. */
const PROGRAM_NAME = 'vmdk-mounter';

/** An error in the form the CLI prints it. */
export interface CliFailure {
	readonly code: ErrorCode;
	/** The technical sentence (file, offset, detail). */
	readonly message: string;
	/** True for bugs: the message is generic and the stack matters. */
	readonly unexpected: boolean;
}

/** Classifies anything thrown by a command. */
export function toCliFailure(error: unknown): CliFailure {
	if (error instanceof AppError) return { code: error.code, message: error.message, unexpected: false };
	if (isVmdkError(error)) return { code: error.code, message: error.message, unexpected: false };
	if (error instanceof Error && error.name === 'AbortError') {
		return { code: 'INTERRUPTED', message: 'stopped by the user', unexpected: false };
	}
	const text = error instanceof Error ? error.message : String(error);
	return { code: 'INTERNAL', message: `unexpected error: ${text}`, unexpected: true };
}

/** Prints a failure in the active mode and returns the exit status. */
function reportFailure(io: CliIo, error: unknown, json: boolean): ExitCode {
	const failure = toCliFailure(error);
	if (json) {
		const wire: { error: SerializedError } = { error: { code: failure.code, message: failure.message } };
		writeJson(io, wire);
	} else {
		// One line: newlines inside a technical message would break scripts that read stderr.
		const oneLine = failure.message.replace(/\s*\n\s*/g, ' ');
		io.stderr.write(`${PROGRAM_NAME}: ${userMessage(failure.code).title}: ${oneLine}\n`);
	}
	if (failure.unexpected && isDebug(io.env) && error instanceof Error && error.stack !== undefined) {
		io.stderr.write(error.stack + '\n');
	}
	return exitCodeFor(failure.code);
}

function isDebug(env: CliIo['env']): boolean {
	const value = env.DEBUG;
	return value !== undefined && value !== '' && value !== '0';
}

/** The package version, read once from package.json next to `dist/`. */
function packageVersion(): string {
	try {
		const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
		const parsed = JSON.parse(text) as { version?: unknown };
		return typeof parsed.version === 'string' ? parsed.version : 'unknown';
	} catch {
		return 'unknown';
	}
}

/** Builds the commander program for `commands`, running handlers with `io`. */
function buildProgram(commands: readonly CliCommand[], io: CliIo, state: { json: boolean }): Command {
	const program = new Command(PROGRAM_NAME)
		.description('Mount and inspect VMware / VirtualBox .vmdk disks')
		.version(packageVersion(), '-V, --version')
		.showHelpAfterError(false)
		.exitOverride()
		.configureOutput({
			writeOut: (text) => io.stdout.write(text),
			// Commander's own error text is replaced by our one-line format below.
			writeErr: (text) => (text.startsWith('error:') ? undefined : io.stderr.write(text)),
			outputError: () => undefined,
		});
	for (const spec of commands) {
		const cmd = program
			.command(spec.command)
			.description(spec.description)
			.option('--json', 'print machine-readable JSON on stdout')
			.exitOverride()
			.configureOutput({
				writeOut: (text) => io.stdout.write(text),
				writeErr: (text) => (text.startsWith('error:') ? undefined : io.stderr.write(text)),
				outputError: () => undefined,
			});
		for (const a of spec.args)
			cmd.argument(a.optional === true ? `[${a.name}]` : `<${a.name}>`, a.description);
		for (const o of spec.options) cmd.option(o.flags, o.description);
		cmd.action(async (...actionArgs: unknown[]) => {
			// commander passes the positional arguments, then the options object, then the command.
			const args = actionArgs
				.slice(0, spec.args.length)
				.filter((a) => a !== undefined)
				.map(String);
			const options = (actionArgs[spec.args.length] ?? {}) as Record<string, unknown>;
			state.json = options.json === true;
			await spec.handler({ args, options, io });
		});
	}
	return program;
}

/**
 * Runs the CLI for `argv` (without the node and script entries) and resolves with the exit
 * status. Never rejects. `commands` defaults to the registered ones, loaded as needed.
 */
export async function runCli(
	argv: readonly string[],
	io: CliIo,
	commands?: readonly CliCommand[],
): Promise<ExitCode> {
	// `--json` is known before parsing so that usage errors can be reported as JSON too.
	const state = { json: argv.includes('--json') };
	try {
		const program = buildProgram(commands ?? (await loadCommands(argv)), io, state);
		await program.parseAsync([...argv], { from: 'user' });
		return EXIT_CODES.OK;
	} catch (error) {
		if (error instanceof CommanderError) {
			if (error.exitCode === 0) return EXIT_CODES.OK; // --help, --version
			if (argv.length === 0 || error.code === 'commander.help') {
				return EXIT_CODES.USAGE;
			}
			const message = error.message.replace(/^error:\s*/, '');
			return reportFailure(io, new AppError('USAGE', message), state.json);
		}
		return reportFailure(io, error, state.json);
	}
}
