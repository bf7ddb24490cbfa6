// SPDX-License-Identifier: MIT
// The preload: window.vmdk's shape and channel checks (vmdk-api.ts), and the bundle Electron
// loads (dist/preload/preload.cjs, built here by the same script as `npm run build`), run in a
// sandbox-like scope whose `require` knows only 'electron'.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { runInNewContext } from 'node:vm';
import { beforeAll, describe, expect, it } from 'vitest';
import { EVENT_CHANNELS, IPC_ARGS, type VmdkApi } from '../../../src/shared/ipc-contract.js';
import {
	EVENT_SUBSCRIPTIONS,
	INVOKE_CHANNELS,
	assertChannel,
	createVmdkApi,
	type IpcRendererLike,
} from '../../../src/preload/vmdk-api.js';

/** Every member of VmdkApi (the compiler checks the object has these; this checks nothing more). */
const API_KEYS: readonly (keyof VmdkApi)[] = [
	'inspect',
	'mount',
	'unmount',
	'list',
	'doctor',
	'reveal',
	'openDialog',
	'openHelp',
	'pathForFile',
	'onMountsChanged',
	'onProgress',
	'onDaemonState',
	'onOpenPaths',
];

/** An ipcRenderer that records invokes and keeps listeners. */
class FakeIpcRenderer implements IpcRendererLike {
	readonly invoked: { channel: string; args: unknown[] }[] = [];
	readonly listeners = new Map<string, Set<(event: unknown, payload: unknown) => void>>();
	invoke(channel: string, ...args: unknown[]): Promise<unknown> {
		this.invoked.push({ channel, args });
		return Promise.resolve({ ok: true, value: channel });
	}
	on(channel: string, listener: (event: unknown, payload: unknown) => void): void {
		if (!this.listeners.has(channel)) this.listeners.set(channel, new Set());
		this.listeners.get(channel)!.add(listener);
	}
	removeListener(channel: string, listener: (event: unknown, payload: unknown) => void): void {
		this.listeners.get(channel)?.delete(listener);
	}
	emit(channel: string, payload: unknown): void {
		const event = { sender: 'the ipcRenderer object must not reach the page', senderId: 0 };
		for (const l of this.listeners.get(channel) ?? []) l(event, payload);
	}
}

describe('window.vmdk (vmdk-api.ts)', () => {
	it('uses exactly the contract’s channels, all with the vmdk: prefix', () => {
		expect(Object.values(INVOKE_CHANNELS).sort()).toEqual(Object.keys(IPC_ARGS).sort());
		expect(Object.values(EVENT_SUBSCRIPTIONS).sort()).toEqual([...EVENT_CHANNELS].sort());
		for (const c of [...Object.values(INVOKE_CHANNELS), ...Object.values(EVENT_SUBSCRIPTIONS)]) {
			expect(c.startsWith('vmdk:')).toBe(true);
		}
	});

	it('exposes exactly the VmdkApi members, all functions', () => {
		const api = createVmdkApi(new FakeIpcRenderer(), () => '');
		expect(Object.keys(api).sort()).toEqual([...API_KEYS].sort());
		for (const key of API_KEYS) expect(typeof api[key]).toBe('function');
	});

	it('maps each verb to its channel with its arguments', async () => {
		const ipc = new FakeIpcRenderer();
		const api = createVmdkApi(ipc, () => '');
		await api.inspect(['/a.vmdk']);
		await api.mount({ path: '/a.vmdk', readWrite: false });
		await api.unmount({ all: true });
		await api.list();
		await api.doctor();
		await api.reveal('/mnt/x');
		await api.openDialog();
		await api.openHelp('macfuse');
		expect(ipc.invoked).toEqual([
			{ channel: 'vmdk:inspect', args: [['/a.vmdk']] },
			{ channel: 'vmdk:mount', args: [{ path: '/a.vmdk', readWrite: false }] },
			{ channel: 'vmdk:unmount', args: [{ all: true }] },
			{ channel: 'vmdk:list', args: [] },
			{ channel: 'vmdk:doctor', args: [] },
			{ channel: 'vmdk:reveal', args: ['/mnt/x'] },
			{ channel: 'vmdk:open-dialog', args: [] },
			{ channel: 'vmdk:open-help', args: ['macfuse'] },
		]);
	});

	it('gives listeners the payload only, and unsubscribes', () => {
		const ipc = new FakeIpcRenderer();
		const api = createVmdkApi(ipc, () => '');
		const seen: unknown[] = [];
		const stop = api.onMountsChanged((disks) => seen.push(disks));
		api.onOpenPaths((e) => seen.push(e));
		ipc.emit('vmdk:mounts-changed', []);
		ipc.emit('vmdk:open-paths', { paths: ['/a'] });
		expect(seen).toEqual([[], { paths: ['/a'] }]);
		stop();
		ipc.emit('vmdk:mounts-changed', [1]);
		expect(seen).toHaveLength(2);
		expect(ipc.listeners.get('vmdk:mounts-changed')?.size).toBe(0);
		expect(() => api.onProgress('not a function' as never)).toThrow(/listener must be a function/);
	});

	it('refuses channels without the prefix or off the list', () => {
		const allowed = new Set(['vmdk:list']);
		expect(() => assertChannel('vmdk:list', allowed)).not.toThrow();
		for (const c of ['vmdk:shutdown', 'list', 'electron:x', 'VMDK:list', ' vmdk:list']) {
			expect(() => assertChannel(c, allowed), c).toThrow(/refusing IPC channel/);
		}
	});

	it('turns a dropped file into its path, and anything else into an empty string', () => {
		const api = createVmdkApi(new FakeIpcRenderer(), (file) => {
			if ((file as { name?: string }).name === 'disk.vmdk') return '/home/u/disk.vmdk';
			throw new TypeError('not a File');
		});
		expect(api.pathForFile({ name: 'disk.vmdk', size: 1 })).toBe('/home/u/disk.vmdk');
		expect(api.pathForFile({ name: 'made-in-page', size: 0 })).toBe('');
	});
});

describe('the preload bundle', () => {
	let code: string;
	beforeAll(() => {
		execFileSync(process.execPath, ['scripts/build-preload.mjs'], { stdio: 'inherit' });
		code = readFileSync('dist/preload/preload.cjs', 'utf8');
	});

	it('is one CommonJS file requiring only electron (no ESM, no zod, no Node modules)', () => {
		expect(code).not.toMatch(/^\s*(import|export)\s/m);
		const requires = [...code.matchAll(/require\(["']([^"']+)["']\)/g)].map((m) => m[1]);
		expect([...new Set(requires)]).toEqual(['electron']);
		expect(code).not.toMatch(/zod/i);
		expect(code.length).toBeLessThan(16 * 1024);
	});

	it('exposes window.vmdk and nothing else, with exactly the API’s members', () => {
		const exposed = new Map<string, Record<string, unknown>>();
		const ipc = new FakeIpcRenderer();
		const electron = {
			contextBridge: {
				exposeInMainWorld: (key: string, api: Record<string, unknown>) => exposed.set(key, api),
			},
			ipcRenderer: ipc,
			webUtils: { getPathForFile: () => '/dropped.vmdk' },
		};
		const require = (name: string): unknown => {
			if (name !== 'electron') throw new Error(`sandboxed preloads cannot require ${name}`);
			return electron;
		};
		const module = { exports: {} };
		runInNewContext(code, { require, module, exports: module.exports });
		expect([...exposed.keys()]).toEqual(['vmdk']);
		const api = exposed.get('vmdk')!;
		expect(Object.keys(api).sort()).toEqual([...API_KEYS].sort());
		expect((api.pathForFile as (f: unknown) => string)({})).toBe('/dropped.vmdk');
	});
});
