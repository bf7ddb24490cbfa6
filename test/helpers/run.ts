// SPDX-License-Identifier: MIT
// The tests' one way to run a tool (mkfs, sfdisk, qemu-img, blkid, losetup, the CLI): an
// argument array (never a shell), optional stdin, a fixed locale, a timeout, and on failure an
// error that names the command and quotes what it said on stderr.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { execa } from 'execa';

/** How to run a tool. */
export interface RunOptions {
	/** Written to the tool's stdin (which is otherwise empty). */
	readonly input?: string | Uint8Array;
	readonly cwd?: string;
	/**
	 * `LC_ALL` of the tool. `C` (the default) keeps messages and number formats stable for
	 * parsing; `C.UTF-8` where the output carries UTF-8 text, e.g. filesystem labels from blkid.
	 */
	readonly locale?: 'C' | 'C.UTF-8';
	/** Variables added to this process's environment. */
	readonly env?: Readonly<Record<string, string>>;
	/** False: the tool gets `env` (and `LC_ALL`) only, none of this process's variables. */
	readonly inheritEnv?: boolean;
	/** Killed and failed after this long; default two minutes. */
	readonly timeoutMs?: number;
}

/** What a tool did, for callers to whom a non-zero exit is an answer, not a failure. */
export interface RunResult {
	/** The exit status; undefined when it did not start, timed out or was killed. */
	readonly status: number | undefined;
	readonly stdout: string;
	readonly stderr: string;
}

/** A tool that could not start, timed out, was killed or exited non-zero. */
export class ToolFailed extends Error {
	/** The command line, quoted as for a shell. */
	readonly command: string;
	/** What went wrong: "failed with exit code 1", "timed out after …", … */
	readonly why: string;
	/** The exit status, when the tool ran to its end. */
	readonly status: number | undefined;
	readonly stderr: string;

	constructor(command: string, why: string, status: number | undefined, stderr: string) {
		const said = stderr.trim();
		super(
			`${command} ${why}${said === '' ? ' (nothing on stderr)' : `; stderr:\n  ${said.split('\n').join('\n  ')}`}`,
		);
		this.name = 'ToolFailed';
		this.command = command;
		this.why = why;
		this.status = status;
		this.stderr = stderr;
	}
}

const DEFAULT_TIMEOUT_MS = 120_000;
/** Enough for any listing the tests parse; more means a runaway tool. */
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;

/** The command as one could paste it into a shell (for messages only). */
export function commandLine(tool: string, args: readonly string[]): string {
	const quote = (a: string): string => (/^[\w./=:,@%+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
	return [tool, ...args].map(quote).join(' ');
}

function childEnv(options: RunOptions): NodeJS.ProcessEnv {
	return {
		...(options.inheritEnv === false ? {} : process.env),
		...options.env,
		LC_ALL: options.locale ?? 'C',
	};
}

/** Without the final newline, as a shell's `$(…)` gives it. */
function stripFinalNewline(text: string): string {
	return text.endsWith('\n') ? text.slice(0, text.endsWith('\r\n') ? -2 : -1) : text;
}

/** Runs `tool` and waits; returns its stdout (without the final newline). Throws `ToolFailed`. */
export function runSync(tool: string, args: readonly string[], options: RunOptions = {}): string {
	const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
	const r = spawnSync(tool, args, {
		input: options.input,
		cwd: options.cwd,
		env: childEnv(options),
		encoding: 'utf8',
		stdio: 'pipe',
		timeout: timeoutMs,
		killSignal: 'SIGKILL',
		maxBuffer: MAX_OUTPUT_BYTES,
	});
	const command = commandLine(tool, args);
	const stderr = r.stderr ?? '';
	if (r.error !== undefined) {
		const code = (r.error as NodeJS.ErrnoException).code;
		if (code === 'ETIMEDOUT')
			throw new ToolFailed(command, `timed out after ${timeoutMs} ms`, undefined, stderr);
		throw new ToolFailed(command, `could not run (${code ?? r.error.message})`, undefined, stderr);
	}
	if (r.status !== 0) {
		const why =
			r.status === null ? `was killed by ${r.signal ?? 'a signal'}` : `failed with exit code ${r.status}`;
		throw new ToolFailed(command, why, r.status ?? undefined, stderr);
	}
	return stripFinalNewline(r.stdout);
}

/** Runs `tool`; whatever happens, resolves with its exit code and output. */
export async function runStatus(
	tool: string,
	args: readonly string[],
	options: RunOptions = {},
): Promise<RunResult & { readonly why: string | undefined }> {
	const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
	const r = await execa(tool, [...args], {
		input: options.input,
		cwd: options.cwd,
		env: childEnv(options),
		extendEnv: false,
		timeout: timeoutMs,
		maxBuffer: MAX_OUTPUT_BYTES,
		reject: false,
	});
	const why = r.timedOut
		? `timed out after ${timeoutMs} ms`
		: r.exitCode === undefined
			? r.signal !== undefined
				? `was killed by ${r.signal}`
				: `could not run (${r.code ?? r.originalMessage})`
			: r.exitCode !== 0
				? `failed with exit code ${r.exitCode}`
				: undefined;
	return { status: r.timedOut ? undefined : r.exitCode, stdout: r.stdout, stderr: r.stderr, why };
}

/** Runs `tool` without blocking; resolves with its stdout (without the final newline). Rejects with `ToolFailed`. */
export async function run(tool: string, args: readonly string[], options: RunOptions = {}): Promise<string> {
	const r = await runStatus(tool, args, options);
	if (r.why !== undefined) throw new ToolFailed(commandLine(tool, args), r.why, r.status, r.stderr);
	return r.stdout;
}

/** sha256 of a file's bytes, hex (streamed: the file may be large). */
export async function sha256File(path: string): Promise<string> {
	const hash = createHash('sha256');
	for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
	return hash.digest('hex');
}
