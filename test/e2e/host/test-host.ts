// SPDX-License-Identifier: MIT
/**
 * The e2e host: the app's window without Electron (whose binary cannot be downloaded here). It
 * serves the built renderer on 127.0.0.1 under a random token, opens it in Debian's Chromium
 * through playwright-core (headless, fresh profile), and gives the page `window.vmdk` answered
 * by the app's own IPC handlers (`src/main/ipc/handlers.ts`) on a real `DaemonClient`, which
 * starts and reconnects a real daemon. Daemon events reach the page through the app's own
 * relay (`daemon-events.ts`). Only the OS actions are stand-ins: Reveal and the help links are
 * recorded, the Open… dialog answers what the test queued.
 *
 * The daemon's folders come from the environment (`VMDK_MOUNTER_RUNTIME_DIR` …), as for the
 * app: callers give each run its own.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { DaemonClient } from '../../../src/daemon/client.js';
import { forwardDaemonEvents } from '../../../src/main/ipc/daemon-events.js';
import { createIpcHandlers, type IpcHandlers, type IpcSender } from '../../../src/main/ipc/handlers.js';
import { trustedSenderCheck } from '../../../src/main/ipc/sender.js';
import { uiError } from '../../../src/main/ipc/ui-error.js';
import type { EventChannel, EventPayloads, InvokeChannel } from '../../../src/shared/ipc-contract.js';
import { INVOKE_BINDING, PAGE_BRIDGE_SCRIPT } from './page-bridge.js';
import { serveRenderer, type StaticServer } from './static-server.js';

/** Debian's Chromium. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Quiet, offline, reproducible: no sandbox (root in CI), no GPU, no phoning home. */
const CHROMIUM_ARGS = [
	'--no-sandbox',
	'--disable-gpu',
	'--disable-background-networking',
	'--disable-component-update',
	'--no-first-run',
	'--disable-sync',
	'--font-render-hinting=none',
];

/** The web contents id the host gives its one page (the app's would be Electron's). */
const PAGE_ID = 1;

/** Options of {@link TestHost.start}. */
export interface TestHostOptions {
	/** The built renderer (`dist/renderer`). */
	readonly rendererDir: string;
	/** The daemon entry the client starts (default: the built `dist/daemon/main.js`). */
	readonly daemonEntry?: string | undefined;
	readonly viewport?: { readonly width: number; readonly height: number } | undefined;
	readonly colorScheme?: 'light' | 'dark' | undefined;
}

/** A running host: the daemon client, the handlers, the page. */
export class TestHost {
	/** Paths the window asked to reveal (`shell.showItemInFolder` in the app). */
	readonly revealed: string[] = [];
	/** URLs the window asked to open in the browser. */
	readonly externalOpened: string[] = [];
	/** Every invoke the page made, with whether it succeeded (for the benches and debugging). */
	readonly invokes: { channel: string; ok: boolean; ms: number }[] = [];
	private readonly dialogAnswers: (readonly string[])[] = [];
	private stopEvents: () => void = () => undefined;

	readonly client: DaemonClient;
	readonly handlers: IpcHandlers;
	readonly context: BrowserContext;
	readonly page: Page;
	readonly pageUrl: string;
	private readonly server: StaticServer;
	private readonly profileDir: string;

	private constructor(parts: {
		client: DaemonClient;
		handlers: IpcHandlers;
		context: BrowserContext;
		page: Page;
		pageUrl: string;
		server: StaticServer;
		profileDir: string;
	}) {
		this.client = parts.client;
		this.handlers = parts.handlers;
		this.context = parts.context;
		this.page = parts.page;
		this.pageUrl = parts.pageUrl;
		this.server = parts.server;
		this.profileDir = parts.profileDir;
	}

	/** Starts the daemon client, the server and the browser, and opens the window. */
	static async start(options: TestHostOptions): Promise<TestHost> {
		const client = await DaemonClient.connect({
			reconnect: true,
			clientName: 'app',
			...(options.daemonEntry === undefined ? {} : { daemonEntry: options.daemonEntry }),
		});
		let server: StaticServer | undefined;
		let context: BrowserContext | undefined;
		const profileDir = await mkdtemp(join(tmpdir(), 'vmdk-e2e-profile-'));
		try {
			server = await serveRenderer(options.rendererDir);
			context = await chromium.launchPersistentContext(profileDir, {
				executablePath: CHROMIUM_PATH,
				headless: true,
				args: CHROMIUM_ARGS,
				viewport: options.viewport ?? { width: 920, height: 640 },
				deviceScaleFactor: 1,
				colorScheme: options.colorScheme ?? 'light',
				reducedMotion: 'reduce',
				locale: 'en-US',
				acceptDownloads: false,
			});
			const page = context.pages()[0] ?? (await context.newPage());
			const pageUrl = server.pageUrl;
			// The handlers need the host (for its records) and the host needs the handlers.
			const made: { host?: TestHost } = {};
			const handlers = createIpcHandlers({
				client,
				revealPath: (path) => made.host?.revealed.push(path),
				showOpenDialog: async () => made.host?.dialogAnswers.shift() ?? [],
				openExternal: async (url) => {
					made.host?.externalOpened.push(url);
				},
				isTrustedSender: trustedSenderCheck({ pageUrl, webContentsIds: () => [PAGE_ID] }),
			});
			const host = new TestHost({ client, handlers, context, page, pageUrl, server, profileDir });
			made.host = host;
			await host.wire();
			await page.goto(pageUrl, { waitUntil: 'load' });
			return host;
		} catch (error) {
			await context?.close().catch(() => undefined);
			await server?.close();
			client.close();
			await rm(profileDir, { recursive: true, force: true });
			throw error;
		}
	}

	/** The binding (invoke → handlers, with the calling frame as sender), the bridge, the events. */
	private async wire(): Promise<void> {
		await this.page.exposeBinding(INVOKE_BINDING, async (source, channel: unknown, args: unknown) => {
			const started = performance.now();
			const sender: IpcSender = {
				frameUrl: source.frame.url(),
				isMainFrame: source.frame.parentFrame() === null,
				webContentsId: PAGE_ID,
			};
			const handler =
				typeof channel === 'string' && Object.hasOwn(this.handlers, channel)
					? (this.handlers[channel as InvokeChannel] as (s: IpcSender, ...a: unknown[]) => Promise<unknown>)
					: undefined;
			const outcome =
				handler === undefined || !Array.isArray(args)
					? { ok: false, error: uiError('BAD_REQUEST', `unknown channel ${String(channel)}`) }
					: ((await handler(sender, ...(args as unknown[]))) as { ok: boolean });
			this.invokes.push({ channel: String(channel), ok: outcome.ok, ms: performance.now() - started });
			return outcome;
		});
		await this.page.addInitScript({ content: PAGE_BRIDGE_SCRIPT });
		this.stopEvents = forwardDaemonEvents(this.client, (channel, payload) => this.send(channel, payload));
	}

	/** Every event sent to the page, with when (this process's clock, ms): for the benches. */
	readonly events: { channel: EventChannel; payload: unknown; atMs: number }[] = [];

	/** Posts an event to the page, as main's `webContents.send` does (lost if the page is gone). */
	send<C extends EventChannel>(channel: C, payload: EventPayloads[C]): void {
		this.events.push({ channel, payload, atMs: performance.now() });
		// A string, not a function: nothing of this process's compiled code goes to the page.
		const script = `window.__vmdkEmit(${JSON.stringify(channel)}, ${JSON.stringify(payload)})`;
		this.page.evaluate(script).catch(() => undefined);
	}

	/**
	 * What the app's main process does with paths opened outside the window (Finder, a second
	 * launch, the tray; `handleOpen` in src/main/main.ts): tells the window, which lists them, and
	 * mounts them read-only one after the other. Resolves when those mounts are done; their
	 * failures are kept in {@link openFailures} (the app shows them as notifications).
	 */
	openPaths(paths: readonly string[]): Promise<void> {
		this.send('vmdk:open-paths', { paths });
		for (const path of paths) {
			this.mounting = this.mounting.then(() =>
				this.client.mount({ path }).then(
					() => undefined,
					(error: unknown) => {
						this.openFailures.push(error);
					},
				),
			);
		}
		return this.mounting;
	}

	/** Mounts of {@link openPaths} that failed. */
	readonly openFailures: unknown[] = [];
	private mounting: Promise<void> = Promise.resolve();

	/** The next answer of the Open… dialog. */
	queueDialog(paths: readonly string[]): void {
		this.dialogAnswers.push(paths);
	}

	/**
	 * Drops files on the window: real `dragenter`/`dragover`/`drop` events with a DataTransfer
	 * holding `File`s, which the page's bridge maps back to `paths` (Electron's webUtils would).
	 */
	async drop(paths: readonly string[]): Promise<void> {
		const files = JSON.stringify(paths.map((p) => [p, p.slice(p.lastIndexOf('/') + 1)]));
		await this.page.evaluate(`(() => {
			const data = new DataTransfer();
			for (const [path, name] of ${files}) data.items.add(window.__vmdkTestFile(path, name));
			const target = document.querySelector('main') ?? document.body;
			for (const type of ['dragenter', 'dragover', 'drop']) {
				target.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: data }));
			}
		})()`);
	}

	/** Loads the window again (a fresh renderer state; the daemon keeps its mounts). */
	async reload(): Promise<void> {
		await this.page.goto(this.pageUrl, { waitUntil: 'load' });
	}

	/** Stops everything this host started (the daemon keeps running, as it does for the app). */
	async close(): Promise<void> {
		this.stopEvents();
		await this.context.close().catch(() => undefined);
		await this.server.close();
		this.client.close();
		await rm(this.profileDir, { recursive: true, force: true });
	}
}
