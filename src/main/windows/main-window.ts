// SPDX-License-Identifier: MIT
/**
 * The one window: our bundled page in a sandboxed, context-isolated renderer without Node
 * (Electron's security checklist items 2–4, 7, 13–15; STYLE §11). The page reaches the app only
 * through the preload's `window.vmdk`. It cannot navigate anywhere or open windows; links to the
 * allow-listed help pages go to the browser; every permission request (camera, notifications,
 * clipboard, …) is refused; `<webview>` cannot be attached.
 *
 * Only type-checked here (the Electron binary cannot run on our machines); the unit test reads
 * the options and handlers from this very code with `electron` replaced by a recorder.
 */
import {
	BrowserWindow,
	type BrowserWindowConstructorOptions,
	type Session,
	type WebContents,
} from 'electron';
import { APP_PAGE_URL } from './app-protocol.js';

/** What the window needs from main. */
export interface MainWindowDeps {
	/** Absolute path of the bundled preload (`dist/preload/preload.cjs`). */
	readonly preloadPath: string;
	/** True for a URL the browser may open (the help pages). */
	readonly isAllowedExternalUrl: (url: string) => boolean;
	/** Opens an allowed URL in the browser (`shell.openExternal`). */
	readonly openExternal: (url: string) => void;
	/** Developer tools (unpackaged runs only). */
	readonly devTools: boolean;
}

/** The window's options: size, and the renderer's hardening. */
export function mainWindowOptions(
	deps: Pick<MainWindowDeps, 'preloadPath' | 'devTools'>,
): BrowserWindowConstructorOptions {
	return {
		title: 'VMDK Mounter',
		width: 900,
		height: 640,
		minWidth: 560,
		minHeight: 420,
		// Shown once painted, so it never flashes white in dark mode.
		show: false,
		webPreferences: {
			preload: deps.preloadPath,
			sandbox: true,
			contextIsolation: true,
			nodeIntegration: false,
			nodeIntegrationInWorker: false,
			nodeIntegrationInSubFrames: false,
			webSecurity: true,
			allowRunningInsecureContent: false,
			webviewTag: false,
			experimentalFeatures: false,
			// A file dropped outside the drop zone must not replace the page.
			navigateOnDragDrop: false,
			safeDialogs: true,
			spellcheck: false,
			devTools: deps.devTools,
		},
	};
}

/**
 * Locks down one web contents: no navigation or redirect away from the page, no new windows
 * (allow-listed links go to the browser instead), no `<webview>`.
 */
export function hardenWebContents(
	contents: WebContents,
	deps: Pick<MainWindowDeps, 'isAllowedExternalUrl' | 'openExternal'>,
): void {
	contents.setWindowOpenHandler(({ url }) => {
		if (deps.isAllowedExternalUrl(url)) deps.openExternal(url);
		return { action: 'deny' };
	});
	contents.on('will-navigate', (event) => event.preventDefault());
	contents.on('will-frame-navigate', (event) => {
		// The page's own first load is `loadURL`, not a navigation event; anything later is not ours.
		event.preventDefault();
	});
	contents.on('will-redirect', (event) => event.preventDefault());
	contents.on('will-attach-webview', (event) => event.preventDefault());
}

/** Refuses every permission request and check of the window's session. */
export function hardenSession(session: Session): void {
	session.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
	session.setPermissionCheckHandler(() => false);
	session.setDevicePermissionHandler(() => false);
}

/** Creates the window on our page (shown when painted). */
export function createMainWindow(deps: MainWindowDeps): BrowserWindow {
	const window = new BrowserWindow(mainWindowOptions(deps));
	hardenSession(window.webContents.session);
	hardenWebContents(window.webContents, deps);
	window.once('ready-to-show', () => window.show());
	window
		.loadURL(APP_PAGE_URL)
		.catch((error: unknown) => console.error(`vmdk: cannot load ${APP_PAGE_URL}:`, error));
	return window;
}
