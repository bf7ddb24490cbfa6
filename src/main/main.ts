// SPDX-License-Identifier: MIT
/**
 * The Electron main process: a thin shell over the daemon (docs/desktop-shell.md). It
 *
 * - listens for macOS `open-file` first thing (it can fire before `ready`; `launch/early.ts`),
 *   takes the single-instance lock (a second launch hands its argv and folder to this one), and turns
 *   every way of opening something into an `OpenRequest` handled by one function: show the
 *   window, tell the page, mount the paths read-only, notify when done or failed;
 * - serves the page from `vmdk-app://bundle/` with a strict CSP, in a sandboxed window;
 * - registers the window's IPC handlers and relays the daemon's events to the page and the tray;
 * - keeps a menu-bar icon whose menu is rebuilt from every mount-list change, and stays there
 *   while volumes are mounted. Quitting leaves mounts to the daemon, unless the user chooses
 *   "Unmount All and Quit". Nothing polls: the daemon pushes changes.
 *
 * This file can only be type-checked here: the Electron binary cannot be downloaded on our
 * machines. Its parts are unit-tested: open-request.ts, tray-menu.ts, ipc-main.ts,
 * main-window.ts, app-protocol.ts, notifications.ts, app-layout.ts, engine-copy.ts, open-dialog.ts,
 * tray.ts.
 */
// First: what must run before `ready` (open-file, the single-instance lock, the page's scheme).
import { isPrimaryInstance, requests } from './launch/early.js';
import { stat } from 'node:fs/promises';
import createDebug from 'debug';
import {
	Notification,
	app,
	dialog,
	protocol,
	session,
	shell,
	type BrowserWindow,
	type WebContents,
} from 'electron';
import { DaemonClient } from '../daemon/client.js';
import { AppError, isAppError } from '../shared/app-error.js';
import type { DaemonState, EventChannel, EventPayloads } from '../shared/ipc-contract.js';
import type { MountedDisk } from '../shared/models.js';
import { forwardDaemonEvents } from './ipc/daemon-events.js';
import { createIpcHandlers } from './ipc/handlers.js';
import { isAllowedExternalUrl } from './ipc/help-urls.js';
import { registerWindowIpc } from './ipc/ipc-main.js';
import { trustedSenderCheck } from './ipc/sender.js';
import {
	appLayout,
	engineDir,
	engineLaunch,
	type AppLayout,
	type DaemonLaunch,
} from './launch/app-layout.js';
import { copyEngine, transientLocation } from './launch/engine-copy.js';
import { fromDialog, type OpenRequest } from './launch/open-request.js';
import { errorNotice, mountedNotice, newlyMountedVolumes, type Notice } from './notifications.js';
import { AppTray } from './tray/tray.js';
import { mountedVolumeCount, type TrayAction } from './tray/tray-menu.js';
import { APP_PAGE_URL, APP_SCHEME, createBundleHandler } from './windows/app-protocol.js';
import { createMainWindow, hardenSession, hardenWebContents } from './windows/main-window.js';
import { openDialogOptions } from './windows/open-dialog.js';

const log = createDebug('vmdk:main');

/** Longest wait between attempts to reach a daemon that would not start, in ms. */
const CONNECT_RETRY_MAX_MS = 30_000;

if (isPrimaryInstance) {
	app.on('web-contents-created', (_event, contents) => {
		hardenWebContents(contents, { isAllowedExternalUrl, openExternal: openExternalLogged });
	});
	app.whenReady().then(
		() =>
			start(
				appLayout({
					appPath: app.getAppPath(),
					resourcesPath: process.resourcesPath,
					isPackaged: app.isPackaged,
				}),
			),
		(error: unknown) => fail(error),
	);
}

/** Opens an allow-listed page in the browser (the handlers and the window both come here). */
async function openAllowedExternal(url: string): Promise<void> {
	if (!isAllowedExternalUrl(url)) throw new AppError('BAD_REQUEST', `not an allowed address: ${url}`);
	await shell.openExternal(url);
}

/** The same, for callers that cannot wait (window-open handlers). */
function openExternalLogged(url: string): void {
	openAllowedExternal(url).catch((error: unknown) => log('cannot open %s: %O', url, error));
}

function fail(error: unknown): void {
	dialog.showErrorBox('VMDK Mounter could not start', error instanceof Error ? error.message : String(error));
	app.exit(1);
}

/** Everything after `ready`. */
function start(layout: AppLayout): void {
	protocol.handle(APP_SCHEME, createBundleHandler(layout.rendererDir));
	hardenSession(session.defaultSession);

	let window: BrowserWindow | null = null;
	let pageLoaded = false;
	let pendingOpenPaths: string[] = [];
	let disks: readonly MountedDisk[] = [];
	let daemonState: DaemonState = { kind: 'connecting' };
	let listKnown = false;
	let quitting = false;

	const send = <C extends EventChannel>(channel: C, payload: EventPayloads[C]): void => {
		if (window !== null && !window.isDestroyed() && pageLoaded) window.webContents.send(channel, payload);
	};
	const notify = (notice: Notice): void => {
		if (!Notification.isSupported()) return;
		const n = new Notification({ title: notice.title, body: notice.body, silent: true });
		const target = notice.revealPath;
		if (target !== undefined) n.on('click', () => void revealPath(target));
		n.show();
	};

	const tray = new AppTray(layout.resourcesDir, process.platform, (action) => void onTrayAction(action));
	const refreshTray = (): void => tray.update(disks, daemonState);
	const setDaemonState = (state: DaemonState): void => {
		daemonState = state;
		refreshTray();
		send('vmdk:daemon-state', state);
	};
	const onMounts = (next: readonly MountedDisk[]): void => {
		const added = listKnown ? newlyMountedVolumes(disks, next) : [];
		disks = next;
		listKnown = true;
		refreshTray();
		// Someone looking at the window sees new volumes there; anyone else gets a notification.
		const notice = mountedNotice(added);
		if (notice !== null && !(window?.isFocused() ?? false)) notify(notice);
		quitIfIdle();
	};

	/** Where the daemon starts from: the packaged engine, or a copy of it that outlives the app. */
	async function daemonLaunch(): Promise<DaemonLaunch> {
		const why = app.isPackaged ? transientLocation(process.resourcesPath, process.env) : undefined;
		if (why === undefined) return layout.daemon;
		log('%s: the daemon runs from a copy of the engine', why);
		return engineLaunch(
			await copyEngine(engineDir(process.resourcesPath), app.getPath('userData'), app.getVersion()),
		);
	}

	/** The daemon, started on demand; retried with back-off while it cannot start. */
	const clientReady: Promise<DaemonClient> = (async () => {
		let launch: DaemonLaunch = layout.daemon;
		try {
			launch = await daemonLaunch();
		} catch (error) {
			// Still usable while the app runs; only the daemon's life after quitting is at stake.
			log('cannot copy the engine: %O', error);
		}
		let delay = 1000;
		let told = false;
		for (;;) {
			try {
				return await DaemonClient.connect({
					reconnect: true,
					clientName: 'app',
					daemonRuntime: launch.runtime,
					daemonEntry: launch.entry,
				});
			} catch (error) {
				log('cannot reach the daemon: %O', error);
				// One notification, not one per attempt.
				if (!told) notify(errorNotice(error));
				told = true;
				setDaemonState({
					kind: 'disconnected',
					reason: error instanceof Error ? error.message : String(error),
				});
				await new Promise((r) => setTimeout(r, delay));
				delay = Math.min(delay * 2, CONNECT_RETRY_MAX_MS);
			}
		}
	})();
	void clientReady
		.then(async (client) => {
			forwardDaemonEvents(client, send);
			client.onDidChangeMounts(onMounts);
			client.onDidDisconnect((reason) => {
				daemonState = { kind: 'disconnected', reason };
				refreshTray();
			});
			client.onDidReconnect((hello) => {
				daemonState = { kind: 'connected', pid: hello.pid };
				refreshTray();
			});
			const hello = await client.hello();
			setDaemonState({ kind: 'connected', pid: hello.pid });
			onMounts((await client.list()).disks);
		})
		.catch((error: unknown) => log('daemon set-up failed: %O', error));

	/** The client as the handlers see it: calls wait for the daemon connection. */
	const client = {
		inspect: async (...a: Parameters<DaemonClient['inspect']>) => (await clientReady).inspect(...a),
		mount: async (...a: Parameters<DaemonClient['mount']>) => (await clientReady).mount(...a),
		unmount: async (...a: Parameters<DaemonClient['unmount']>) => (await clientReady).unmount(...a),
		list: async () => (await clientReady).list(),
		doctor: async () => (await clientReady).doctor(),
	};

	/** A mounted folder opens in Finder / the file manager; a file is shown in its folder. */
	async function revealPath(path: string): Promise<void> {
		const isFolder = await stat(path).then(
			(s) => s.isDirectory(),
			() => false,
		);
		if (isFolder) {
			const failure = await shell.openPath(path);
			if (failure !== '') log('cannot open %s: %s', path, failure);
		} else {
			shell.showItemInFolder(path);
		}
	}

	async function chooseFiles(): Promise<readonly string[]> {
		const options = openDialogOptions(process.platform);
		const result =
			window !== null && !window.isDestroyed()
				? await dialog.showOpenDialog(window, options)
				: await dialog.showOpenDialog(options);
		return result.canceled ? [] : result.filePaths;
	}

	const isTrustedSender = trustedSenderCheck({
		pageUrl: APP_PAGE_URL,
		webContentsIds: () => (window !== null && !window.isDestroyed() ? [window.webContents.id] : []),
	});
	registerWindowIpc(
		createIpcHandlers({
			client,
			revealPath: (path) => void revealPath(path),
			showOpenDialog: chooseFiles,
			openExternal: openAllowedExternal,
			isTrustedSender,
		}),
		isTrustedSender,
	);

	function showWindow(): void {
		if (process.platform === 'darwin') void app.dock?.show();
		if (window !== null && !window.isDestroyed()) {
			if (window.isMinimized()) window.restore();
			window.show();
			window.focus();
			return;
		}
		pageLoaded = false;
		const created = createMainWindow({
			preloadPath: layout.preloadPath,
			isAllowedExternalUrl,
			openExternal: openExternalLogged,
			devTools: !app.isPackaged,
		});
		window = created;
		const contents: WebContents = created.webContents;
		contents.on('did-finish-load', () => {
			pageLoaded = true;
			send('vmdk:daemon-state', daemonState);
			if (pendingOpenPaths.length > 0) send('vmdk:open-paths', { paths: pendingOpenPaths });
			pendingOpenPaths = [];
		});
		created.on('closed', () => {
			if (window === created) window = null;
		});
	}

	/** Quits when there is nothing left to show: no window and no mounted volume. */
	function quitIfIdle(): void {
		if (quitting || window !== null || !listKnown) return;
		if (mountedVolumeCount(disks) === 0) app.quit();
	}

	/** Mounts one path read-only, as a double-click asks; failures become notifications. */
	async function mountOpened(path: string): Promise<void> {
		try {
			await (await clientReady).mount({ path });
		} catch (error) {
			const mounted = disks.find((d) => d.path === path);
			const mountpoint = mounted?.volumes.find((v) => v.mountpoint !== null)?.mountpoint;
			// Opening a disk that is already mounted shows its volume instead of an error.
			if (isAppError(error, 'ALREADY_MOUNTED') && mountpoint !== undefined && mountpoint !== null) {
				await revealPath(mountpoint);
				return;
			}
			notify(errorNotice(error, path));
		}
	}

	let mounting: Promise<void> = Promise.resolve();
	/** The one code path for every way of opening something. */
	function handleOpen(request: OpenRequest): void {
		log('open request %o', request);
		for (const rejected of request.rejected) {
			notify(errorNotice(new AppError('INPUT_NOT_FOUND', `${rejected.arg}: ${rejected.reason}`)));
		}
		showWindow();
		if (request.kind !== 'open') return;
		if (pageLoaded) send('vmdk:open-paths', { paths: request.paths });
		else pendingOpenPaths.push(...request.paths);
		// One disk after another: helpers for several disks at once only compete for the same disk.
		for (const path of request.paths) mounting = mounting.then(() => mountOpened(path));
	}

	async function unmountThenQuit(): Promise<void> {
		try {
			await client.unmount({ all: true });
		} catch (error) {
			if (!isAppError(error, 'VOLUME_BUSY')) {
				notify(errorNotice(error));
				return;
			}
			const answer = await dialog.showMessageBox({
				type: 'warning',
				message: 'Some volumes are in use',
				detail: `${error.message}\n\nForcing the unmount may lose unsaved changes of the programs using them.`,
				buttons: ['Force Unmount and Quit', 'Cancel'],
				defaultId: 1,
				cancelId: 1,
			});
			if (answer.response !== 0) return;
			try {
				await client.unmount({ all: true, force: true });
			} catch (forced) {
				notify(errorNotice(forced));
				return;
			}
		}
		quitting = true;
		app.quit();
	}

	async function onTrayAction(action: TrayAction): Promise<void> {
		try {
			switch (action.kind) {
				case 'reveal':
					return await revealPath(action.path);
				case 'unmount-volume':
					await client.unmount({ target: action.mountpoint });
					return;
				case 'unmount-disk':
					await client.unmount({ target: action.diskId });
					return;
				case 'unmount-all':
					await client.unmount({ all: true });
					return;
				case 'open': {
					const paths = await chooseFiles();
					if (paths.length > 0) requests.push(fromDialog(paths));
					return;
				}
				case 'show-window':
					return showWindow();
				case 'quit':
					quitting = true;
					app.quit();
					return;
				case 'unmount-all-and-quit':
					return await unmountThenQuit();
			}
		} catch (error) {
			notify(errorNotice(error));
		}
	}

	app.on('window-all-closed', () => {
		// Stay in the menu bar while volumes are mounted (and hide from the Dock meanwhile).
		if (mountedVolumeCount(disks) > 0 || !listKnown) {
			if (process.platform === 'darwin') app.dock?.hide();
			return;
		}
		app.quit();
	});
	app.on('activate', () => showWindow());
	app.on('before-quit', () => {
		quitting = true;
		// The daemon keeps the mounts; this only closes our connection.
		void clientReady.then((c) => c.close());
		tray.destroy();
	});

	requests.start(handleOpen);
}
