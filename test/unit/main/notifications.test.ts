// SPDX-License-Identifier: MIT
import { describe, expect, it } from 'vitest';
import { VmdkError } from '../../../src/core/errors.js';
import { AppError } from '../../../src/shared/app-error.js';
import type { MountedDisk, MountedVolume } from '../../../src/shared/models.js';
import { USER_MESSAGES } from '../../../src/shared/user-messages.js';
import { errorNotice, mountedNotice, newlyMountedVolumes } from '../../../src/main/notifications.js';

function volume(name: string, mountpoint: string | null, label: string | null = null): MountedVolume {
	return {
		index: 1,
		name,
		mountpoint,
		rawPath: `/run/x/${name}`,
		filesystem: { type: 'ext4', label, uuid: null },
		helper: 'fuse2fs',
		readOnly: true,
	};
}
const disk = (path: string, volumes: MountedVolume[]): MountedDisk => ({
	id: 'abcd0123',
	path,
	rawPath: '/r',
	readWrite: false,
	volumes,
});

describe('notifications', () => {
	it('finds volumes that appeared, whoever mounted them; unmounted and failed volumes are not news', () => {
		const before = [disk('/a.vmdk', [volume('p1', '/m/A1')])];
		const after = [
			disk('/a.vmdk', [volume('p1', '/m/A1'), volume('p2', '/m/A2', 'DATA')]),
			disk('/cli.vmdk', [volume('p1', '/m/C1'), volume('p2', null)]),
		];
		expect(newlyMountedVolumes(before, after).map((a) => a.volume.mountpoint)).toEqual(['/m/A2', '/m/C1']);
		expect(newlyMountedVolumes(after, before)).toEqual([]);
		expect(mountedNotice([])).toBeNull();
	});

	it('names one new volume and where it is, and offers to reveal it', () => {
		const [added] = newlyMountedVolumes(
			[],
			[disk('/vms/Win.vmwarevm/disk.vmdk', [volume('p2', '/m/DATA', 'DATA')])],
		);
		expect(mountedNotice([added!])).toEqual({
			title: 'Mounted DATA — ext4',
			body: 'From disk.vmdk, at /m/DATA',
			revealPath: '/m/DATA',
		});
	});

	it('sums up several', () => {
		const added = newlyMountedVolumes(
			[],
			[disk('/a.vmdk', [volume('p1', '/m/1', 'ONE'), volume('p2', '/m/2', 'TWO')])],
		);
		expect(mountedNotice(added)).toMatchObject({
			title: 'Mounted 2 volumes',
			body: 'ONE — ext4; TWO — ext4 — from a.vmdk',
		});
	});

	it('says errors in the shared table’s words, with the technical sentence', () => {
		const notice = errorNotice(
			new VmdkError('VMDK_MISSING_PARENT', 'parent base.vmdk not found'),
			'/vms/snap-000001.vmdk',
		);
		expect(notice.title).toBe(USER_MESSAGES.VMDK_MISSING_PARENT.title);
		expect(notice.body).toBe(
			`snap-000001.vmdk: ${USER_MESSAGES.VMDK_MISSING_PARENT.description}\nparent base.vmdk not found`,
		);
		expect(errorNotice(new AppError('DAEMON_UNAVAILABLE', 'no socket')).title).toBe(
			USER_MESSAGES.DAEMON_UNAVAILABLE.title,
		);
		// A bug is not dressed up as something the user did.
		expect(errorNotice(new TypeError('x is undefined')).title).toBe(USER_MESSAGES.INTERNAL.title);
	});
});
