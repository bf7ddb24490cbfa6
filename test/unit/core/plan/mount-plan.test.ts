// SPDX-License-Identifier: MIT
import { describe, expect, it } from 'vitest';
import {
	LEGACY_UNKNOWN_ORDER,
	planMount,
	planVolume as planWith,
	typesOfHelper,
	type HelperTable,
	type HostCapabilities,
	type PlanOptions,
	type PlanVolume,
	type VolumePlan,
} from '../../../../src/core/index.js';
import { LINUX_HELPER_TABLE } from '../../../../src/host/linux/helper-table.js';

/** The plan with Linux's helper table (the table is data; the matching is what is tested). */
function planVolume(volume: PlanVolume, caps: HostCapabilities, options: PlanOptions): VolumePlan {
	return planWith(volume, LINUX_HELPER_TABLE, caps, options);
}

const ALL_FUSE = ['fuse2fs', 'ntfs-3g', 'fusefat', 'exfat-fuse'];

function caps(over: Partial<{ isRoot: boolean; tools: string[]; kernel: string[] }> = {}): HostCapabilities {
	return {
		isRoot: over.isRoot ?? false,
		tools: new Set(over.tools ?? [...ALL_FUSE, 'losetup', 'mount']),
		kernelFilesystems: new Set(over.kernel ?? ['ext4', 'vfat', 'xfs', 'btrfs']),
	};
}

function labels(plan: VolumePlan): string[] {
	return plan.kind === 'mount' ? plan.attempts.map((a) => a.label) : [`skip: ${plan.reason}`];
}

describe('planVolume', () => {
	it('uses fuse2fs with ro,fakeroot for ext4 as a user', () => {
		const plan = planVolume({ index: 1, type: 'ext4' }, caps(), { readWrite: false });
		expect(plan).toEqual({
			kind: 'mount',
			index: 1,
			guessed: false,
			attempts: [{ helper: 'fuse2fs', fsType: 'ext4', options: ['ro', 'fakeroot'], label: 'fuse2fs' }],
		});
	});

	it('prefers loop + kernel when root and the kernel has the type, then the FUSE helper', () => {
		expect(
			labels(planVolume({ index: 1, type: 'ext4' }, caps({ isRoot: true }), { readWrite: false })),
		).toEqual(['kernel ext4 (loop)', 'fuse2fs']);
		// ext2 tries the ext2 driver only if loaded, then ext4 (which reads ext2), then fuse2fs.
		expect(
			labels(planVolume({ index: 1, type: 'ext2' }, caps({ isRoot: true }), { readWrite: false })),
		).toEqual(['kernel ext4 (loop)', 'fuse2fs']);
	});

	it('does not use the kernel when root lacks losetup or the kernel lacks the type', () => {
		expect(
			labels(
				planVolume({ index: 1, type: 'vfat' }, caps({ isRoot: true, tools: ['fusefat', 'mount'] }), {
					readWrite: false,
				}),
			),
		).toEqual(['fusefat']);
		expect(
			labels(planVolume({ index: 1, type: 'exfat' }, caps({ isRoot: true }), { readWrite: false })),
		).toEqual(['exfat-fuse (loop)']);
		// As root, exfat-fuse wants a block device: it runs on a loop device, or not at all.
		const viaLoop = planVolume({ index: 1, type: 'exfat' }, caps({ isRoot: true }), { readWrite: false });
		expect(viaLoop.kind === 'mount' && viaLoop.attempts[0]?.viaLoop).toBe(true);
		expect(
			labels(
				planVolume({ index: 1, type: 'exfat' }, caps({ isRoot: true, tools: ['exfat-fuse'] }), {
					readWrite: false,
				}),
			),
		).toEqual(['skip: no helper for exfat on this host (install losetup; the kernel lacks exfat)']);
		// As a user it cannot mount at all (fusermount3 grants `blkdev` to root only): not tried.
		expect(labels(planVolume({ index: 1, type: 'exfat' }, caps(), { readWrite: false }))).toEqual([
			'skip: no helper for exfat on this host (exfat-fuse mounts only as root: it always asks FUSE for a block device; kernel mounts need root)',
		]);
	});

	it('mounts xfs without log recovery and ext4 without journal replay when read-only', () => {
		const xfs = planVolume({ index: 2, type: 'xfs' }, caps({ isRoot: true }), { readWrite: false });
		expect(xfs.kind === 'mount' && xfs.attempts[0]?.options).toEqual(['ro', 'norecovery']);
		const ext = planVolume({ index: 2, type: 'ext4' }, caps({ isRoot: true }), { readWrite: false });
		expect(ext.kind === 'mount' && ext.attempts[0]?.options).toEqual(['ro', 'noload']);
	});

	it('asks helpers for read-write in --rw mode', () => {
		const plan = planVolume({ index: 1, type: 'vfat' }, caps(), { readWrite: true });
		expect(plan.kind === 'mount' && plan.attempts[0]?.options).toEqual(['rw+']);
		const ext = planVolume({ index: 1, type: 'ext4' }, caps(), { readWrite: true });
		expect(ext.kind === 'mount' && ext.attempts[0]?.options).toEqual(['rw', 'fakeroot']);
	});

	it.each([
		['swap', /swap space/],
		['crypto_LUKS', /LUKS/],
		['apfs', /APFS cannot be mounted on Linux/],
		['LVM2_member', /logical volumes are listed separately/],
		['zfs_member', /zfs_member volumes cannot be mounted/],
	])('skips %s with a reason', (type, reason) => {
		const plan = planVolume({ index: 3, type }, caps({ isRoot: true }), { readWrite: false });
		expect(plan.kind).toBe('skip');
		expect(plan.kind === 'skip' && plan.reason).toMatch(reason);
	});

	it('passes the engine’s unsupported reason through', () => {
		expect(
			planVolume({ index: 4, type: 'ext4', unsupported: 'striped LVM' }, caps(), { readWrite: false }),
		).toEqual({
			kind: 'skip',
			index: 4,
			reason: 'striped LVM',
		});
	});

	it('says what to install when no helper exists', () => {
		const plan = planVolume({ index: 1, type: 'ntfs' }, caps({ tools: [] }), { readWrite: false });
		expect(plan.kind === 'skip' && plan.reason).toBe(
			'no helper for ntfs on this host (install ntfs-3g; kernel mounts need root)',
		);
	});

	it('tries unknown volumes in the legacy order ntfs, msdos, ntfs-3g, hfs, ext2, ext3', () => {
		expect(LEGACY_UNKNOWN_ORDER).toEqual(['ntfs', 'msdos', 'ntfs-3g', 'hfs', 'ext2', 'ext3']);
		const user = planVolume({ index: 1, type: null }, caps(), { readWrite: false });
		expect(user.kind === 'mount' && user.guessed).toBe(true);
		expect(labels(user)).toEqual(['ntfs-3g', 'fuse2fs']);
		const root = planVolume(
			{ index: 1, type: null },
			caps({ isRoot: true, kernel: ['ntfs3', 'vfat', 'hfsplus', 'ext4'] }),
			{ readWrite: false },
		);
		expect(labels(root)).toEqual([
			'kernel ntfs3 (loop)',
			'kernel vfat (loop)',
			'ntfs-3g',
			'kernel hfsplus (loop)',
			'kernel ext4 (loop)',
			'fuse2fs',
		]);
	});

	it('follows a user-set order for unknown volumes, accepting helper ids and types', () => {
		const plan = planVolume({ index: 1, type: 'unknown' }, caps(), {
			readWrite: false,
			unknownOrder: ['ext3', 'exfat', 'ntfs-3g', 'nonsense'],
		});
		expect(labels(plan)).toEqual(['fuse2fs', 'ntfs-3g']);
		expect(
			labels(
				planVolume({ index: 1, type: 'unknown' }, caps({ isRoot: true, kernel: [] }), {
					readWrite: false,
					unknownOrder: ['ext3', 'exfat', 'ntfs-3g', 'nonsense'],
				}),
			),
		).toEqual(['fuse2fs', 'exfat-fuse (loop)', 'ntfs-3g']);
	});

	it('skips unknown volumes when nothing of the order is installed', () => {
		const plan = planVolume({ index: 1, type: null }, caps({ tools: [] }), { readWrite: false });
		expect(plan.kind).toBe('skip');
	});
});

describe('planMount', () => {
	it('plans each volume independently', () => {
		const plans = planMount(
			[
				{ index: 1, type: 'ext4' },
				{ index: 2, type: 'swap' },
				{ index: 3, type: 'vfat' },
			],
			LINUX_HELPER_TABLE,
			caps(),
			{ readWrite: false },
		);
		expect(plans.map((p) => p.kind)).toEqual(['mount', 'skip', 'mount']);
	});

	it('lists the types each FUSE helper covers', () => {
		expect(typesOfHelper(LINUX_HELPER_TABLE, 'fuse2fs')).toEqual(['ext2', 'ext3', 'ext4']);
		expect(typesOfHelper(LINUX_HELPER_TABLE, 'exfat-fuse')).toEqual(['exfat']);
	});
});

describe('the helper table is data', () => {
	const table: HelperTable = {
		platformName: 'Testland',
		byType: {
			ntfs: [
				{
					helper: 'ro-driver',
					fsType: 'ntfs',
					readOnlyOptions: ['rdonly'],
					readWriteOptions: null,
					label: 'read-only driver',
					needsTools: ['ro-driver'],
				},
				{
					helper: 'fuse-ntfs',
					fsType: 'ntfs',
					readOnlyOptions: ['ro'],
					readWriteOptions: ['rw'],
					label: 'fuse-ntfs',
					needsTools: ['fuse-ntfs'],
				},
			],
		},
		trialSteps: { ntfs: [] },
		notMountable: { apfs: 'APFS stays closed here' },
	};
	const testCaps = (tools: string[]): HostCapabilities => ({
		isRoot: false,
		tools: new Set(tools),
		kernelFilesystems: new Set(),
	});

	it('takes its types, ways, options and reasons from the table', () => {
		expect(
			labels(
				planWith({ index: 1, type: 'ntfs' }, table, testCaps(['ro-driver', 'fuse-ntfs']), {
					readWrite: false,
				}),
			),
		).toEqual(['read-only driver', 'fuse-ntfs']);
		expect(labels(planWith({ index: 1, type: 'apfs' }, table, testCaps([]), { readWrite: false }))).toEqual([
			'skip: APFS stays closed here',
		]);
		expect(labels(planWith({ index: 1, type: 'ext4' }, table, testCaps([]), { readWrite: false }))).toEqual([
			'skip: ext4 volumes cannot be mounted on Testland by this app',
		]);
	});

	it('leaves out ways that cannot write when a writable mount is asked for, and says so', () => {
		expect(
			labels(
				planWith({ index: 1, type: 'ntfs' }, table, testCaps(['ro-driver', 'fuse-ntfs']), {
					readWrite: true,
				}),
			),
		).toEqual(['fuse-ntfs']);
		expect(
			labels(planWith({ index: 1, type: 'ntfs' }, table, testCaps(['ro-driver']), { readWrite: true })),
		).toEqual([
			'skip: no helper for ntfs on this host (install fuse-ntfs; read-only driver mounts read-only only)',
		]);
	});
});
