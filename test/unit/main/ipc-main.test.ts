// SPDX-License-Identifier: MIT
// ipc-main's wiring, with a recording ipcMain: which channels are registered, how the sender is
// built from event.senderFrame, and that foreign frames are refused before a handler runs.
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { IpcHandlers, IpcMainLike, IpcSender } from '../../../src/main/ipc/ipc-main.js';

// The electron package exports only the binary's path under Node (and throws without the binary).
vi.mock('electron', () => ({ ipcMain: { handle: vi.fn(), removeHandler: vi.fn() } }));

const { registerIpcHandlers, senderOf, invokeChannels } = await import('../../../src/main/ipc/ipc-main.js');
const { IPC_ARGS } = await import('../../../src/shared/ipc-contract.js');

const PAGE = 'vmdk-app://bundle/index.html';
const WINDOW_ID = 7;

type Listener = Parameters<IpcMainLike['handle']>[1];

/** A stand-in for ipcMain that keeps what was registered. */
class RecordingIpcMain {
	readonly listeners = new Map<string, Listener>();
	handle(channel: string, listener: Listener): void {
		if (this.listeners.has(channel)) throw new Error(`second handler for ${channel}`);
		this.listeners.set(channel, listener);
	}
	removeHandler(channel: string): void {
		this.listeners.delete(channel);
	}
	invoke(channel: string, event: unknown, ...args: unknown[]): Promise<unknown> {
		const listener = this.listeners.get(channel);
		if (listener === undefined) throw new Error(`no handler for ${channel}`);
		return Promise.resolve(listener(event as never, ...args) as unknown);
	}
}

/** An invoke event as Electron builds it: the whole page's `sender`, the sending `senderFrame`. */
function event(frame: { url: string; parent: unknown } | null, webContentsId = WINDOW_ID) {
	return { sender: { id: webContentsId, getURL: () => PAGE }, senderFrame: frame };
}
const mainFrame = { url: PAGE, parent: null };

/** The app's rule: our window's main frame on our page (a #fragment is the page's own business). */
function trusted(sender: IpcSender): boolean {
	return sender.isMainFrame && sender.webContentsId === WINDOW_ID && sender.frameUrl.split('#')[0] === PAGE;
}

let ipc: RecordingIpcMain;
let calls: { channel: string; sender: IpcSender; args: unknown[] }[];
let handlers: IpcHandlers;

beforeEach(() => {
	ipc = new RecordingIpcMain();
	calls = [];
	handlers = Object.fromEntries(
		invokeChannels().map((channel) => [
			channel,
			async (sender: IpcSender, ...args: unknown[]) => {
				calls.push({ channel, sender, args });
				return { ok: true, value: null };
			},
		]),
	) as unknown as IpcHandlers;
});

describe('registerIpcHandlers', () => {
	it('registers exactly the contract’s channels, each with the vmdk: prefix, and removes them again', () => {
		const dispose = registerIpcHandlers(ipc, handlers, trusted);
		expect([...ipc.listeners.keys()].sort()).toEqual(Object.keys(IPC_ARGS).sort());
		for (const channel of ipc.listeners.keys()) expect(channel.startsWith('vmdk:')).toBe(true);
		dispose();
		expect(ipc.listeners.size).toBe(0);
	});

	it('hands a message from our main frame to the handler with the sender from senderFrame', async () => {
		registerIpcHandlers(ipc, handlers, trusted);
		const outcome = await ipc.invoke('vmdk:inspect', event({ url: `${PAGE}#disk-2`, parent: null }), [
			'/a.vmdk',
		]);
		expect(outcome).toEqual({ ok: true, value: null });
		expect(calls).toEqual([
			{
				channel: 'vmdk:inspect',
				sender: { frameUrl: `${PAGE}#disk-2`, isMainFrame: true, webContentsId: WINDOW_ID },
				args: [['/a.vmdk']],
			},
		]);
	});

	it('refuses a subframe, another window, a foreign page and a vanished frame; no handler runs', async () => {
		registerIpcHandlers(ipc, handlers, trusted);
		const foreign = [
			// An iframe inside our page: event.sender still names our page, only senderFrame tells.
			event({ url: PAGE, parent: mainFrame }),
			event(mainFrame, WINDOW_ID + 1),
			event({ url: 'https://example.com/', parent: null }),
			event({ url: 'file:///tmp/index.html', parent: null }),
			event(null),
		];
		for (const e of foreign) {
			const outcome = (await ipc.invoke('vmdk:unmount', e, { all: true })) as {
				ok: boolean;
				error?: { code: string; title: string; message: string };
			};
			expect(outcome.ok).toBe(false);
			expect(outcome.error?.code).toBe('BAD_REQUEST');
			expect(outcome.error?.title).toBe('Malformed request');
			expect(outcome.error?.message).toMatch(/^vmdk:unmount: refused a message from /);
		}
		expect(calls).toEqual([]);
	});

	it('answers with an error outcome when a handler throws (never rejects across the bridge)', async () => {
		registerIpcHandlers(ipc, { ...handlers, 'vmdk:list': () => Promise.reject(new Error('boom')) }, trusted);
		expect(await ipc.invoke('vmdk:list', event(mainFrame))).toMatchObject({
			ok: false,
			error: { code: 'INTERNAL', message: 'boom' },
		});
	});
});

describe('senderOf', () => {
	it('reads the frame, not the page: URL, whether it is the top frame, the web contents id', () => {
		expect(senderOf(event({ url: 'vmdk-app://bundle/x', parent: {} }, 3) as never)).toEqual({
			frameUrl: 'vmdk-app://bundle/x',
			isMainFrame: false,
			webContentsId: 3,
		});
		expect(senderOf(event(null) as never)).toBeNull();
	});
});
