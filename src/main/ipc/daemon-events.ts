// SPDX-License-Identifier: MIT
/**
 * Relays the daemon client's events to the window's event channels (main → renderer): the
 * mount list on every change, the steps of a mount, and the connection going and coming back.
 * Nothing polls: the daemon pushes, this forwards. The app passes a `send` that posts to its
 * window (`webContents.send`); the e2e host one that dispatches into its page.
 */
import type { DaemonClient } from '../../daemon/client.js';
import type { EventChannel, EventPayloads } from '../../shared/ipc-contract.js';

/** Posts one event to the window. */
export type EventSender = <C extends EventChannel>(channel: C, payload: EventPayloads[C]) => void;

/** The client's events this relay listens to. */
export type DaemonEventSource = Pick<
	DaemonClient,
	'onDidChangeMounts' | 'onProgress' | 'onDidDisconnect' | 'onDidReconnect'
>;

/** Forwards `client`'s events to `send` until the returned function is called. */
export function forwardDaemonEvents(client: DaemonEventSource, send: EventSender): () => void {
	// A window that is gone (or a send that throws) must not stop the other events.
	const post: EventSender = (channel, payload) => {
		try {
			send(channel, payload);
		} catch {
			// Nothing to tell: the window will ask for the list again when it comes back.
		}
	};
	const stops = [
		client.onDidChangeMounts((disks) => post('vmdk:mounts-changed', disks)),
		client.onProgress((event) => post('vmdk:progress', event)),
		client.onDidDisconnect((reason) => post('vmdk:daemon-state', { kind: 'disconnected', reason })),
		client.onDidReconnect((hello) => post('vmdk:daemon-state', { kind: 'connected', pid: hello.pid })),
	];
	return () => {
		for (const stop of stops) stop();
	};
}
