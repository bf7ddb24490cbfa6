// SPDX-License-Identifier: MIT
// Mounting when helpers are missing or fail: each case has its own daemon (the helper search
// path is read when the daemon starts), and must end in a clear error with nothing left.
import { chmod, mkdir, readdir, writeFile } from 'node:fs/promises';
import { execa } from 'execa';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { REPO_ROOT, ensureCliBuilt } from '../fixtures/reference-disk.js';
import { MountEnv, isAlive, makeFixtures, missingCapability, type Fixtures } from './mount-env.js';
import { describeNeeding } from '../helpers/capability.js';

describeNeeding(missingCapability(), 'mount with missing or failing helpers', () => {
	let fx: Fixtures;
	let fixturesEnv: MountEnv;
	const envs: MountEnv[] = [];

	beforeAll(async () => {
		fixturesEnv = await MountEnv.create('vmdk-helpers-fx-');
		await ensureCliBuilt();
		fx = await makeFixtures(fixturesEnv.root);
	}, 180_000);

	afterAll(async () => {
		for (const e of envs) await e.teardown();
		await fixturesEnv?.teardown();
	});

	it('with no helper installed and no kernel mounts, says what to install and leaves nothing', async () => {
		const env = await MountEnv.create('vmdk-nohelper-', {
			VMDK_MOUNTER_HELPER_PATH: '/nonexistent',
			VMDK_MOUNTER_NO_KERNEL_MOUNTS: '1',
		});
		envs.push(env);
		const r = await env.cli('mount', '--json', fx.gptStream);
		expect(r.status).not.toBe(0);
		const { error } = JSON.parse(r.stdout) as { error: { code: string; message: string } };
		expect(error.code).toBe('NO_HELPER');
		expect(error.message).toContain(
			'volume 1 (exfat): no helper for exfat on this host (exfat-fuse mounts only as root',
		);
		expect(error.message).toContain('volume 2 (ntfs): no helper for ntfs on this host (install ntfs-3g');
		expect(await env.leftovers()).toEqual([]);
		const doctor = JSON.parse((await env.cli('doctor', '--json')).stdout) as {
			helpers: { id: string; path: string | null }[];
			installCommand: string;
			logPath: string;
			socketPath: string;
		};
		expect(doctor.helpers.find((h) => h.id === 'ntfs-3g')?.path).toBeNull();
		expect(doctor.installCommand).toBe('sudo apt-get install fuse2fs ntfs-3g fusefat exfat-fuse');
		expect(doctor.logPath).toBe(join(env.stateDir, 'daemon.log'));
		expect(doctor.socketPath).toBe(join(env.runtimeDir, 'control.sock'));
	});

	it('a failing helper gives the next its turn; when all fail the error quotes each', async () => {
		const bin = join(fixturesEnv.root, 'fake-bin');
		await mkdir(bin, { recursive: true });
		const fake = join(bin, 'fuse2fs');
		await writeFile(
			fake,
			'#!/bin/sh\necho "fuse2fs: Bad magic number in super-block while opening $1" >&2\nexit 8\n',
		);
		await chmod(fake, 0o755);
		const env = await MountEnv.create('vmdk-badhelper-', {
			VMDK_MOUNTER_HELPER_PATH: bin,
			VMDK_MOUNTER_NO_KERNEL_MOUNTS: '1',
		});
		envs.push(env);
		const r = await env.cli('mount', '--partition', '1', fx.mbrSparse);
		expect(r.status).not.toBe(0);
		expect(r.stderr).toMatch(
			/Volume could not be mounted: nothing in .*mbr-sparse\.vmdk could be mounted: volume 1 \(ext4\): could not mount \(tried fuse2fs: fuse2fs: Bad magic number in super-block while opening .*\/p1\)/,
		);
		expect(await env.leftovers()).toEqual([]);
		// The FAT volume still mounts with the real fusefat? No: the search path hides it too.
		const both = await env.cli('mount', '--json', fx.mbrSparse);
		expect(both.status).not.toBe(0);
		expect(await env.leftovers()).toEqual([]);
	});

	it('one daemon per user: a second refuses to start; an idle daemon exits by itself', async () => {
		const env = await MountEnv.create('vmdk-single-', { VMDK_MOUNTER_IDLE_EXIT_MS: '1500' });
		envs.push(env);
		expect((await env.cli('mount', fx.mbrSparse)).status).toBe(0);
		const pid = await env.daemonPid();
		expect(pid).toBeDefined();
		const second = await execa(process.execPath, [join(REPO_ROOT, 'dist', 'daemon', 'main.js')], {
			env: env.env,
			reject: false,
			timeout: 20_000,
		});
		expect(second.exitCode).toBe(0);
		expect(second.stderr).toContain('another daemon is running');
		expect(await env.daemonPid()).toBe(pid);
		// Mounted: it stays past the idle time. Unmounted: it leaves.
		await new Promise((r) => setTimeout(r, 2000));
		expect(isAlive(pid ?? 0)).toBe(true);
		expect((await env.cli('unmount', '--all')).status).toBe(0);
		const deadline = Date.now() + 10_000;
		while (isAlive(pid ?? 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
		expect(isAlive(pid ?? 0)).toBe(false);
		expect(await env.leftovers()).toEqual([]);
		expect((await readdir(env.runtimeDir)).filter((n) => n !== 'disks')).toEqual([]);
	});

	it('volumes that cannot be mounted are listed with the reason while the others mount', async () => {
		const bin = join(fixturesEnv.root, 'only-fusefat');
		await mkdir(bin, { recursive: true });
		const { symlink } = await import('node:fs/promises');
		await symlink('/usr/bin/fusefat', join(bin, 'fusefat')).catch(() => undefined);
		const env = await MountEnv.create('vmdk-partial-', {
			VMDK_MOUNTER_HELPER_PATH: bin,
			VMDK_MOUNTER_NO_KERNEL_MOUNTS: '1',
		});
		envs.push(env);
		const r = await env.cli('mount', '--json', fx.mbrSparse);
		expect(r.status, r.stderr).toBe(0);
		const disk = (
			JSON.parse(r.stdout) as {
				disks: {
					volumes: { index: number; mountpoint: string | null; problem?: string; helper: string | null }[];
				}[];
			}
		).disks[0]!;
		expect(disk.volumes[0]).toMatchObject({ index: 1, mountpoint: null, helper: null });
		expect(disk.volumes[0]?.problem).toContain('install fuse2fs');
		expect(disk.volumes[1]).toMatchObject({ index: 2, helper: 'fusefat' });
		const human = await env.cli('list');
		expect(human.stdout).toMatch(/1 {2}ext4 "LINUXDATA" {2}not mounted: no helper for ext4/);
		expect((await env.cli('unmount', '--all')).status).toBe(0);
		expect(await env.leftovers()).toEqual([]);
	});
});
