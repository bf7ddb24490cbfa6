// SPDX-License-Identifier: MIT
/**
 * The menu-bar icon: a template image on macOS (black and clear; the system draws it for light
 * and dark menu bars), a coloured icon on Linux. Its menu comes from the pure model in
 * `tray-menu.ts` and is rebuilt on every mount-list or connection change; main says what the
 * actions do. Only type-checked here (the Electron binary cannot run on our machines).
 */
import { join } from 'node:path';
import { Menu, Tray, nativeImage, type MenuItemConstructorOptions, type NativeImage } from 'electron';
import type { DaemonState } from '../../shared/ipc-contract.js';
import type { MountedDisk } from '../../shared/models.js';
import {
	buildTrayMenu,
	mountedVolumeCount,
	trayTooltip,
	trayWords,
	type TrayAction,
	type TrayItem,
} from './tray-menu.js';

/** The tray image for a platform and state, inside the app's `resources/tray` folder. */
export function trayIconPath(resourcesDir: string, platform: string, mounted: boolean): string {
	// `nativeImage` picks up the `@2x` file beside it on high-density screens by itself.
	const name =
		platform === 'darwin'
			? mounted
				? 'trayMountedTemplate.png'
				: 'trayTemplate.png'
			: mounted
				? 'tray-linux-mounted.png'
				: 'tray-linux.png';
	return join(resourcesDir, 'tray', name);
}

/** Electron's menu template for the model; `onAction` runs the chosen item's action. */
export function toMenuTemplate(
	items: readonly TrayItem[],
	onAction: (action: TrayAction) => void,
): MenuItemConstructorOptions[] {
	return items.map((item): MenuItemConstructorOptions => {
		switch (item.type) {
			case 'separator':
				return { type: 'separator' };
			case 'label':
				return { label: item.label, enabled: false };
			case 'submenu':
				return { label: item.label, submenu: toMenuTemplate(item.items, onAction) };
			case 'action':
				return { label: item.label, enabled: item.enabled, click: () => onAction(item.action) };
		}
	});
}

/** The app's tray icon and menu. */
export class AppTray {
	private readonly tray: Tray;
	private readonly platform: string;
	private readonly onAction: (action: TrayAction) => void;
	private readonly resourcesDir: string;
	private mounted = false;

	constructor(resourcesDir: string, platform: string, onAction: (action: TrayAction) => void) {
		this.resourcesDir = resourcesDir;
		this.platform = platform;
		this.onAction = onAction;
		this.tray = new Tray(this.image(false));
		this.update([], { kind: 'connecting' });
	}

	private image(mounted: boolean): NativeImage {
		const image = nativeImage.createFromPath(trayIconPath(this.resourcesDir, this.platform, mounted));
		if (this.platform === 'darwin') image.setTemplateImage(true);
		return image;
	}

	/** Rebuilds the menu and tooltip from the current mount list and connection state. */
	update(disks: readonly MountedDisk[], daemon: DaemonState): void {
		const model = buildTrayMenu(disks, daemon, trayWords(this.platform));
		this.tray.setContextMenu(Menu.buildFromTemplate(toMenuTemplate(model, this.onAction)));
		this.tray.setToolTip(trayTooltip(disks, daemon));
		// The icon says at a glance whether anything is mounted.
		const mounted = daemon.kind === 'connected' && mountedVolumeCount(disks) > 0;
		if (mounted !== this.mounted) this.tray.setImage(this.image(mounted));
		this.mounted = mounted;
	}

	/** Removes the icon. */
	destroy(): void {
		this.tray.destroy();
	}
}
