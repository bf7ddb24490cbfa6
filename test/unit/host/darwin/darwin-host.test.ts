// SPDX-License-Identifier: MIT
/**
 * The macOS host's command sequences — mount, unmount, a Finder eject behind our back, crash
 * clean-up — run through the single tool runner against recorded transcripts of tool answers
 * built from real macOS output (test/fixtures/darwin/transcripts). This checks the
 * orchestration (which commands, in which order, how answers are read and failures handled),
 * not macOS: there is no Mac here.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { planVolume } from '../../../../src/core/index.js';
import { DarwinHost } from '../../../../src/host/darwin/darwin-host.js';
import { MACOS_HELPER_TABLE } from '../../../../src/host/darwin/helper-table.js';
import type { MountAttempt } from '../../../../src/core/index.js';
import { isAppError } from '../../../../src/shared/app-error.js';
import { EXPORTS_DIR, RAW_P1, fakeDarwinProbe, fakeMacSystem } from '../../../helpers/fake-mac.js';
import { loadTranscript, ToolReplay } from '../../../helpers/tool-transcript.js';

/** The attempts the daemon would pass for a volume of `type` on this Mac. */
function attemptsFor(
	type: string | null,
	tools: readonly string[],
	readWrite = false,
): readonly MountAttempt[] {
	const plan = planVolume(
		{ index: 1, type },
		MACOS_HELPER_TABLE,
		{ isRoot: false, tools: new Set(tools), kernelFilesystems: new Set() },
		{ readWrite },
	);
	if (plan.kind !== 'mount') throw new Error(plan.reason);
	return plan.attempts;
}

const SYSTEM = ['diskutil', 'hdiutil', 'mount', 'umount', 'lsof'];

let replay: ToolReplay;

function hostFor(names: readonly string[], probe = fakeDarwinProbe(), existing: readonly string[] = []) {
	replay = new ToolReplay(...names.map(loadTranscript));
	const system = fakeMacSystem(replay, existing);
	return { host: new DarwinHost(system, probe, { watchIntervalMs: 5 }), system };
}

afterEach(() => {
	// Every call matched the transcript, and every expected call was made.
	expect(replay.problems).toEqual([]);
	expect(replay.remaining()).toEqual([]);
});

describe('darwin host: native volumes', () => {
	it('macOS 12: FAT attached with hdiutil, mounted by diskutil in /Volumes, the attachment reported at once', async () => {
		const { host } = hostFor(['mount-fat-hdiutil'], fakeDarwinProbe({ macosMajor: 12 }));
		const attached: string[] = [];
		const handle = await host.mountVolume(
			attemptsFor('vfat', SYSTEM),
			{ rawPath: RAW_P1, volumeName: 'NO NAME', mountpoint: null },
			{ onAttached: (d) => attached.push(d) },
		);
		expect(attached).toEqual(['/dev/disk2']);
		expect(handle).toEqual({
			mountpoint: '/Volumes/NO NAME',
			attempt: expect.objectContaining({ helper: 'diskimage', label: 'macOS msdos driver' }) as unknown,
			attachment: '/dev/disk2',
			fuseHelper: false,
		});
		expect(host.choosesMountpoints).toBe(true);
	});

	it('then unmounts it and detaches the image, retrying while detach says busy (exit 16)', async () => {
		const { host, system } = hostFor(
			['mount-fat-hdiutil', 'unmount-fat-busy-detach'],
			fakeDarwinProbe({ macosMajor: 12 }),
		);
		const handle = await host.mountVolume(attemptsFor('vfat', SYSTEM), {
			rawPath: RAW_P1,
			volumeName: 'NO NAME',
			mountpoint: null,
		});
		await host.unmountVolume({ ...handle }, { force: false });
		expect(system.sleeps).toContain(500);
	});

	it('an hdiutil that rejects -noautofsck is asked again without it', async () => {
		const { host } = hostFor(['attach-noautofsck-retry'], fakeDarwinProbe({ macosMajor: 12 }));
		const handle = await host.mountVolume(attemptsFor('vfat', SYSTEM), {
			rawPath: RAW_P1,
			volumeName: 'NO NAME',
			mountpoint: null,
		});
		expect(handle.mountpoint).toBe('/Volumes/NO NAME');
	});

	it('macOS 15: APFS through diskutil image attach; the volume on the synthesized disk is mounted, the image disk is the attachment', async () => {
		const { host } = hostFor(['mount-apfs-synthesized']);
		const handle = await host.mountVolume(attemptsFor('apfs', SYSTEM), {
			rawPath: RAW_P1,
			volumeName: 'Demo Installer',
			mountpoint: null,
		});
		expect(handle).toMatchObject({ mountpoint: '/Volumes/Demo Installer', attachment: '/dev/disk4' });
		expect(handle.attempt.label).toBe('macOS apfs driver');
	});

	it('APFS whose synthesized volume is not in the attach answer is found through diskutil list', async () => {
		const { host } = hostFor(['mount-apfs-container-via-list']);
		const handle = await host.mountVolume(attemptsFor('apfs', SYSTEM), {
			rawPath: RAW_P1,
			volumeName: 'x',
			mountpoint: null,
		});
		expect(handle).toMatchObject({ mountpoint: '/Volumes/macOS – data', attachment: '/dev/disk0' });
	});
});

describe('darwin host: FUSE helpers and fallbacks', () => {
	it('both attach methods fail (a localized message): ntfs-3g mounts the file in the next free /Volumes folder', async () => {
		const { host } = hostFor(['ntfs-native-fails-then-ntfs-3g'], fakeDarwinProbe({ macosMajor: 14 }));
		const handle = await host.mountVolume(attemptsFor('ntfs', [...SYSTEM, 'ntfs-3g']), {
			rawPath: RAW_P1,
			volumeName: 'Windows',
			mountpoint: null,
		});
		expect(handle).toEqual({
			mountpoint: '/Volumes/Windows 1',
			attempt: expect.objectContaining({ helper: 'ntfs-3g' }) as unknown,
			fuseHelper: true,
		});
	});

	it('when every attempt fails, the error names each with the tool’s own (localized) words', async () => {
		replay = new ToolReplay(loadTranscript('ntfs-native-fails-then-ntfs-3g').calls.slice(0, 2));
		const host = new DarwinHost(fakeMacSystem(replay), fakeDarwinProbe({ macosMajor: 14 }));
		const error = await host
			.mountVolume(attemptsFor('ntfs', SYSTEM), { rawPath: RAW_P1, volumeName: 'Windows', mountpoint: null })
			.catch((e: unknown) => e);
		expect(isAppError(error, 'MOUNT_FAILED')).toBe(true);
		expect((error as Error).message).toBe(
			`could not mount (tried macOS NTFS driver: could not attach ${RAW_P1} as a disk image (diskutil image attach: exit status 1; hdiutil attach: hdiutil: attach failed - nessun file system attivabile))`,
		);
	});

	it('read-write on an unknown volume: the system driver mounts it read-only, so it is undone and ntfs-3g writes', async () => {
		const { host } = hostFor(['rw-unknown-native-read-only-then-ntfs-3g']);
		const handle = await host.mountVolume(attemptsFor(null, [...SYSTEM, 'ntfs-3g'], true), {
			rawPath: RAW_P1,
			volumeName: 'WINDOWS',
			mountpoint: null,
		});
		expect(handle).toMatchObject({ mountpoint: '/Volumes/WINDOWS', fuseHelper: true });
		expect(handle.attempt.options).toEqual(['rw', 'local', 'auto_xattr']);
	});

	it('a busy volume is refused, naming who holds it (from lsof, not from diskutil’s words)', async () => {
		const { host } = hostFor(['unmount-busy-volume']);
		const error = await host
			.unmountVolume({ mountpoint: '/Volumes/Windows 1', fuseHelper: true }, { force: false })
			.catch((e: unknown) => e);
		expect(isAppError(error, 'VOLUME_BUSY')).toBe(true);
		expect((error as Error).message).toBe(
			'/Volumes/Windows 1 is busy: in use by Finder (pid 412, cwd, open file), bash (pid 977, cwd); close it or unmount with --force',
		);
	});

	it('--force: umount -f when diskutil unmount force fails', async () => {
		const { host } = hostFor(['unmount-force-fallback']);
		await host.unmountVolume({ mountpoint: '/Volumes/Windows 1', fuseHelper: true }, { force: true });
	});
});

describe('darwin host: behind our back, and after a crash', () => {
	it('a Finder eject is noticed from the mount table, and releasing the gone image touches nothing', async () => {
		const { host } = hostFor(['mount-fat-hdiutil', 'finder-eject'], fakeDarwinProbe({ macosMajor: 12 }));
		const handle = await host.mountVolume(attemptsFor('vfat', SYSTEM), {
			rawPath: RAW_P1,
			volumeName: 'NO NAME',
			mountpoint: null,
		});
		const gone = await new Promise<readonly string[]>((resolve) => {
			const stop = host.watchUnmounts(
				() => [handle.mountpoint],
				(g) => {
					stop();
					resolve(g);
				},
			);
		});
		expect(gone).toEqual(['/Volumes/NO NAME']);
		await host.releaseAttachment('/dev/disk2');
	});

	it('a device number macOS has since given to another image is left alone', async () => {
		const { host } = hostFor(['mount-fat-hdiutil'], fakeDarwinProbe({ macosMajor: 12 }));
		await host.mountVolume(attemptsFor('vfat', SYSTEM), {
			rawPath: RAW_P1,
			volumeName: 'NO NAME',
			mountpoint: null,
		});
		// Real sample: /dev/disk2 is now a RAM disk, not our file. No detach follows.
		replay.expect({
			tool: '/usr/bin/hdiutil',
			args: ['info', '-plist'],
			stdoutFile: 'hdiutil-info-plist_ram-image-attached-nomount_macos10.13_ramup.plist',
		});
		await host.releaseAttachment('/dev/disk2');
	});

	it('a device this host did not attach is never detached', async () => {
		replay = new ToolReplay([]);
		const host = new DarwinHost(fakeMacSystem(replay), fakeDarwinProbe());
		await host.releaseAttachment('/dev/disk2');
	});

	it('crash clean-up touches only what is provably ours, and says what it left', async () => {
		const { host } = hostFor(['recover-after-crash']);
		const report = await host.recover({
			exportsDir: EXPORTS_DIR,
			mountRoot: '/Users/me/VMDK Mounts',
			sourcePrefix: 'vmdk-mounter:',
			recorded: [
				{ exportDir: `${EXPORTS_DIR}/0a1b2c3d`, mountpoint: '/Volumes/NO NAME', attachment: '/dev/disk4' },
				{ exportDir: `${EXPORTS_DIR}/0a1b2c3d`, mountpoint: '/Volumes/RAM Disk', attachment: '/dev/disk2' },
				{ exportDir: '/tmp/elsewhere', mountpoint: null },
			],
		});
		expect(report.done).toEqual([
			'unmounted /Volumes/NO NAME',
			'unmounted /Volumes/Linux',
			`detached /dev/disk4 (${RAW_P1})`,
			`removed the disk export ${EXPORTS_DIR}/0a1b2c3d`,
		]);
		expect(report.refused).toEqual([
			'left /Volumes/RAM Disk mounted: it is hfs from /dev/disk2, not one of ours',
			'did not touch /dev/disk2: it is not the image of one of our export files',
			`ignored export folder /tmp/elsewhere: not in ${EXPORTS_DIR}`,
		]);
	});
});
