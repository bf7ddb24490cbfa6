// SPDX-License-Identifier: MIT
// The window's view model: opened sources joined with the daemon's mount list.
import { describe, expect, it } from 'vitest';
import { INITIAL_STATE, type AppState } from '../../../renderer/src/state/app-state.js';
import { buildWindowView, createWindowViewBuilder } from '../../../renderer/src/state/disk-views.js';
import type { InfoResult } from '../../../src/shared/models.js';
import { diskInfo, mountedDisk, uiError } from '../../helpers/fake-bridge.js';

function state(partial: Partial<AppState>): AppState {
	return { ...INITIAL_STATE, ...partial };
}

function ready(path: string, info: InfoResult, key = path): AppState['sources'][number] {
	return { key, path, status: 'ready', info, error: null };
}

const VM: InfoResult['vm'] = {
	vmxPath: '/vms/Test.vmwarevm/Test.vmx',
	kind: 'vmware',
	displayName: 'Test VM',
	locked: true,
	staleLock: false,
};

describe('buildWindowView', () => {
	it('shows an opened, unmounted disk with its volumes', () => {
		const view = buildWindowView(state({ sources: [ready('/d/a.vmdk', diskInfo('/d/a.vmdk'))] }));
		const [source] = view.sources;
		expect(source).toMatchObject({
			kind: 'disk',
			name: 'a.vmdk',
			folder: '/d',
			lock: 'none',
			canMount: true,
		});
		const [disk] = source?.disks ?? [];
		expect(disk).toMatchObject({
			state: 'not-mounted',
			actionPath: '/d/a.vmdk',
			capacityBytes: 64 * 1024 * 1024,
		});
		expect(disk?.volumes.map((v) => [v.index, v.typeName, v.label, v.state, v.canMount])).toEqual([
			[1, 'ext4', 'DATA', 'not-mounted', true],
			// Swap holds no files: listed, never offered.
			[2, 'swap', null, 'unavailable', false],
		]);
		expect(view.others).toEqual([]);
		expect(view.mountedVolumeCount).toBe(0);
	});

	it('joins the mount list by the disk’s path and the volume’s index', () => {
		const view = buildWindowView(
			state({
				sources: [ready('/d/a.vmdk', diskInfo('/d/a.vmdk'))],
				mounts: [mountedDisk('/d/a.vmdk', 'aaaaaaaa', '/mnt/a/DATA')],
			}),
		);
		const disk = view.sources[0]?.disks[0];
		expect(disk?.state).toBe('mounted-read-only');
		expect(disk?.volumes[0]).toMatchObject({
			state: 'mounted',
			mountpoint: '/mnt/a/DATA',
			helper: 'fuse2fs',
			canMount: false,
			// The disk's only mounted volume: unmounting it is unmounting the disk.
			canUnmount: true,
		});
		expect(disk?.volumes[1]).toMatchObject({ state: 'unavailable', problem: 'swap space holds no files' });
		expect(view.others).toEqual([]);
		expect(view.mountedVolumeCount).toBe(1);
	});

	it('lists disks mounted elsewhere after the opened ones, in the daemon’s order', () => {
		const view = buildWindowView(
			state({
				sources: [ready('/d/a.vmdk', diskInfo('/d/a.vmdk'))],
				mounts: [
					mountedDisk('/cli/z.vmdk', 'zzzzzzzz', '/mnt/z', true),
					mountedDisk('/d/a.vmdk', 'aaaaaaaa', '/mnt/a'),
					mountedDisk('/cli/b.vmdk', 'bbbbbbbb', '/mnt/b'),
				],
			}),
		);
		expect(view.others.map((o) => [o.kind, o.name, o.disks[0]?.state, o.disks[0]?.actionPath])).toEqual([
			['mounted', 'z.vmdk', 'mounted-writable', 'zzzzzzzz'],
			['mounted', 'b.vmdk', 'mounted-read-only', 'bbbbbbbb'],
		]);
		expect(view.mountedVolumeCount).toBe(3);
	});

	it('keeps rows in place as the mount list changes', () => {
		const sources = [
			ready('/d/a.vmdk', diskInfo('/d/a.vmdk'), 'k1'),
			ready('/d/b.vmdk', diskInfo('/d/b.vmdk'), 'k2'),
		];
		const keys = (s: AppState) =>
			buildWindowView(s).sources.flatMap((src) => src.disks.flatMap((d) => d.volumes.map((v) => v.key)));
		const before = keys(state({ sources }));
		const after = keys(state({ sources, mounts: [mountedDisk('/d/b.vmdk', 'bbbbbbbb', '/mnt/b')] }));
		expect(after).toEqual(before);
	});

	it('lets a volume join its mounted disk, unless the disk is writable without it', () => {
		const info = diskInfo('/d/a.vmdk');
		const two: InfoResult = {
			...info,
			disks: [
				{
					...info.disks[0]!,
					volumes: [
						info.disks[0]!.volumes[0]!,
						{
							...info.disks[0]!.volumes[0]!,
							index: 2,
							name: 'p2',
							filesystem: { type: 'vfat', label: 'F', uuid: null },
						},
					],
				},
			],
		};
		const viewWith = (readWrite: boolean) => {
			const mounted = mountedDisk('/d/a.vmdk', 'aaaaaaaa', '/mnt/a', readWrite);
			return buildWindowView(
				state({
					sources: [ready('/d/a.vmdk', two)],
					mounts: [{ ...mounted, volumes: [mounted.volumes[0]!] }],
				}),
			).sources[0]?.disks[0]?.volumes;
		};
		// Read-only: the disk's export serves every volume, so p2 can be mounted now; p1 can go alone.
		expect(viewWith(false)?.[1]).toMatchObject({
			state: 'not-mounted',
			canMount: true,
			blockedByOtherVolume: false,
		});
		expect(viewWith(false)?.[0]).toMatchObject({ state: 'mounted', canUnmount: true });
		// Writable without p2: p2 has no overlay, so it cannot join.
		expect(viewWith(true)?.[1]).toMatchObject({
			state: 'not-mounted',
			canMount: false,
			blockedByOtherVolume: true,
		});
	});

	it('shows a VM with its lock, its disks and a bundle-wide operation on each disk', () => {
		const vmInfo: InfoResult = {
			vm: VM,
			disks: [...diskInfo('/vms/Test.vmwarevm/a.vmdk').disks, ...diskInfo('/vms/Test.vmwarevm/b.vmdk').disks],
		};
		const op = { kind: 'mounting' as const, operationId: 'op-1', progress: null };
		const view = buildWindowView(
			state({
				sources: [ready('/vms/Test.vmwarevm', vmInfo)],
				operations: new Map([['/vms/Test.vmwarevm', op]]),
				errors: new Map([
					['/vms/Test.vmwarevm', { error: uiError('DISK_LOCKED'), mount: { readWrite: true } }],
				]),
				writable: new Set(['/vms/Test.vmwarevm']),
			}),
		);
		const [source] = view.sources;
		expect(source).toMatchObject({
			kind: 'vm',
			name: 'Test VM',
			lock: 'locked',
			writable: true,
			operation: op,
		});
		expect(source?.actionError?.error.code).toBe('DISK_LOCKED');
		expect(source?.disks.map((d) => [d.name, d.actionPath, d.state])).toEqual([
			['a.vmdk', '/vms/Test.vmwarevm/a.vmdk', 'mounting'],
			['b.vmdk', '/vms/Test.vmwarevm/b.vmdk', 'mounting'],
		]);
		expect(view.busy).toBe(true);
		const stale = buildWindowView(
			state({ sources: [ready('/v', { ...vmInfo, vm: { ...VM, staleLock: true } })] }),
		);
		expect(stale.sources[0]?.lock).toBe('stale');
	});

	it('shows the snapshot chain newest first, and a disk of a VM that could not be opened', () => {
		const info = diskInfo('/vm/d-000002.vmdk');
		const disk = info.disks[0]!;
		const view = buildWindowView(
			state({
				sources: [
					ready('/vm', {
						vm: { ...VM, locked: false },
						disks: [
							{
								...disk,
								chain: [
									{ ...disk.chain[0]!, path: '/vm/d-000002.vmdk' },
									{ ...disk.chain[0]!, path: '/vm/d-000001.vmdk' },
									{ ...disk.chain[0]!, path: '/vm/d.vmdk' },
								],
							},
							{
								...disk,
								path: '/vm/gone.vmdk',
								volumes: [],
								error: { code: 'INPUT_NOT_FOUND', message: 'gone' },
							},
						],
					}),
				],
			}),
		);
		const [first, second] = view.sources[0]?.disks ?? [];
		expect(first?.chain).toEqual(['d-000002.vmdk', 'd-000001.vmdk', 'd.vmdk']);
		expect(second?.openError).toBe('gone');
		expect(view.sources[0]?.canMount).toBe(true);
	});

	it('shows work started elsewhere on the disk it is about', () => {
		const step = {
			operationId: 'main-1',
			path: '/d/a.vmdk',
			phase: 'mounting-volume' as const,
			volumeIndex: 1,
			done: 0,
			total: 1,
			message: 'Mounting volume 1 of 1 (ext4)',
		};
		const view = buildWindowView(
			state({ sources: [ready('/d/a.vmdk', diskInfo('/d/a.vmdk'))], foreign: new Map([['main-1', step]]) }),
		);
		expect(view.sources[0]?.disks[0]).toMatchObject({
			state: 'mounting',
			operation: { kind: 'mounting', operationId: 'main-1', progress: step },
		});
		// Work on another disk is not this one's.
		const other = buildWindowView(
			state({
				sources: [ready('/d/b.vmdk', diskInfo('/d/b.vmdk'))],
				foreign: new Map([['main-1', step]]),
			}),
		);
		expect(other.sources[0]?.disks[0]?.state).toBe('not-mounted');
	});

	it('reuses the view of a card whose inputs did not change', () => {
		const build = createWindowViewBuilder();
		const sources = [
			ready('/d/a.vmdk', diskInfo('/d/a.vmdk'), 'k1'),
			ready('/d/b.vmdk', diskInfo('/d/b.vmdk'), 'k2'),
		];
		const first = build(state({ sources }));
		const second = build(state({ sources, mounts: [mountedDisk('/d/b.vmdk', 'bbbbbbbb', '/mnt/b')] }));
		expect(second.sources[0]).toBe(first.sources[0]);
		expect(second.sources[1]).not.toBe(first.sources[1]);
		expect(second.sources[1]?.disks[0]?.state).toBe('mounted-read-only');
	});

	it('mounts the disks of an .ova with the appliance, not one by one', () => {
		const member = '/dl/App.ova/App-disk1.vmdk';
		const appliance: InfoResult = {
			vm: { vmxPath: '/dl/App.ova', kind: 'ova', displayName: 'App', locked: false },
			disks: diskInfo(member).disks,
		};
		const [source] = buildWindowView(state({ sources: [ready('/dl/App.ova', appliance)] })).sources;
		expect(source?.canMount).toBe(true);
		expect(source?.disks[0]).toMatchObject({ standalone: false, actionPath: member });
		expect(source?.disks[0]?.volumes.map((v) => v.canMount)).toEqual([false, false]);
		// Unpacked (an .ovf next to its files): the disks are files of their own.
		const unpacked = buildWindowView(
			state({
				sources: [
					ready('/dl/App', {
						...appliance,
						vm: { ...appliance.vm!, vmxPath: '/dl/App/App.ovf' },
						disks: diskInfo('/dl/App/d.vmdk').disks,
					}),
				],
			}),
		);
		expect(unpacked.sources[0]?.disks[0]?.standalone).toBe(true);
	});

	it('shows a source that is being read or could not be opened', () => {
		const view = buildWindowView(
			state({
				sources: [
					{ key: 'a', path: '/a.vmdk', status: 'inspecting', info: null, error: null },
					{ key: 'b', path: '/b.txt', status: 'failed', info: null, error: uiError('VMDK_NOT_VMDK') },
				],
			}),
		);
		expect(view.sources.map((s) => [s.name, s.status, s.disks.length, s.error?.code])).toEqual([
			['a.vmdk', 'inspecting', 0, undefined],
			['b.txt', 'failed', 0, 'VMDK_NOT_VMDK'],
		]);
	});
});
