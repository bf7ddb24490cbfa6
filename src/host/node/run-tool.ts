// SPDX-License-Identifier: MIT
/**
 * The one wrapper around execa: absolute tool paths, argument arrays that no shell interprets
 * (closing inherited descriptors goes through a fixed bash script that hands the arguments to
 * `exec "$@"` untouched), a timeout on every call, a cleaned environment with `LC_ALL=C`, and a
 * `ToolError` holding tool, args, exit status and stderr on failure. Every command is logged.
 */
import { access, constants } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';
import createDebug from 'debug';
import { ToolError } from '../common/tool-error.js';

const log = createDebug('vmdk:host:tool');

/** Variables removed from every child's environment (STYLE §32). */
const DANGEROUS_ENV = [
	'NODE_OPTIONS',
	'LD_PRELOAD',
	'LD_LIBRARY_PATH',
	'DYLD_INSERT_LIBRARIES',
	'DEBUG',
] as const;

/** Default timeout of a tool call, in milliseconds. */
export const DEFAULT_TOOL_TIMEOUT_MS = 30_000;

/** Where tools are looked up when PATH is unset (root's tools live in sbin on Debian). */
const FALLBACK_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Options of one tool call. */
export interface RunToolOptions {
	/** What the call does, for logs and error messages ("mount ext4 with fuse2fs"). */
	readonly name?: string;
	/** Killed after this many milliseconds. */
	readonly timeoutMs?: number;
	/** Exit codes that count as success (default `[0]`). */
	readonly successExitCodes?: readonly number[];
	/** Aborts the call. */
	readonly cancelSignal?: AbortSignal;
	/** Extra environment variables (after cleaning). */
	readonly env?: Readonly<Record<string, string>>;
	/**
	 * Set for programs that daemonise (FUSE helpers): stdout is ignored so a background child
	 * that keeps the pipe open cannot make us wait for it.
	 */
	readonly ignoreStdout?: boolean;
	/**
	 * Close every inherited file descriptor above stderr before the program starts. Needed for
	 * helpers that daemonise: libfuse opens /dev/fuse without close-on-exec, so a helper started
	 * by the daemon would otherwise keep the daemon's own FUSE connection alive after a crash,
	 * and every access to it would hang instead of failing.
	 */
	readonly closeInheritedFds?: boolean;
}

/** The shell used to close inherited descriptors (bash: dash only handles fds 0–9). */
const BASH = '/bin/bash';
/** Where a process lists its own descriptors: macOS has no /proc, but /dev/fd is bash's own there. */
const FD_DIR = process.platform === 'darwin' ? '/dev/fd' : '/proc/$$/fd';
/** Closes fds > 2, then execs the program. `$0` is a label. */
const CLOSE_FDS_SCRIPT = `for f in ${FD_DIR}/*; do n=\${f##*/}; if [ "$n" -gt 2 ]; then eval "exec $n>&-" 2>/dev/null; fi; done; exec "$@"`;

/** The signature of {@link runTool}: hosts take one as a parameter so tests can replay answers. */
export type ToolRunner = (
	tool: string,
	args: readonly string[],
	options?: RunToolOptions,
) => Promise<ToolResult>;

/** What a successful call returns. */
export interface ToolResult {
	readonly stdout: string;
	readonly stderr: string;
	readonly exitCode: number;
}

/** The child's environment: ours minus dangerous variables, plus a fixed locale. */
export function cleanEnv(extra: Readonly<Record<string, string>> = {}): Record<string, string> {
	const env: Record<string, string> = {};
	for (const [k, v] of Object.entries(process.env)) {
		if (v !== undefined && !(DANGEROUS_ENV as readonly string[]).includes(k)) env[k] = v;
	}
	env.LC_ALL = 'C';
	env.PATH ??= FALLBACK_PATH;
	return { ...env, ...extra };
}

/**
 * Finds `name` on `searchPath` (default: PATH plus the sbin folders) and returns its absolute
 * path, or undefined when it is not installed.
 */
export async function findTool(name: string, searchPath?: string): Promise<string | undefined> {
	if (isAbsolute(name)) return (await isExecutable(name)) ? name : undefined;
	const dirs = (searchPath ?? `${process.env.PATH ?? ''}${delimiter}${FALLBACK_PATH}`)
		.split(delimiter)
		.filter((d) => d.length > 0);
	for (const dir of dirs) {
		const candidate = join(dir, name);
		if (await isExecutable(candidate)) return candidate;
	}
	return undefined;
}

async function isExecutable(path: string): Promise<boolean> {
	try {
		await access(path, constants.X_OK);
		return true;
	} catch {
		return false;
	}
}

/**
 * Runs `tool` (an absolute path) with `args`. Resolves on a success exit code; otherwise
 * rejects with a ToolError (also when the program is missing or times out).
 */
export async function runTool(
	tool: string,
	args: readonly string[],
	options: RunToolOptions = {},
): Promise<ToolResult> {
	const timeoutMs = options.timeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS;
	const success = options.successExitCodes ?? [0];
	if (!isAbsolute(tool)) {
		throw new ToolError({ tool, args, exitCode: null, stderr: 'tool path is not absolute', timedOut: false });
	}
	log('run %s %o (%s)', tool, args, options.name ?? '');
	const wrap = options.closeInheritedFds === true && (await isExecutable(BASH));
	const [program, argv] = wrap
		? [BASH, ['-c', CLOSE_FDS_SCRIPT, 'vmdk-helper', tool, ...args]]
		: [tool, [...args]];
	// Loaded on first use: execa takes ~100 ms to import, and `info` or `export` never run a tool.
	const { execa } = await import('execa');
	const result = await execa(program, argv, {
		reject: false,
		timeout: timeoutMs,
		env: cleanEnv(options.env),
		extendEnv: false,
		stdin: 'ignore',
		stdout: options.ignoreStdout === true ? 'ignore' : 'pipe',
		stderr: 'pipe',
		encoding: 'utf8',
		...(options.cancelSignal === undefined ? {} : { cancelSignal: options.cancelSignal }),
	});
	const stdout = typeof result.stdout === 'string' ? result.stdout : '';
	const stderr = typeof result.stderr === 'string' ? result.stderr.trim() : '';
	const exitCode = result.exitCode ?? null;
	if (
		result.timedOut ||
		(result.failed && exitCode === null) ||
		exitCode === null ||
		!success.includes(exitCode)
	) {
		const reason = result.timedOut
			? ''
			: exitCode === null && stderr === ''
				? (result.originalMessage ?? result.shortMessage ?? '')
				: stderr;
		log('failed %s: exit %s timedOut=%s %s', tool, String(exitCode), String(result.timedOut), reason);
		throw new ToolError(
			{
				tool,
				args,
				exitCode,
				stderr: reason,
				timedOut: result.timedOut,
				...(options.name === undefined ? {} : { what: options.name }),
			},
			{ cause: result },
		);
	}
	return { stdout, stderr, exitCode };
}
