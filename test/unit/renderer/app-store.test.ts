// SPDX-License-Identifier: MIT
// The window's store on a scripted bridge: start-up, the daemon's events, opening (and mounting
// on open), mounting read-only unless allowed, errors kept per disk, unmounting, drops.
import { beforeEach, describe, expect, it } from 'vitest';
import { ALL_KEY, AppStore } from '../../../renderer/src/state/app-store.js';
import { STRINGS } from '../../../renderer/src/strings.js';
import { FakeBridge, diskInfo, mountedDisk, uiError } from '../../helpers/fake-bridge.js';

let bridge: FakeBridge;
let ids: number;

function makeStore(mountOnOpen?: boolean): AppStore {
	return new AppStore({
		api: bridge,
		newId: () => `op-${++ids}`,
		preferences:
			mountOnOpen === undefined
				? undefined
				: {
						mountOnOpen: () => mountOnOpen,
						setMountOnOpen: (on) => bridge.calls.push({ method: 'pref', args: [on] }),
					},
	});
}

/** Lets queued promise callbacks run. */
const settle = () => new Promise((r) => setTimeout(r, 0));

beforeEach(() => {
	bridge = new FakeBridge();
	ids = 0;
	bridge.inspectAnswer = ([p]) => ({ ok: true, value: [diskInfo(p ?? '')] });
});

describe('AppStore', () => {
	it('asks for the mount list on start and follows the daemon’s events', async () => {
		bridge.listAnswer = { ok: true, value: [mountedDisk('/a.vmdk', 'aaaaaaaa', '/mnt/a')] };
		const store = makeStore();
		expect(store.getSnapshot().connection).toEqual({ kind: 'connecting' });
		const stop = store.start();
		await settle();
		expect(store.getSnapshot().connection).toEqual({ kind: 'connected' });
		expect(store.getSnapshot().mounts.map((d) => d.id)).toEqual(['aaaaaaaa']);

		bridge.emitMounts([]);
		expect(store.getSnapshot().mounts).toEqual([]);
		bridge.emitDaemon({ kind: 'disconnected', reason: 'the mount service closed the connection' });
		expect(store.getSnapshot().connection).toEqual({
			kind: 'disconnected',
			reason: 'the mount service closed the connection',
		});
		bridge.emitDaemon({ kind: 'connected', pid: 12 });
		expect(store.getSnapshot().connection).toEqual({ kind: 'connected' });
		stop();
		expect(bridge.listenerCount()).toBe(0);
	});

	it('says the daemon is not there when the list cannot be had', async () => {
		bridge.listAnswer = { ok: false, error: uiError('DAEMON_UNAVAILABLE', 'no answer on /run/x.sock') };
		const store = makeStore();
		store.start();
		await settle();
		expect(store.getSnapshot().connection).toEqual({
			kind: 'disconnected',
			reason: 'no answer on /run/x.sock',
		});
	});

	it('gives React the same snapshot until something changes', async () => {
		const store = makeStore();
		let renders = 0;
		store.subscribe(() => renders++);
		const before = store.getSnapshot();
		store.dismissNotice();
		store.dismissError('/nothing');
		expect(store.getSnapshot()).toBe(before);
		expect(renders).toBe(0);
		store.setWritable('/a.vmdk', true);
		expect(store.getSnapshot()).not.toBe(before);
		expect(renders).toBe(1);
	});

	it('opens paths in order, once each, and mounts them read-only when "Mount when opened" is on', async () => {
		const store = makeStore(true);
		await store.open(['/b.vmdk', '/a.vmdk', '/b.vmdk']);
		await store.open(['/a.vmdk']);
		const s = store.getSnapshot();
		expect(s.sources.map((x) => [x.path, x.status])).toEqual([
			['/b.vmdk', 'ready'],
			['/a.vmdk', 'ready'],
		]);
		expect(bridge.callsOf('inspect')).toEqual([[['/b.vmdk']], [['/a.vmdk']]]);
		expect(bridge.callsOf('mount')).toEqual([
			[{ path: '/b.vmdk', readWrite: false, operationId: 'op-1' }],
			[{ path: '/a.vmdk', readWrite: false, operationId: 'op-2' }],
		]);
	});

	it('only lists what is opened when "Mount when opened" is off, and remembers the choice', async () => {
		const store = makeStore(false);
		expect(store.getSnapshot().mountOnOpen).toBe(false);
		await store.open(['/a.vmdk']);
		expect(bridge.callsOf('mount')).toEqual([]);
		store.setMountOnOpen(true);
		expect(bridge.callsOf('pref')).toEqual([[true]]);
	});

	it('does not mount again a disk that is already mounted (from the CLI)', async () => {
		bridge.listAnswer = { ok: true, value: [mountedDisk('/a.vmdk', 'aaaaaaaa', '/mnt/a')] };
		const store = makeStore(true);
		store.start();
		await settle();
		await store.open(['/a.vmdk']);
		expect(bridge.callsOf('mount')).toEqual([]);
	});

	it('keeps a file that cannot be opened in the list, with the table’s error', async () => {
		bridge.inspectAnswer = () => ({ ok: false, error: uiError('VMDK_NOT_VMDK', '/x.txt: not a VMDK') });
		const store = makeStore(true);
		await store.open(['/x.txt']);
		const [source] = store.getSnapshot().sources;
		expect(source).toMatchObject({ path: '/x.txt', status: 'failed', info: null });
		expect(source?.error?.code).toBe('VMDK_NOT_VMDK');
		expect(bridge.callsOf('mount')).toEqual([]);
	});

	it('lists paths opened outside the window (Finder, argv) and leaves mounting them to main', async () => {
		const store = makeStore(true);
		store.start();
		bridge.emitOpen(['/from-finder.vmdk']);
		await settle();
		expect(store.getSnapshot().sources.map((s) => [s.path, s.status])).toEqual([
			['/from-finder.vmdk', 'ready'],
		]);
		expect(bridge.callsOf('mount')).toEqual([]);
	});

	it('keeps the steps of work it did not start (main’s mount, the CLI’s) until they end', async () => {
		const store = makeStore(false);
		store.start();
		const step = {
			operationId: 'main-1',
			path: '/a.vmdk',
			phase: 'exporting' as const,
			message: 'Serving the disk',
		};
		bridge.emitProgress(step);
		expect([...store.getSnapshot().foreign.values()]).toEqual([step]);
		bridge.emitProgress({ ...step, phase: 'done', message: 'Mounted' });
		expect(store.getSnapshot().foreign.size).toBe(0);
		bridge.emitProgress({ ...step, operationId: 'main-2' });
		bridge.emitDaemon({ kind: 'disconnected', reason: 'gone' });
		expect(store.getSnapshot().foreign.size).toBe(0);
	});

	it('mounts writable only after the switch was turned on, and shows progress for its own call', async () => {
		const store = makeStore(false);
		store.start();
		let release = () => undefined as void;
		bridge.gate = new Promise((r) => (release = r));
		store.setWritable('/vm.vmwarevm', true);
		const done = store.mount({ path: '/vm.vmwarevm/disk.vmdk', sourcePath: '/vm.vmwarevm', partition: 2 });
		expect(store.getSnapshot().operations.get('/vm.vmwarevm/disk.vmdk')).toEqual({
			kind: 'mounting',
			operationId: 'op-1',
			progress: null,
		});
		const step = {
			operationId: 'op-1',
			path: '/vm.vmwarevm/disk.vmdk',
			phase: 'mounting-volume' as const,
			done: 0,
			total: 1,
			message: 'Mounting volume 1 of 1 (ext4)',
		};
		bridge.emitProgress({ ...step, operationId: 'someone-else' });
		expect(store.getSnapshot().operations.get('/vm.vmwarevm/disk.vmdk')?.progress).toBeNull();
		bridge.emitProgress(step);
		expect(store.getSnapshot().operations.get('/vm.vmwarevm/disk.vmdk')?.progress).toEqual(step);
		// A second click while it runs does nothing.
		await store.mount({ path: '/vm.vmwarevm/disk.vmdk', sourcePath: '/vm.vmwarevm' });
		release();
		await done;
		expect(bridge.callsOf('mount')).toEqual([
			[{ path: '/vm.vmwarevm/disk.vmdk', readWrite: true, operationId: 'op-1', partition: 2 }],
		]);
		expect(store.getSnapshot().operations.size).toBe(0);
	});

	it('keeps a refused mount’s error on that disk, with what was asked, and clears it on retry', async () => {
		const store = makeStore(false);
		store.setWritable('/vm', true);
		bridge.mountAnswer = () => ({ ok: false, error: uiError('DISK_LOCKED') });
		await store.mount({ path: '/vm', sourcePath: '/vm' });
		expect(store.getSnapshot().errors.get('/vm')).toEqual({
			error: uiError('DISK_LOCKED'),
			mount: { readWrite: true, partition: undefined },
		});
		bridge.mountAnswer = () => ({ ok: true, value: [mountedDisk('/vm/d.vmdk', 'dddddddd', '/mnt/d', true)] });
		await store.mount({ path: '/vm', sourcePath: '/vm', force: true });
		expect(bridge.callsOf('mount').at(-1)).toEqual([
			{ path: '/vm', readWrite: true, operationId: 'op-2', force: true },
		]);
		expect(store.getSnapshot().errors.has('/vm')).toBe(false);
		expect(store.getSnapshot().mounts.map((d) => d.id)).toEqual(['dddddddd']);
	});

	it('unmounts a disk, a volume, several disks or everything, and drops them from the list', async () => {
		const a = mountedDisk('/a.vmdk', 'aaaaaaaa', '/mnt/a');
		const b = mountedDisk('/b.vmdk', 'bbbbbbbb', '/mnt/b');
		const c = mountedDisk('/c.vmdk', 'cccccccc', '/mnt/c');
		bridge.listAnswer = { ok: true, value: [a, b, c] };
		bridge.unmountAnswer = (r) => ({
			ok: true,
			value: 'diskId' in r ? [a, b, c].filter((d) => d.id === r.diskId) : 'mountpoint' in r ? [b] : [c],
		});
		const store = makeStore();
		store.start();
		await settle();
		await store.unmountDisk('aaaaaaaa', '/a.vmdk');
		await store.unmountVolume('/mnt/b', '/b.vmdk');
		expect(store.getSnapshot().mounts.map((d) => d.id)).toEqual(['cccccccc']);
		await store.unmountAll();
		expect(store.getSnapshot().mounts).toEqual([]);
		expect(bridge.callsOf('unmount')).toEqual([
			[{ diskId: 'aaaaaaaa' }],
			[{ mountpoint: '/mnt/b' }],
			[{ all: true }],
		]);

		bridge.unmountAnswer = () => ({ ok: false, error: uiError('VOLUME_BUSY') });
		await store.unmountAll();
		expect(store.getSnapshot().errors.get(ALL_KEY)?.error.code).toBe('VOLUME_BUSY');
	});

	it('unmounts a bundle’s disks one after the other and stops at the first refusal', async () => {
		const store = makeStore();
		bridge.unmountAnswer = (r) =>
			'diskId' in r && r.diskId === 'bbbbbbbb'
				? { ok: false, error: uiError('VOLUME_BUSY') }
				: { ok: true, value: [] };
		await store.unmountDisks(['aaaaaaaa', 'bbbbbbbb', 'cccccccc'], '/vm');
		expect(bridge.callsOf('unmount')).toEqual([[{ diskId: 'aaaaaaaa' }], [{ diskId: 'bbbbbbbb' }]]);
		expect(store.getSnapshot().errors.get('/vm')?.error.code).toBe('VOLUME_BUSY');
	});

	it('opens dropped files by their paths, and says so when a drop has none', async () => {
		const store = makeStore(false);
		bridge.filePaths.set('disk.vmdk', '/home/u/disk.vmdk');
		await store.openDropped([{ name: 'from-browser.png', size: 3 }]);
		expect(store.getSnapshot().notice).toEqual({
			title: STRINGS.drop.noPathTitle,
			description: STRINGS.drop.noPath,
		});
		await store.openDropped([
			{ name: 'disk.vmdk', size: 1 },
			{ name: 'no-path', size: 1 },
		]);
		expect(store.getSnapshot().sources.map((s) => s.path)).toEqual(['/home/u/disk.vmdk']);
	});

	it('opens what the Open… dialog returns; a cancelled dialog opens nothing', async () => {
		const store = makeStore(false);
		await store.openDialog();
		expect(bridge.callsOf('inspect')).toEqual([]);
		bridge.dialogAnswer = { ok: true, value: ['/picked.vmdk'] };
		await store.openDialog();
		expect(store.getSnapshot().sources.map((s) => s.path)).toEqual(['/picked.vmdk']);
	});

	it('loads the helpers report, keeping the last one while it asks again', async () => {
		const store = makeStore();
		bridge.doctorAnswer = { ok: true, value: { platform: 'linux' } as never };
		await store.loadHelpers();
		expect(store.getSnapshot().helpers).toEqual({ kind: 'ready', report: { platform: 'linux' } });
		bridge.doctorAnswer = { ok: false, error: uiError('DAEMON_UNAVAILABLE') };
		const again = store.loadHelpers();
		expect(store.getSnapshot().helpers).toEqual({ kind: 'loading', report: { platform: 'linux' } });
		await again;
		expect(store.getSnapshot().helpers.kind).toBe('failed');
	});
});
