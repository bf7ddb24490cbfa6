// SPDX-License-Identifier: MIT
/**
 * Linux's helpers as data for the mount plan (`src/core/plan`): for each detected type, a
 * kernel mount over a loop device first (root only, when the running kernel has the type),
 * then the userspace FUSE helpers that read the volume file directly.
 */
import type { HelperTable, HelperWay } from '../../core/index.js';

/** Kernel mount options: read-only without replaying journals (the loop device is read-only). */
function kernelOptions(kernelType: string): readonly string[] {
	switch (kernelType) {
		case 'ext3':
		case 'ext4':
			return ['ro', 'noload'];
		case 'xfs':
			return ['ro', 'norecovery'];
		case 'btrfs':
			return ['ro', 'rescue=nologreplay'];
		default:
			return ['ro'];
	}
}

/** A loop device plus the kernel's own driver for `kernelType`. */
function kernel(kernelType: string): HelperWay {
	return {
		helper: 'kernel',
		fsType: kernelType,
		readOnlyOptions: kernelOptions(kernelType),
		readWriteOptions: ['rw'],
		label: `kernel ${kernelType} (loop)`,
		needsTools: ['losetup', 'mount'],
		needsRoot: true,
		needsKernelFilesystem: kernelType,
	};
}

/** fuse2fs; `fakeroot` lets it show every file to a non-root owner. */
const FUSE2FS = (type: string): HelperWay => ({
	helper: 'fuse2fs',
	fsType: type,
	readOnlyOptions: ['ro', 'fakeroot'],
	readWriteOptions: ['rw', 'fakeroot'],
	label: 'fuse2fs',
	needsTools: ['fuse2fs'],
});

const NTFS_3G: HelperWay = {
	helper: 'ntfs-3g',
	fsType: 'ntfs',
	readOnlyOptions: ['ro'],
	readWriteOptions: ['rw'],
	label: 'ntfs-3g',
	needsTools: ['ntfs-3g'],
};

const FUSEFAT: HelperWay = {
	helper: 'fusefat',
	fsType: 'vfat',
	readOnlyOptions: ['ro'],
	readWriteOptions: ['rw+'],
	label: 'fusefat',
	needsTools: ['fusefat'],
};

/**
 * exfat-fuse always asks FUSE for a block device (`blkdev`), which fusermount3 grants to root
 * only: it runs as root on a loop device, and never as a user.
 */
const EXFAT_FUSE: HelperWay = {
	helper: 'exfat-fuse',
	fsType: 'exfat',
	readOnlyOptions: ['ro'],
	readWriteOptions: ['rw'],
	label: 'exfat-fuse (loop)',
	needsTools: ['exfat-fuse', 'losetup'],
	needsRoot: true,
	rootOnlyReason: 'exfat-fuse mounts only as root: it always asks FUSE for a block device',
	viaLoop: true,
};

/** The Linux table. */
export const LINUX_HELPER_TABLE: HelperTable = {
	platformName: 'Linux',
	byType: {
		ext2: [kernel('ext2'), kernel('ext4'), FUSE2FS('ext2')],
		ext3: [kernel('ext3'), kernel('ext4'), FUSE2FS('ext3')],
		ext4: [kernel('ext4'), FUSE2FS('ext4')],
		vfat: [kernel('vfat'), FUSEFAT],
		msdos: [kernel('msdos'), kernel('vfat'), FUSEFAT],
		exfat: [kernel('exfat'), EXFAT_FUSE],
		ntfs: [kernel('ntfs3'), NTFS_3G],
		xfs: [kernel('xfs')],
		btrfs: [kernel('btrfs')],
		hfs: [kernel('hfs')],
		hfsplus: [kernel('hfsplus')],
		iso9660: [kernel('iso9660')],
		udf: [kernel('udf')],
	},
	trialSteps: {
		ntfs: [kernel('ntfs3')],
		// fusefat is left out: it mounts any bytes without checking the boot sector, so it would
		// "succeed" on every unknown volume. It is used only on volumes detected as FAT.
		msdos: [kernel('vfat'), kernel('msdos')],
		'ntfs-3g': [NTFS_3G],
		hfs: [kernel('hfsplus'), kernel('hfs')],
		ext2: [kernel('ext2'), kernel('ext4'), FUSE2FS('ext2')],
		ext3: [kernel('ext3'), kernel('ext4'), FUSE2FS('ext3')],
		// Helper ids may be named in the order too (a user's explicit choice, fusefat included).
		fuse2fs: [FUSE2FS('ext4')],
		fusefat: [FUSEFAT],
		'exfat-fuse': [EXFAT_FUSE],
	},
	notMountable: {
		swap: 'swap space holds no files',
		crypto_LUKS: 'encrypted with LUKS: unlock it with cryptsetup to read it',
		LVM2_member: 'LVM physical volume: its logical volumes are listed separately',
		apfs: 'APFS cannot be mounted on Linux',
		BitLocker: 'encrypted with BitLocker',
		linux_raid_member: 'RAID member: assemble the array to read it',
	},
};
