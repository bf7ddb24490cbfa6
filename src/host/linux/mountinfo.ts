// SPDX-License-Identifier: MIT
/** What is mounted where, from `/proc/self/mountinfo` (machine-readable, unlike `mount`'s text). */
import { readFile } from 'node:fs/promises';

/** One mount. */
export interface MountEntry {
	/** Mount point, unescaped. */
	readonly mountPoint: string;
	/** Filesystem type (`fuse`, `fuse.fuse2fs`, `ext4` …). */
	readonly fsType: string;
	/** Mount source (`/dev/loop3`, `vmdk-mounter` …). */
	readonly source: string;
	/** `major:minor` of the filesystem (for FUSE, minor is the fusectl connection number). */
	readonly device: string;
}

/** Undoes mountinfo's octal escapes (`\040` is a space). */
function unescapeMountField(field: string): string {
	return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Parses mountinfo text. Fields: id parent major:minor root mountpoint opts [optional…] - type source superopts. */
export function parseMountInfo(text: string): MountEntry[] {
	const out: MountEntry[] = [];
	for (const line of text.split('\n')) {
		if (line.trim() === '') continue;
		const fields = line.split(' ');
		const sep = fields.indexOf('-', 6);
		const device = fields[2];
		const mountPoint = fields[4];
		const fsType = fields[sep + 1];
		const source = fields[sep + 2];
		if (
			sep < 0 ||
			device === undefined ||
			mountPoint === undefined ||
			fsType === undefined ||
			source === undefined
		) {
			continue;
		}
		out.push({
			mountPoint: unescapeMountField(mountPoint),
			fsType,
			source: unescapeMountField(source),
			device,
		});
	}
	return out;
}

/** The current mounts of this process's namespace. */
export async function readMounts(): Promise<MountEntry[]> {
	return parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8'));
}

/** True if `path` is a mount point now. */
export async function isMounted(path: string): Promise<boolean> {
	return (await readMounts()).some((m) => m.mountPoint === path);
}
