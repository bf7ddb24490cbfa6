// SPDX-License-Identifier: MIT
// The product promise, tested for real: `vmdk-mounter mount disk.vmdk` mounts what it can,
// read-only, WITHOUT root. The CLI and the daemon it starts run as `nobody` (setpriv), with
// every folder they need in a temp dir that user owns. Nothing here may use a loop device or a
// kernel mount: the disk export goes through libfuse 3 and the setuid `fusermount3`, and the
// volumes through the userspace helpers (fuse2fs, fusefat). Files are read back AS THE USER
// (another user, root included, cannot even look into a FUSE mount made without allow_other).
//
// exFAT and NTFS: with Debian's helpers neither can mount unprivileged, and the test pins that
// down (the mount fails, names each helper's reason, leaves nothing behind):
// - exfat-fuse always asks FUSE for `allow_other,blkdev`; fusermount3 refuses `blkdev` to a
//   non-root user whatever /etc/fuse.conf says, so the plan does not even try it.
// - Debian's ntfs-3g has FUSE built in, so it mounts only as root or setuid root (as shipped);
//   a setuid process keeps saved uid 0, and the kernel refuses it access to the user's own FUSE
//   mount (the export, made without allow_other): "Permission denied". Where /etc/fuse.conf has
//   `user_allow_other`, the daemon mounts the export with allow_other and owner-only modes, and
//   NTFS mounts (the last test).
import { existsSync, statSync } from 'node:fs';
import { chmod, chown, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { DoctorReport, MountListResult, MountedDisk } from '../../src/shared/models.js';
import { CLI_BIN, REPO_ROOT, ensureCliBuilt } from '../fixtures/reference-disk.js';
import { describeNeeding } from '../helpers/capability.js';
import {
	MountEnv,
	isAlive,
	makeFixtures,
	missingCapability,
	sh,
	sha256,
	type Fixtures,
} from './mount-env.js';

/** `nobody`/`nogroup`: no user is created; everything it needs is in a temp dir it owns. */
const USER_UID = 65534;
const USER_GID = 65534;
const SETPRIV = '/usr/bin/setpriv';
const FUSE_DEVICE = '/dev/fuse';
/** libfuse's system config; `user_allow_other` in it lets a user mount with allow_other. */
const FUSE_CONF = '/etc/fuse.conf';
/** The daemon exits this long after its last mount goes, so the test can see it leave. */
const IDLE_EXIT_MS = 1500;
/** Where the daemon's libfuse 3 addon is built (`npm run build:native`). */
const FUSE3_ADDON = join(REPO_ROOT, 'native', 'fuse3', 'build', 'Release', 'vmdk_fuse3.node');

let env: MountEnv;
let fx: Fixtures;
let userEnv: Record<string, string>;
let vmdkHashes: Map<string, string>;
/** /dev/fuse's mode before the test, restored in teardown (undefined until read). */
let fuseModeBefore: number | undefined;

function missing(): string | undefined {
	const base = missingCapability();
	if (base !== undefined) return base;
	if (!existsSync(SETPRIV)) return `${SETPRIV} is not installed`;
	return undefined;
}

/**
 * This machine has no udev, so /dev/fuse is root's only (0600). A normal Linux host has it
 * 0666 (udev's rule), which is what lets any user mount FUSE filesystems: give it that mode
 * while the test runs. Set again before every step, as another suite may put it back.
 */
async function openFuseDevice(): Promise<void> {
	fuseModeBefore ??= statSync(FUSE_DEVICE).mode & 0o7777;
	await chmod(FUSE_DEVICE, 0o666);
}

/** Runs `program args` as the unprivileged user with its own environment; never throws. */
async function asUser(
	program: string,
	args: readonly string[],
): Promise<{ status: number | undefined; stdout: string; stderr: string }> {
	await openFuseDevice();
	const r = await execa(
		SETPRIV,
		[`--reuid=${USER_UID}`, `--regid=${USER_GID}`, '--clear-groups', '--', program, ...args],
		{ reject: false, env: userEnv, extendEnv: false, cwd: env.root, timeout: 90_000 },
	);
	return { status: r.exitCode, stdout: r.stdout, stderr: r.stderr };
}

/** The CLI as the unprivileged user. */
function cli(...args: string[]) {
	return asUser(process.execPath, [CLI_BIN, ...args]);
}

/** sha256 of files, read by the unprivileged user through its mounts. */
async function sha256AsUser(paths: readonly string[]): Promise<string[]> {
	const r = await asUser('/usr/bin/sha256sum', paths);
	expect(r.status, r.stderr).toBe(0);
	return r.stdout
		.split('\n')
		.filter((l) => l.length > 0)
		.map((l) => l.split(' ')[0] ?? '');
}

async function hashAll(): Promise<Map<string, string>> {
	const out = new Map<string, string>();
	for (const name of await readdir(fx.dir))
		if (name.endsWith('.vmdk')) out.set(name, await sha256(join(fx.dir, name)));
	return out;
}

function volumeByType(disk: MountedDisk, type: string) {
	const v = disk.volumes.find((x) => x.filesystem?.type === type);
	if (v === undefined) throw new Error(`no ${type} volume in ${JSON.stringify(disk)}`);
	return v;
}

/** A line of /proc/self/mountinfo. */
interface MountInfo {
	readonly mountpoint: string;
	readonly fsType: string;
	readonly source: string;
	readonly superOptions: readonly string[];
}

/** Mounts under the test's folder, from /proc/self/mountinfo. */
async function mountsUnderRoot(): Promise<MountInfo[]> {
	const text = await readFile('/proc/self/mountinfo', 'utf8');
	const out: MountInfo[] = [];
	for (const line of text.split('\n')) {
		const [left, right] = line.split(' - ');
		if (left === undefined || right === undefined) continue;
		const mountpoint = (left.split(' ')[4] ?? '').replace(/\\040/g, ' ');
		if (!mountpoint.startsWith(`${env.root}/`)) continue;
		const [fsType = '', source = '', superOptions = ''] = right.split(' ');
		out.push({ mountpoint, fsType, source, superOptions: superOptions.split(',') });
	}
	return out;
}

/** The uids (real, effective, saved, fs) of a process. */
async function uidsOf(pid: number): Promise<string> {
	const status = await readFile(`/proc/${pid}/status`, 'utf8');
	return (/^Uid:\s+(.*)$/m.exec(status)?.[1] ?? '').trim().split(/\s+/).join(' ');
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
	const deadline = Date.now() + timeoutMs;
	while (isAlive(pid)) {
		if (Date.now() > deadline) return false;
		await new Promise((r) => setTimeout(r, 100));
	}
	return true;
}

/** Live processes of the user whose command line names a path under the test's folder. */
async function userProcessesUnderRoot(): Promise<string[]> {
	const out: string[] = [];
	for (const name of await readdir('/proc')) {
		if (!/^\d+$/.test(name)) continue;
		try {
			const status = await readFile(`/proc/${name}/status`, 'utf8');
			const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1];
			if (uid !== String(USER_UID) || /^State:\s+Z/m.test(status)) continue;
			const cmdline = (await readFile(`/proc/${name}/cmdline`, 'utf8')).split('\0').join(' ').trim();
			if (cmdline.includes(env.root)) out.push(`${name}: ${cmdline}`);
		} catch {
			// It exited meanwhile.
		}
	}
	return out;
}

/**
 * Checks nothing is left once the daemon has gone idle and exited: no mounts, loops, mountpoint
 * or export folders, overlays, helper processes; the VMDK files unchanged.
 */
async function expectNothingLeft(): Promise<void> {
	const pid = await env.daemonPid();
	if (pid !== undefined)
		expect(await waitForExit(pid, IDLE_EXIT_MS + 8000), 'daemon exits when idle').toBe(true);
	expect(await mountsUnderRoot()).toEqual([]);
	expect(await env.leftovers()).toEqual([]);
	expect(await userProcessesUnderRoot()).toEqual([]);
	expect(await hashAll()).toEqual(vmdkHashes);
}

describeNeeding(
	missing(),
	'mount as an unprivileged user (setpriv nobody, fusermount3, FUSE helpers)',
	() => {
		beforeAll(async () => {
			env = await MountEnv.create('vmdk-unpriv-it-', { VMDK_MOUNTER_IDLE_EXIT_MS: String(IDLE_EXIT_MS) });
			// The user must reach its temp dir: every folder above it has to be searchable.
			for (let d = dirname(env.root); d !== '/'; d = dirname(d)) {
				if (((await stat(d)).mode & 0o001) === 0) throw new Error(`${d} is not searchable by other users`);
			}
			await ensureCliBuilt();
			fx = await makeFixtures(join(env.root, 'fixtures'));
			vmdkHashes = await hashAll();
			await writeFile(
				join(env.root, 'payload.bin'),
				new Uint8Array(1_500_000).map((_, i) => (i * 13 + (i >> 9)) % 256),
			);
			// Hand the whole tree to the user (the fixtures too: it reads the VMDKs, nothing more).
			await sh('/usr/bin/chown', ['-R', `${USER_UID}:${USER_GID}`, env.root]);
			await chown(env.root, USER_UID, USER_GID);
			await chmod(env.root, 0o755);
			userEnv = {
				...env.env,
				HOME: join(env.root, 'home'),
				PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin',
				LC_ALL: 'C',
			};
		}, 180_000);

		afterAll(async () => {
			// Always: unmount whatever is left (volumes before exports), kill the user's daemon, give
			// /dev/fuse its mode back, remove the temp dir.
			try {
				if (env !== undefined) {
					const pid = await env.daemonPid();
					if (pid !== undefined && isAlive(pid)) await cli('unmount', '--all', '--force');
					const mounts = (await mountsUnderRoot()).map((m) => m.mountpoint);
					const exportsDir = join(env.runtimeDir, 'disks');
					for (const mp of [
						...mounts.filter((m) => !m.startsWith(exportsDir)).sort((a, b) => b.length - a.length),
						...mounts.filter((m) => m.startsWith(exportsDir)),
					]) {
						await execa('/usr/bin/fusermount3', ['-u', '-z', mp], { reject: false });
					}
					await env.teardown();
				}
			} finally {
				if (fuseModeBefore !== undefined) await chmod(FUSE_DEVICE, fuseModeBefore);
			}
		}, 60_000);

		it('mounts ext4 and FAT read-only with FUSE helpers, lists, unmounts: all as the user', async () => {
			const r = await cli('mount', '--json', fx.mbrSparse);
			expect(r.status, r.stderr).toBe(0);
			const disk = (JSON.parse(r.stdout) as MountListResult).disks[0];
			if (disk === undefined) throw new Error(r.stdout);
			const ext = volumeByType(disk, 'ext4');
			const fat = volumeByType(disk, 'vfat');
			expect(ext).toMatchObject({ helper: 'fuse2fs', readOnly: true, filesystem: { label: 'LINUXDATA' } });
			expect(fat).toMatchObject({ helper: 'fusefat', readOnly: true, filesystem: { label: 'FATDATA' } });
			expect(ext.mountpoint).toBe(join(env.mountRoot, 'mbr-sparse', 'LINUXDATA'));
			expect(fat.mountpoint).toBe(join(env.mountRoot, 'mbr-sparse', 'FATDATA'));

			// The daemon runs as the user (real, effective, saved and fs uid).
			const pid = await env.daemonPid();
			expect(pid).toBeDefined();
			expect(await uidsOf(pid ?? 0)).toBe(Array(4).fill(String(USER_UID)).join(' '));
			if (existsSync(FUSE3_ADDON)) {
				expect(await readFile(join(env.stateDir, 'daemon.log'), 'utf8')).toContain('(FUSE binding fuse3)');
			}

			// The known files, read back as the user (fusefat shows 8.3 names in capitals).
			const paths = [
				...fx.files.map((f) => join(ext.mountpoint ?? '', f.name)),
				...fx.files.map((f) => join(fat.mountpoint ?? '', f.name.toUpperCase())),
			];
			const expected = [...fx.files, ...fx.files].map((f) => f.sha256);
			expect(await sha256AsUser(paths)).toEqual(expected);
			// Read-only really is: the user cannot write either volume.
			for (const mp of [ext.mountpoint, fat.mountpoint]) {
				const w = await asUser('/usr/bin/touch', [join(mp ?? '', 'new-file')]);
				expect(w.status, `touch in ${mp}`).not.toBe(0);
			}

			// `list` as the user shows the same disk and volumes.
			const list = await cli('list', '--json');
			expect(list.status, list.stderr).toBe(0);
			const listed = (JSON.parse(list.stdout) as MountListResult).disks;
			expect(listed.map((d) => d.path)).toEqual([fx.mbrSparse]);
			expect(listed[0]?.volumes.map((v) => [v.mountpoint, v.helper, v.readOnly])).toEqual(
				disk.volumes.map((v) => [v.mountpoint, v.helper, v.readOnly]),
			);

			// mountinfo: the export is fuse.vmdk-mounter, read-only, mounted by the user (through
			// fusermount3); the volumes are FUSE mounts of the user too. No loop device, no kernel fs.
			const mounts = await mountsUnderRoot();
			const exportDir = dirname(disk.rawPath);
			expect(mounts.find((m) => m.mountpoint === exportDir)).toMatchObject({
				fsType: 'fuse.vmdk-mounter',
				superOptions: expect.arrayContaining([
					'ro',
					`user_id=${USER_UID}`,
					`group_id=${USER_GID}`,
				]) as unknown,
			});
			expect(mounts.map((m) => m.mountpoint).sort()).toEqual(
				[exportDir, ext.mountpoint ?? '', fat.mountpoint ?? ''].sort(),
			);
			for (const m of mounts) {
				// FUSE mounts: `fuse.<subtype>`, or plain `fuse` where the helper was given `fsname=` (fusefat).
				expect(m.fsType, m.mountpoint).toMatch(/^fuse(\.|$)/);
				expect(m.superOptions, m.mountpoint).toContain(`user_id=${USER_UID}`);
				expect(m.superOptions, m.mountpoint).not.toContain('allow_other');
			}
			expect(await env.loopsUnderRoot()).toEqual([]);

			const u = await cli('unmount', '--json', '--all');
			expect(u.status, u.stderr).toBe(0);
			await expectNothingLeft();
		});

		it('--rw as the user: writes to ext4 through the overlay, reads back, the VMDK never changes', async () => {
			const r = await cli('mount', '--json', '--rw', '--partition', '1', fx.mbrSparse);
			expect(r.status, r.stderr).toBe(0);
			const disk = (JSON.parse(r.stdout) as MountListResult).disks[0];
			if (disk === undefined) throw new Error(r.stdout);
			expect(disk.readWrite).toBe(true);
			const ext = volumeByType(disk, 'ext4');
			expect(ext).toMatchObject({ helper: 'fuse2fs', readOnly: false });
			const target = join(ext.mountpoint ?? '', 'written-by-user.bin');
			const payload = join(env.root, 'payload.bin');
			const cp = await asUser('/usr/bin/cp', [payload, target]);
			expect(cp.status, cp.stderr).toBe(0);
			const sync = await asUser('/usr/bin/sync', [target]);
			expect(sync.status, sync.stderr).toBe(0);
			expect(await sha256AsUser([target, join(ext.mountpoint ?? '', 'hello.txt')])).toEqual([
				await sha256(payload),
				fx.files.find((f) => f.name === 'hello.txt')?.sha256,
			]);
			const u = await cli('unmount', fx.mbrSparse);
			expect(u.status, u.stderr).toBe(0);
			await expectNothingLeft();
		});

		it('a busy volume is refused naming the process; --force detaches it lazily (fusermount3 -uz)', async () => {
			const r = await cli('mount', '--json', fx.mbrSparse);
			expect(r.status, r.stderr).toBe(0);
			const disk = (JSON.parse(r.stdout) as MountListResult).disks[0];
			if (disk === undefined) throw new Error(r.stdout);
			const ext = volumeByType(disk, 'ext4');
			// A shell of the user sits in the ext4 volume (root could not even cd there).
			const holder = execa(
				SETPRIV,
				[
					`--reuid=${USER_UID}`,
					`--regid=${USER_GID}`,
					'--clear-groups',
					'--',
					'/bin/sh',
					'-c',
					'cd "$1" && exec /usr/bin/sleep 60',
					'sh',
					ext.mountpoint ?? '',
				],
				{ reject: false, env: userEnv, extendEnv: false },
			);
			try {
				const deadline = Date.now() + 10_000;
				const comm = () => readFile(`/proc/${holder.pid ?? 0}/comm`, 'utf8').catch(() => '');
				while ((await comm()).trim() !== 'sleep' && Date.now() < deadline)
					await new Promise((res) => setTimeout(res, 50));
				expect((await comm()).trim()).toBe('sleep');

				const busy = await cli('unmount', '--json', fx.mbrSparse);
				expect(busy.status).not.toBe(0);
				const { error } = JSON.parse(busy.stdout) as { error: { code: string; message: string } };
				expect(error.code).toBe('VOLUME_BUSY');
				expect(error.message).toContain(`in use by sleep (pid ${holder.pid ?? 0}`);
				expect((await mountsUnderRoot()).map((m) => m.mountpoint)).toContain(ext.mountpoint);

				const forced = await cli('unmount', '--force', fx.mbrSparse);
				expect(forced.status, forced.stderr).toBe(0);
				// Detached at once; the export serves the detached volume until its last user leaves.
				expect((await mountsUnderRoot()).map((m) => m.mountpoint)).not.toContain(ext.mountpoint);
				const after = await cli('list', '--json');
				expect((JSON.parse(after.stdout) as MountListResult).disks).toEqual([]);
			} finally {
				holder.kill('SIGKILL');
				await holder;
			}
			await expectNothingLeft();
		});

		it("after kill -9 of the user's daemon, the next command cleans up as the user", async () => {
			const r = await cli('mount', '--json', '--rw', fx.mbrSparse);
			expect(r.status, r.stderr).toBe(0);
			const pid = await env.daemonPid();
			if (pid === undefined) throw new Error('no daemon pid');
			process.kill(pid, 'SIGKILL');
			expect(await waitForExit(pid, 5000)).toBe(true);
			// Its export and volumes are still in the mount table, dead.
			expect(await mountsUnderRoot()).toHaveLength(3);
			const list = await cli('list');
			expect(list.status, list.stderr).toBe(0);
			expect(list.stdout).toBe('Nothing is mounted.');
			expect(list.stderr).toContain('The previous mount service stopped unexpectedly');
			await expectNothingLeft();
		});

		it('doctor as the user: FUSE usable, the libfuse 3 binding, and what each helper needs', async () => {
			const r = await cli('doctor', '--json');
			expect(r.status, r.stderr).toBe(0);
			const d = JSON.parse(r.stdout) as DoctorReport;
			expect(d).toMatchObject({ isRoot: false, fuseAvailable: true });
			if (existsSync(FUSE3_ADDON)) expect(d.fuseBinding).toBe('fuse3');
			expect(d.helpers.find((h) => h.id === 'exfat-fuse')?.note).toBe('works only as root');
			const allowOther = /^\s*user_allow_other\s*$/m.test(await readFile(FUSE_CONF, 'utf8').catch(() => ''));
			const ntfsNote = d.helpers.find((h) => h.id === 'ntfs-3g')?.note;
			if (allowOther) expect(ntfsNote).toBeUndefined();
			else expect(ntfsNote).toContain('user_allow_other');
			expect(d.helpers.find((h) => h.id === 'fuse2fs')?.note).toBeUndefined();
		});

		it('exFAT and NTFS do not mount unprivileged with these helpers: a clear error, nothing left', async () => {
			const r = await cli('mount', '--json', fx.gptStream);
			expect(r.status).not.toBe(0);
			const { error } = JSON.parse(r.stdout) as { error: { code: string; message: string } };
			// Each helper's own reason, not its usage banner.
			expect(error.message).toContain(
				'volume 1 (exfat): no helper for exfat on this host (exfat-fuse mounts only as root',
			);
			expect(error.message).toMatch(
				/volume 2 \(ntfs\): could not mount \(tried ntfs-3g: .*(Permission denied|privilege|not permitted)/,
			);
			// …and what would make it work.
			expect(error.message).toContain('as a user, ntfs-3g needs `user_allow_other` in /etc/fuse.conf');
			await expectNothingLeft();
		});
		it('with user_allow_other in fuse.conf, the setuid ntfs-3g reaches the export: NTFS mounts as the user', async () => {
			const before = existsSync(FUSE_CONF) ? await readFile(FUSE_CONF, 'utf8') : undefined;
			await writeFile(FUSE_CONF, `${before ?? ''}\nuser_allow_other\n`);
			try {
				const r = await cli('mount', '--json', fx.gptStream);
				expect(r.status, r.stderr).toBe(0);
				const disk = (JSON.parse(r.stdout) as MountListResult).disks[0];
				if (disk === undefined) throw new Error(r.stdout);
				const ntfs = volumeByType(disk, 'ntfs');
				expect(ntfs).toMatchObject({ helper: 'ntfs-3g', readOnly: true, filesystem: { label: 'NTDATA' } });
				// exFAT still cannot (exfat-fuse wants a block device); the other volume mounts anyway.
				expect(volumeByType(disk, 'exfat').mountpoint).toBeNull();
				expect(await sha256AsUser(fx.files.map((f) => join(ntfs.mountpoint ?? '', f.name)))).toEqual(
					fx.files.map((f) => f.sha256),
				);
				// The export is open to other credentials, but its files are the user's alone.
				const exportDir = dirname(disk.rawPath);
				expect((await mountsUnderRoot()).find((m) => m.mountpoint === exportDir)?.superOptions).toContain(
					'allow_other',
				);
				expect((await stat(disk.rawPath)).mode % 0o1000).toBe(0o400);
				expect((await stat(join(exportDir, 'p2'))).mode % 0o1000).toBe(0o400);
				const other = await execa(
					SETPRIV,
					['--reuid=65533', '--regid=65533', '--clear-groups', '--', '/usr/bin/head', '-c1', disk.rawPath],
					{ reject: false },
				);
				expect(other.exitCode, 'another user reads the export').not.toBe(0);
				const u = await cli('unmount', '--json', '--all');
				expect(u.status, u.stderr).toBe(0);
				await expectNothingLeft();
			} finally {
				if (before === undefined) await rm(FUSE_CONF, { force: true });
				else await writeFile(FUSE_CONF, before);
			}
		});
	},
);
