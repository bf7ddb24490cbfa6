// SPDX-License-Identifier: MIT
// The relay from the daemon client's events to the window's event channels.
import { describe, expect, it } from 'vitest';
import { forwardDaemonEvents, type DaemonEventSource } from '../../../src/main/ipc/daemon-events.js';
import type { DaemonHello, ProgressEvent } from '../../../src/shared/daemon-contract.js';
import type { MountedDisk } from '../../../src/shared/models.js';

/** A stand-in for the client's four event registrations, with a way to fire them. */
function eventSource() {
	const listeners = {
		mounts: new Set<(d: readonly MountedDisk[]) => void>(),
		progress: new Set<(e: ProgressEvent) => void>(),
		disconnect: new Set<(r: string) => void>(),
		reconnect: new Set<(h: DaemonHello) => void>(),
	};
	const on =
		<T>(set: Set<(v: T) => void>) =>
		(l: (v: T) => void) => {
			set.add(l);
			return () => set.delete(l);
		};
	const source: DaemonEventSource = {
		onDidChangeMounts: on(listeners.mounts),
		onProgress: on(listeners.progress),
		onDidDisconnect: on(listeners.disconnect),
		onDidReconnect: on(listeners.reconnect),
	};
	return { source, listeners };
}

const HELLO: DaemonHello = {
	pid: 4242,
	version: '0.1.0',
	protocolVersion: 2,
	socketPath: '/s',
	logPath: '/l',
};
const PROGRESS: ProgressEvent = {
	operationId: 'op1',
	path: '/d.vmdk',
	phase: 'opening',
	message: 'Opening d.vmdk',
};

describe('forwardDaemonEvents', () => {
	it('forwards each event to its channel, then stops', () => {
		const { source, listeners } = eventSource();
		const sent: [string, unknown][] = [];
		const stop = forwardDaemonEvents(source, (channel, payload) => sent.push([channel, payload]));
		for (const l of listeners.mounts) l([]);
		for (const l of listeners.progress) l(PROGRESS);
		for (const l of listeners.disconnect) l('the mount service closed the connection');
		for (const l of listeners.reconnect) l(HELLO);
		expect(sent).toEqual([
			['vmdk:mounts-changed', []],
			['vmdk:progress', PROGRESS],
			['vmdk:daemon-state', { kind: 'disconnected', reason: 'the mount service closed the connection' }],
			['vmdk:daemon-state', { kind: 'connected', pid: 4242 }],
		]);
		stop();
		expect(Object.values(listeners).every((s) => s.size === 0)).toBe(true);
	});

	it('keeps forwarding when one send throws (a window that is gone)', () => {
		const { source, listeners } = eventSource();
		let calls = 0;
		forwardDaemonEvents(source, () => {
			calls++;
			throw new Error('Object has been destroyed');
		});
		expect(() => {
			for (const l of listeners.mounts) l([]);
			for (const l of listeners.progress) l(PROGRESS);
		}).not.toThrow();
		expect(calls).toBe(2);
	});
});
