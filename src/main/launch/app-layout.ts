// SPDX-License-Identifier: MIT
/**
 * Where the app's parts are, packaged or run from a checkout (`electron .`). Pure, so both
 * layouts are tested; docs/architecture.md explains the packaged one:
 *
 * - the page, the preload and the tray images live in the app (`app.asar` when packaged);
 * - the daemon and the CLI run on the Node.js runtime the package ships in
 *   `Resources/engine/node/bin/node`, from the plain files beside it (`Resources/engine/…`),
 *   because the packaged Electron binary has the `RunAsNode` fuse off. From a checkout the
 *   daemon client's defaults apply (this executable in Node mode, `dist/daemon/main.js`).
 */
import { join } from 'node:path';

/** Facts about the running app (from Electron's `app` and `process`). */
export interface AppFacts {
	/** `app.getAppPath()`: the checkout, or `…/Resources/app.asar`. */
	readonly appPath: string;
	/** `process.resourcesPath`: `…/Contents/Resources` (macOS), `…/resources` (Linux). */
	readonly resourcesPath: string;
	/** `app.isPackaged`. */
	readonly isPackaged: boolean;
}

/** How the daemon is started (undefined members: the daemon client's defaults). */
export interface DaemonLaunch {
	/** The Node.js executable. */
	readonly runtime: string | undefined;
	/** The daemon's entry script. */
	readonly entry: string | undefined;
}

/** Paths of the app's parts. */
export interface AppLayout {
	/** The bundled preload (one CommonJS file). */
	readonly preloadPath: string;
	/** The built renderer (served as `vmdk-app://bundle/`). */
	readonly rendererDir: string;
	/** The app's own images (`resources/tray/…`). */
	readonly resourcesDir: string;
	readonly daemon: DaemonLaunch;
}

/** The folder of the engine (daemon, CLI and their Node runtime) inside a package. */
export function engineDir(resourcesPath: string): string {
	return join(resourcesPath, 'engine');
}

/** How to start the daemon from an engine folder (packaged, or a copy of it). */
export function engineLaunch(engine: string): DaemonLaunch {
	return { runtime: join(engine, 'node', 'bin', 'node'), entry: join(engine, 'dist', 'daemon', 'main.js') };
}

/** The layout for the running app. */
export function appLayout(facts: AppFacts): AppLayout {
	return {
		preloadPath: join(facts.appPath, 'dist', 'preload', 'preload.cjs'),
		rendererDir: join(facts.appPath, 'dist', 'renderer'),
		resourcesDir: join(facts.appPath, 'resources'),
		daemon: facts.isPackaged
			? engineLaunch(engineDir(facts.resourcesPath))
			: { runtime: undefined, entry: undefined },
	};
}
