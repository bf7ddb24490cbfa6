// SPDX-License-Identifier: MIT
/**
 * What the system notifications say. A notice for volumes that appeared (however they were
 * mounted: the window, Finder, the CLI) when the window is not in front — a user who is looking
 * at the window sees them there — and one for every failure of something main started itself
 * (a double-click in Finder, the tray), in the words of the shared error table, the same the
 * window and the CLI use. Pure: main shows them with Electron's `Notification`.
 */
import { serializeError } from '../shared/app-error.js';
import type { MountedDisk, MountedVolume } from '../shared/models.js';
import { userMessage } from '../shared/user-messages.js';
import { volumeTitle } from './tray/tray-menu.js';

/** A notification's text, and the folder a click on it reveals (if any). */
export interface Notice {
	readonly title: string;
	readonly body: string;
	readonly revealPath?: string | undefined;
}

/** A volume that appeared in the mount list. */
export interface AddedVolume {
	readonly disk: MountedDisk;
	readonly volume: MountedVolume & { readonly mountpoint: string };
}

/** Volumes mounted in `next` that were not mounted in `previous` (matched by mountpoint). */
export function newlyMountedVolumes(
	previous: readonly MountedDisk[],
	next: readonly MountedDisk[],
): readonly AddedVolume[] {
	const before = new Set(
		previous.flatMap((d) => d.volumes.map((v) => v.mountpoint)).filter((m) => m !== null),
	);
	const added: AddedVolume[] = [];
	for (const disk of next) {
		for (const volume of disk.volumes) {
			if (volume.mountpoint !== null && !before.has(volume.mountpoint)) {
				added.push({ disk, volume: { ...volume, mountpoint: volume.mountpoint } });
			}
		}
	}
	return added;
}

function baseName(path: string): string {
	return path.slice(path.replace(/\/+$/, '').lastIndexOf('/') + 1);
}

/** The notice for volumes that appeared, or null when none did. */
export function mountedNotice(added: readonly AddedVolume[]): Notice | null {
	const first = added[0];
	if (first === undefined) return null;
	if (added.length === 1) {
		return {
			title: `Mounted ${volumeTitle(first.volume)}`,
			body: `From ${baseName(first.disk.path)}, at ${first.volume.mountpoint}`,
			revealPath: first.volume.mountpoint,
		};
	}
	const disks = [...new Set(added.map((a) => baseName(a.disk.path)))];
	return {
		title: `Mounted ${added.length} volumes`,
		body: `${added.map((a) => volumeTitle(a.volume)).join('; ')} — from ${disks.join(', ')}`,
		revealPath: first.volume.mountpoint,
	};
}

/** The notice for a failure: the table's title, its description, and the technical sentence. */
export function errorNotice(error: unknown, path?: string): Notice {
	const wire = serializeError(error);
	const { title, description } = userMessage(wire.code);
	const subject = path === undefined ? '' : `${baseName(path)}: `;
	return { title, body: `${subject}${description}\n${wire.message}` };
}
