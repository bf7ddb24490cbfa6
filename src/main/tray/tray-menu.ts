// SPDX-License-Identifier: MIT
/**
 * The menu-bar (tray) menu as a pure function of the daemon's mount list and connection state
 * (STYLE §48): main rebuilds it on every change event, so an "Unmount" item is never stale.
 * Every mounted volume — whoever mounted it, the window, Finder or the CLI — is listed under its
 * disk with Reveal and Unmount; then Unmount All, Open…, the window, and the two ways to quit:
 * plain Quit leaves the volumes mounted (the daemon keeps them), "Unmount All and Quit" does not.
 */
import type { DaemonState } from '../../shared/ipc-contract.js';
import type { MountedDisk, MountedVolume } from '../../shared/models.js';

/** What a menu item does when chosen. */
export type TrayAction =
	| { readonly kind: 'reveal'; readonly path: string }
	| { readonly kind: 'unmount-volume'; readonly mountpoint: string }
	| { readonly kind: 'unmount-disk'; readonly diskId: string }
	| { readonly kind: 'unmount-all' }
	| { readonly kind: 'open' }
	| { readonly kind: 'show-window' }
	| { readonly kind: 'quit' }
	| { readonly kind: 'unmount-all-and-quit' };

/** One item of the menu model (Electron's `MenuItemConstructorOptions` is built from it). */
export type TrayItem =
	| {
			readonly type: 'action';
			readonly label: string;
			readonly action: TrayAction;
			readonly enabled: boolean;
	  }
	| { readonly type: 'label'; readonly label: string }
	| { readonly type: 'submenu'; readonly label: string; readonly items: readonly TrayItem[] }
	| { readonly type: 'separator' };

/** Words that differ per platform. */
export interface TrayWords {
	/** "Finder" on macOS, "File Manager" elsewhere. */
	readonly fileManager: string;
}

/** Words for a platform (`process.platform`). */
export function trayWords(platform: string): TrayWords {
	return { fileManager: platform === 'darwin' ? 'Finder' : 'File Manager' };
}

/** 1.5 GB-style sizes (decimal units, as Finder and GNOME Files show them). */
export function formatSize(bytes: number): string {
	const units = ['bytes', 'KB', 'MB', 'GB', 'TB', 'PB'];
	let value = bytes;
	let unit = 0;
	while (value >= 1000 && unit < units.length - 1) {
		value /= 1000;
		unit++;
	}
	if (unit === 0) return `${bytes} bytes`;
	return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`;
}

/** The last part of a path. */
function baseName(path: string): string {
	const trimmed = path.replace(/\/+$/, '');
	return trimmed.slice(trimmed.lastIndexOf('/') + 1) || path;
}

/** How a volume is named in the menu: its label (else its export name), type and size. */
export function volumeTitle(volume: MountedVolume): string {
	const fs = volume.filesystem;
	const name = fs?.label !== null && fs?.label !== undefined && fs.label !== '' ? fs.label : volume.name;
	const details = [fs?.type, fs?.sizeBytes === undefined ? undefined : formatSize(fs.sizeBytes)].filter(
		(d): d is string => d !== undefined,
	);
	if (!volume.readOnly) details.push('read-write');
	return details.length === 0 ? name : `${name} — ${details.join(', ')}`;
}

/** Mounted volumes (with a mountpoint) of all disks. */
export function mountedVolumeCount(disks: readonly MountedDisk[]): number {
	return disks.reduce((n, d) => n + d.volumes.filter((v) => v.mountpoint !== null).length, 0);
}

/** The items of one disk: its name, then each volume (mounted ones as submenus). */
function diskItems(disk: MountedDisk, words: TrayWords): TrayItem[] {
	const items: TrayItem[] = [{ type: 'label', label: baseName(disk.path) }];
	for (const volume of disk.volumes) {
		const title = volumeTitle(volume);
		if (volume.mountpoint === null) {
			items.push({ type: 'label', label: `${title} (not mounted)` });
			continue;
		}
		const label = volume.state === 'degraded' ? `${title} (needs attention)` : title;
		items.push({
			type: 'submenu',
			label,
			items: [
				{
					type: 'action',
					label: `Reveal in ${words.fileManager}`,
					action: { kind: 'reveal', path: volume.mountpoint },
					enabled: true,
				},
				{
					type: 'action',
					label: 'Unmount',
					action: { kind: 'unmount-volume', mountpoint: volume.mountpoint },
					enabled: true,
				},
			],
		});
	}
	if (disk.volumes.filter((v) => v.mountpoint !== null).length > 1) {
		items.push({
			type: 'action',
			label: `Unmount All of ${baseName(disk.path)}`,
			action: { kind: 'unmount-disk', diskId: disk.id },
			enabled: true,
		});
	}
	return items;
}

/** The status line at the top of the menu. */
function statusLine(disks: readonly MountedDisk[], daemon: DaemonState): string {
	if (daemon.kind === 'connecting') return 'Starting the mount service…';
	if (daemon.kind === 'disconnected') return 'Mount service not running';
	const n = mountedVolumeCount(disks);
	if (n === 0) return 'No volumes mounted';
	return n === 1 ? '1 volume mounted' : `${n} volumes mounted`;
}

/** The whole tray menu for a mount list and connection state. */
export function buildTrayMenu(
	disks: readonly MountedDisk[],
	daemon: DaemonState,
	words: TrayWords,
): readonly TrayItem[] {
	const connected = daemon.kind === 'connected';
	const shown = connected ? disks : [];
	const anyMounted = mountedVolumeCount(shown) > 0;
	const items: TrayItem[] = [{ type: 'label', label: statusLine(shown, daemon) }];
	for (const disk of shown) {
		items.push({ type: 'separator' }, ...diskItems(disk, words));
	}
	items.push(
		{ type: 'separator' },
		{
			type: 'action',
			label: 'Unmount All',
			action: { kind: 'unmount-all' },
			enabled: connected && shown.length > 0,
		},
		{ type: 'action', label: 'Open…', action: { kind: 'open' }, enabled: true },
		{ type: 'action', label: 'Show Window', action: { kind: 'show-window' }, enabled: true },
		{ type: 'separator' },
		{
			type: 'action',
			label: 'Unmount All and Quit',
			action: { kind: 'unmount-all-and-quit' },
			enabled: connected && shown.length > 0,
		},
		{
			type: 'action',
			// Says what happens to the volumes, so nobody is surprised either way.
			label: anyMounted ? 'Quit (Volumes Stay Mounted)' : 'Quit VMDK Mounter',
			action: { kind: 'quit' },
			enabled: true,
		},
	);
	return items;
}

/** The tray icon's tooltip. */
export function trayTooltip(disks: readonly MountedDisk[], daemon: DaemonState): string {
	return `VMDK Mounter — ${statusLine(daemon.kind === 'connected' ? disks : [], daemon)}`;
}
