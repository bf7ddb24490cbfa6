// SPDX-License-Identifier: MIT
/**
 * Where the daemon keeps its files on this host. Decisions (documented for users in `doctor`):
 *
 * - runtime dir (control socket, FUSE exports): `$VMDK_MOUNTER_RUNTIME_DIR`, else
 *   `$XDG_RUNTIME_DIR/vmdk-mounter`, else `/run/user/<uid>/vmdk-mounter` when that folder
 *   exists, else `~/.cache/vmdk-mounter/run`;
 * - state dir (mount registry, overlays, logs): `$VMDK_MOUNTER_STATE_DIR`, else
 *   `$XDG_STATE_HOME/vmdk-mounter`, else `~/.local/state/vmdk-mounter`;
 * - config dir (settings.json): `$VMDK_MOUNTER_CONFIG_DIR`, else `$XDG_CONFIG_HOME/vmdk-mounter`,
 *   else `~/.config/vmdk-mounter`;
 * - mount root (one folder per mounted volume): `$VMDK_MOUNTER_MOUNT_ROOT`, else the
 *   `mountRoot` setting, else `~/VMDK Mounts`.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { AppError } from '../../shared/app-error.js';
import { ensureOwnedDir } from './private-dir.js';

/** The folders the daemon, the CLI and tests agree on. */
export interface AppPaths {
	/** Per-session runtime folder (mode 0700, owned by the user: see private-dir.ts). */
	readonly runtimeDir: string;
	/** The daemon's control socket (mode 0600). */
	readonly socketPath: string;
	/** Folder of the per-disk FUSE exports. */
	readonly exportsDir: string;
	/** Persistent state: registry, overlays, logs (mode 0700, owned by the user). */
	readonly stateDir: string;
	/** The persisted mount registry. */
	readonly registryPath: string;
	/** The daemon's lock: one daemon per state folder (holds the owner's pid). */
	readonly lockPath: string;
	/** The daemon's log file (rotated by size). */
	readonly logPath: string;
	/** Copy-on-write overlays of `--rw` mounts. */
	readonly overlaysDir: string;
	/** User settings folder. */
	readonly configDir: string;
	/** `settings.json` in the config folder. */
	readonly settingsPath: string;
	/** Mount root from the environment, if set (else the setting or the default applies). */
	readonly mountRootOverride: string | undefined;
	/** The default mount root. */
	readonly defaultMountRoot: string;
}

/** File name of the control socket inside the runtime dir. */
const SOCKET_FILE_NAME = 'control.sock';

/** Resolves the paths from an environment (default: this process's). */
export function appPaths(
	env: NodeJS.ProcessEnv = process.env,
	platform: NodeJS.Platform = process.platform,
): AppPaths {
	const home = env.HOME ?? homedir();
	const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
	// macOS keeps everything, the socket included, in the app's Application Support folder
	// (README "Where things live"); the environment overrides still win.
	const macSupport =
		platform === 'darwin' ? join(home, 'Library', 'Application Support', 'VMDK Mounter') : undefined;
	const runtimeDir =
		nonEmpty(env.VMDK_MOUNTER_RUNTIME_DIR) ?? macSupport ?? defaultRuntimeDir(env, uid, home);
	const stateDir =
		nonEmpty(env.VMDK_MOUNTER_STATE_DIR) ??
		macSupport ??
		join(nonEmpty(env.XDG_STATE_HOME) ?? join(home, '.local', 'state'), 'vmdk-mounter');
	const configDir =
		nonEmpty(env.VMDK_MOUNTER_CONFIG_DIR) ??
		macSupport ??
		join(nonEmpty(env.XDG_CONFIG_HOME) ?? join(home, '.config'), 'vmdk-mounter');
	return {
		runtimeDir,
		socketPath: join(runtimeDir, SOCKET_FILE_NAME),
		exportsDir: join(runtimeDir, 'disks'),
		stateDir,
		registryPath: join(stateDir, 'mounts.json'),
		lockPath: join(stateDir, 'daemon.lock'),
		logPath: join(stateDir, 'daemon.log'),
		overlaysDir: join(stateDir, 'overlays'),
		configDir,
		settingsPath: join(configDir, 'settings.json'),
		mountRootOverride: nonEmpty(env.VMDK_MOUNTER_MOUNT_ROOT),
		defaultMountRoot: join(home, 'VMDK Mounts'),
	};
}

function defaultRuntimeDir(env: NodeJS.ProcessEnv, uid: number, home: string): string {
	const xdg = nonEmpty(env.XDG_RUNTIME_DIR);
	if (xdg !== undefined) return join(xdg, 'vmdk-mounter');
	const runUser = `/run/user/${uid}`;
	if (existsSync(runUser)) return join(runUser, 'vmdk-mounter');
	return join(home, '.cache', 'vmdk-mounter', 'run');
}

function nonEmpty(v: string | undefined): string | undefined {
	return v === undefined || v === '' ? undefined : v;
}

/**
 * Makes the runtime and state folders (0700) and checks that only we control them; returns
 * the paths with both folders resolved to their real locations, so that every path recorded
 * later matches what the mount table shows. Throws `UNSAFE_FOLDER` naming a folder we must not use.
 */
export async function preparePrivatePaths(paths: AppPaths): Promise<AppPaths> {
	const runtimeDir = await ensureOwnedDir(paths.runtimeDir, 0o700, 'runtime folder');
	const stateDir = await ensureOwnedDir(paths.stateDir, 0o700, 'state folder');
	const rebase = (p: string, from: string, to: string): string => join(to, p.slice(from.length));
	return {
		...paths,
		runtimeDir,
		socketPath: rebase(paths.socketPath, paths.runtimeDir, runtimeDir),
		exportsDir: rebase(paths.exportsDir, paths.runtimeDir, runtimeDir),
		stateDir,
		registryPath: rebase(paths.registryPath, paths.stateDir, stateDir),
		lockPath: rebase(paths.lockPath, paths.stateDir, stateDir),
		logPath: rebase(paths.logPath, paths.stateDir, stateDir),
		overlaysDir: rebase(paths.overlaysDir, paths.stateDir, stateDir),
	};
}

/**
 * The mount root in force (environment, else settings, else the default), made if missing,
 * checked (ours, not writable by others) and resolved to its real absolute path once: a root
 * behind a symlink would otherwise record mountpoints the mount table never shows.
 */
export async function resolveMountRoot(
	paths: AppPaths,
	settingsMountRoot: string | undefined,
): Promise<string> {
	const root = paths.mountRootOverride ?? settingsMountRoot ?? paths.defaultMountRoot;
	if (!isAbsolute(root)) {
		throw new AppError('SETTINGS_INVALID', `VMDK_MOUNTER_MOUNT_ROOT must be an absolute path, not "${root}"`);
	}
	return ensureOwnedDir(root, 0o755, 'mount root');
}
