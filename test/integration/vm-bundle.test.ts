// SPDX-License-Identifier: MIT
// VM bundles on real files: VMDKs made by qemu-img, .vmx/.vmsd/.vbox and VMware-style .lck
// directories written here, resolved through the Node platform. qemu-img is the reference for
// which files belong to which disk (`info --backing-chain` lists chains and extents).
import { mkdir, rm, truncate, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isVmdkError, resolveOpenTarget, type OpenTarget } from '../../src/core/index.js';
import { isLockStale } from '../../src/host/node/lock-liveness.js';
import { nodePlatform } from '../../src/host/node/node-platform.js';
import { run } from '../helpers/run.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/** The JSON `qemu-img info --backing-chain` prints, reduced to what we compare. */
interface QemuImageInfo {
	filename: string;
	'format-specific'?: { data?: { extents?: { filename: string }[] } };
}

async function qemuImg(cwd: string, ...args: string[]): Promise<void> {
	await run('qemu-img', args, { cwd });
}

/** Every file qemu opens for `path`: its backing chain and their extents, as absolute paths. */
async function qemuFiles(path: string): Promise<string[]> {
	const stdout = await run('qemu-img', ['info', '--backing-chain', '--output=json', path]);
	const chain = JSON.parse(stdout) as QemuImageInfo[];
	return chain.flatMap((image) => [
		resolve(image.filename),
		...(image['format-specific']?.data?.extents ?? []).map((e) => resolve(e.filename)),
	]);
}

/** The backing chain qemu sees for `path`, leaf first, absolute. */
async function qemuChain(path: string): Promise<string[]> {
	const stdout = await run('qemu-img', ['info', '--backing-chain', '--output=json', path]);
	return (JSON.parse(stdout) as QemuImageInfo[]).map((i) => resolve(i.filename));
}

/** A lock member as open-vm-tools' bakery lock writes it: 512 bytes of NUL-padded text. */
function lockMember(host: string, pid: number): Uint8Array {
	const out = new Uint8Array(512);
	out.set(new TextEncoder().encode(`${host} ${pid}-123456(vmware-vmx) 1 X [ lc=4242`));
	return out;
}

/** The pid of a process that has already exited (and been reaped). */
async function deadPid(): Promise<number> {
	const child = execa(process.execPath, ['-e', '']);
	const pid = child.pid;
	await child;
	if (pid === undefined) throw new Error('no pid for the child process');
	return pid;
}

function expectKind<K extends OpenTarget['kind']>(t: OpenTarget, kind: K): Extract<OpenTarget, { kind: K }> {
	expect(t.kind).toBe(kind);
	return t as Extract<OpenTarget, { kind: K }>;
}

const VMX = `.encoding = "UTF-8"
config.version = "8"
virtualHW.version = "19"
displayName = "Test VM"
guestOS = "ubuntu-64"
scsi0.present = "TRUE"
scsi0.virtualDev = "lsilogic"
scsi0:0.present = "TRUE"
scsi0:0.fileName = "base-000002.vmdk"
scsi0:1.present = "FALSE"
scsi0:1.fileName = "old-disk.vmdk"
sata0.present = "TRUE"
sata0:1.present = "TRUE"
sata0:1.fileName = "data.vmdk"
sata0:1.mode = "independent-persistent"
ide1:0.present = "TRUE"
ide1:0.deviceType = "cdrom-image"
ide1:0.fileName = "/isos/ubuntu-22.04.iso"
ethernet0.present = "TRUE"
`;

const VMSD = `.encoding = "UTF-8"
snapshot.lastUID = "2"
snapshot.current = "2"
snapshot0.uid = "1"
snapshot0.filename = "Test VM-Snapshot1.vmsn"
snapshot0.displayName = "Installed"
snapshot0.createTimeHigh = "395812"
snapshot0.createTimeLow = "-1742724544"
snapshot0.numDisks = "1"
snapshot0.disk0.fileName = "base.vmdk"
snapshot0.disk0.node = "scsi0:0"
snapshot1.uid = "2"
snapshot1.parent = "1"
snapshot1.displayName = "Updated"
snapshot1.description = "after apt upgrade"
snapshot1.numDisks = "1"
snapshot1.disk0.fileName = "base-000001.vmdk"
snapshot1.disk0.node = "scsi0:0"
snapshot.numSnapshots = "2"
`;

describe('resolveOpenTarget on real bundles', () => {
	let root: string;
	let cleanup: () => Promise<void>;
	let bundle: string;

	beforeAll(async () => {
		({ dir: root, cleanup } = await makeTempDir('vm-bundle-'));
		bundle = join(root, 'Test VM.vmwarevm');
		await mkdir(bundle);
		await qemuImg(bundle, 'create', '-f', 'vmdk', 'base.vmdk', '16M');
		await qemuImg(bundle, 'create', '-f', 'vmdk', '-b', 'base.vmdk', '-F', 'vmdk', 'base-000001.vmdk');
		await qemuImg(bundle, 'create', '-f', 'vmdk', '-b', 'base-000001.vmdk', '-F', 'vmdk', 'base-000002.vmdk');
		await qemuImg(bundle, 'create', '-f', 'vmdk', '-o', 'subformat=twoGbMaxExtentSparse', 'data.vmdk', '8M');
		await writeFile(join(bundle, 'Test VM.vmx'), VMX);
		await writeFile(join(bundle, 'Test VM.vmsd'), VMSD);
	});
	afterAll(async () => {
		await cleanup();
	});

	describe('a .vmwarevm bundle', () => {
		it('lists the attached disks in controller order, skipping the CD-ROM and the absent disk', async () => {
			const vm = expectKind(await resolveOpenTarget(bundle, nodePlatform), 'vm');
			expect(vm.vmxPath).toBe(join(bundle, 'Test VM.vmx'));
			expect(vm.vm).toEqual({
				displayName: 'Test VM',
				guestOS: 'ubuntu-64',
				virtualHwVersion: 19,
				encoding: 'UTF-8',
				uuidBios: null,
				encrypted: false,
			});
			expect(vm.disks).toEqual([
				{
					controller: 'scsi0:0',
					bus: 'scsi',
					busNumber: 0,
					unitNumber: 0,
					fileName: 'base-000002.vmdk',
					path: join(bundle, 'base-000002.vmdk'),
					mode: 'persistent',
					exists: true,
				},
				{
					controller: 'sata0:1',
					bus: 'sata',
					busNumber: 0,
					unitNumber: 1,
					fileName: 'data.vmdk',
					path: join(bundle, 'data.vmdk'),
					mode: 'independent-persistent',
					exists: true,
				},
			]);
			expect(vm.warnings).toEqual([]);
			expect(vm.lock).toEqual({ locked: false, lockPaths: [], members: [] });
		});

		it('reads the .vmsd, whose snapshot disks are the ancestors qemu-img finds for the leaf', async () => {
			const vm = expectKind(await resolveOpenTarget(join(bundle, 'Test VM.vmx'), nodePlatform), 'vm');
			const tree = vm.snapshots!;
			expect(tree.current).toBe('2');
			expect(tree.snapshots.map((s) => [s.uid, s.parentUid, s.displayName, s.disks[0]?.fileName])).toEqual([
				['1', null, 'Installed', 'base.vmdk'],
				['2', '1', 'Updated', 'base-000001.vmdk'],
			]);
			expect(tree.snapshots[0]!.createTimeUtc).toBe('2023-11-14T22:49:07.607Z');
			const chain = await qemuChain(vm.disks[0]!.path);
			expect(chain).toEqual(
				['base-000002.vmdk', 'base-000001.vmdk', 'base.vmdk'].map((n) => resolve(bundle, n)),
			);
			for (const s of tree.snapshots) expect(chain).toContain(resolve(bundle, s.disks[0]!.fileName));
		});

		it('returns a plain .vmdk as a disk, and leaves a missing path to openDisk', async () => {
			const path = join(bundle, 'base.vmdk');
			expect(await resolveOpenTarget(path, nodePlatform)).toEqual({ kind: 'disk', path });
			const missing = join(root, 'nope.vmdk');
			expect(await resolveOpenTarget(missing, nodePlatform)).toEqual({ kind: 'disk', path: missing });
		});
	});

	describe('VMware locks', () => {
		const vmxLock = (): string => join(bundle, 'Test VM.vmx.lck');
		const diskLock = (): string => join(bundle, 'base-000002.vmdk.lck');

		async function writeLocks(host: string, pid: number): Promise<void> {
			await mkdir(vmxLock(), { recursive: true });
			await mkdir(diskLock(), { recursive: true });
			await writeFile(join(vmxLock(), 'M00001.lck'), lockMember(host, pid));
			await writeFile(join(diskLock(), 'M31337.lck'), lockMember(host, pid));
		}

		afterEach(async () => {
			await rm(vmxLock(), { recursive: true, force: true });
			await rm(diskLock(), { recursive: true, force: true });
		});

		it('a lock held by this process on this host is live', async () => {
			await writeLocks(hostname(), process.pid);
			const vm = expectKind(await resolveOpenTarget(bundle, nodePlatform), 'vm');
			expect(vm.lock.locked).toBe(true);
			expect([...vm.lock.lockPaths].sort()).toEqual([diskLock(), vmxLock()].sort());
			expect(vm.lock.owner).toEqual({ host: hostname(), pid: process.pid });
			expect(vm.lock.members).toHaveLength(2);
			expect(isLockStale(vm.lock)).toBe(false);
		});

		it('a lock left by a dead process of this host is stale', async () => {
			const pid = await deadPid();
			await writeLocks(hostname(), pid);
			const vm = expectKind(await resolveOpenTarget(bundle, nodePlatform), 'vm');
			expect(vm.lock.locked).toBe(true);
			expect(vm.lock.owner).toEqual({ host: hostname(), pid });
			expect(isLockStale(vm.lock)).toBe(true);
		});

		it('a lock from another host is locked and never stale', async () => {
			const pid = await deadPid();
			await writeLocks('esx-host-42.example', pid);
			const vm = expectKind(await resolveOpenTarget(bundle, nodePlatform), 'vm');
			expect(vm.lock.locked).toBe(true);
			expect(vm.lock.owner).toEqual({ host: 'esx-host-42.example', pid });
			expect(isLockStale(vm.lock)).toBe(false);
		});

		it('an empty .lck directory holds nothing; an unreadable member is an unknown owner', async () => {
			await mkdir(vmxLock());
			let vm = expectKind(await resolveOpenTarget(bundle, nodePlatform), 'vm');
			expect(vm.lock.locked).toBe(false);
			await writeFile(join(vmxLock(), 'M00007.lck'), new Uint8Array(512));
			vm = expectKind(await resolveOpenTarget(bundle, nodePlatform), 'vm');
			expect(vm.lock.locked).toBe(true);
			expect(vm.lock.owner).toBeUndefined();
			expect(isLockStale(vm.lock)).toBe(false);
		});
	});

	describe('choosing the configuration', () => {
		it('picks the .vmx named like the bundle; a disk stored elsewhere brings only its own lock', async () => {
			const dir = join(root, 'pick.vmwarevm');
			const shared = join(root, 'shared');
			await mkdir(dir);
			await mkdir(shared);
			await qemuImg(shared, 'create', '-f', 'vmdk', 'ext.vmdk', '1M');
			await mkdir(join(shared, 'ext.vmdk.lck'));
			await writeFile(join(shared, 'ext.vmdk.lck', 'M00001.lck'), lockMember('other-host', 99));
			await mkdir(join(shared, 'unrelated.vmdk.lck'));
			await writeFile(join(shared, 'unrelated.vmdk.lck', 'M00002.lck'), lockMember('other-host', 98));
			await writeFile(join(dir, 'a.vmx'), 'displayName = "A"\n');
			await writeFile(
				join(dir, 'pick.vmx'),
				`displayName = "Pick"\nscsi0:0.present = "TRUE"\nscsi0:0.fileName = "${join(shared, 'ext.vmdk')}"\n`,
			);
			await writeFile(join(dir, 'pick.vbox'), 'not even XML');
			const vm = expectKind(await resolveOpenTarget(dir, nodePlatform), 'vm');
			expect(vm.vmxPath).toBe(join(dir, 'pick.vmx'));
			expect(vm.vm.displayName).toBe('Pick');
			expect(vm.warnings).toEqual([`2 .vmx files in ${dir}; using pick.vmx`]);
			expect(vm.disks.map((d) => [d.path, d.exists])).toEqual([[join(shared, 'ext.vmdk'), true]]);
			expect(vm.lock.lockPaths).toEqual([join(shared, 'ext.vmdk.lck')]);
			expect(vm.lock.owner).toEqual({ host: 'other-host', pid: 99 });
		});

		it('opens a .vbox when there is no .vmx, and a malformed one is a typed error', async () => {
			const dir = join(root, 'badbox');
			await mkdir(dir);
			await writeFile(join(dir, 'm.vbox'), '<VirtualBox>\n  <Machine name="m">\n</VirtualBox>\n');
			const error: unknown = await resolveOpenTarget(dir, nodePlatform).catch((e: unknown) => e);
			expect(isVmdkError(error, 'VMX_BAD_FILE')).toBe(true);
			expect(String(error)).toMatch(
				/m\.vbox at byte \d+: XML line 3: <\/VirtualBox> does not match <Machine>/,
			);
		});
	});

	describe('bad .vmx files', () => {
		it('resolves missing and absolute file names with warnings instead of failing', async () => {
			const dir = join(root, 'odd');
			await mkdir(dir);
			await qemuImg(dir, 'create', '-f', 'vmdk', 'odd.vmdk', '1M');
			await qemuImg(dir, 'create', '-f', 'vmdk', 'win.vmdk', '1M');
			await writeFile(
				join(dir, 'odd.vmx'),
				[
					'scsi0.present = "TRUE"',
					'scsi0:0.present = "TRUE"',
					'scsi0:0.fileName = "/vmfs/volumes/datastore1/odd/odd.vmdk"',
					'scsi0:1.present = "TRUE"',
					'scsi0:1.fileName = "missing.vmdk"',
					'sata0:0.present = "TRUE"',
					'sata0:0.fileName = "C:\\VMs\\odd\\win.vmdk"',
					'nvme0:0.present = "TRUE"',
					'nvme0:0.fileName = "/nowhere/gone.vmdk"',
				].join('\n'),
			);
			const vm = expectKind(await resolveOpenTarget(dir, nodePlatform), 'vm');
			expect(vm.disks.map((d) => [d.controller, d.path, d.exists])).toEqual([
				['scsi0:0', join(dir, 'odd.vmdk'), true],
				['scsi0:1', join(dir, 'missing.vmdk'), false],
				['sata0:0', join(dir, 'win.vmdk'), true],
				['nvme0:0', '/nowhere/gone.vmdk', false],
			]);
			expect(vm.warnings).toHaveLength(4);
			expect(vm.warnings[0]).toMatch(
				/^scsi0:0: \/vmfs\/volumes\/datastore1\/odd\/odd\.vmdk not found; using /,
			);
			expect(vm.warnings[1]).toMatch(/^scsi0:1: disk file .*missing\.vmdk is missing/);
			expect(vm.warnings[2]).toMatch(/^sata0:0: C:\\VMs\\odd\\win\.vmdk not found; using /);
			expect(vm.warnings[3]).toMatch(/^nvme0:0: disk file \/nowhere\/gone\.vmdk is missing/);
			expect(vm.snapshots).toBeNull();
		});

		it('rejects binary junk with a typed error naming the file and line', async () => {
			const dir = join(root, 'junk');
			await mkdir(dir);
			const junk = new Uint8Array(4096);
			for (let i = 0; i < junk.length; i++) junk[i] = (i * 7919 + 13) % 251;
			junk.set(new TextEncoder().encode('displayName = "ok"\n'));
			await writeFile(join(dir, 'junk.vmx'), junk);
			const error: unknown = await resolveOpenTarget(dir, nodePlatform).catch((e: unknown) => e);
			expect(isVmdkError(error, 'VMX_BAD_FILE')).toBe(true);
			expect(String(error)).toContain(join(dir, 'junk.vmx'));
			expect(String(error)).toMatch(/line 2/);
		});

		it('refuses a 10 MiB .vmx without reading it', async () => {
			const path = join(root, 'huge.vmx');
			await writeFile(path, 'displayName = "huge"\n');
			await truncate(path, 10 * 1024 * 1024);
			const error: unknown = await resolveOpenTarget(path, nodePlatform).catch((e: unknown) => e);
			expect(isVmdkError(error, 'VMDK_LIMIT')).toBe(true);
		});

		it('reports a missing .vmx as a typed error', async () => {
			const error: unknown = await resolveOpenTarget(join(root, 'absent.vmx'), nodePlatform).catch(
				(e: unknown) => e,
			);
			expect(isVmdkError(error)).toBe(true);
		});
	});

	describe('a VirtualBox machine', () => {
		it('follows nested differencing disks to the attached leaf', async () => {
			const dir = join(root, 'vbox-vm');
			const snaps = join(dir, 'Snapshots');
			await mkdir(snaps, { recursive: true });
			const c1 = '{5c0ffee1-0000-4000-8000-000000000001}';
			const c2 = '{5c0ffee1-0000-4000-8000-000000000002}';
			await qemuImg(dir, 'create', '-f', 'vmdk', 'disk.vmdk', '4M');
			await qemuImg(snaps, 'create', '-f', 'vmdk', '-b', '../disk.vmdk', '-F', 'vmdk', `${c1}.vmdk`);
			await qemuImg(snaps, 'create', '-f', 'vmdk', '-b', `${c1}.vmdk`, '-F', 'vmdk', `${c2}.vmdk`);
			await writeFile(
				join(dir, 'vbox-vm.vbox'),
				`<?xml version="1.0"?>
<VirtualBox xmlns="http://www.virtualbox.org/" version="1.19-linux">
  <Machine uuid="{11111111-2222-3333-4444-555555555555}" name="VBox &amp; Co" OSType="Debian_64" snapshotFolder="Snapshots">
    <MediaRegistry>
      <HardDisks>
        <HardDisk uuid="{0000aaaa-0000-4000-8000-000000000000}" location="disk.vmdk" format="VMDK" type="Normal">
          <HardDisk uuid="${c1}" location="Snapshots/${c1}.vmdk" format="VMDK">
            <HardDisk uuid="${c2}" location="/home/someone/VirtualBox VMs/vbox-vm/Snapshots/${c2}.vmdk" format="VMDK"/>
          </HardDisk>
        </HardDisk>
        <HardDisk uuid="{0000bbbb-0000-4000-8000-000000000000}" location="other.vdi" format="VDI" type="Normal"/>
      </HardDisks>
    </MediaRegistry>
    <Hardware>
      <StorageControllers>
        <StorageController name="SATA" type="AHCI" PortCount="2">
          <AttachedDevice type="HardDisk" port="1" device="0"><Image uuid="{0000bbbb-0000-4000-8000-000000000000}"/></AttachedDevice>
          <AttachedDevice type="HardDisk" port="0" device="0"><Image uuid="${c2}"/></AttachedDevice>
        </StorageController>
        <StorageController name="IDE" type="PIIX4" PortCount="2">
          <AttachedDevice type="HardDisk" port="0" device="1"><Image uuid="{DEADBEEF-0000-4000-8000-000000000000}"/></AttachedDevice>
        </StorageController>
      </StorageControllers>
    </Hardware>
  </Machine>
</VirtualBox>
`,
			);
			const vbox = expectKind(await resolveOpenTarget(dir, nodePlatform), 'vbox');
			expect(vbox.vboxPath).toBe(join(dir, 'vbox-vm.vbox'));
			expect(vbox.vm).toEqual({ displayName: 'VBox & Co', guestOS: 'Debian_64' });
			expect(vbox.disks).toHaveLength(1);
			const disk = vbox.disks[0]!;
			expect(disk).toMatchObject({
				controller: 'sata0:0',
				controllerName: 'SATA',
				bus: 'sata',
				path: join(snaps, `${c2}.vmdk`),
				exists: true,
				mode: 'normal',
				format: 'VMDK',
			});
			expect(disk.chain).toEqual([
				join(snaps, `${c2}.vmdk`),
				join(snaps, `${c1}.vmdk`),
				join(dir, 'disk.vmdk'),
			]);
			expect(disk.chain).toEqual(await qemuChain(disk.path));
			expect(vbox.warnings).toHaveLength(3);
			expect(vbox.warnings[0]).toMatch(/^sata0:1: other\.vdi is a VDI image; skipped/);
			expect(vbox.warnings[1]).toMatch(/^sata0:0: .* not found; using .*Snapshots/);
			expect(vbox.warnings[2]).toMatch(/^ide0:1: medium \{deadbeef-.*not in this machine's media registry/);
		});
	});

	describe('a folder without a .vmx', () => {
		it('with no VMDKs lists nothing, with a warning', async () => {
			const dir = join(root, 'empty');
			await mkdir(dir);
			await writeFile(join(dir, 'readme.txt'), 'hello');
			const folder = expectKind(await resolveOpenTarget(dir, nodePlatform), 'folder');
			expect(folder.disks).toEqual([]);
			expect(folder.warnings).toEqual([`no .vmdk files in ${dir}`]);
		});

		it('lists only top-level disks: no parents, no split or flat extents — as qemu-img sees them', async () => {
			const dir = join(root, 'loose');
			await mkdir(dir);
			await qemuImg(dir, 'create', '-f', 'vmdk', 'base.vmdk', '4M');
			await qemuImg(dir, 'create', '-f', 'vmdk', '-b', 'base.vmdk', '-F', 'vmdk', 'child.vmdk');
			await qemuImg(dir, 'create', '-f', 'vmdk', '-o', 'subformat=twoGbMaxExtentSparse', 'split.vmdk', '4M');
			await qemuImg(
				dir,
				'create',
				'-f',
				'vmdk',
				'-o',
				'subformat=twoGbMaxExtentFlat',
				'splitflat.vmdk',
				'1M',
			);
			await qemuImg(dir, 'create', '-f', 'vmdk', '-o', 'subformat=monolithicFlat', 'flat.vmdk', '1M');
			await qemuImg(dir, 'create', '-f', 'vmdk', '-o', 'subformat=streamOptimized', 'stream.vmdk', '1M');
			await writeFile(join(dir, 'orphan-flat.vmdk'), new Uint8Array(4096).fill(0xe5));
			await mkdir(join(dir, 'child.vmdk.lck'));
			const folder = expectKind(await resolveOpenTarget(dir, nodePlatform), 'folder');
			expect(folder.disks.map((p) => basename(p))).toEqual([
				'child.vmdk',
				'flat.vmdk',
				'split.vmdk',
				'splitflat.vmdk',
				'stream.vmdk',
			]);
			expect(folder.warnings).toEqual([
				'orphan-flat.vmdk is an extent without a descriptor naming it; skipped',
			]);

			// Differential check: the files qemu opens for the listed disks are exactly the other
			// VMDKs of the folder, and no listed disk is part of another one.
			const { stdout } = await execa('ls', [dir]);
			const all = stdout
				.split('\n')
				.filter((n) => n.endsWith('.vmdk') && n !== 'orphan-flat.vmdk')
				.map((n) => resolve(dir, n));
			const used = new Map<string, string[]>();
			for (const disk of folder.disks) used.set(resolve(disk), await qemuFiles(disk));
			expect(new Set([...used.values()].flat())).toEqual(new Set(all));
			for (const [disk, files] of used) {
				for (const [other, otherFiles] of used) if (other !== disk) expect(otherFiles).not.toContain(disk);
				expect(files[0]).toBe(disk);
			}
		});
	});
});
