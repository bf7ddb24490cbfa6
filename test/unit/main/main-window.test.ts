// SPDX-License-Identifier: MIT
// The window's options and guards, read from the code that creates the window: `electron` is
// replaced by recorders, createMainWindow runs, and the test looks at what it asked for.
import { describe, expect, it, vi } from 'vitest';

type Handler = (...args: unknown[]) => unknown;

/** Records what main-window.ts does to a web contents and its session. */
class RecordingContents {
	readonly id = 1;
	readonly on_ = new Map<string, Handler[]>();
	windowOpenHandler: Handler | undefined;
	readonly session = {
		permissionRequest: undefined as Handler | undefined,
		permissionCheck: undefined as Handler | undefined,
		devicePermission: undefined as Handler | undefined,
		setPermissionRequestHandler(h: Handler) {
			this.permissionRequest = h;
		},
		setPermissionCheckHandler(h: Handler) {
			this.permissionCheck = h;
		},
		setDevicePermissionHandler(h: Handler) {
			this.devicePermission = h;
		},
	};
	setWindowOpenHandler(h: Handler): void {
		this.windowOpenHandler = h;
	}
	on(name: string, h: Handler): this {
		this.on_.set(name, [...(this.on_.get(name) ?? []), h]);
		return this;
	}
	/** Fires `name` with a preventable event; true when every listener prevented it. */
	fire(name: string, ...args: unknown[]): boolean {
		const listeners = this.on_.get(name) ?? [];
		let prevented = 0;
		for (const l of listeners) {
			let p = false;
			l({ preventDefault: () => (p = true) }, ...args);
			if (p) prevented++;
		}
		return listeners.length > 0 && prevented === listeners.length;
	}
}

const created: { options: Record<string, unknown>; window: RecordingWindow }[] = [];
class RecordingWindow {
	readonly webContents = new RecordingContents();
	loaded: string | undefined;
	readonly once_ = new Map<string, Handler>();
	shown = false;
	constructor(options: Record<string, unknown>) {
		created.push({ options, window: this });
	}
	loadURL(url: string): Promise<void> {
		this.loaded = url;
		return Promise.resolve();
	}
	once(name: string, h: Handler): void {
		this.once_.set(name, h);
	}
	show(): void {
		this.shown = true;
	}
}

vi.mock('electron', () => ({ BrowserWindow: RecordingWindow }));

const { createMainWindow } = await import('../../../src/main/windows/main-window.js');
const { APP_PAGE_URL } = await import('../../../src/main/windows/app-protocol.js');

const opened: string[] = [];
const window = createMainWindow({
	preloadPath: '/app/dist/preload/preload.cjs',
	isAllowedExternalUrl: (url) => url === 'https://macfuse.github.io/',
	openExternal: (url) => opened.push(url),
	devTools: false,
}) as unknown as RecordingWindow;
const options = created[0]!.options as {
	show: boolean;
	webPreferences: Record<string, unknown>;
};
const contents = window.webContents;

describe('the main window', () => {
	it('is created once, hidden until painted, on our bundled page', () => {
		expect(created).toHaveLength(1);
		expect(options.show).toBe(false);
		expect(window.loaded).toBe(APP_PAGE_URL);
		expect(APP_PAGE_URL).toBe('vmdk-app://bundle/index.html');
		window.once_.get('ready-to-show')!();
		expect(window.shown).toBe(true);
	});

	it('runs its page sandboxed, context-isolated, without Node, with our preload', () => {
		expect(options.webPreferences).toMatchObject({
			preload: '/app/dist/preload/preload.cjs',
			sandbox: true,
			contextIsolation: true,
			nodeIntegration: false,
			nodeIntegrationInWorker: false,
			nodeIntegrationInSubFrames: false,
			webSecurity: true,
			allowRunningInsecureContent: false,
			webviewTag: false,
			experimentalFeatures: false,
			navigateOnDragDrop: false,
			devTools: false,
		});
	});

	it('denies every new window; only allow-listed links go to the browser', () => {
		const open = contents.windowOpenHandler!;
		expect(open({ url: 'https://macfuse.github.io/' })).toEqual({ action: 'deny' });
		expect(open({ url: 'https://evil.example/' })).toEqual({ action: 'deny' });
		expect(open({ url: 'file:///etc/passwd' })).toEqual({ action: 'deny' });
		expect(opened).toEqual(['https://macfuse.github.io/']);
	});

	it('prevents navigation, frame navigation, redirects and <webview>', () => {
		expect(contents.fire('will-navigate', 'https://evil.example/')).toBe(true);
		expect(contents.fire('will-frame-navigate')).toBe(true);
		expect(contents.fire('will-redirect', 'https://evil.example/')).toBe(true);
		expect(contents.fire('will-attach-webview')).toBe(true);
	});

	it('refuses every permission request and check (camera, notifications, clipboard, devices…)', () => {
		const answers: boolean[] = [];
		for (const permission of ['media', 'notifications', 'clipboard-read', 'geolocation', 'openExternal']) {
			contents.session.permissionRequest!(contents, permission, (granted: boolean) => answers.push(granted));
		}
		expect(answers).toEqual([false, false, false, false, false]);
		expect(contents.session.permissionCheck!(contents, 'media', 'vmdk-app://bundle')).toBe(false);
		expect(contents.session.devicePermission!({ deviceType: 'usb' })).toBe(false);
	});
});
