// SPDX-License-Identifier: MIT
/**
 * The daemon's mount service on the macOS host (tools replayed from transcripts, the FUSE
 * export faked): the host picks the mountpoint (/Volumes), the attached device is recorded as
 * soon as it exists, an unmount detaches it, and a Finder eject releases the disk. This checks
 * how the service and the darwin host fit together — not macOS.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { OpenedDisk } from '../../../../src/daemon/disk-opener.js';
import { DaemonLog } from '../../../../src/daemon/log.js';
import { MountRegistry } from '../../../../src/daemon/mount-registry.js';
import { DaemonMountService } from '../../../../src/daemon/mount-service.js';
import { DarwinHost } from '../../../../src/host/darwin/darwin-host.js';
import { appPaths } from '../../../../src/host/index.js';
import { EXPORTS_DIR, RAW_P1, fakeDarwinProbe, fakeMacSystem } from '../../../helpers/fake-mac.js';
import { FakeFuseBackend } from '../../../helpers/fake-host.js';
import { makeTempDir } from '../../../helpers/temp-dir.js';
import { darwinFixture, loadTranscript, ToolReplay } from '../../../helpers/tool-transcript.js';
import { writeFile } from 'node:fs/promises';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
	for (const c of cleanups.splice(0).reverse()) await c();
});

/** A one-volume disk holding FAT labelled NO NAME. */
function fatDisk(path: string): OpenedDisk {
	const target = { sizeBytes: 1 << 20, readInto: async () => undefined };
	return {
		path,
		target,
		warnings: [],
		volumes: [
			{
				index: 1,
				name: 'p1',
				kind: 'partition',
				startBytes: 0,
				sizeBytes: 1 << 20,
				filesystem: { type: 'vfat', label: 'NO NAME', uuid: null },
				target,
			},
		],
		close: async () => undefined,
	};
}

async function setup() {
	const tmp = await makeTempDir('vmdk-svc-mac-');
	cleanups.push(tmp.cleanup);
	const paths = appPaths({
		HOME: tmp.dir,
		VMDK_MOUNTER_RUNTIME_DIR: join(tmp.dir, 'run'),
		VMDK_MOUNTER_STATE_DIR: join(tmp.dir, 'state'),
		VMDK_MOUNTER_CONFIG_DIR: join(tmp.dir, 'config'),
	});
	const vmdk = join(tmp.dir, 'Windows XP.vmdk');
	await writeFile(vmdk, '');
	// The export folder has a random id: compare it as the transcripts' fixed one.
	const ours = new RegExp(`^${paths.exportsDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/[0-9a-f]{8}/`);
	const replay = new ToolReplay(loadTranscript('mount-fat-hdiutil')).normalizing((a) =>
		a.replace(ours, `${EXPORTS_DIR}/0a1b2c3d/`),
	);
	const host = new DarwinHost(fakeMacSystem(replay), fakeDarwinProbe({ macosMajor: 12 }));
	const registry = new MountRegistry(paths.registryPath);
	const fuse = new FakeFuseBackend();
	const service = new DaemonMountService({
		paths,
		registry,
		log: new DaemonLog(paths.logPath),
		host,
		fuseBackend: fuse,
		openDisk: async (p) => fatDisk(p),
		resolveDisks: async (p) => ({ disks: [p] }),
	});
	return { service, registry, replay, vmdk, fuse };
}

describe('the mount service on the macOS host', () => {
	it('mounts in /Volumes with no folder of its own, records the image, and unmounts it with its image', async () => {
		const { service, registry, replay, vmdk, fuse } = await setup();
		const result = await service.mount({ path: vmdk });
		expect(result.disks[0]?.volumes[0]).toMatchObject({
			mountpoint: '/Volumes/NO NAME',
			helper: 'macOS msdos driver',
			readOnly: true,
		});
		const record = registry.all()[0];
		expect(record?.volumes[0]).toMatchObject({ attachment: '/dev/disk2', fuseHelper: false });
		expect(record?.volumes[0]?.createdDirs).toBeUndefined();
		const raw = record?.volumes[0]?.rawPath ?? '';

		replay.expect(
			...loadTranscript('unmount-fat-busy-detach').calls.map((c) =>
				// hdiutil info shows the real export file behind /dev/disk2.
				c.stdoutFile?.startsWith('constructed_hdiutil-info') === true
					? { ...c, stdoutFile: undefined, stdout: darwinFixture(c.stdoutFile).replace(RAW_P1, raw) }
					: c,
			),
		);
		await service.unmount({ target: '/Volumes/NO NAME' });
		expect(registry.all()).toEqual([]);
		expect(fuse.live.size).toBe(0);
		expect(replay.problems).toEqual([]);
		expect(replay.remaining()).toEqual([]);
	});

	it('a Finder eject releases the disk: the image is already gone, the export is closed', async () => {
		const { service, registry, replay, vmdk, fuse } = await setup();
		await service.mount({ path: vmdk });
		replay.expect(...loadTranscript('finder-eject').calls);
		await service.volumesGone(['/Volumes/NO NAME']);
		expect(registry.all()).toEqual([]);
		expect(fuse.live.size).toBe(0);
		expect(replay.problems).toEqual([]);
		expect(replay.remaining()).toEqual([]);
	});
});
