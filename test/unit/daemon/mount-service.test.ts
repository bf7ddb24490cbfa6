// SPDX-License-Identifier: MIT
// The mount service's orchestration on a scripted host: partial failures, rollback of
// bundles, helper time-outs, retried unmounts, progress events, volumes unmounted behind its
// back, and crash recovery touching only our own folders.
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { FilesystemInfo } from '../../../src/core/index.js';
import type { OpenedDisk, OpenedVolume } from '../../../src/daemon/disk-opener.js';
import { DaemonLog } from '../../../src/daemon/log.js';
import { MountRegistry } from '../../../src/daemon/mount-registry.js';
import { DaemonMountService } from '../../../src/daemon/mount-service.js';
import { recoverFromCrash } from '../../../src/daemon/recovery.js';
import { appPaths, type AppPaths } from '../../../src/host/index.js';
import type { ProgressEvent } from '../../../src/shared/daemon-contract.js';
import { FakeFuseBackend, FakeHost } from '../../helpers/fake-host.js';
import { makeTempDir } from '../../helpers/temp-dir.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
	for (const c of cleanups.splice(0).reverse()) await c();
});

function fs(type: string, label: string | null): FilesystemInfo {
	return { type, label, uuid: null };
}

/** A disk of `volumes` (bytes all zero: nothing reads them here). */
function disk(path: string, volumes: readonly { name: string; fs: FilesystemInfo | null }[]): OpenedDisk {
	const target = { sizeBytes: 1 << 20, readInto: async () => undefined };
	let closed = false;
	return {
		path,
		target,
		warnings: [],
		volumes: volumes.map((v, i): OpenedVolume => ({
			index: i + 1,
			name: v.name,
			kind: 'partition',
			startBytes: 0,
			sizeBytes: 1 << 20,
			filesystem: v.fs,
			target,
		})),
		close: async () => {
			if (closed) throw new Error(`${path} closed twice`);
			closed = true;
		},
	};
}

async function setup(disks: Record<string, OpenedDisk>, bundles: Record<string, readonly string[]> = {}) {
	const tmp = await makeTempDir('vmdk-svc-');
	cleanups.push(tmp.cleanup);
	const paths: AppPaths = appPaths({
		HOME: tmp.dir,
		VMDK_MOUNTER_RUNTIME_DIR: join(tmp.dir, 'run'),
		VMDK_MOUNTER_STATE_DIR: join(tmp.dir, 'state'),
		VMDK_MOUNTER_CONFIG_DIR: join(tmp.dir, 'config'),
		VMDK_MOUNTER_MOUNT_ROOT: join(tmp.dir, 'mnt'),
	});
	for (const p of Object.keys(disks)) await writeFile(p.startsWith('/') ? p : join(tmp.dir, p), '');
	const host = new FakeHost();
	const fuse = new FakeFuseBackend();
	const registry = new MountRegistry(paths.registryPath);
	const progress: ProgressEvent[] = [];
	const opened: string[] = [];
	const service = new DaemonMountService({
		paths,
		registry,
		log: new DaemonLog(paths.logPath),
		host,
		fuseBackend: fuse,
		openDisk: async (path) => {
			opened.push(path);
			const d = disks[path];
			if (d === undefined) throw new Error(`no disk ${path}`);
			return d;
		},
		resolveDisks: async (path) => ({ disks: bundles[path] ?? [path] }),
		progress: (e) => progress.push(e),
	});
	return { tmp, paths, host, fuse, registry, service, progress, opened };
}

describe('mounting on a scripted host', () => {
	it('mounts what it can: the second of three volumes fails, the first and third stay mounted', async () => {
		const t = await makeTempDir('vmdk-svc-disk-');
		cleanups.push(t.cleanup);
		const path = join(t.dir, 'three.vmdk');
		const s = await setup({
			[path]: disk(path, [
				{ name: 'p1', fs: fs('ext4', 'ONE') },
				{ name: 'p2', fs: fs('ext4', 'TWO') },
				{ name: 'p3', fs: fs('vfat', 'THREE') },
			]),
		});
		s.host.script.set('p2', { kind: 'fail', message: 'Bad magic number in super-block' });
		const { disks } = await s.service.mount({ path });
		const vols = disks[0]!.volumes;
		expect(vols.map((v) => v.mountpoint !== null)).toEqual([true, false, true]);
		expect(vols[1]!.problem).toMatch(/Bad magic number/);
		expect(vols[0]!.mountpoint).toBe(join(s.paths.mountRootOverride!, 'three', 'ONE'));
		// The failed volume's folder is gone; the others are there.
		expect((await readdir(join(s.paths.mountRootOverride!, 'three'))).sort()).toEqual(['ONE', 'THREE']);
		expect(s.service.list().disks).toHaveLength(1);
		// Progress: opening, exporting, then one step per volume to mount, then done.
		expect(s.progress.map((p) => p.phase)).toEqual([
			'resolving',
			'opening',
			'exporting',
			'mounting-volume',
			'mounting-volume',
			'mounting-volume',
			'done',
		]);
		expect(
			s.progress.filter((p) => p.phase === 'mounting-volume').map((p) => `${p.done}/${p.total}`),
		).toEqual(['0/3', '1/3', '2/3']);
	});

	it('rolls back a whole bundle when one of its disks cannot be mounted at all', async () => {
		const t = await makeTempDir('vmdk-svc-disk-');
		cleanups.push(t.cleanup);
		const a = join(t.dir, 'a.vmdk');
		const b = join(t.dir, 'b.vmdk');
		const vm = join(t.dir, 'vm.vmwarevm');
		await mkdir(vm);
		const s = await setup(
			{
				[a]: disk(a, [{ name: 'p1', fs: fs('ext4', 'A') }]),
				[b]: disk(b, [{ name: 'p1', fs: fs('ext4', 'B') }]),
			},
			{ [vm]: [a, b] },
		);
		s.host.script.set('p1', { kind: 'ok' });
		// b's only volume fails, so b fails, so a is taken back.
		const original = s.host.mountVolume.bind(s.host);
		s.host.mountVolume = async (attempts, target, hooks) => {
			if (target.mountpoint?.includes('/b/') === true) {
				throw new Error('could not mount (tried fuse2fs: corrupt)');
			}
			return original(attempts, target, hooks);
		};
		await expect(s.service.mount({ path: vm })).rejects.toMatchObject({ code: 'MOUNT_FAILED' });
		expect(s.service.list().disks).toEqual([]);
		expect(s.registry.size).toBe(0);
		expect(s.host.mounted.size).toBe(0);
		expect(s.fuse.live.size).toBe(0);
		expect(await readdir(s.paths.mountRootOverride!)).toEqual([]);
		expect(s.progress.at(-1)?.phase).toBe('failed');
	});

	it('a helper that times out fails that volume with the reason; the others go on', async () => {
		const t = await makeTempDir('vmdk-svc-disk-');
		cleanups.push(t.cleanup);
		const path = join(t.dir, 'slow.vmdk');
		const s = await setup({
			[path]: disk(path, [
				{ name: 'p1', fs: fs('ntfs', 'WIN') },
				{ name: 'p2', fs: fs('ext4', 'LINUX') },
			]),
		});
		s.host.script.set('p1', { kind: 'hang' });
		const { disks } = await s.service.mount({ path });
		expect(disks[0]!.volumes[0]).toMatchObject({
			mountpoint: null,
			problem: expect.stringMatching(/timed out/) as unknown,
		});
		expect(disks[0]!.volumes[1]!.mountpoint).not.toBeNull();
	});

	it('a loop device attached before a failing helper is released', async () => {
		const t = await makeTempDir('vmdk-svc-disk-');
		cleanups.push(t.cleanup);
		const path = join(t.dir, 'loop.vmdk');
		const s = await setup({
			[path]: disk(path, [
				{ name: 'p1', fs: fs('ext4', 'X') },
				{ name: 'p2', fs: fs('ext4', 'Y') },
			]),
		});
		s.host.script.set('p1', { kind: 'fail', message: 'the helper died', attachment: '/dev/loop42' });
		await s.service.mount({ path });
		expect(s.host.calls).toContain('release /dev/loop42');
		// Its folder is gone, the disk folder stays for the other volume.
		expect(await readdir(join(s.paths.mountRootOverride!, 'loop'))).toEqual(['Y']);
	});

	it('says "no filesystem found" for a disk without one, not every helper of the trial order', async () => {
		const t = await makeTempDir('vmdk-svc-disk-');
		cleanups.push(t.cleanup);
		const path = join(t.dir, 'blank.vmdk');
		const s = await setup({ [path]: disk(path, [{ name: 'disk', fs: null }]) });
		s.host.script.set('disk', { kind: 'fail', message: 'ntfs-3g: not NTFS; fuse2fs: bad magic' });
		await expect(s.service.mount({ path })).rejects.toMatchObject({
			code: 'NO_FILESYSTEM',
			message: expect.stringMatching(/^no filesystem found in .*blank\.vmdk/) as unknown,
		});
		expect(s.registry.size).toBe(0);
	});

	it('an export that fails to unmount keeps the disk listed, and a second unmount finishes the job', async () => {
		const t = await makeTempDir('vmdk-svc-disk-');
		cleanups.push(t.cleanup);
		const path = join(t.dir, 'retry.vmdk');
		const s = await setup({ [path]: disk(path, [{ name: 'p1', fs: fs('ext4', 'R') }]) });
		await s.service.mount({ path });
		s.fuse.failUnmounts = 1;
		await expect(s.service.unmount({ target: path })).rejects.toMatchObject({ code: 'TOOL_FAILED' });
		expect(s.registry.size).toBe(1);
		expect(s.fuse.live.size).toBe(1);
		// The volume itself went; the retry only has the export left to do.
		await s.service.unmount({ target: path });
		expect(s.registry.size).toBe(0);
		expect(s.fuse.live.size).toBe(0);
	});

	it('a busy volume keeps its disk mounted; unmounting again when it is free works', async () => {
		const t = await makeTempDir('vmdk-svc-disk-');
		cleanups.push(t.cleanup);
		const path = join(t.dir, 'busy.vmdk');
		const s = await setup({ [path]: disk(path, [{ name: 'p1', fs: fs('ext4', 'B') }]) });
		const { disks } = await s.service.mount({ path });
		const mp = disks[0]!.volumes[0]!.mountpoint!;
		s.host.unmountFailures.set(mp, 1);
		await expect(s.service.unmount({ target: mp })).rejects.toMatchObject({ code: 'VOLUME_BUSY' });
		expect(s.service.list().disks).toHaveLength(1);
		await s.service.unmount({ target: mp });
		expect(s.service.list().disks).toHaveLength(0);
		await expect(stat(mp)).rejects.toThrow();
	});

	it('releases a disk whose volumes were all unmounted behind its back', async () => {
		const t = await makeTempDir('vmdk-svc-disk-');
		cleanups.push(t.cleanup);
		const path = join(t.dir, 'ejected.vmdk');
		const s = await setup({
			[path]: disk(path, [
				{ name: 'p1', fs: fs('ext4', 'E1') },
				{ name: 'p2', fs: fs('ext4', 'E2') },
			]),
		});
		const { disks } = await s.service.mount({ path });
		const [v1, v2] = disks[0]!.volumes.map((v) => v.mountpoint!);
		s.host.mounted.delete(v1!);
		await s.service.volumesGone([v1!]);
		expect(s.service.list().disks[0]!.volumes[0]).toMatchObject({
			mountpoint: null,
			problem: 'unmounted outside vmdk-mounter',
		});
		// A mountpoint that is still in the table is not believed gone.
		await s.service.volumesGone([v2!]);
		expect(s.service.list().disks).toHaveLength(1);
		s.host.mounted.delete(v2!);
		await s.service.volumesGone([v2!]);
		expect(s.service.list().disks).toEqual([]);
		expect(s.fuse.live.size).toBe(0);
	});
});

describe('one volume at a time', () => {
	it('unmounts one volume while the others stay, mounts it again, and the last takes the disk', async () => {
		const t = await makeTempDir('vmdk-svc-disk-');
		cleanups.push(t.cleanup);
		const path = join(t.dir, 'two.vmdk');
		const s = await setup({
			[path]: disk(path, [
				{ name: 'p1', fs: fs('ext4', 'ONE') },
				{ name: 'p2', fs: fs('ext4', 'TWO') },
			]),
		});
		const { disks } = await s.service.mount({ path });
		const [one, two] = disks[0]!.volumes.map((v) => v.mountpoint!);
		// By a folder inside the mountpoint, like a shell's cwd.
		const r = await s.service.unmount({ target: `${one!}/some/folder` });
		expect(r.disks[0]!.volumes.map((v) => v.mountpoint)).toEqual([null, two]);
		expect(s.host.mounted.has(one!)).toBe(false);
		expect(s.fuse.live.size).toBe(1);
		await expect(stat(one!)).rejects.toThrow();
		// Mounted again on its own, in the same disk folder.
		const again = await s.service.mount({ path, partition: 1 });
		expect(again.disks[0]!.volumes.map((v) => v.mountpoint)).toEqual([one, two]);
		await expect(s.service.mount({ path, partition: 1 })).rejects.toMatchObject({ code: 'ALREADY_MOUNTED' });
		await expect(s.service.mount({ path, partition: 2, readWrite: true })).rejects.toMatchObject({
			code: 'ALREADY_MOUNTED',
		});
		// The last volume takes the disk with it.
		await s.service.unmount({ target: one! });
		await s.service.unmount({ target: two! });
		expect(s.registry.size).toBe(0);
		expect(s.fuse.live.size).toBe(0);
		expect(await readdir(s.paths.mountRootOverride!)).toEqual([]);
	});

	it('a bundle that fails does not take back a disk that was mounted before it', async () => {
		const t = await makeTempDir('vmdk-svc-disk-');
		cleanups.push(t.cleanup);
		const a = join(t.dir, 'a.vmdk');
		const b = join(t.dir, 'b.vmdk');
		const vm = join(t.dir, 'vm.vmwarevm');
		await mkdir(vm);
		const s = await setup(
			{
				[a]: disk(a, [
					{ name: 'p1', fs: fs('ext4', 'A1') },
					{ name: 'p2', fs: fs('ext4', 'A2') },
				]),
				[b]: disk(b, [{ name: 'p1', fs: fs('ext4', 'B') }]),
			},
			{ [vm]: [a, b] },
		);
		await s.service.mount({ path: a, partition: 2 });
		const original = s.host.mountVolume.bind(s.host);
		s.host.mountVolume = async (attempts, target, hooks) => {
			if (target.mountpoint?.includes('/b/') === true)
				throw new Error('could not mount (tried fuse2fs: broken)');
			return original(attempts, target, hooks);
		};
		// a's volume 1 joins a's mount; b fails; a stays mounted as it was before.
		await expect(s.service.mount({ path: vm, partition: 1 })).rejects.toThrow(/broken/);
		expect(s.service.list().disks.map((d) => d.path)).toEqual([a]);
		expect(
			s.service
				.list()
				.disks[0]!.volumes.filter((v) => v.mountpoint !== null)
				.map((v) => v.index),
		).toContain(2);
	});
});

describe('crash recovery on a scripted host', () => {
	it('removes only our own empty folders and overlay files; hostile records are not acted on', async () => {
		const s = await setup({});
		const root = s.paths.mountRootOverride!;
		const victim = join(s.tmp.dir, 'victim');
		await mkdir(join(victim, 'sub'), { recursive: true });
		await writeFile(join(victim, 'precious.txt'), 'keep me');
		await mkdir(join(root, 'disk', 'vol'), { recursive: true });
		await mkdir(join(root, 'disk (2)'), { recursive: true });
		const overlay = join(s.paths.overlaysDir, '0badc0de');
		await mkdir(overlay, { recursive: true });
		await writeFile(join(overlay, 'p1.overlay'), 'x');
		await mkdir(join(s.paths.stateDir, 'overlays', 'not-an-id'), { recursive: true });
		const record = (id: string, over: object) => ({
			id,
			path: '/x.vmdk',
			rawPath: `${s.paths.exportsDir}/${id}/disk`,
			readWrite: true,
			exportDir: `${s.paths.exportsDir}/${id}`,
			state: 'mounting',
			volumes: [
				{
					index: 1,
					name: 'p1',
					mountpoint: join(root, 'disk', 'vol'),
					rawPath: `${s.paths.exportsDir}/${id}/p1`,
					filesystem: null,
					helper: null,
					readOnly: false,
					createdDirs: [join(root, 'disk', 'vol'), join(root, 'disk')],
				},
			],
			...over,
		});
		await mkdir(s.paths.stateDir, { recursive: true });
		await writeFile(
			s.paths.registryPath,
			JSON.stringify({
				version: 2,
				daemonPid: 1,
				disks: [
					record('0badc0de', { overlayDir: overlay }),
					// Hostile: an overlay folder and created folders outside our folders.
					record('1badc0de', {
						overlayDir: victim,
						volumes: [{ ...record('x', {}).volumes[0], createdDirs: [join(victim, 'sub'), victim] }],
					}),
					null,
				],
			}),
		);
		const notices = await recoverFromCrash(s.paths, root, s.host, new DaemonLog(s.paths.logPath));
		// Our folders: gone. The victim: untouched, with its file.
		expect(await readdir(root)).toEqual(['disk (2)']);
		await expect(readdir(overlay)).rejects.toThrow();
		expect((await readdir(victim)).sort()).toEqual(['precious.txt', 'sub']);
		expect(await readdir(join(s.paths.stateDir, 'overlays'))).toEqual(['not-an-id']);
		// The host was told where to look, and the bad record was reported once.
		expect(s.host.lastRecoveryScope).toMatchObject({
			exportsDir: s.paths.exportsDir,
			mountRoot: root,
			sourcePrefix: 'vmdk-mounter:',
		});
		expect(notices.join('\n')).toMatch(/1 unreadable record\(s\)/);
	});
});
