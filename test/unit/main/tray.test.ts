// SPDX-License-Identifier: MIT
// The tray glue with `electron` replaced by recorders: the menu built from the model, clicks
// running actions, the icon switching when volumes come and go.
import { describe, expect, it, vi } from 'vitest';
import type { MountedDisk } from '../../../src/shared/models.js';
import type { TrayAction } from '../../../src/main/tray/tray-menu.js';

interface Template {
	label?: string;
	type?: string;
	enabled?: boolean;
	click?: () => void;
	submenu?: Template[];
}
const images: { path: string; template: boolean }[] = [];
class RecordingTray {
	static last: RecordingTray;
	menu: Template[] = [];
	tooltip = '';
	image: { path: string };
	constructor(image: { path: string }) {
		this.image = image;
		RecordingTray.last = this;
	}
	setContextMenu(menu: { template: Template[] }): void {
		this.menu = menu.template;
	}
	setToolTip(text: string): void {
		this.tooltip = text;
	}
	setImage(image: { path: string }): void {
		this.image = image;
	}
	destroy(): void {}
}
vi.mock('electron', () => ({
	Tray: RecordingTray,
	Menu: { buildFromTemplate: (template: Template[]) => ({ template }) },
	nativeImage: {
		createFromPath: (path: string) => {
			const image = { path, template: false, setTemplateImage: (t: boolean) => (image.template = t) };
			images.push(image);
			return image;
		},
	},
}));

const { AppTray } = await import('../../../src/main/tray/tray.js');

const disk: MountedDisk = {
	id: 'abcd0123',
	path: '/vms/d.vmdk',
	rawPath: '/r/disk',
	readWrite: false,
	volumes: [
		{
			index: 1,
			name: 'p1',
			mountpoint: '/m/DATA',
			rawPath: '/r/p1',
			filesystem: { type: 'ext4', label: 'DATA', uuid: null },
			helper: 'fuse2fs',
			readOnly: true,
		},
	],
};

describe('AppTray', () => {
	it('uses template images on macOS, switching to the mounted one while volumes are mounted', () => {
		const tray = new AppTray('/app/resources', 'darwin', () => undefined);
		const recorded = RecordingTray.last;
		expect(recorded.image.path).toBe('/app/resources/tray/trayTemplate.png');
		expect(images.every((i) => i.template)).toBe(true);
		tray.update([disk], { kind: 'connected', pid: 1 });
		expect(recorded.image.path).toBe('/app/resources/tray/trayMountedTemplate.png');
		tray.update([], { kind: 'connected', pid: 1 });
		expect(recorded.image.path).toBe('/app/resources/tray/trayTemplate.png');
	});

	it('uses the coloured icon on Linux and rebuilds the menu on every update; clicks run actions', () => {
		const actions: TrayAction[] = [];
		const tray = new AppTray('/opt/app/resources', 'linux', (a) => actions.push(a));
		const recorded = RecordingTray.last;
		expect(recorded.image.path).toBe('/opt/app/resources/tray/tray-linux.png');
		expect(recorded.tooltip).toBe('VMDK Mounter — Starting the mount service…');
		tray.update([disk], { kind: 'connected', pid: 1 });
		expect(recorded.image.path).toBe('/opt/app/resources/tray/tray-linux-mounted.png');
		expect(recorded.tooltip).toBe('VMDK Mounter — 1 volume mounted');
		const volumeItem = recorded.menu.find((i) => i.label === 'DATA — ext4');
		expect(volumeItem?.submenu?.map((i) => i.label)).toEqual(['Reveal in File Manager', 'Unmount']);
		volumeItem?.submenu?.[1]?.click?.();
		recorded.menu.find((i) => i.label === 'Unmount All and Quit')?.click?.();
		expect(actions).toEqual([
			{ kind: 'unmount-volume', mountpoint: '/m/DATA' },
			{ kind: 'unmount-all-and-quit' },
		]);
		expect(recorded.menu[0]).toEqual({ label: '1 volume mounted', enabled: false });
	});
});
