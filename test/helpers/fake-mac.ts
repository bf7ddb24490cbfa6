// SPDX-License-Identifier: MIT
/**
 * A stand-in Mac for the darwin host's orchestration tests: tool calls replayed from a
 * transcript, a set of paths that "exist", no waiting. It checks which commands the host runs
 * and how it reads their answers — not macOS (docs/macos.md).
 */
import type { DarwinProbe } from '../../src/host/darwin/capabilities.js';
import { MACOS_HELPER_TABLE } from '../../src/host/darwin/helper-table.js';
import type { DarwinSystem } from '../../src/host/darwin/system.js';
import type { ToolReplay } from './tool-transcript.js';

/** Where the tools of a typical Mac are. */
export const MAC_TOOLS: Readonly<Record<string, string>> = {
	hdiutil: '/usr/bin/hdiutil',
	diskutil: '/usr/sbin/diskutil',
	mount: '/sbin/mount',
	umount: '/sbin/umount',
	lsof: '/usr/sbin/lsof',
	mount_hfs: '/sbin/mount_hfs',
	mount_apfs: '/sbin/mount_apfs',
	mount_msdos: '/sbin/mount_msdos',
	mount_exfat: '/sbin/mount_exfat',
	mount_ntfs: '/sbin/mount_ntfs',
	'ntfs-3g': '/opt/homebrew/bin/ntfs-3g',
	'fuse-ext2': '/usr/local/bin/fuse-ext2',
	ext4fuse: '/opt/homebrew/bin/ext4fuse',
};

/** The export folder of the transcripts (spaces as on a real Mac). */
export const EXPORTS_DIR = '/Users/me/Library/Application Support/VMDK Mounter/disks';
/** The volume files of disk `0a1b2c3d`. */
export const RAW_P1 = `${EXPORTS_DIR}/0a1b2c3d/p1`;
export const RAW_P2 = `${EXPORTS_DIR}/0a1b2c3d/p2`;

/** A probe of a Mac with macFUSE usable and the given tools. */
export function fakeDarwinProbe(
	over: { macosMajor?: number; tools?: readonly string[]; exportFuse?: DarwinProbe['exportFuse'] } = {},
): DarwinProbe {
	const major = over.macosMajor ?? 15;
	const ids = over.tools ?? Object.keys(MAC_TOOLS);
	const toolPaths = new Map(ids.map((id) => [id, MAC_TOOLS[id] ?? `/usr/local/bin/${id}`]));
	const attachWith: ('diskutil' | 'hdiutil')[] = [];
	if (toolPaths.has('diskutil') && major >= 13) attachWith.push('diskutil');
	if (toolPaths.has('hdiutil')) attachWith.push('hdiutil');
	const exportFuse = over.exportFuse === undefined ? 'macfuse' : over.exportFuse;
	return {
		platform: 'darwin',
		osDescription: `macOS ${major}.0 Apple silicon`,
		isRoot: false,
		tools: new Set(toolPaths.keys()),
		kernelFilesystems: new Set(['hfs', 'hfsplus', 'apfs', 'vfat', 'msdos', 'exfat', 'ntfs']),
		helperTable: MACOS_HELPER_TABLE,
		toolList: [],
		installCommand: null,
		fuse: {
			available: exportFuse !== null,
			binding: 'fuse3',
			exportAccess: exportFuse === 'macfuse' ? 'allow_root' : 'owner',
		},
		notes: [],
		macosVersion: `${major}.0`,
		macosMajor: major,
		appleSilicon: true,
		toolPaths,
		macfuse: { installed: true, kextLoaded: true, kextUsable: true, fskit: 'absent', libfuse3: true },
		fuseT: { installed: exportFuse === 'fuse-t', smb: false },
		exportFuse,
		fsBundles: ['macfuse.fs'],
		attachWith,
		detachWith: toolPaths.has('hdiutil') && major < 27 ? 'hdiutil' : 'diskutil',
	};
}

/** A machine whose tools answer from `replay` and where only `existing` paths exist. */
export function fakeMacSystem(
	replay: ToolReplay,
	existing: readonly string[] = [],
): DarwinSystem & { sleeps: number[] } {
	const sleeps: number[] = [];
	return {
		run: replay.run,
		exists: async (path) => existing.includes(path),
		isExecutable: async () => false,
		list: async () => [],
		readText: async () => undefined,
		sleep: async (ms) => {
			sleeps.push(ms);
		},
		uid: 501,
		groups: [20, 80],
		fuse3AddonLoads: () => true,
		sleeps,
	};
}
