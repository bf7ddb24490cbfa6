// SPDX-License-Identifier: MIT
/**
 * `unmount --keep [--attach]` end to end: a `--rw` mount of a VM's disk, a file written into
 * its ext4 volume, the changes kept as a VMware snapshot next to the disk. Checked with peers:
 * `qemu-img check` is clean on the child, `qemu-img` reads child + parent and debugfs finds the
 * written file in it, our own `info` shows the new chain and a fresh mount of the child shows the
 * file; the parent's and the `.vmx`'s bytes are unchanged (without `--attach`), or the `.vmx`
 * names the child (with it). Refusals: a read-only mount, `--attach` while the VM is locked.
 */
import { copyFile, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { InfoResult, MountListResult } from '../../src/shared/models.js';
import { ensureCliBuilt } from '../fixtures/reference-disk.js';
import { describeNeeding } from '../helpers/capability.js';
import { MountEnv, makeFixtures, missingCapability, sh, sha256, type Fixtures } from './mount-env.js';

const VMX = (disk: string): string =>
	[
		'.encoding = "UTF-8"',
		'displayName = "Keep VM"',
		'scsi0.present = "TRUE"',
		'scsi0:0.present = "TRUE"',
		`scsi0:0.fileName = "${disk}"`,
		'',
	].join('\n');

describeNeeding(missingCapability(), 'unmount --keep: changes kept as a VMware snapshot', () => {
	let env: MountEnv;
	let fx: Fixtures;

	beforeAll(async () => {
		await ensureCliBuilt();
		env = await MountEnv.create('vmdk-keep-it-');
		fx = await makeFixtures(env.root);
	}, 180_000);
	afterAll(async () => {
		await env?.teardown();
	});

	/** A VM folder holding a copy of the MBR fixture disk (ext4 + FAT) and its .vmx. */
	async function vmFolder(name: string): Promise<{ dir: string; disk: string; vmx: string }> {
		const dir = join(env.root, name);
		await mkdir(dir);
		const disk = join(dir, 'disk.vmdk');
		await copyFile(fx.mbrSparse, disk);
		const vmx = join(dir, 'Keep VM.vmx');
		await writeFile(vmx, VMX('disk.vmdk'));
		return { dir, disk, vmx };
	}

	async function writeIntoExt4(vm: { disk: string }, text: string, folder = 'new-folder'): Promise<void> {
		const r = await env.cli('mount', '--json', '--rw', '--partition', '1', vm.disk);
		expect(r.status, r.stderr).toBe(0);
		const vol = (JSON.parse(r.stdout) as MountListResult).disks[0]!.volumes.find(
			(v) => v.mountpoint !== null,
		)!;
		await writeFile(join(vol.mountpoint!, 'kept.txt'), text);
		await mkdir(join(vol.mountpoint!, folder));
		await writeFile(join(vol.mountpoint!, folder, 'big.bin'), new Uint8Array(3 * 1024 * 1024).fill(0x5c));
	}

	it('keeps the changes next to the disk; qemu-img and our own tools read them; the parent is unchanged', async () => {
		const vm = await vmFolder('vm-keep');
		const before = { disk: await sha256(vm.disk), vmx: await sha256(vm.vmx) };
		await writeIntoExt4(vm, 'written in a --rw mount\n');
		const r = await env.cli('unmount', '--json', '--keep', vm.disk);
		expect(r.status, r.stderr).toBe(0);
		const kept = (JSON.parse(r.stdout) as MountListResult).kept ?? [];
		expect(kept).toHaveLength(1);
		const child = join(vm.dir, 'disk-000001.vmdk');
		expect(kept[0]).toMatchObject({ diskPath: vm.disk, childPath: child });
		expect(kept[0]!.grains).toBeGreaterThan(0);
		expect(await env.leftovers()).toEqual([]);
		// The originals did not change.
		expect(await sha256(vm.disk)).toBe(before.disk);
		expect(await sha256(vm.vmx)).toBe(before.vmx);
		// Peers: qemu-img checks the child and reads it with its parent.
		await sh('/usr/bin/qemu-img', ['check', child]);
		const raw = join(vm.dir, 'child.raw');
		await sh('/usr/bin/qemu-img', ['convert', '-O', 'raw', child, raw]);
		const part = join(vm.dir, 'p1.img');
		await sh('/usr/bin/dd', [`if=${raw}`, `of=${part}`, 'bs=512', 'skip=2048', 'count=49152', 'status=none']);
		expect(await sh('/usr/sbin/debugfs', ['-R', 'cat /kept.txt', part])).toBe('written in a --rw mount');
		await sh('/usr/sbin/e2fsck', ['-fn', part]);
		// Our info shows the chain, leaf first; a read-only mount of the child shows the file.
		const info = JSON.parse((await env.cli('info', '--json', child)).stdout) as InfoResult;
		expect(info.disks[0]!.chain.map((l) => l.path)).toEqual([child, vm.disk]);
		expect(info.disks[0]!.chain[0]!.parentCid).toBe(info.disks[0]!.chain[1]!.cid);
		const m = await env.cli('mount', '--json', '--partition', '1', child);
		expect(m.status, m.stderr).toBe(0);
		const vol = (JSON.parse(m.stdout) as MountListResult).disks[0]!.volumes.find(
			(v) => v.mountpoint !== null,
		)!;
		expect(await readFile(join(vol.mountpoint!, 'kept.txt'), 'utf8')).toBe('written in a --rw mount\n');
		expect((await readFile(join(vol.mountpoint!, 'new-folder', 'big.bin'))).every((b) => b === 0x5c)).toBe(
			true,
		);
		expect((await env.cli('unmount', child)).status).toBe(0);
	});

	it('--attach points the .vmx at the new snapshot; refused (the snapshot still kept) while the VM runs', async () => {
		const vm = await vmFolder('vm-attach');
		await writeIntoExt4(vm, 'attached\n');
		const r = await env.cli('unmount', '--keep', '--attach', vm.disk);
		expect(r.status, r.stderr).toBe(0);
		expect(r.stdout).toMatch(/changes kept as .*disk-000001\.vmdk/);
		expect(await readFile(vm.vmx, 'utf8')).toContain('scsi0:0.fileName = "disk-000001.vmdk"');
		// The VM as a bundle now opens at the snapshot.
		const info = JSON.parse((await env.cli('info', '--json', vm.dir)).stdout) as InfoResult;
		expect(info.disks[0]!.path).toBe(join(vm.dir, 'disk-000001.vmdk'));

		// A second round while VMware holds the VM: kept, not attached, and said so.
		const leaf = join(vm.dir, 'disk-000001.vmdk');
		await writeIntoExt4({ disk: leaf }, 'second round\n', 'second-folder');
		// A lock as VMware writes it, held by a live process of this host (this one).
		await mkdir(join(vm.dir, 'Keep VM.vmx.lck'));
		const member = new Uint8Array(512);
		member.set(new TextEncoder().encode(`${hostname()} ${process.pid}-123456(vmware-vmx) 1 X [ lc=4242`));
		await writeFile(join(vm.dir, 'Keep VM.vmx.lck', 'M00001.lck'), member);
		const locked = await env.cli('unmount', '--json', '--keep', '--attach', leaf);
		expect(locked.status, locked.stderr).toBe(0);
		const kept = (JSON.parse(locked.stdout) as MountListResult).kept ?? [];
		expect(kept[0]).toMatchObject({ childPath: join(vm.dir, 'disk-000002.vmdk') });
		expect(kept[0]!.attachProblem).toMatch(/in use by VMware/);
		expect(await readFile(vm.vmx, 'utf8')).toContain('scsi0:0.fileName = "disk-000001.vmdk"');
		await sh('/usr/bin/qemu-img', ['check', join(vm.dir, 'disk-000002.vmdk')]);
		expect(await env.leftovers()).toEqual([]);
	});

	it('refuses --keep for a read-only mount, before unmounting anything', async () => {
		const vm = await vmFolder('vm-ro');
		expect((await env.cli('mount', vm.disk)).status).toBe(0);
		const r = await env.cli('unmount', '--json', '--keep', vm.disk);
		expect(r.status).not.toBe(0);
		expect((JSON.parse(r.stdout) as { error: { message: string } }).error.message).toMatch(
			/read-only: it has no changes to keep/,
		);
		expect((JSON.parse((await env.cli('list', '--json')).stdout) as MountListResult).disks).toHaveLength(1);
		expect((await env.cli('unmount', vm.disk)).status).toBe(0);
		expect((await readdir(vm.dir)).sort()).toEqual(['Keep VM.vmx', 'disk.vmdk']);
	});
});
