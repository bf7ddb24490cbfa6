// SPDX-License-Identifier: MIT
/**
 * What the macOS host needs from the machine, in one object so that tests can stand in for a
 * Mac: every external command goes through `run` (the project's one runner, `runTool`, by
 * default; tests pass a replay of recorded answers), file checks through `exists` and
 * `isExecutable`, waits through `sleep`. Nothing here is macOS-specific, so it runs on Linux.
 */
import { constants } from 'node:fs';
import { access, readdir, readFile, stat } from 'node:fs/promises';
import { loadFuse3Addon } from '../node/fuse3-addon.js';
import { runTool, type ToolRunner } from '../node/run-tool.js';

/** The machine as the macOS host sees it. */
export interface DarwinSystem {
	/** Runs a tool (absolute path, argument array): {@link runTool} or a replay. */
	readonly run: ToolRunner;
	/** True when something (file, folder, link target) exists at `path`. */
	exists(path: string): Promise<boolean>;
	/** True when `path` is an executable file. */
	isExecutable(path: string): Promise<boolean>;
	/** Names in folder `path`, or [] when it cannot be read. */
	list(path: string): Promise<readonly string[]>;
	/** A text file's contents, or undefined when it cannot be read. */
	readText(path: string): Promise<string | undefined>;
	/** Waits `ms` milliseconds (polls and retries). */
	sleep(ms: number): Promise<void>;
	/** Our uid (0 for root). */
	readonly uid: number;
	/** Our supplementary group ids (macFUSE lets the admin group, 80, ask for allow_root). */
	readonly groups: readonly number[];
	/** True when our libfuse 3 addon is built and loads. */
	fuse3AddonLoads(): boolean;
}

/** This machine. */
export function nodeDarwinSystem(): DarwinSystem {
	return {
		run: runTool,
		exists: (path) =>
			stat(path).then(
				() => true,
				() => false,
			),
		isExecutable: async (path) => {
			try {
				if (!(await stat(path)).isFile()) return false;
				await access(path, constants.X_OK);
				return true;
			} catch {
				return false;
			}
		},
		list: (path) => readdir(path).catch(() => []),
		readText: (path) => readFile(path, 'utf8').catch(() => undefined),
		sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
		uid: process.getuid?.() ?? -1,
		groups: process.getgroups?.() ?? [],
		fuse3AddonLoads: () => loadFuse3Addon() !== null,
	};
}
