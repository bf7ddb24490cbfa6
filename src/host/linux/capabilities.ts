// SPDX-License-Identifier: MIT
/**
 * What this Linux host can mount with: which helper binaries exist (resolved to absolute
 * paths), whether we are root, which filesystems the kernel knows (`/proc/filesystems`), and
 * whether FUSE is usable. `VMDK_MOUNTER_HELPER_PATH` replaces PATH for the helper lookup
 * (tests use it to hide a helper); `VMDK_MOUNTER_NO_KERNEL_MOUNTS=1` turns loop + kernel
 * mounts off; `VMDK_MOUNTER_FUSE_BINDING=fuse-native` forces the libfuse 2 binding.
 */
import { constants as fsConstants } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import { release } from 'node:os';
import { typesOfHelper } from '../../core/index.js';
import type { HostProbe, HostTool } from '../common/host.js';
import { loadFuse3Addon } from '../node/fuse3-addon.js';
import { findTool } from '../node/run-tool.js';
import { LINUX_HELPER_TABLE } from './helper-table.js';

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
	fallocate: ['fallocate'],
};

/** System tools, always looked up on the normal PATH (only helpers are overridable). */
const SYSTEM_TOOLS = new Set(['losetup', 'mount', 'umount', 'fusermount3', 'fallocate']);

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
	fallocate: 'util-linux',
};

/** The Linux probe: the common one plus where each tool is. */
export interface LinuxProbe extends HostProbe {
	/** Absolute path of each installed tool, by id. */
	readonly toolPaths: ReadonlyMap<string, string>;
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
export async function probeLinux(env: NodeJS.ProcessEnv = process.env): Promise<LinuxProbe> {
	const searchPath = env.VMDK_MOUNTER_HELPER_PATH;
	const toolPaths = new Map<string, string>();
	for (const [id, names] of Object.entries(LINUX_TOOLS)) {
		for (const name of names) {
			const found = await findTool(name, SYSTEM_TOOLS.has(id) ? undefined : searchPath);
			if (found !== undefined) {
				toolPaths.set(id, found);
				break;
			}
		}
	}
	const kernelFilesystems = await readFile('/proc/filesystems', 'utf8').then(
		parseProcFilesystems,
		() => new Set<string>(), // No /proc: no kernel mounts.
	);
	const realRoot = process.getuid?.() === 0;
	const isRoot = realRoot && env.VMDK_MOUNTER_NO_KERNEL_MOUNTS !== '1';
	const fuseProblem = await fuseDeviceProblem();
	const userAllowOther = parseUserAllowOther(await readFile('/etc/fuse.conf', 'utf8').catch(() => ''));
	const binding =
		env.VMDK_MOUNTER_FUSE_BINDING !== 'fuse-native' && loadFuse3Addon() !== null ? 'fuse3' : 'fuse-native';

	const toolList: HostTool[] = Object.keys(LINUX_TOOLS).map((id) => ({
		id,
		path: toolPaths.get(id) ?? null,
		types: typesOfHelper(LINUX_HELPER_TABLE, id),
		install: `apt-get install ${DEBIAN_PACKAGES[id] ?? id}`,
		note: toolNote(id, realRoot, userAllowOther),
	}));
	const missing = [
		...new Set(toolList.filter((t) => t.path === null).map((t) => DEBIAN_PACKAGES[t.id] ?? t.id)),
	];
	const fuseAvailable = fuseProblem === undefined && toolPaths.has('fusermount3');
	return {
		platform: 'linux',
		osDescription: `Linux ${release()}`,
		isRoot,
		tools: new Set(toolPaths.keys()),
		kernelFilesystems,
		helperTable: LINUX_HELPER_TABLE,
		toolList,
		installCommand: missing.length > 0 ? `sudo apt-get install ${missing.join(' ')}` : null,
		fuse: {
			available: fuseAvailable,
			problem: fuseAvailable
				? undefined
				: (fuseProblem ?? 'fusermount3 is missing: install fuse3 (sudo apt-get install fuse3)'),
			binding,
			// A user's export is reachable only by that user's own processes; Debian's ntfs-3g is
			// setuid root and so is not one of them. Where fuse.conf allows, open it to other
			// credentials; the files are then owner-only (mode 0400), so other users stay out.
			exportAccess: !realRoot && userAllowOther ? 'allow_other' : 'owner',
		},
		notes:
			realRoot || userAllowOther
				? []
				: ['NTFS as a user needs the line `user_allow_other` in /etc/fuse.conf'],
		toolPaths,
		userAllowOther,
	};
}

/** Why a tool cannot work for this user even when installed, if so. */
function toolNote(id: string, root: boolean, userAllowOther: boolean): string | undefined {
	if (root) return undefined;
	// exfat-fuse always asks FUSE for a block device, which fusermount3 grants to root only.
	if (id === 'exfat-fuse') return 'works only as root';
	// Debian's ntfs-3g is setuid root: it reaches a user's export only through allow_other.
	if (id === 'ntfs-3g' && !userAllowOther) return 'as a user, needs `user_allow_other` in /etc/fuse.conf';
	return undefined;
}

/** Why `/dev/fuse` cannot be used by this user, or undefined. */
async function fuseDeviceProblem(): Promise<string | undefined> {
	try {
		if (!(await stat('/dev/fuse')).isCharacterDevice()) return '/dev/fuse is not a device';
	} catch {
		return '/dev/fuse is missing: install fuse3 and load the fuse module (modprobe fuse)';
	}
	try {
		// R_OK + W_OK: distinct bits, so the sum is their union. Root passes whatever the mode.
		await access('/dev/fuse', fsConstants.R_OK + fsConstants.W_OK);
		return undefined;
	} catch {
		return '/dev/fuse is not readable and writable by you (without udev: chmod 666 /dev/fuse)';
	}
}
