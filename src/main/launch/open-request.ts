// SPDX-License-Identifier: MIT
/**
 * Every way a user opens something with the app, turned into one {@link OpenRequest}:
 *
 * - the command line of the first launch (Linux file managers run `Exec=… %U`, so paths may
 *   arrive as `file://` URLs; macOS adds `-psn_…` switches on old systems);
 * - macOS `open-file` (Finder double-click, a drop on the Dock icon), which can fire before the
 *   app is `ready` — main registers for it first thing and queues what arrives;
 * - `second-instance` (another launch while we run, e.g. a second double-click on Linux): the
 *   second process sends its own argv and working folder as the lock's `additionalData`, which
 *   Electron passes on unchanged (its `argv` parameter may be reordered and carry Chromium
 *   switches), with the event's argv as the fallback;
 * - the tray's Open… (paths from the system dialog).
 *
 * Everything here is pure: main feeds events in, one handler gets requests out, in order.
 */
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where a request came from (for logs, and for what the window says). */
export type OpenVia = 'launch-argv' | 'finder' | 'second-instance' | 'tray';

/** An argument that names nothing we can open, and why. */
export interface RejectedArg {
	/** The argument as given. */
	readonly arg: string;
	/** A short sentence for the log and the notification. */
	readonly reason: string;
}

/** What to do for one launch or open event. */
export type OpenRequest =
	| {
			readonly kind: 'open';
			readonly via: OpenVia;
			/** Absolute paths, in the order given, without duplicates. */
			readonly paths: readonly string[];
			readonly rejected: readonly RejectedArg[];
	  }
	| {
			/** A launch with nothing to open: show the window. */
			readonly kind: 'focus';
			readonly via: OpenVia;
			readonly rejected: readonly RejectedArg[];
	  };

/** What the second instance hands the first through `requestSingleInstanceLock(additionalData)`. */
export interface LaunchData {
	/** Its `process.argv`. */
	readonly argv: readonly string[];
	/** Its working folder (relative arguments are relative to it). */
	readonly cwd: string;
}

/** Longest argument looked at, in characters (a path is at most 4096 bytes on Linux). */
const MAX_ARG_CHARS = 8192;
/** Most arguments looked at in one launch. */
const MAX_ARGS = 1024;

/**
 * How many leading argv entries are not the user's: the executable, plus the app folder when
 * Electron runs an unpackaged app (`electron .`, where `process.defaultApp` is true).
 */
export function leadingArgCount(defaultApp: boolean): number {
	return defaultApp ? 2 : 1;
}

/** Turns one argument into an absolute path, or says why not. */
function argToPath(arg: string, cwd: string): { path: string } | { reason: string } {
	if (arg.length === 0) return { reason: 'empty argument' };
	if (arg.length > MAX_ARG_CHARS) return { reason: 'argument too long' };
	if (arg.includes('\0')) return { reason: 'argument contains NUL' };
	if (/^[a-z][a-z0-9+.-]*:/i.test(arg)) {
		if (!arg.toLowerCase().startsWith('file:')) {
			return { reason: 'only local files can be opened (not a network location)' };
		}
		try {
			return { path: fileURLToPath(arg) };
		} catch {
			return { reason: 'not a local file URL' };
		}
	}
	return { path: isAbsolute(arg) ? resolve(arg) : resolve(cwd, arg) };
}

/**
 * Reads the user's arguments of a command line: switches (`-x`, `--x=…`) are skipped, `--`
 * ends them, relative paths are resolved against `cwd`, `file://` URLs become paths.
 */
export function parseArgv(
	argv: readonly string[],
	options: { readonly cwd: string; readonly leading: number; readonly via: OpenVia },
): OpenRequest {
	const paths: string[] = [];
	const rejected: RejectedArg[] = [];
	let switches = true;
	for (const arg of argv.slice(options.leading, options.leading + MAX_ARGS)) {
		if (switches && arg === '--') {
			switches = false;
			continue;
		}
		// Chromium's and macOS's switches (`--no-sandbox`, `-psn_0_1234`) are not ours to open.
		if (switches && arg.startsWith('-')) continue;
		const result = argToPath(arg, options.cwd);
		if ('path' in result) {
			if (!paths.includes(result.path)) paths.push(result.path);
		} else {
			rejected.push({ arg, reason: result.reason });
		}
	}
	if (argv.length > options.leading + MAX_ARGS) {
		rejected.push({ arg: '…', reason: `more than ${MAX_ARGS} arguments; the rest were ignored` });
	}
	return paths.length === 0
		? { kind: 'focus', via: options.via, rejected }
		: { kind: 'open', via: options.via, paths, rejected };
}

/** macOS `open-file`: one absolute path per event. */
export function fromOpenFile(path: string): OpenRequest {
	const result = argToPath(path, '/');
	return 'path' in result
		? { kind: 'open', via: 'finder', paths: [result.path], rejected: [] }
		: { kind: 'focus', via: 'finder', rejected: [{ arg: path, reason: result.reason }] };
}

/** True when `value` is the {@link LaunchData} our own second instance sends. */
export function isLaunchData(value: unknown): value is LaunchData {
	if (typeof value !== 'object' || value === null) return false;
	const { argv, cwd } = value as { argv?: unknown; cwd?: unknown };
	return (
		Array.isArray(argv) &&
		argv.length <= MAX_ARGS + 2 &&
		argv.every((a) => typeof a === 'string') &&
		typeof cwd === 'string' &&
		isAbsolute(cwd)
	);
}

/**
 * `second-instance`: the launch data the second process sent when it is there and well-formed,
 * else the event's own argv and working folder.
 */
export function fromSecondInstance(
	argv: readonly string[],
	workingDirectory: string,
	additionalData: unknown,
	leading: number,
): OpenRequest {
	const data: LaunchData = isLaunchData(additionalData) ? additionalData : { argv, cwd: workingDirectory };
	return parseArgv(data.argv, { cwd: data.cwd, leading, via: 'second-instance' });
}

/** Paths chosen in the tray's Open… dialog. */
export function fromDialog(paths: readonly string[]): OpenRequest {
	return parseArgv(['--', ...paths], { cwd: '/', leading: 0, via: 'tray' });
}

/**
 * Holds requests until the app can act on them (`ready`, window and daemon set up), then hands
 * them to the one handler in arrival order; afterwards requests go straight through.
 */
export class OpenRequestQueue {
	private readonly pending: OpenRequest[] = [];
	private handler: ((request: OpenRequest) => void) | undefined;

	/** Queues `request`, or hands it over when a handler is set. */
	push(request: OpenRequest): void {
		if (this.handler === undefined) this.pending.push(request);
		else this.handler(request);
	}

	/** Sets the handler and hands it everything queued so far. */
	start(handler: (request: OpenRequest) => void): void {
		this.handler = handler;
		for (const request of this.pending.splice(0)) handler(request);
	}

	/** Requests waiting for {@link start}. */
	get queued(): readonly OpenRequest[] {
		return this.pending;
	}
}
