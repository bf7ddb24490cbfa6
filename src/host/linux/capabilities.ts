// SPDX-License-Identifier: MIT
/**
 * What this Linux host can mount with: which helper binaries exist (resolved to absolute
 * paths), whether we are root, and which filesystems the kernel knows (`/proc/filesystems`).
 * `VMDK_MOUNTER_HELPER_PATH` replaces PATH for the helper lookup (tests use it to hide a
 * helper); `VMDK_MOUNTER_NO_KERNEL_MOUNTS=1` turns loop + kernel mounts off.
 */
import { constants as fsConstants } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import type { HostCapabilities } from '../../core/index.js';
import { findTool } from '../node/run-tool.js';

/** Tool ids and the program names that provide them, in lookup order. */
export const LINUX_TOOLS: Readonly<Record<string, readonly string[]>> = {
	fuse2fs: ['fuse2fs'],
	'ntfs-3g': ['ntfs-3g'],
	fusefat: ['fusefat'],
	'exfat-fuse': ['mount.exfat-fuse', 'exfat-fuse'],
	losetup: ['losetup'],
	mount: ['mount'],
	umount: ['umount'],
	fusermount3: ['fusermount3', 'fusermount'],
};

/** The Debian package that installs each tool. */
export const DEBIAN_PACKAGES: Readonly<Record<string, string>> = {
	fuse2fs: 'fuse2fs',
	'ntfs-3g': 'ntfs-3g',
	fusefat: 'fusefat',
	'exfat-fuse': 'exfat-fuse',
	losetup: 'mount',
	mount: 'mount',
	umount: 'mount',
	fusermount3: 'fuse3',
};

/** Capabilities plus where each tool is. */
export interface LinuxHost extends HostCapabilities {
	/** Absolute path of each installed tool, by id. */
	readonly toolPaths: ReadonlyMap<string, string>;
	/** True when /dev/fuse exists and this user may open it (mode 0666 normally, set by udev). */
	readonly fuseDevice: boolean;
	/**
	 * True when `/etc/fuse.conf` has `user_allow_other`: a user's FUSE mount may then be reached
	 * by processes with other credentials, such as the setuid-root ntfs-3g of Debian.
	 */
	readonly userAllowOther: boolean;
}

/** Whether fuse.conf text enables `user_allow_other` (a line of its own, not commented out). */
export function parseUserAllowOther(text: string): boolean {
	return text.split('\n').some((line) => line.replace(/#.*/, '').trim() === 'user_allow_other');
}

/** Parses `/proc/filesystems` ("nodev\tproc", "\text4"). */
export function parseProcFilesystems(text: string): Set<string> {
	const out = new Set<string>();
	for (const line of text.split('\n')) {
		const name = line.split('\t').pop()?.trim();
		if (name !== undefined && name !== '') out.add(name);
	}
	return out;
}

/** Probes this host. */
export async function probeLinuxHost(env: NodeJS.ProcessEnv = process.env): Promise<LinuxHost> {
	const searchPath = env.VMDK_MOUNTER_HELPER_PATH;
	const toolPaths = new Map<string, string>();
	for (const [id, names] of Object.entries(LINUX_TOOLS)) {
		// System tools (mount, losetup) are always looked up normally: only helpers are overridable.
		const path = ['losetup', 'mount', 'umount', 'fusermount3'].includes(id) ? undefined : searchPath;
		for (const name of names) {
			const found = await findTool(name, path);
			if (found !== undefined) {
				toolPaths.set(id, found);
				break;
			}
		}
	}
	let kernelFilesystems = new Set<string>();
	try {
		kernelFilesystems = parseProcFilesystems(await readFile('/proc/filesystems', 'utf8'));
	} catch {
		// No /proc: no kernel mounts.
	}
	const isRoot =
		typeof process.getuid === 'function' &&
		process.getuid() === 0 &&
		env.VMDK_MOUNTER_NO_KERNEL_MOUNTS !== '1';
	let fuseDevice = false;
	try {
		fuseDevice = (await stat('/dev/fuse')).isCharacterDevice();
		// R_OK + W_OK: distinct bits, so the sum is their union. Root passes whatever the mode.
		await access('/dev/fuse', fsConstants.R_OK + fsConstants.W_OK);
	} catch {
		fuseDevice = false;
	}
	const userAllowOther = parseUserAllowOther(await readFile('/etc/fuse.conf', 'utf8').catch(() => ''));
	return {
		isRoot,
		tools: new Set(toolPaths.keys()),
		toolPaths,
		kernelFilesystems,
		fuseDevice,
		userAllowOther,
	};
}
