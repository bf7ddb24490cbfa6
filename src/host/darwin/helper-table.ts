// SPDX-License-Identifier: MIT
/**
 * macOS's helpers as data for the mount plan (`src/core/plan`), in the form of Linux's table.
 *
 * - `diskimage`: the volume's export file is attached as a raw disk image and the system's own
 *   driver mounts it (`diskutil mount`), in `/Volumes/<label>`, visible in Finder. DiskArbitration
 *   probes the bytes itself, so one attempt covers whichever native type the volume holds.
 * - `ntfs-3g`, `fuse-ext2`, `ext4fuse`: FUSE helpers run on the export file (macFUSE).
 *
 * The unknown-type fallback keeps VMDKMounter's order, each name mapped to its macOS helper:
 * `ntfs`, `msdos`, `hfs` → the system drivers (one attempt: DiskArbitration detects which);
 * `ntfs-3g` → ntfs-3g; `ext2`, `ext3` → fuse-ext2, then ext4fuse.
 */
import type { HelperTable, HelperWay } from '../../core/index.js';

/** The helper id of "attach as a disk image, let macOS mount it". */
export const DISK_IMAGE_HELPER = 'diskimage';

/** A native type, mounted by macOS's own driver on the attached image. */
function native(fsType: string, name: string, readWrite: boolean): HelperWay {
	return {
		helper: DISK_IMAGE_HELPER,
		fsType,
		readOnlyOptions: ['ro'],
		readWriteOptions: readWrite ? ['rw'] : null,
		label: `macOS ${name} driver`,
		needsTools: ['diskutil'],
	};
}

/**
 * The trial step for unknown volumes: DiskArbitration's own probe decides the type. Read-write
 * is asked for; a driver that mounts read-only anyway (NTFS) is then refused by the mounter,
 * so that ntfs-3g gets its turn.
 */
const NATIVE_TRIAL: HelperWay = {
	helper: DISK_IMAGE_HELPER,
	fsType: 'auto',
	readOnlyOptions: ['ro'],
	readWriteOptions: ['rw'],
	label: 'macOS drivers',
	needsTools: ['diskutil'],
};

/** ntfs-3g (gromgit/fuse/ntfs-3g-mac); `auto_xattr` lets Finder show the files. */
const NTFS_3G: HelperWay = {
	helper: 'ntfs-3g',
	fsType: 'ntfs',
	readOnlyOptions: ['ro', 'local', 'auto_xattr'],
	readWriteOptions: ['rw', 'local', 'auto_xattr'],
	label: 'ntfs-3g',
	needsTools: ['ntfs-3g'],
};

/**
 * fuse-ext2, called itself: its `mount_fuse-ext2` wrapper drops every `-o` option and always
 * mounts read-only. On macFUSE it adds `local` and names the volume after the ext label itself.
 * `rw` alone would still mount read-only; `rw+` is its read-write.
 */
function fuseExt2(type: string): HelperWay {
	return {
		helper: 'fuse-ext2',
		fsType: type,
		readOnlyOptions: ['ro'],
		readWriteOptions: ['rw+'],
		label: 'fuse-ext2',
		needsTools: ['fuse-ext2'],
	};
}

/** ext4fuse (gromgit/fuse/ext4fuse-mac): read-only, reads ext2, ext3 and ext4. */
const EXT4FUSE: HelperWay = {
	helper: 'ext4fuse',
	fsType: 'ext4',
	readOnlyOptions: ['ro', 'local'],
	readWriteOptions: null,
	label: 'ext4fuse',
	needsTools: ['ext4fuse'],
};

/** The macOS table. */
export const MACOS_HELPER_TABLE: HelperTable = {
	platformName: 'macOS',
	byType: {
		hfsplus: [native('hfsplus', 'HFS+', true)],
		hfs: [native('hfs', 'HFS', true)],
		apfs: [native('apfs', 'APFS', true)],
		vfat: [native('vfat', 'FAT', true)],
		msdos: [native('msdos', 'FAT', true)],
		exfat: [native('exfat', 'exFAT', true)],
		// Apple's NTFS driver reads only; ntfs-3g writes.
		ntfs: [native('ntfs', 'NTFS', false), NTFS_3G],
		ext2: [fuseExt2('ext2'), EXT4FUSE],
		ext3: [fuseExt2('ext3'), EXT4FUSE],
		ext4: [fuseExt2('ext4'), EXT4FUSE],
		iso9660: [native('iso9660', 'ISO 9660', false)],
		udf: [native('udf', 'UDF', false)],
	},
	trialSteps: {
		ntfs: [NATIVE_TRIAL],
		msdos: [NATIVE_TRIAL],
		'ntfs-3g': [NTFS_3G],
		hfs: [NATIVE_TRIAL],
		ext2: [fuseExt2('ext2'), EXT4FUSE],
		ext3: [fuseExt2('ext3'), EXT4FUSE],
		// Helper ids may be named in the order too.
		[DISK_IMAGE_HELPER]: [NATIVE_TRIAL],
		'fuse-ext2': [fuseExt2('ext4')],
		ext4fuse: [EXT4FUSE],
	},
	notMountable: {
		swap: 'swap space holds no files',
		crypto_LUKS: 'encrypted with LUKS, which macOS cannot unlock',
		LVM2_member: 'LVM physical volume: its logical volumes are listed separately',
		BitLocker: 'encrypted with BitLocker',
		linux_raid_member: 'RAID member: assemble the array on Linux to read it',
		xfs: 'XFS cannot be mounted on macOS',
		btrfs: 'Btrfs cannot be mounted on macOS',
	},
};
