// SPDX-License-Identifier: MIT
/**
 * The fault suite: the daemon tried as a careful user and as a hostile local user would. Each
 * test is one way things went wrong before (see docs/architecture.md, "What the daemon
 * trusts"): foreign or world-writable folders, a socket or lock that is not ours, hostile and
 * broken registry records, two daemons on one state folder, a state folder too small for a
 * writable mount and one that fails under it, a mount root behind a symlink or given as a
 * relative path, bad settings, and kill -9 in the middle of a mount. Real daemon, real mounts,
 * isolated folders; everything is unmounted in teardown.
 */
import { spawn } from 'node:child_process';
import {
	chmod,
	chown,
	lstat,
	mkdir,
	readdir,
	readFile,
	rm,
	stat,
	symlink,
	writeFile,
} from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { MountListResult } from '../../src/shared/models.js';
import { ensureCliBuilt } from '../fixtures/reference-disk.js';
import { describeNeeding } from '../helpers/capability.js';
import { MountEnv, isAlive, makeFixtures, missingCapability, type Fixtures } from '../helpers/mount-env.js';
import { run, runStatus } from '../helpers/run.js';

const NOBODY = 65534;
const MIB = 1024 * 1024;

function parse(stdout: string): MountListResult {
	return JSON.parse(stdout) as MountListResult;
}
function jsonError(stdout: string): { code: string; message: string } {
	return (JSON.parse(stdout) as { error: { code: string; message: string } }).error;
}

describeNeeding(missingCapability(), 'faults: what the daemon trusts and refuses', () => {
	let fx: Fixtures;
	let fixturesEnv: MountEnv;
	const envs: MountEnv[] = [];
	const cleanups: (() => Promise<void>)[] = [];

	async function newEnv(prefix: string, extra: Record<string, string> = {}): Promise<MountEnv> {
		const env = await MountEnv.create(prefix, extra);
		envs.push(env);
		return env;
	}

	beforeAll(async () => {
		await ensureCliBuilt();
		fixturesEnv = await MountEnv.create('vmdk-faults-fx-');
		fx = await makeFixtures(fixturesEnv.root);
	}, 180_000);

	afterEach(async () => {
		for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
	});

	afterAll(async () => {
		for (const e of envs) await e.teardown();
		await fixturesEnv?.teardown();
	});

	describe('1. folders and sockets another user could control', () => {
		it('a runtime folder owned by another user is refused, naming it and the fix', async () => {
			const env = await newEnv('vmdk-faults-foreign-');
			await mkdir(env.runtimeDir, { recursive: true, mode: 0o700 });
			await chown(env.runtimeDir, NOBODY, NOBODY);
			const r = await env.cli('mount', '--json', fx.mbrSparse);
			expect(r.status).not.toBe(0);
			const error = jsonError(r.stdout);
			expect(error.code).toBe('UNSAFE_FOLDER');
			expect(error.message).toContain(env.runtimeDir);
			expect(error.message).toMatch(/belongs to uid 65534/);
			// list says so too, instead of "Nothing is mounted".
			const list = await env.cli('list');
			expect(list.status).not.toBe(0);
			expect(list.stderr).toMatch(/Unsafe folder permissions: .*belongs to uid 65534/);
			expect(list.stdout).not.toContain('Nothing is mounted');
		});

		it('a world-writable runtime folder of our own is repaired to 0700 and used', async () => {
			const env = await newEnv('vmdk-faults-0777-');
			await mkdir(env.runtimeDir, { recursive: true });
			await chmod(env.runtimeDir, 0o777);
			const r = await env.cli('list');
			expect(r.status, r.stderr).toBe(0);
			expect((await stat(env.runtimeDir)).mode & 0o777).toBe(0o700);
		});

		it('a socket bound by another user is never talked to', async () => {
			const env = await newEnv('vmdk-faults-spoof-');
			await mkdir(env.runtimeDir, { recursive: true, mode: 0o700 });
			const socketPath = join(env.runtimeDir, 'control.sock');
			let connections = 0;
			const fake: Server = createServer((s) => {
				connections++;
				s.on('data', () => s.write('{"id":1,"result":{"disks":[{"path":"/injected"}]}}\n'));
			});
			await new Promise<void>((r) => fake.listen(socketPath, r));
			cleanups.push(() => new Promise<void>((r) => fake.close(() => r())));
			await chown(socketPath, NOBODY, NOBODY);
			const r = await env.cli('list', '--json');
			expect(r.status).not.toBe(0);
			expect(jsonError(r.stdout)).toMatchObject({ code: 'DAEMON_UNTRUSTED' });
			expect(jsonError(r.stdout).message).toContain(socketPath);
			const mount = await env.cli('mount', fx.mbrSparse);
			expect(mount.status).not.toBe(0);
			expect(connections).toBe(0);
		});

		it('a socket that never answers fails list within its deadline, and list does not claim "nothing is mounted"', async () => {
			const env = await newEnv('vmdk-faults-mute-');
			await mkdir(env.runtimeDir, { recursive: true, mode: 0o700 });
			const socketPath = join(env.runtimeDir, 'control.sock');
			const held = new Set<Socket>();
			const mute = createServer((s) => held.add(s));
			await new Promise<void>((r) => mute.listen(socketPath, r));
			cleanups.push(() => {
				for (const s of held) s.destroy();
				return new Promise<void>((r) => mute.close(() => r()));
			});
			const started = Date.now();
			const r = await env.cli('list');
			expect(Date.now() - started).toBeLessThan(30_000);
			expect(r.status).not.toBe(0);
			expect(r.stderr).toMatch(/does not answer|no answer|did not answer/);
			expect(r.stdout).not.toContain('Nothing is mounted');
		});

		it('a lock file owned by another user stops the daemon from starting, with the reason', async () => {
			const env = await newEnv('vmdk-faults-lock-');
			await mkdir(env.stateDir, { recursive: true, mode: 0o700 });
			const lock = join(env.stateDir, 'daemon.lock');
			// Ownership is checked before the pid is believed (no live pid needed, and none given:
			// the teardown kills whatever pid a lock names).
			await writeFile(lock, '999999\n');
			await chown(lock, NOBODY, NOBODY);
			cleanups.push(() => rm(lock, { force: true }));
			const r = await env.cli('mount', '--json', fx.mbrSparse);
			expect(r.status).not.toBe(0);
			expect(jsonError(r.stdout)).toMatchObject({ code: 'DAEMON_UNTRUSTED' });
		});
	});

	describe('2. the registry cannot be turned against us', () => {
		it('hostile records: another folder, a foreign tmpfs, an unrelated loop device — all left alone', async () => {
			const env = await newEnv('vmdk-faults-hostile-');
			const victim = join(env.root, 'victim');
			await mkdir(join(victim, 'docs'), { recursive: true });
			await writeFile(join(victim, 'docs', 'thesis.txt'), 'years of work');
			const tmpfs = join(env.root, 'tmpfs');
			await mkdir(tmpfs);
			await run('/usr/bin/mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', tmpfs]);
			cleanups.push(() => run('/usr/bin/umount', [tmpfs]).then(() => undefined));
			const backing = join(env.root, 'backing.img');
			await writeFile(backing, new Uint8Array(MIB));
			const loop = (await run('/usr/sbin/losetup', ['--find', '--show', backing])).trim();
			cleanups.push(() => run('/usr/sbin/losetup', ['--detach', loop]).then(() => undefined));
			await mkdir(env.stateDir, { recursive: true, mode: 0o700 });
			const exportDir = join(env.runtimeDir, 'disks', 'deadbeef');
			await writeFile(
				join(env.stateDir, 'mounts.json'),
				JSON.stringify({
					version: 2,
					daemonPid: 999999,
					disks: [
						{
							id: 'deadbeef',
							path: '/nonexistent.vmdk',
							rawPath: `${exportDir}/disk`,
							readWrite: true,
							exportDir,
							overlayDir: victim,
							state: 'mounted',
							volumes: [
								{
									index: 1,
									name: 'p1',
									mountpoint: tmpfs,
									rawPath: `${exportDir}/p1`,
									filesystem: null,
									helper: 'kernel ext4 (loop)',
									readOnly: false,
									attachment: loop,
									createdDirs: [join(victim, 'docs'), victim],
								},
							],
						},
					],
				}),
			);
			const r = await env.cli('list');
			expect(r.status, r.stderr).toBe(0);
			expect(await readFile(join(victim, 'docs', 'thesis.txt'), 'utf8')).toBe('years of work');
			expect(await env.mountsUnderRoot()).toContain(tmpfs);
			const loops = JSON.parse(await run('/usr/sbin/losetup', ['--list', '--json'])) as {
				loopdevices: { name: string }[];
			};
			expect(loops.loopdevices.map((l) => l.name)).toContain(loop);
			expect(r.stderr).not.toContain(`detached ${loop}`);
			const log = await readFile(join(env.stateDir, 'daemon.log'), 'utf8');
			expect(log).toMatch(/recovery refused: left .*tmpfs mounted: it is tmpfs/);
			expect(log).toMatch(/recovery refused: did not touch \/dev\/loop\d+/);
		});

		it.each([
			['a null record', '{"version":2,"daemonPid":1,"disks":[null]}'],
			['a record without fields', '{"version":2,"daemonPid":1,"disks":[{"id":"x"}]}'],
			['not JSON at all', '{"disks": [ oops'],
		])('%s is set aside and reported once; the daemon serves', async (_what, text) => {
			const env = await newEnv('vmdk-faults-broken-');
			await mkdir(env.stateDir, { recursive: true, mode: 0o700 });
			await writeFile(join(env.stateDir, 'mounts.json'), text);
			const first = await env.cli('mount', '--json', fx.mbrSparse);
			expect(first.status, first.stderr).toBe(0);
			expect(first.stderr).toMatch(/set aside/);
			const second = await env.cli('list');
			expect(second.status).toBe(0);
			expect(second.stderr).not.toMatch(/set aside/);
			expect((await readdir(env.stateDir)).some((f) => /^mounts\.json\.(bad|rejected)-/.test(f))).toBe(true);
			expect((await env.cli('unmount', '--all')).status).toBe(0);
		});

		it('a second daemon on the same state folder refuses; the first keeps its mounts', async () => {
			const first = await newEnv('vmdk-faults-two-a-');
			const mounted = await first.cli('mount', '--json', fx.mbrSparse);
			expect(mounted.status, mounted.stderr).toBe(0);
			const before = await first.mountsUnderRoot();
			const second = await newEnv('vmdk-faults-two-b-', {
				VMDK_MOUNTER_STATE_DIR: first.stateDir,
				VMDK_MOUNTER_MOUNT_ROOT: first.mountRoot,
			});
			const r = await second.cli('mount', '--json', fx.gptStream);
			expect(r.status).not.toBe(0);
			expect(jsonError(r.stdout)).toMatchObject({ code: 'DAEMON_ALREADY_RUNNING' });
			expect(jsonError(r.stdout).message).toContain(first.stateDir);
			expect(await first.mountsUnderRoot()).toEqual(before);
			expect(parse((await first.cli('list', '--json')).stdout).disks).toHaveLength(1);
			expect((await first.cli('unmount', '--all')).status).toBe(0);
		});
	});

	describe('3. a writable mount never accepts writes it cannot keep', () => {
		let stateFs: string;
		let image: string;

		beforeAll(async () => {
			// A small ext4 as the state folder: room for one partition's overlay, not both.
			const dir = await MountEnv.create('vmdk-faults-small-');
			envs.push(dir);
			image = join(dir.root, 'state.img');
			stateFs = join(dir.root, 'state-fs');
			await run('/usr/bin/truncate', ['-s', '56M', image]);
			await run('/usr/sbin/mkfs.ext4', ['-q', '-m', '0', image]);
			await mkdir(stateFs);
			await run('/usr/bin/mount', ['-o', 'loop', image, stateFs]);
		});
		afterAll(async () => {
			await runStatus('/usr/bin/umount', ['-l', stateFs]);
		});

		it('refuses --rw with "not enough space … need N, have M" when the overlay cannot be reserved', async () => {
			const env = await newEnv('vmdk-faults-space-', { VMDK_MOUNTER_STATE_DIR: join(stateFs, 'big') });
			const r = await env.cli('mount', '--json', '--rw', fx.mbrSparse);
			expect(r.status).not.toBe(0);
			const error = jsonError(r.stdout);
			expect(error.code).toBe('NO_SPACE');
			expect(error.message).toMatch(/not enough space in .*state-fs.* need [\d.]+ MiB, have [\d.]+ MiB/);
			expect(await env.leftovers()).toEqual([]);
		});

		it('keeps every byte written when the reservation fits, and says when the overlay fails under it', async () => {
			const env = await newEnv('vmdk-faults-fits-', { VMDK_MOUNTER_STATE_DIR: join(stateFs, 'one') });
			const r = await env.cli('mount', '--json', '--rw', '--partition', '1', fx.mbrSparse);
			expect(r.status, r.stderr).toBe(0);
			const vol = parse(r.stdout).disks[0]!.volumes.find((v) => v.mountpoint !== null)!;
			const payload = new Uint8Array(6 * MIB).map((_, i) => (i * 7) & 0xff);
			await writeFile(join(vol.mountpoint!, 'big.bin'), payload);
			await run('/usr/bin/sync', []);
			await writeFile('/proc/sys/vm/drop_caches', '3');
			expect(Buffer.compare(await readFile(join(vol.mountpoint!, 'big.bin')), Buffer.from(payload))).toBe(0);

			// Now the overlay file refuses writes (immutable: what a failing disk under it looks
			// like to the daemon): the writer gets an error, list shows the volume degraded, the log
			// says why.
			const overlayDir = join(env.stateDir, 'overlays');
			const [id] = await readdir(overlayDir);
			const overlayFile = join(overlayDir, id!, 'p1.overlay');
			await run('/usr/bin/chattr', ['+i', overlayFile]);
			cleanups.push(() => run('/usr/bin/chattr', ['-i', overlayFile]).then(() => undefined));
			const writer = await runStatus('/usr/bin/dd', [
				'if=/dev/urandom',
				`of=${vol.mountpoint}/more.bin`,
				'bs=1M',
				'count=4',
				'conv=fsync',
				'status=none',
			]);
			expect(writer.status).not.toBe(0);
			const listed = parse((await env.cli('list', '--json')).stdout).disks[0]!.volumes.find(
				(v) => v.index === vol.index,
			)!;
			expect(listed).toMatchObject({ state: 'degraded' });
			expect(listed.problem).toMatch(/overlay failed/);
			expect(await readFile(join(env.stateDir, 'daemon.log'), 'utf8')).toMatch(
				/write of p1 .* failed: .*degraded/,
			);
			expect((await env.cli('list')).stdout).toMatch(/DEGRADED/);
			await run('/usr/bin/chattr', ['-i', overlayFile]);
			expect((await env.cli('unmount', '--all', '--force')).status).toBe(0);
		});
	});

	describe('4. mount roots behind symlinks and relative paths', () => {
		it('a mount root behind a symlink: mounts are recorded at their real paths and unmount --all leaves none', async () => {
			const env = await newEnv('vmdk-faults-link-');
			const real = join(env.root, 'real-mnt');
			await mkdir(real);
			const link = join(env.root, 'link-mnt');
			await symlink(real, link);
			const linked = await newEnv('vmdk-faults-link2-', { VMDK_MOUNTER_MOUNT_ROOT: link });
			const r = await linked.cli('mount', '--json', fx.mbrSparse);
			expect(r.status, r.stderr).toBe(0);
			for (const v of parse(r.stdout).disks[0]!.volumes) {
				if (v.mountpoint !== null) expect(v.mountpoint.startsWith(`${real}/`)).toBe(true);
			}
			// A FAT volume is unmounted by its path through the link — and really gone.
			const fat = parse(r.stdout).disks[0]!.volumes.find((v) => v.filesystem?.type === 'vfat')!;
			const viaLink = fat.mountpoint!.replace(real, link);
			expect((await linked.cli('unmount', viaLink)).status).toBe(0);
			expect(await readFile('/proc/self/mountinfo', 'utf8')).not.toContain(fat.mountpoint);
			// The rest by the disk: nothing left under the real root.
			expect((await linked.cli('unmount', '--all')).status).toBe(0);
			const info = await readFile('/proc/self/mountinfo', 'utf8');
			expect(info).not.toContain(real);
			expect((await lstat(link)).isSymbolicLink()).toBe(true);
		});

		it('a relative mount root in settings or the environment is refused, naming the file and field', async () => {
			const env = await newEnv('vmdk-faults-rel-', { VMDK_MOUNTER_MOUNT_ROOT: '' });
			await mkdir(env.env.VMDK_MOUNTER_CONFIG_DIR!, { recursive: true });
			const settings = join(env.env.VMDK_MOUNTER_CONFIG_DIR!, 'settings.json');
			await writeFile(settings, JSON.stringify({ mountRoot: 'mounts' }));
			const r = await env.cli('mount', '--json', fx.mbrSparse);
			expect(r.status).not.toBe(0);
			expect(jsonError(r.stdout)).toMatchObject({ code: 'SETTINGS_INVALID' });
			expect(jsonError(r.stdout).message).toMatch(
				new RegExp(`${settings}: "mountRoot": must be an absolute path`),
			);
			const envRel = await newEnv('vmdk-faults-rel2-', { VMDK_MOUNTER_MOUNT_ROOT: 'relative/root' });
			const r2 = await envRel.cli('mount', '--json', fx.mbrSparse);
			expect(jsonError(r2.stdout)).toMatchObject({ code: 'SETTINGS_INVALID' });
		});
	});

	describe('5. bad settings and crashes', () => {
		it.each([
			['bad JSON', '{ "mountRoot": ', /not valid JSON/],
			['a wrong type', '{ "unknownFilesystemOrder": "ntfs" }', /"unknownFilesystemOrder": /],
			['a folder', null, /is a folder, not a file/],
		])('settings with %s: a typed error naming the file', async (_what, text, reason) => {
			const env = await newEnv('vmdk-faults-settings-');
			const settings = join(env.env.VMDK_MOUNTER_CONFIG_DIR!, 'settings.json');
			if (text === null) await mkdir(settings, { recursive: true });
			else {
				await mkdir(env.env.VMDK_MOUNTER_CONFIG_DIR!, { recursive: true });
				await writeFile(settings, text);
			}
			const r = await env.cli('mount', '--json', fx.mbrSparse);
			expect(r.status).not.toBe(0);
			const error = jsonError(r.stdout);
			expect(error.code).toBe('SETTINGS_INVALID');
			expect(error.message).toContain(settings);
			expect(error.message).toMatch(reason);
			expect(await env.leftovers()).toEqual([]);
			const human = await env.cli('mount', fx.mbrSparse);
			expect(human.stderr).toMatch(/^vmdk-mounter: Invalid settings: /);
		});

		it('kill -9 in the middle of a mount: the next command removes every mount and folder it made', async () => {
			const env = await newEnv('vmdk-faults-midmount-');
			// Starts the daemon, then a mount we interrupt as soon as its first volume is mounted.
			expect((await env.cli('list')).status).toBe(0);
			const child = spawn(
				process.execPath,
				[join(import.meta.dirname, '..', '..', 'bin', 'vmdk-mounter.js'), 'mount', fx.mbrSparse],
				{
					env: { ...process.env, ...env.env },
					stdio: 'ignore',
				},
			);
			const deadline = Date.now() + 30_000;
			while ((await env.mountsUnderRoot()).filter((m) => m.startsWith(`${env.mountRoot}/`)).length === 0) {
				if (Date.now() > deadline) throw new Error('no volume was mounted');
				await new Promise((r) => setTimeout(r, 10));
			}
			const pid = await env.daemonPid();
			process.kill(pid!, 'SIGKILL');
			child.kill('SIGKILL');
			await new Promise((r) => setTimeout(r, 200));
			expect(isAlive(pid!)).toBe(false);
			const r = await env.cli('list');
			expect(r.status, r.stderr).toBe(0);
			expect(r.stderr).toMatch(/stopped unexpectedly/);
			expect(await env.leftovers()).toEqual([]);
			await rm(env.mountRoot, { recursive: false, force: true }).catch(() => undefined);
		});
	});
});
