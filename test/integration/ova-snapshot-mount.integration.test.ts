// SPDX-License-Identifier: MIT
// Mounting for real what users download and what VMware keeps: an .ova's disks read in place
// from the archive, and snapshot points of a VM mounted side by side (a private daemon, real
// FUSE export, real helpers). Fixtures: test/helpers/build-ova.ts and build-snapshot-vm.ts.
// Every test checks that nothing is left mounted and that the archive and VM files are unchanged.
import { copyFile, cp, open, readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import type { MountListResult, MountedDisk } from '../../src/shared/models.js';
import { makeOvaPieces, sha256File, tarUp, type OvaPieces } from '../helpers/build-ova.js';
import { hashBundle, makeSnapshotVm, type SnapshotVm, type StateName } from '../helpers/build-snapshot-vm.js';
import { describeNeeding } from '../helpers/capability.js';
import { ensureCliBuilt } from '../fixtures/reference-disk.js';
import { MountEnv, missingCapability } from './mount-env.js';

let env: MountEnv;
let pieces: OvaPieces;
let ova = '';
let ovaHash = '';
let vm: SnapshotVm;
let vmHashes: Record<string, string>;
const VM_FILES = [
	'base.vmdk',
	'base-000001.vmdk',
	'base-000002.vmdk',
	'base-000002-delta.vmdk',
	'base-000003.vmdk',
	'base-000003-sesparse.vmdk',
	'data.vmdk',
];

function parse(stdout: string): MountListResult {
	return JSON.parse(stdout) as MountListResult;
}

function mountpointOf(disk: MountedDisk, label: string): string {
	const v = disk.volumes.find((x) => x.filesystem?.label === label);
	if (v?.mountpoint === null || v?.mountpoint === undefined)
		throw new Error(`no ${label} mount in ${JSON.stringify(disk)}`);
	return v.mountpoint;
}

describeNeeding(
	missingCapability(),
	'mount appliances and snapshot points (real daemon, FUSE and helpers)',
	() => {
		beforeAll(async () => {
			env = await MountEnv.create('vmdk-ova-mount-it-');
			await ensureCliBuilt();
			pieces = await makeOvaPieces(join(env.root, 'ova'));
			ova = await tarUp(
				pieces.dir,
				['app.ovf', 'app.mf', 'app-disk1.vmdk', 'app-disk2.vmdk'],
				join(env.root, 'app.ova'),
			);
			ovaHash = await sha256File(ova);
			vm = await makeSnapshotVm(join(env.root, 'vm'));
			vmHashes = await hashBundle(vm.bundle, VM_FILES);
		}, 240_000);

		afterEach(async () => {
			if ((await env.leftovers()).length > 0) {
				await env.cli('unmount', '--all', '--force');
				await env.safetyNet();
			}
		});

		afterAll(async () => {
			await env?.teardown();
		});

		it('mounts every disk of an .ova read in place, with --verify, and unmounts leaving nothing', async () => {
			const r = await env.cli('mount', '--json', '--verify', ova);
			expect(r.status, r.stderr).toBe(0);
			const { disks } = parse(r.stdout);
			expect(disks.map((d) => d.path)).toEqual([join(ova, 'app-disk1.vmdk'), join(ova, 'app-disk2.vmdk')]);
			for (const [i, d] of pieces.disks.entries()) {
				const where = mountpointOf(disks[i]!, d.label);
				expect(where).toBe(join(env.mountRoot, `app-disk${i + 1}`, d.label));
				for (const f of d.files) expect(await sha256File(join(where, f.name)), f.name).toBe(f.sha256);
			}
			// Read in place: the daemon holds the archive open, and no .vmdk file of any kind.
			const pid = await env.daemonPid();
			const fds = await readdir(`/proc/${pid}/fd`);
			const targets = await Promise.all(fds.map((fd) => readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')));
			expect(targets).toContain(ova);
			expect(targets.filter((t) => /\.vmdk$/i.test(t))).toEqual([]);
			const list = parse((await env.cli('list', '--json')).stdout);
			expect(list.disks).toHaveLength(2);
			// One member by its path, then the rest by the appliance's own path.
			expect((await env.cli('unmount', disks[0]!.path)).status).toBe(0);
			const rest = await env.cli('unmount', '--json', ova);
			expect(rest.status, rest.stderr).toBe(0);
			expect(parse(rest.stdout).disks.map((d) => d.path)).toEqual([disks[1]!.path]);
			expect(await env.leftovers()).toEqual([]);
			expect(await sha256File(ova)).toBe(ovaHash);
		});

		it('refuses to mount an .ova that does not match its manifest, mounting nothing', async () => {
			const tampered = join(env.root, 'tampered.ova');
			await copyFile(ova, tampered);
			const handle = await open(tampered, 'r+');
			const size = (await handle.stat()).size;
			// Inside disk 2's grains (the last member), well before the end-of-archive blocks.
			const at = size - 200_000;
			const b = Buffer.alloc(1);
			await handle.read(b, 0, 1, at);
			b[0] = b[0]! ^ 0x55;
			await handle.write(b, 0, 1, at);
			await handle.close();
			const r = await env.cli('mount', '--json', '--verify', tampered);
			expect(r.status).toBe(4);
			expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: 'OVA_MANIFEST_MISMATCH' } });
			expect(await env.leftovers()).toEqual([]);
		});

		it('mounts three snapshot points and the current state side by side, each with its own files', async () => {
			const mounted: { state: StateName; where: string }[] = [];
			for (const [selector, state, name] of [
				['Installed', 'A', 'Test VM @ Installed'],
				['2', 'B', 'Test VM @ Updated'],
				['experiment', 'C', 'Test VM @ Experiment'],
			] as const) {
				const r = await env.cli('mount', '--json', '--snapshot', selector, vm.bundle);
				expect(r.status, r.stderr).toBe(0);
				const { disks } = parse(r.stdout);
				expect(disks).toHaveLength(1);
				const where = mountpointOf(disks[0]!, 'SNAPDATA');
				expect(where).toBe(join(env.mountRoot, name, 'SNAPDATA'));
				mounted.push({ state, where });
			}
			const current = parse((await env.cli('mount', '--json', vm.bundle)).stdout).disks;
			expect(current.map((d) => d.path)).toEqual([
				join(vm.bundle, 'base-000003.vmdk'),
				join(vm.bundle, 'data.vmdk'),
			]);
			mounted.push({ state: 'D', where: mountpointOf(current[0]!, 'SNAPDATA') });
			expect((await readdir(env.mountRoot)).sort()).toEqual([
				'Test VM @ Experiment',
				'Test VM @ Installed',
				'Test VM @ Updated',
				'base-000003',
				'data',
			]);
			for (const { state, where } of mounted) {
				expect(await readFile(join(where, 'hello.txt'), 'utf8'), state).toBe(vm.hello[state]);
				const only = (await readdir(where)).filter((n) => n.startsWith('only-')).sort();
				const expected = {
					A: ['only-A.txt'],
					B: ['only-A.txt', 'only-B.txt'],
					C: ['only-A.txt', 'only-C.txt'],
					D: ['only-A.txt', 'only-C.txt', 'only-D.txt'],
				};
				expect(only, state).toEqual(expected[state]);
			}
			// The same point twice is the same disk: refused.
			const twice = await env.cli('mount', '--snapshot', 'Updated', vm.bundle);
			expect(twice.status).toBe(9);
			expect(twice.stderr).toMatch(/base-000001\.vmdk is already mounted/);
			expect((await env.cli('unmount', '--all')).status).toBe(0);
			expect(await env.leftovers()).toEqual([]);
			expect(await hashBundle(vm.bundle, VM_FILES)).toEqual(vmHashes);
		});

		it('--rw on a snapshot point writes to an overlay; the snapshot files never change', async () => {
			const r = await env.cli('mount', '--json', '--rw', '--snapshot', 'Updated', vm.bundle);
			expect(r.status, r.stderr).toBe(0);
			const disk = parse(r.stdout).disks[0]!;
			expect(disk.readWrite).toBe(true);
			const where = mountpointOf(disk, 'SNAPDATA');
			await writeFile(join(where, 'hello.txt'), 'changed in an overlay\n');
			expect(await readFile(join(where, 'hello.txt'), 'utf8')).toBe('changed in an overlay\n');
			expect((await env.cli('unmount', disk.path)).status).toBe(0);
			expect(await env.leftovers()).toEqual([]);
			expect(await hashBundle(vm.bundle, VM_FILES)).toEqual(vmHashes);
			const again = parse((await env.cli('mount', '--json', '--snapshot', 'Updated', vm.bundle)).stdout)
				.disks[0]!;
			expect(await readFile(join(mountpointOf(again, 'SNAPDATA'), 'hello.txt'), 'utf8')).toBe(vm.hello.B);
			expect((await env.cli('unmount', '--all')).status).toBe(0);
		});

		it('a snapshot whose delta is missing is refused with the file named, mounting nothing', async () => {
			const copy = join(env.root, 'Broken VM.vmwarevm');
			await cp(vm.bundle, copy, { recursive: true });
			await rm(join(copy, 'base-000002-delta.vmdk'));
			const r = await env.cli('mount', '--snapshot', 'Experiment', copy);
			expect(r.status).toBe(3);
			expect(r.stderr).toMatch(/base-000002-delta\.vmdk/);
			await rm(join(copy, 'base-000002.vmdk'));
			const gone = await env.cli('mount', '--json', '--snapshot', 'Experiment', copy);
			expect(gone.status).toBe(3);
			expect(JSON.parse(gone.stdout)).toMatchObject({ error: { code: 'VMX_SNAPSHOT_DISK_MISSING' } });
			expect(await env.leftovers()).toEqual([]);
		});
	},
);
