// SPDX-License-Identifier: MIT
import { describe, expect, it } from 'vitest';
import type { MountedDisk, MountedVolume } from '../../../src/shared/models.js';
import {
	buildTrayMenu,
	formatSize,
	mountedVolumeCount,
	trayTooltip,
	trayWords,
	volumeTitle,
	type TrayAction,
	type TrayItem,
} from '../../../src/main/tray/tray-menu.js';

function volume(index: number, over: Partial<MountedVolume> = {}): MountedVolume {
	return {
		index,
		name: `p${index}`,
		mountpoint: `/run/user/1000/vmdk-mounter/mnt/disk-p${index}`,
		rawPath: `/run/user/1000/vmdk-mounter/disks/abcd0123/p${index}`,
		filesystem: { type: 'ext4', label: `DATA${index}`, uuid: null, sizeBytes: 1_500_000_000 },
		helper: 'fuse2fs',
		readOnly: true,
		...over,
	};
}

function disk(id: string, path: string, volumes: MountedVolume[], readWrite = false): MountedDisk {
	return { id, path, rawPath: `/run/x/disks/${id}/disk`, readWrite, volumes };
}

const connected = { kind: 'connected', pid: 42 } as const;
const linux = trayWords('linux');

/** The labels of a menu, submenus indented, for readable expectations. */
function outline(items: readonly TrayItem[], depth = 0): string[] {
	return items.flatMap((item) => {
		const pad = '  '.repeat(depth);
		switch (item.type) {
			case 'separator':
				return [`${pad}---`];
			case 'label':
				return [`${pad}[${item.label}]`];
			case 'action':
				return [`${pad}${item.label}${item.enabled ? '' : ' (disabled)'}`];
			case 'submenu':
				return [`${pad}${item.label} >`, ...outline(item.items, depth + 1)];
		}
	});
}

/** Every action of a menu, depth first. */
function actions(items: readonly TrayItem[]): TrayAction[] {
	return items.flatMap((i) =>
		i.type === 'action' ? [i.action] : i.type === 'submenu' ? actions(i.items) : [],
	);
}

describe('tray menu model', () => {
	it('with nothing mounted: status, Open…, the window, Quit; Unmount items disabled', () => {
		expect(outline(buildTrayMenu([], connected, linux))).toEqual([
			'[No volumes mounted]',
			'---',
			'Unmount All (disabled)',
			'Open…',
			'Show Window',
			'---',
			'Unmount All and Quit (disabled)',
			'Quit VMDK Mounter',
		]);
	});

	it('lists every volume under its disk with Reveal and Unmount; Quit says the volumes stay', () => {
		const disks = [
			disk('abcd0123', '/home/u/vms/Win10.vmdk', [
				volume(1, {
					filesystem: { type: 'ntfs', label: 'System Reserved', uuid: null, sizeBytes: 524_288_000 },
					helper: 'ntfs-3g',
				}),
				volume(2, { filesystem: { type: 'ntfs', label: null, uuid: null, sizeBytes: 63_000_000_000 } }),
				volume(3, { mountpoint: null, filesystem: { type: 'swap', label: null, uuid: null }, helper: null }),
			]),
			disk('ef012345', '/mnt/usb/linux.vmwarevm/Virtual Disk.vmdk', [volume(1, { readOnly: false })], true),
		];
		expect(outline(buildTrayMenu(disks, connected, trayWords('darwin')))).toEqual([
			'[3 volumes mounted]',
			'---',
			'[Win10.vmdk]',
			'System Reserved — ntfs, 524 MB >',
			'  Reveal in Finder',
			'  Unmount',
			'p2 — ntfs, 63.0 GB >',
			'  Reveal in Finder',
			'  Unmount',
			'[p3 — swap (not mounted)]',
			'Unmount All of Win10.vmdk',
			'---',
			'[Virtual Disk.vmdk]',
			'DATA1 — ext4, 1.5 GB, read-write >',
			'  Reveal in Finder',
			'  Unmount',
			'---',
			'Unmount All',
			'Open…',
			'Show Window',
			'---',
			'Unmount All and Quit',
			'Quit (Volumes Stay Mounted)',
		]);
		expect(actions(buildTrayMenu(disks, connected, linux))).toEqual([
			{ kind: 'reveal', path: '/run/user/1000/vmdk-mounter/mnt/disk-p1' },
			{ kind: 'unmount-volume', mountpoint: '/run/user/1000/vmdk-mounter/mnt/disk-p1' },
			{ kind: 'reveal', path: '/run/user/1000/vmdk-mounter/mnt/disk-p2' },
			{ kind: 'unmount-volume', mountpoint: '/run/user/1000/vmdk-mounter/mnt/disk-p2' },
			{ kind: 'unmount-disk', diskId: 'abcd0123' },
			{ kind: 'reveal', path: '/run/user/1000/vmdk-mounter/mnt/disk-p1' },
			{ kind: 'unmount-volume', mountpoint: '/run/user/1000/vmdk-mounter/mnt/disk-p1' },
			{ kind: 'unmount-all' },
			{ kind: 'open' },
			{ kind: 'show-window' },
			{ kind: 'unmount-all-and-quit' },
			{ kind: 'quit' },
		]);
	});

	it('is rebuilt from each list: an unmounted volume disappears, a new one appears', () => {
		const before = [disk('abcd0123', '/d.vmdk', [volume(1), volume(2)])];
		const after = [disk('abcd0123', '/d.vmdk', [volume(2)]), disk('99990000', '/cli.vmdk', [volume(7)])];
		const mountpointsIn = (items: readonly TrayItem[]) =>
			actions(items).flatMap((a) => (a.kind === 'unmount-volume' ? [a.mountpoint] : []));
		expect(mountpointsIn(buildTrayMenu(before, connected, linux))).toEqual([
			'/run/user/1000/vmdk-mounter/mnt/disk-p1',
			'/run/user/1000/vmdk-mounter/mnt/disk-p2',
		]);
		expect(mountpointsIn(buildTrayMenu(after, connected, linux))).toEqual([
			'/run/user/1000/vmdk-mounter/mnt/disk-p2',
			'/run/user/1000/vmdk-mounter/mnt/disk-p7',
		]);
	});

	it('marks a degraded volume and uses the file manager word of the platform', () => {
		const items = buildTrayMenu(
			[disk('abcd0123', '/d.vmdk', [volume(1, { state: 'degraded' })])],
			connected,
			linux,
		);
		expect(outline(items)).toContain('DATA1 — ext4, 1.5 GB (needs attention) >');
		expect(outline(items)).toContain('  Reveal in File Manager');
	});

	it('while the daemon is away: says so, lists nothing stale, and offers no unmount', () => {
		const disks = [disk('abcd0123', '/d.vmdk', [volume(1)])];
		for (const state of [
			{ kind: 'disconnected', reason: 'gone' } as const,
			{ kind: 'connecting' } as const,
		]) {
			const items = buildTrayMenu(disks, state, linux);
			const enabled = items.filter((i) => i.type !== 'action' || i.enabled);
			expect(actions(enabled).filter((a) => a.kind.startsWith('unmount'))).toHaveLength(0);
			expect(outline(items)).toContain('Unmount All (disabled)');
			expect(outline(items)).toContain('Quit VMDK Mounter');
		}
		expect(outline(buildTrayMenu(disks, { kind: 'disconnected', reason: 'x' }, linux))[0]).toBe(
			'[Mount service not running]',
		);
		expect(trayTooltip(disks, { kind: 'connecting' })).toBe('VMDK Mounter — Starting the mount service…');
		expect(trayTooltip(disks, connected)).toBe('VMDK Mounter — 1 volume mounted');
	});

	it('names volumes by label, else export name; sizes in decimal units', () => {
		expect(volumeTitle(volume(4, { filesystem: null }))).toBe('p4');
		expect(volumeTitle(volume(4, { filesystem: { type: 'vfat', label: '', uuid: null } }))).toBe('p4 — vfat');
		expect([999, 1000, 1_234_567, 123_456_789_012, 5e15].map(formatSize)).toEqual([
			'999 bytes',
			'1.0 KB',
			'1.2 MB',
			'123 GB',
			'5.0 PB',
		]);
		expect(mountedVolumeCount([disk('a', '/a', [volume(1), volume(2, { mountpoint: null })])])).toBe(1);
	});
});
