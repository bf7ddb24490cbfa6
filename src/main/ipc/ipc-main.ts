// SPDX-License-Identifier: MIT
/**
 * Registers the window's invoke handlers (`handlers.ts`, plain functions) with Electron's
 * `ipcMain.handle`, one per channel of the contract (`src/shared/ipc-contract.ts`) — the only
 * place that touches `ipcMain` (the linter bans it elsewhere). Each message's sender is taken
 * from `event.senderFrame` (not `event.sender`, which names the whole page, iframes included)
 * and checked here before the handler runs, which checks it again: a subframe, another window
 * or a page we did not load gets a refusal and nothing is called. A frame that is already gone
 * (`senderFrame` null) is refused too. Tested with a recording `ipcMain`.
 */
import { ipcMain, type IpcMain, type IpcMainInvokeEvent } from 'electron';
import { serializeError } from '../../shared/app-error.js';
import {
	IPC_ARGS,
	IPC_PREFIX,
	type InvokeChannel,
	type IpcOutcome,
	type UiError,
} from '../../shared/ipc-contract.js';
import { userMessage } from '../../shared/user-messages.js';
import type { IpcHandlers } from './handlers.js';
import type { IpcSender } from './sender.js';

export type { IpcHandlers } from './handlers.js';
export type { IpcSender } from './sender.js';

/** The part of `ipcMain` used here (a recorder in tests). */
export type IpcMainLike = Pick<IpcMain, 'handle' | 'removeHandler'>;

/** The event fields a sender is built from. */
export type InvokeEventLike = Pick<IpcMainInvokeEvent, 'senderFrame'> & {
	readonly sender: Pick<IpcMainInvokeEvent['sender'], 'id'>;
};

/** The sender of an invoke, or null when its frame is gone (navigated away or destroyed). */
export function senderOf(event: InvokeEventLike): IpcSender | null {
	const frame = event.senderFrame;
	if (frame === null) return null;
	return { frameUrl: frame.url, isMainFrame: frame.parent === null, webContentsId: event.sender.id };
}

function uiError(code: UiError['code'], message: string): UiError {
	return { code, ...userMessage(code), message };
}

/** Every invoke channel of the contract, checked against the prefix the preload enforces. */
export function invokeChannels(): readonly InvokeChannel[] {
	const channels = Object.keys(IPC_ARGS) as InvokeChannel[];
	for (const channel of channels) {
		if (!channel.startsWith(IPC_PREFIX))
			throw new Error(`IPC channel ${channel} lacks the ${IPC_PREFIX} prefix`);
	}
	return channels;
}

/**
 * Registers `handlers` for every invoke channel; returns the function that removes them.
 * `isTrustedSender` is the same check the handlers were built with.
 */
export function registerIpcHandlers(
	ipcMain: IpcMainLike,
	handlers: IpcHandlers,
	isTrustedSender: (sender: IpcSender) => boolean,
): () => void {
	const channels = invokeChannels();
	for (const channel of channels) {
		const handler = handlers[channel] as (
			sender: IpcSender,
			...args: unknown[]
		) => Promise<IpcOutcome<unknown>>;
		ipcMain.handle(
			channel,
			async (event: IpcMainInvokeEvent, ...args: unknown[]): Promise<IpcOutcome<unknown>> => {
				const sender = senderOf(event);
				if (sender === null || !isTrustedSender(sender)) {
					const who =
						sender === null
							? 'a frame that no longer exists'
							: `${sender.frameUrl} (main frame: ${String(sender.isMainFrame)})`;
					return { ok: false, error: uiError('BAD_REQUEST', `${channel}: refused a message from ${who}`) };
				}
				try {
					return await handler(sender, ...args);
				} catch (error) {
					// Handlers never reject by contract; a bug that makes one reject still answers.
					const wire = serializeError(error);
					return { ok: false, error: uiError(wire.code, wire.message) };
				}
			},
		);
	}
	return () => {
		for (const channel of channels) ipcMain.removeHandler(channel);
	};
}

/** Registers `handlers` with Electron's own `ipcMain` (main.ts; the test passes a recorder). */
export function registerWindowIpc(
	handlers: IpcHandlers,
	isTrustedSender: (sender: IpcSender) => boolean,
): () => void {
	return registerIpcHandlers(ipcMain, handlers, isTrustedSender);
}
