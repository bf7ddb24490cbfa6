// SPDX-License-Identifier: MIT
// Mounting for real: the CLI starts a real daemon, which exports each disk over FUSE and
// mounts its volumes with the real helpers (fuse2fs, fusefat, exfat-fuse, ntfs-3g, or loop +
// kernel as root). Fixtures are MBR and GPT disks with ext4, FAT32, exFAT and NTFS built with
// mkfs and filled with known files, converted by qemu-img to monolithicSparse, streamOptimized
// and a snapshot chain. Every test checks that nothing is left behind and that the VMDK files
// are unchanged, also after writes through a --rw mount.
import { spawn } from 'node:child_process';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { DaemonClient } from '../../src/daemon/client.js';
import type { MountListResult, MountedDisk } from '../../src/shared/models.js';
import { ensureCliBuilt } from '../fixtures/reference-disk.js';
import { MountEnv, isAlive, makeFixtures, missingCapability, type Fixtures } from '../helpers/mount-env.js';
import { run, sha256File } from '../helpers/run.js';
import { describeNeeding } from '../helpers/capability.js';

let fx: Fixtures;
let env: MountEnv;
let vmdkHashes: Map<string, string>;

async function hashAll(): Promise<Map<string, string>> {
	const out = new Map<string, string>();
	for (const name of await readdir(fx.dir))
		if (name.endsWith('.vmdk')) out.set(name, await sha256File(join(fx.dir, name)));
	return out;
}

function parse(stdout: string): MountListResult {
	return JSON.parse(stdout) as MountListResult;
}

function volumeByType(disk: MountedDisk, type: string) {
	const v = disk.volumes.find((x) => x.filesystem?.type === type);
	if (v === undefined) throw new Error(`no ${type} volume in ${JSON.stringify(disk)}`);
	return v;
}

async function expectFiles(mountpoint: string | null, upper = false): Promise<void> {
	expect(mountpoint).not.toBeNull();
	for (const f of fx.files) {
		const name = upper ? f.name.toUpperCase() : f.name;
		expect(await sha256File(join(mountpoint ?? '', name)), `${name} in ${mountpoint}`).toBe(f.sha256);
	}
}

describeNeeding(missingCapability(), 'mount (real daemon, FUSE and helpers)', () => {
	beforeAll(async () => {
		env = await MountEnv.create('vmdk-mount-it-');
		await ensureCliBuilt();
		fx = await makeFixtures(join(env.root, 'fixtures'));
		vmdkHashes = await hashAll();
	}, 180_000);

	afterEach(async () => {
		// Each test leaves nothing mounted; if one failed half-way, clean up for the next.
		if ((await env.leftovers()).length > 0) {
			await env.cli('unmount', '--all', '--force');
			await env.safetyNet();
		}
	});

	afterAll(async () => {
		await env?.teardown();
	});

	it('mounts an MBR monolithicSparse disk (ext4 + FAT32), lists, unmounts, leaves nothing', async () => {
		const r = await env.cli('mount', '--json', fx.mbrSparse);
		expect(r.stderr).toBe('');
		expect(r.status).toBe(0);
		const { disks } = parse(r.stdout);
		expect(disks).toHaveLength(1);
		const disk = disks[0]!;
		expect(disk.path).toBe(fx.mbrSparse);
		expect(disk.rawPath).toMatch(new RegExp(`^${env.runtimeDir}/disks/[0-9a-f]{8}/disk$`));
		const ext = volumeByType(disk, 'ext4');
		const fat = volumeByType(disk, 'vfat');
		expect(ext).toMatchObject({ index: 1, readOnly: true, filesystem: { label: 'LINUXDATA' } });
		expect(ext.mountpoint).toBe(join(env.mountRoot, 'mbr-sparse', 'LINUXDATA'));
		expect(fat.mountpoint).toBe(join(env.mountRoot, 'mbr-sparse', 'FATDATA'));
		expect(ext.helper).toBe('kernel ext4 (loop)');
		expect(fat.helper).toMatch(/fusefat|kernel vfat/);
		await expectFiles(ext.mountpoint);
		await expectFiles(fat.mountpoint, fat.helper === 'fusefat');
		// The raw files have exact sizes: the whole disk and each partition.
		const { size: diskSize } = await import('node:fs/promises').then((m) => m.stat(disk.rawPath));
		expect(diskSize).toBe(72 * 1024 * 1024);
		// Read-only: writing is refused.
		await expect(writeFile(join(ext.mountpoint ?? '', 'new.txt'), 'x')).rejects.toThrow(/EROFS|read-only/i);

		const list = await env.cli('list', '--json');
		expect(parse(list.stdout)).toEqual({ disks, daemonRunning: true });
		const human = await env.cli('list');
		expect(human.stdout).toContain(ext.mountpoint);

		const u = await env.cli('unmount', '--json', fx.mbrSparse);
		expect(u.status).toBe(0);
		expect(parse(u.stdout).disks.map((d) => d.path)).toEqual([fx.mbrSparse]);
		expect(await env.leftovers()).toEqual([]);
		expect(parse((await env.cli('list', '--json')).stdout).disks).toEqual([]);
		expect(await hashAll()).toEqual(vmdkHashes);
	});

	it('mounts a GPT streamOptimized disk (exFAT + NTFS) and unmounts it volume by volume', async () => {
		const r = await env.cli('mount', '--json', fx.gptStream);
		expect(r.status, r.stderr).toBe(0);
		const disk = parse(r.stdout).disks[0]!;
		const exfat = volumeByType(disk, 'exfat');
		const ntfs = volumeByType(disk, 'ntfs');
		expect(exfat.helper).toMatch(/exfat-fuse|kernel exfat/);
		expect(ntfs.helper).toMatch(/ntfs-3g|kernel ntfs3/);
		expect(ntfs.filesystem?.label).toBe('NTDATA');
		await expectFiles(exfat.mountpoint);
		await expectFiles(ntfs.mountpoint);
		// By a mountpoint: that volume alone; the other stays mounted and readable.
		const u = await env.cli('unmount', ntfs.mountpoint ?? '');
		expect(u.status, u.stderr).toBe(0);
		expect(u.stdout).toContain(
			`Unmounted ${ntfs.mountpoint ?? ''} (the other volumes of ${fx.gptStream} stay mounted)`,
		);
		expect(await env.mountsUnderRoot()).not.toContain(ntfs.mountpoint);
		await expectFiles(exfat.mountpoint);
		// The last volume takes the disk, its export and folders with it.
		const last = await env.cli('unmount', exfat.mountpoint ?? '');
		expect(last.stdout).toContain(`Unmounted ${fx.gptStream}`);
		expect(await env.leftovers()).toEqual([]);
		expect(await hashAll()).toEqual(vmdkHashes);
	});

	it('mounts a snapshot chain leaf and reads the base’s files through it', async () => {
		const r = await env.cli('mount', '--json', '--partition', '1', fx.chainLeaf);
		expect(r.status, r.stderr).toBe(0);
		const disk = parse(r.stdout).disks[0]!;
		expect(disk.volumes).toHaveLength(1);
		await expectFiles(volumeByType(disk, 'ext4').mountpoint);
		expect((await env.cli('unmount', '--all')).status).toBe(0);
		expect(await env.leftovers()).toEqual([]);
		expect(await hashAll()).toEqual(vmdkHashes);
	});

	it('--rw writes to a copy-on-write overlay; the VMDK never changes and the overlay is discarded', async () => {
		const r = await env.cli('mount', '--json', '--rw', fx.mbrSparse);
		expect(r.status, r.stderr).toBe(0);
		const disk = parse(r.stdout).disks[0]!;
		expect(disk.readWrite).toBe(true);
		const ext = volumeByType(disk, 'ext4');
		const fat = volumeByType(disk, 'vfat');
		expect(ext.readOnly).toBe(false);
		const payload = new Uint8Array(2_000_000).map((_, i) => (i * 7) % 256);
		await writeFile(join(ext.mountpoint ?? '', 'written.bin'), payload);
		await writeFile(join(fat.mountpoint ?? '', 'NOTE.TXT'), 'fat write\n');
		expect(Buffer.from(await readFile(join(ext.mountpoint ?? '', 'written.bin'))).equals(payload)).toBe(true);
		expect(await readFile(join(fat.mountpoint ?? '', 'NOTE.TXT'), 'utf8')).toBe('fat write\n');
		expect((await readdir(join(env.stateDir, 'overlays'))).length).toBe(1);
		expect((await env.cli('unmount', fx.mbrSparse)).status).toBe(0);
		expect(await env.leftovers()).toEqual([]);
		expect(await hashAll()).toEqual(vmdkHashes);
		// Mounted again read-only: the written files are gone.
		const again = parse((await env.cli('mount', '--json', '--partition', '1', fx.mbrSparse)).stdout)
			.disks[0]!;
		await expect(readFile(join(volumeByType(again, 'ext4').mountpoint ?? '', 'written.bin'))).rejects.toThrow(
			/ENOENT/,
		);
		expect((await env.cli('unmount', '--all')).status).toBe(0);
	});

	it('refuses --rw when VMware holds a lock, unless --force', async () => {
		const lockDir = join(fx.dir, 'mbr-sparse.vmdk.lck');
		await import('node:fs/promises').then((m) => m.mkdir(lockDir));
		await writeFile(join(lockDir, 'M12345.lck'), 'host1 1234-5678 1 X\n');
		try {
			const refused = await env.cli('mount', '--json', '--rw', fx.mbrSparse);
			expect(refused.status).not.toBe(0);
			expect(JSON.parse(refused.stdout)).toMatchObject({ error: { code: 'DISK_LOCKED' } });
			expect(await env.leftovers()).toEqual([]);
			// Read-only is fine despite the lock; --force overrides for --rw.
			expect((await env.cli('mount', fx.mbrSparse)).status).toBe(0);
			expect((await env.cli('unmount', '--all')).status).toBe(0);
			expect((await env.cli('mount', '--rw', '--force', fx.mbrSparse)).status).toBe(0);
			expect((await env.cli('unmount', '--all')).status).toBe(0);
		} finally {
			await import('node:fs/promises').then((m) => m.rm(lockDir, { recursive: true }));
		}
		expect(await env.leftovers()).toEqual([]);
	});

	it('mounts three disks at once from two clients; the same disk twice is refused', async () => {
		env.applyToProcess();
		const a = await DaemonClient.connect();
		const b = await DaemonClient.connect();
		try {
			const events: number[] = [];
			b.onDidChangeMounts((d) => events.push(d.length));
			const results = await Promise.all([
				a.mount({ path: fx.mbrSparse }),
				b.mount({ path: fx.gptStream }),
				a.mount({ path: fx.chainLeaf, partition: 2 }),
			]);
			expect(results.map((r) => r.disks[0]?.path)).toEqual([fx.mbrSparse, fx.gptStream, fx.chainLeaf]);
			const list = await b.list();
			expect(list.disks).toHaveLength(3);
			expect(events.at(-1)).toBe(3);
			// Every volume of every disk reads at the same time.
			await Promise.all(
				list.disks.flatMap((d) =>
					d.volumes.map((v) =>
						expectFiles(v.mountpoint, v.helper === 'fusefat' && v.filesystem?.type === 'vfat'),
					),
				),
			);
			const twice = await env.cli('mount', fx.gptStream);
			expect(twice.status).not.toBe(0);
			expect(twice.stderr).toMatch(/Already mounted: .*gpt-stream\.vmdk is already mounted at /);
			expect(twice.stderr.trim().split('\n')).toHaveLength(1);
			const u = await env.cli('unmount', '--json', '--all');
			expect(parse(u.stdout).disks).toHaveLength(3);
		} finally {
			a.close();
			b.close();
		}
		expect(await env.leftovers()).toEqual([]);
		expect(await hashAll()).toEqual(vmdkHashes);
	});

	it('a VM bundle mounts each of its disks', async () => {
		const { copyFile, mkdir, rm } = await import('node:fs/promises');
		const bundle = join(fx.dir, 'Test VM.vmwarevm');
		await mkdir(bundle);
		try {
			await copyFile(fx.mbrSparse, join(bundle, 'Test VM.vmdk'));
			await copyFile(fx.gptStream, join(bundle, 'Test VM-1.vmdk'));
			await writeFile(
				join(bundle, 'Test VM.vmx'),
				[
					'.encoding = "UTF-8"',
					'config.version = "8"',
					'displayName = "Test VM"',
					'scsi0.present = "TRUE"',
					'scsi0:0.present = "TRUE"',
					'scsi0:0.fileName = "Test VM.vmdk"',
					'scsi0:1.present = "TRUE"',
					'scsi0:1.fileName = "Test VM-1.vmdk"',
					'',
				].join('\n'),
			);
			const r = await env.cli('mount', '--json', bundle);
			expect(r.status, r.stderr).toBe(0);
			const { disks } = parse(r.stdout);
			expect(disks.map((d) => d.path)).toEqual([
				join(bundle, 'Test VM.vmdk'),
				join(bundle, 'Test VM-1.vmdk'),
			]);
			await expectFiles(volumeByType(disks[1]!, 'ntfs').mountpoint);
			// Two disks, two folders under the mount root, named after the disks.
			expect((await readdir(env.mountRoot)).sort()).toEqual(['Test VM', 'Test VM-1']);
			const u = await env.cli('unmount', '--json', '--all');
			expect(parse(u.stdout).disks).toHaveLength(2);
		} finally {
			await rm(bundle, { recursive: true, force: true });
		}
		expect(await env.leftovers()).toEqual([]);
	});

	it('a busy volume refuses to unmount and names the process; --force detaches it', async () => {
		const disk = parse((await env.cli('mount', '--json', fx.mbrSparse)).stdout).disks[0]!;
		const ext = volumeByType(disk, 'ext4');
		const child = spawn('/bin/sleep', ['60'], { cwd: ext.mountpoint ?? '/', stdio: 'ignore' });
		try {
			const refused = await env.cli('unmount', fx.mbrSparse);
			expect(refused.status).not.toBe(0);
			expect(refused.stderr).toMatch(
				new RegExp(`Volume in use: .*is busy: in use by sleep \\(pid ${child.pid}, cwd\\)`),
			);
			// The disk is still mounted and listed.
			expect(parse((await env.cli('list', '--json')).stdout).disks).toHaveLength(1);
			const forced = await env.cli('unmount', '--force', fx.mbrSparse);
			expect(forced.status, forced.stderr).toBe(0);
		} finally {
			child.kill('SIGKILL');
		}
		await new Promise((r) => setTimeout(r, 200));
		expect(await env.leftovers()).toEqual([]);
	});

	it('after kill -9 of the daemon, the next command cleans up and says so', async () => {
		const r = await env.cli('mount', '--json', fx.mbrSparse);
		expect(r.status, r.stderr).toBe(0);
		const pid = await env.daemonPid();
		expect(pid).toBeDefined();
		process.kill(pid ?? 0, 'SIGKILL');
		await new Promise((res) => setTimeout(res, 300));
		expect(isAlive(pid ?? 0)).toBe(false);
		expect((await env.mountsUnderRoot()).length).toBeGreaterThan(0);
		const list = await env.cli('list');
		expect(list.status).toBe(0);
		expect(list.stderr).toContain('The previous mount service stopped unexpectedly');
		expect(list.stderr).toContain(`unmounted ${join(env.mountRoot, 'mbr-sparse', 'LINUXDATA')}`);
		expect(list.stderr).toMatch(/detached \/dev\/loop\d+/);
		expect(list.stdout).toBe('Nothing is mounted.');
		expect(await env.leftovers()).toEqual([]);
		// The new daemon works.
		expect((await env.cli('mount', fx.gptStream)).status).toBe(0);
		expect((await env.cli('unmount', '--all')).status).toBe(0);
	});

	it('a truncated VMDK fails with a clear error and leaves nothing', async () => {
		const truncated = join(fx.dir, 'truncated.vmdk');
		const bytes = await readFile(fx.mbrSparse);
		await writeFile(truncated, bytes.subarray(0, 40_000));
		const r = await env.cli('mount', '--json', truncated);
		expect(r.status).not.toBe(0);
		const err = (JSON.parse(r.stdout) as { error: { code: string; message: string } }).error;
		expect(err.code).toMatch(/^VMDK_/);
		expect(err.message).toContain('truncated.vmdk');
		expect(await env.leftovers()).toEqual([]);
	});

	it('a disk with no filesystem anywhere says so (after trying the legacy order), and leaves nothing', async () => {
		const raw = join(fx.dir, 'unknown.raw');
		await writeFile(raw, new Uint8Array(8 * 1024 * 1024).fill(0x5a));
		const vmdk = join(fx.dir, 'unknown.vmdk');
		await run('/usr/bin/qemu-img', ['convert', '-f', 'raw', '-O', 'vmdk', raw, vmdk]);
		const r = await env.cli('mount', vmdk);
		expect(r.status).not.toBe(0);
		expect(r.stderr).toMatch(/No filesystem found: no filesystem found in .*unknown\.vmdk/);
		// Not every helper's complaint: those go to the daemon's log.
		expect(r.stderr).not.toMatch(/fuse2fs: /);
		expect(await readFile(join(env.stateDir, 'daemon.log'), 'utf8')).toMatch(
			/could not mount \(tried .*ntfs-3g: .*fuse2fs: /,
		);
		expect(await env.leftovers()).toEqual([]);
	});
});
