// SPDX-License-Identifier: MIT
/**
 * The packaged app's engine, as electron-builder lays it out in `Resources/` — `engine/` staged by
 * scripts/stage-engine.mjs (the daemon and CLI as plain files, production dependencies, the FUSE
 * addon, a Node.js runtime) and `bin/vmdk-mounter` — used the way a user does: through a link on
 * the PATH. The Electron binary is not needed (it cannot be downloaded here): the packaged binary
 * has the RunAsNode fuse off and starts the daemon on this same runtime (main passes it to the
 * daemon client), so this is the path the app takes too. Here the runtime is a copy of the Node
 * running the tests.
 */
import { existsSync } from 'node:fs';
import { readFile, readlink, readdir, cp, mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { REPO_ROOT } from '../fixtures/reference-disk.js';
import { describeNeeding } from '../helpers/capability.js';
import { MountEnv, makeFixtures, missingCapability, type Fixtures } from '../helpers/mount-env.js';
import { run, runStatus, sha256File } from '../helpers/run.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/** Pids of node processes running `script` (node's own flags may come before it). */
async function processesRunning(script: string): Promise<number[]> {
	const pids: number[] = [];
	for (const entry of await readdir('/proc')) {
		if (!/^\d+$/.test(entry)) continue;
		const argv = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
		// The runtime's own flags (V8 options) come before the script.
		if (
			argv
				.split('\0')
				.slice(1)
				.find((a) => !a.startsWith('--')) === script
		)
			pids.push(Number(entry));
	}
	return pids;
}

/** SIGTERM, then SIGKILL after 10 s, to every process running `script`; waits until they are gone. */
async function stopProcessesRunning(script: string): Promise<void> {
	for (const pid of await processesRunning(script)) process.kill(pid, 'SIGTERM');
	const deadline = Date.now() + 10_000;
	while ((await processesRunning(script)).length > 0) {
		if (Date.now() > deadline) {
			for (const pid of await processesRunning(script)) process.kill(pid, 'SIGKILL');
		}
		await new Promise((r) => setTimeout(r, 100));
	}
}

describeNeeding(
	missingCapability(),
	'the packaged engine: CLI and daemon on the shipped Node runtime',
	() => {
		let tmp: { dir: string; cleanup: () => Promise<void> };
		let env: MountEnv;
		let fixtures: Fixtures;
		let resources: string;
		let engine: string;
		let onPath: string;

		beforeAll(async () => {
			tmp = await makeTempDir('vmdk-packaged-');
			resources = join(tmp.dir, 'VMDK Mounter.app', 'Contents', 'Resources');
			engine = join(resources, 'engine');
			await run(process.execPath, ['scripts/stage-engine.mjs', '--out', engine, '--node', process.execPath]);
			await cp('resources/bin', join(resources, 'bin'), { recursive: true });
			await mkdir(join(tmp.dir, 'usr-local-bin'));
			onPath = join(tmp.dir, 'usr-local-bin', 'vmdk-mounter');
			await symlink(join(resources, 'bin', 'vmdk-mounter'), onPath);
			env = await MountEnv.create('vmdk-packaged-env-');
			fixtures = await makeFixtures(join(env.root, 'fixtures'));
		}, 240_000);

		afterAll(async () => {
			// The engine's daemon runs from this test's folder: stop it (it unmounts what is left)
			// before the environment's safety net and the folders go.
			if (engine !== undefined) await stopProcessesRunning(join(engine, 'dist', 'daemon', 'main.js'));
			await env?.teardown();
			await tmp?.cleanup();
		});

		const cli = (...args: string[]) => runStatus(onPath, args, { env: env.env });

		it('stages only what the engine needs: the layers, production packages, the runtime', async () => {
			expect((await readdir(join(engine, 'dist'))).sort()).toEqual([
				'cli',
				'core',
				'daemon',
				'host',
				'shared',
			]);
			const modules = await readdir(join(engine, 'node_modules'));
			expect(modules).toEqual(expect.arrayContaining(['execa', 'zod', 'commander', '@cocalc']));
			for (const dev of ['electron', 'vitest', 'typescript', 'electron-builder', 'react']) {
				expect(modules, dev).not.toContain(dev);
			}
			expect(await run(join(engine, 'node', 'bin', 'node'), ['--version'])).toBe(process.version);
			// Our addons come along wherever the checkout built them (libfuse 3, libdeflate).
			for (const addon of [
				'native/fuse3/build/Release/vmdk_fuse3.node',
				'native/codec/build/Release/vmdk_codec.node',
			]) {
				expect(existsSync(join(engine, addon)), addon).toBe(existsSync(join(REPO_ROOT, addon)));
			}
		});

		it('answers info through the link on the PATH, from a folder outside the app', async () => {
			const stdout = await run(onPath, ['info', '--json', fixtures.mbrSparse], {
				env: env.env,
				cwd: tmp.dir,
			});
			const info = JSON.parse(stdout) as {
				disks: { volumes: { filesystem: { label: string } | null }[] }[];
			};
			expect(info.disks[0]?.volumes.map((v) => v.filesystem?.label)).toEqual(['LINUXDATA', 'FATDATA']);
		});

		it('mounts with a daemon started from the engine, reads the files back, and unmounts', async () => {
			const mounted = await cli('mount', '--json', fixtures.mbrSparse);
			expect(mounted.status, mounted.stderr).toBe(0);
			const { disks } = JSON.parse(mounted.stdout) as {
				disks: { volumes: { mountpoint: string | null; filesystem: { label: string } | null }[] }[];
			};
			const ext4 = disks[0]?.volumes.find((v) => v.filesystem?.label === 'LINUXDATA');
			expect(ext4?.mountpoint).toBeTruthy();
			for (const file of fixtures.files) {
				expect(await sha256File(join(ext4!.mountpoint!, file.name)), file.name).toBe(file.sha256);
			}
			// The daemon is the engine's runtime running the engine's daemon, not anything of the checkout.
			const daemons = await processesRunning(join(engine, 'dist', 'daemon', 'main.js'));
			expect(daemons).toHaveLength(1);
			expect(await readlink(`/proc/${daemons[0]}/exe`)).toBe(join(engine, 'node', 'bin', 'node'));

			const unmounted = await cli('unmount', '--json', '--all');
			expect(unmounted.status, unmounted.stderr).toBe(0);
			expect(await env.mountsUnderRoot()).toEqual([]);
		});
	},
);
