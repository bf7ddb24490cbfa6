// SPDX-License-Identifier: MIT
// The mount plan on a Mac (pure): which helper mounts which type with which helpers installed.
import { describe, expect, it } from 'vitest';
import {
	LEGACY_UNKNOWN_ORDER,
	mountableTypes,
	planVolume,
	type HostCapabilities,
} from '../../../../src/core/index.js';
import { MACOS_HELPER_TABLE } from '../../../../src/host/darwin/helper-table.js';

function mac(tools: readonly string[]): HostCapabilities {
	return { isRoot: false, tools: new Set(tools), kernelFilesystems: new Set() };
}

const SYSTEM_ONLY = mac(['diskutil', 'hdiutil', 'mount', 'umount']);
const WITH_NTFS_3G = mac(['diskutil', 'hdiutil', 'mount', 'umount', 'ntfs-3g']);
const WITH_EXT = mac(['diskutil', 'hdiutil', 'mount', 'umount', 'fuse-ext2', 'ext4fuse']);
const EXT4FUSE_ONLY = mac(['diskutil', 'hdiutil', 'mount', 'umount', 'ext4fuse']);
const EVERYTHING = mac(['diskutil', 'hdiutil', 'mount', 'umount', 'ntfs-3g', 'fuse-ext2', 'ext4fuse']);

function plan(
	type: string | null,
	caps: HostCapabilities,
	readWrite = false,
	unknownOrder?: readonly string[],
) {
	return planVolume({ index: 1, type }, MACOS_HELPER_TABLE, caps, { readWrite, unknownOrder });
}

function helpers(type: string | null, caps: HostCapabilities, readWrite = false): string[] {
	const p = plan(type, caps, readWrite);
	return p.kind === 'mount'
		? p.attempts.map((a) => `${a.helper} ${a.options.join(',')}`)
		: [`skip: ${p.reason}`];
}

describe('mount plan on macOS', () => {
	it.each(['hfsplus', 'hfs', 'apfs', 'vfat', 'msdos', 'exfat'])(
		'%s: the system driver on the attached image, read-only or read-write, with no helper installed',
		(type) => {
			expect(helpers(type, SYSTEM_ONLY)).toEqual(['diskimage ro']);
			expect(helpers(type, SYSTEM_ONLY, true)).toEqual(['diskimage rw']);
		},
	);

	it('iso9660 and udf: read-only system drivers', () => {
		expect(helpers('iso9660', SYSTEM_ONLY)).toEqual(['diskimage ro']);
		expect(helpers('udf', SYSTEM_ONLY, true)[0]).toMatch(
			/^skip: no helper for udf on this host \(macOS UDF driver mounts read-only only\)/,
		);
	});

	it('ntfs: Apple’s read-only driver first, then ntfs-3g; read-write only through ntfs-3g', () => {
		expect(helpers('ntfs', SYSTEM_ONLY)).toEqual(['diskimage ro']);
		expect(helpers('ntfs', WITH_NTFS_3G)).toEqual(['diskimage ro', 'ntfs-3g ro,local,auto_xattr']);
		expect(helpers('ntfs', WITH_NTFS_3G, true)).toEqual(['ntfs-3g rw,local,auto_xattr']);
		expect(helpers('ntfs', SYSTEM_ONLY, true)).toEqual([
			'skip: no helper for ntfs on this host (install ntfs-3g; macOS NTFS driver mounts read-only only)',
		]);
	});

	it.each(['ext2', 'ext3', 'ext4'])('%s: fuse-ext2 (rw+ to write), then read-only ext4fuse', (type) => {
		expect(helpers(type, WITH_EXT)).toEqual(['fuse-ext2 ro', 'ext4fuse ro,local']);
		expect(helpers(type, WITH_EXT, true)).toEqual(['fuse-ext2 rw+']);
		expect(helpers(type, EXT4FUSE_ONLY)).toEqual(['ext4fuse ro,local']);
		expect(helpers(type, EXT4FUSE_ONLY, true)).toEqual([
			`skip: no helper for ${type} on this host (install fuse-ext2; ext4fuse mounts read-only only)`,
		]);
		expect(helpers(type, SYSTEM_ONLY)).toEqual([
			`skip: no helper for ${type} on this host (install fuse-ext2 or ext4fuse)`,
		]);
	});

	it('types macOS cannot mount say so', () => {
		expect(helpers('xfs', EVERYTHING)).toEqual(['skip: XFS cannot be mounted on macOS']);
		expect(helpers('btrfs', EVERYTHING)).toEqual(['skip: Btrfs cannot be mounted on macOS']);
		expect(helpers('crypto_LUKS', EVERYTHING)[0]).toMatch(/LUKS/);
		expect(helpers('reiserfs', EVERYTHING)).toEqual([
			'skip: reiserfs volumes cannot be mounted on macOS by this app',
		]);
	});

	it('unknown volumes follow VMDKMounter’s order, each name mapped to its macOS helper', () => {
		expect(LEGACY_UNKNOWN_ORDER).toEqual(['ntfs', 'msdos', 'ntfs-3g', 'hfs', 'ext2', 'ext3']);
		const p = plan(null, EVERYTHING);
		expect(p).toMatchObject({ kind: 'mount', guessed: true });
		// ntfs, msdos and hfs are one attempt: DiskArbitration probes the type itself.
		expect(helpers(null, EVERYTHING)).toEqual([
			'diskimage ro',
			'ntfs-3g ro,local,auto_xattr',
			'fuse-ext2 ro',
			'ext4fuse ro,local',
		]);
		expect(helpers(null, EVERYTHING, true)).toEqual([
			'diskimage rw',
			'ntfs-3g rw,local,auto_xattr',
			'fuse-ext2 rw+',
		]);
		expect(helpers(null, SYSTEM_ONLY)).toEqual(['diskimage ro']);
	});

	it('a user’s own order may name macOS helper ids', () => {
		const p = plan(null, EVERYTHING, false, ['ext4fuse', 'ntfs-3g', 'diskimage']);
		expect(p.kind === 'mount' ? p.attempts.map((a) => a.helper) : []).toEqual([
			'ext4fuse',
			'ntfs-3g',
			'diskimage',
		]);
	});

	it('with nothing installed, unknown volumes are skipped with the reason', () => {
		expect(helpers(null, mac([]))).toEqual([
			'skip: no filesystem was recognised and no helper of the trial order is installed',
		]);
	});

	it('every type the table mounts is one the engine detects', () => {
		expect(mountableTypes(MACOS_HELPER_TABLE)).toEqual(
			expect.arrayContaining(['hfsplus', 'apfs', 'vfat', 'exfat', 'ntfs', 'ext4']),
		);
	});
});
