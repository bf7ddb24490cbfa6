// SPDX-License-Identifier: MIT
// `vmdk-mounter info` on VMs: a `.vmwarevm` bundle made here (a .vmx with two disks on two
// controllers and a CD-ROM, a .vmsd with two snapshots, a 2-deep snapshot chain made with
// `qemu-img create -b` and written with qemu-io, VMware-style .lck folders), the same .vmx by
// path, a plain folder of VMDKs, and a .vmx naming a missing disk. qemu-img is the reference for
// chains and CIDs; sfdisk and blkid on `qemu-img convert -O raw` of each leaf for the volumes.
import { cp, mkdir, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DiskInfo, InfoResult } from '../../src/shared/models.js';
import {
	infoJson,
	infoText,
	ourView,
	peerView,
	run,
	writeFilesystemAt,
} from '../fixtures/make-inspect-disks.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const MIB = 1024 * 1024;
const VM_NAME = 'Bundle VM';
/** Partition 2 of the system disk (sectors), whose FAT the leaf snapshot zeroes. */
const P2_START_SECTOR = 18432;

/** `qemu-img info --backing-chain`, reduced to the fields we compare. */
interface QemuChainEntry {
	filename: string;
	'format-specific': { data: { cid: number; 'parent-cid': number; 'create-type': string } };
}

/** The chain as qemu-img sees it, leaf first, with CIDs as the 8 hex digits a descriptor holds. */
function qemuChain(path: string): { path: string; createType: string; cid: string; parentCid: string }[] {
	const chain = JSON.parse(
		run('qemu-img', ['info', '--backing-chain', '--output=json', path]),
	) as QemuChainEntry[];
	const hex = (n: number): string => n.toString(16).padStart(8, '0');
	return chain.map((e) => ({
		path: resolve(path, '..', e.filename),
		createType: e['format-specific'].data['create-type'],
		cid: hex(e['format-specific'].data.cid),
		parentCid: hex(e['format-specific'].data['parent-cid']),
	}));
}

/** A lock member as VMware's lock code writes it: 512 bytes of NUL-padded text. */
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

const VMX = `.encoding = "UTF-8"
config.version = "8"
virtualHW.version = "19"
displayName = "${VM_NAME}"
guestOS = "ubuntu-64"
scsi0.present = "TRUE"
scsi0.virtualDev = "lsilogic"
scsi0:0.present = "TRUE"
scsi0:0.fileName = "system-000002.vmdk"
sata0.present = "TRUE"
sata0:1.present = "TRUE"
sata0:1.fileName = "data.vmdk"
ide1:0.present = "TRUE"
ide1:0.deviceType = "cdrom-image"
ide1:0.fileName = "/isos/installer.iso"
`;

const VMSD = `.encoding = "UTF-8"
snapshot.lastUID = "2"
snapshot.current = "2"
snapshot0.uid = "1"
snapshot0.filename = "${VM_NAME}-Snapshot1.vmsn"
snapshot0.displayName = "Fresh install"
snapshot0.numDisks = "1"
snapshot0.disk0.fileName = "system.vmdk"
snapshot0.disk0.node = "scsi0:0"
snapshot1.uid = "2"
snapshot1.parent = "1"
snapshot1.displayName = "Before upgrade"
snapshot1.description = "pre-apt"
snapshot1.numDisks = "1"
snapshot1.disk0.fileName = "system-000001.vmdk"
snapshot1.disk0.node = "scsi0:0"
snapshot.numSnapshots = "2"
`;

describe('info on VM bundles and folders', () => {
	let root: string;
	let cleanup: (() => Promise<void>) | undefined;
	let bundle: string;
	let vmx: string;
	let plain: string;
	let brokenVmx: string;
	/** Raw images of each leaf, as qemu reads it through its chain. */
	const leafRaw = new Map<string, string>();
	let onBundle: InfoResult;
	let onVmx: InfoResult;
	let onFolder: InfoResult;
	let onBroken: InfoResult;

	beforeAll(async () => {
		({ dir: root, cleanup } = await makeTempDir('vmdk-info-bundle-'));
		bundle = join(root, `${VM_NAME}.vmwarevm`);
		await mkdir(bundle);
		// System disk: MBR with an ext4 and a FAT, then two snapshots written by qemu-io.
		const systemRaw = join(root, 'system.img');
		run('truncate', ['-s', String(48 * MIB), systemRaw]);
		run(
			'sfdisk',
			['--no-reread', '--no-tell-kernel', '-q', systemRaw],
			['label: dos', 'start=2048, size=16384, type=83', `start=${P2_START_SECTOR}, size=65536, type=c`].join(
				'\n',
			),
		);
		writeFilesystemAt(
			systemRaw,
			{ startSector: 2048, sizeSectors: 16384, mkfs: ['mkfs.ext4', '-q', '-F', '-L', 'system'] },
			root,
		);
		writeFilesystemAt(
			systemRaw,
			{ startSector: P2_START_SECTOR, sizeSectors: 65536, mkfs: ['mkfs.vfat', '-n', 'ESP'] },
			root,
		);
		const inBundle = (name: string): string => join(bundle, name);
		run('qemu-img', ['convert', '-f', 'raw', '-O', 'vmdk', systemRaw, inBundle('system.vmdk')]);
		run('qemu-img', [
			'create',
			'-q',
			'-f',
			'vmdk',
			'-b',
			'system.vmdk',
			'-F',
			'vmdk',
			inBundle('system-000001.vmdk'),
		]);
		// Snapshot 1 writes file data inside the ext4 (the probe must still see it).
		run('qemu-io', ['-f', 'vmdk', '-c', `write -P 0x5a ${6 * MIB} 64k`, inBundle('system-000001.vmdk')]);
		run('qemu-img', [
			'create',
			'-q',
			'-f',
			'vmdk',
			'-b',
			'system-000001.vmdk',
			'-F',
			'vmdk',
			inBundle('system-000002.vmdk'),
		]);
		// Snapshot 2 wipes the FAT's boot sector: through the chain, p2 has no filesystem.
		run('qemu-io', [
			'-f',
			'vmdk',
			'-c',
			`write -z ${P2_START_SECTOR * 512} 4k`,
			inBundle('system-000002.vmdk'),
		]);
		// Data disk: GPT with one ext4, streamOptimized.
		const dataRaw = join(root, 'data.img');
		run('truncate', ['-s', String(32 * MIB), dataRaw]);
		run('sgdisk', ['-n1:2048:+24M', '-t1:8300', '-c1:data', dataRaw]);
		writeFilesystemAt(
			dataRaw,
			{ startSector: 2048, sizeSectors: (24 * MIB) / 512, mkfs: ['mkfs.ext4', '-q', '-F', '-L', 'data'] },
			root,
		);
		run('qemu-img', [
			'convert',
			'-f',
			'raw',
			'-O',
			'vmdk',
			'-o',
			'subformat=streamOptimized',
			dataRaw,
			inBundle('data.vmdk'),
		]);
		vmx = inBundle(`${VM_NAME}.vmx`);
		await writeFile(vmx, VMX);
		await writeFile(inBundle(`${VM_NAME}.vmsd`), VMSD);
		for (const leaf of ['system-000002.vmdk', 'system.vmdk', 'data.vmdk']) {
			const out = join(root, `${leaf}.raw`);
			run('qemu-img', ['convert', '-O', 'raw', inBundle(leaf), out]);
			leafRaw.set(leaf, out);
		}
		// A plain folder holding the same VMDKs (no .vmx): its top-level disks are the leaves.
		plain = join(root, 'loose');
		await mkdir(plain);
		for (const name of ['system.vmdk', 'system-000001.vmdk', 'system-000002.vmdk', 'data.vmdk']) {
			await cp(inBundle(name), join(plain, name));
		}
		// A VM whose first disk is gone; its second is the bundle's data disk by absolute path.
		await mkdir(join(root, 'broken'));
		brokenVmx = join(root, 'broken', 'broken.vmx');
		await writeFile(
			brokenVmx,
			[
				'displayName = "Broken VM"',
				'scsi0.present = "TRUE"',
				'scsi0:0.present = "TRUE"',
				'scsi0:0.fileName = "gone.vmdk"',
				'scsi0:1.present = "TRUE"',
				`scsi0:1.fileName = "${inBundle('data.vmdk')}"`,
				'',
			].join('\n'),
		);
		[onBundle, onVmx, onFolder, onBroken] = await Promise.all([
			infoJson(bundle),
			infoJson(vmx),
			infoJson(plain),
			infoJson(brokenVmx),
		]);
	}, 120_000);

	afterAll(async () => {
		await cleanup?.();
	});

	it('lists the two attached disks in controller order, skipping the CD-ROM', () => {
		expect(onBundle.disks.map((d) => [d.controller, d.path, d.error])).toEqual([
			['scsi0:0', join(bundle, 'system-000002.vmdk'), undefined],
			['sata0:1', join(bundle, 'data.vmdk'), undefined],
		]);
	});

	it('gives the same answer for the bundle folder and for its .vmx', () => {
		expect(onVmx).toEqual(onBundle);
	});

	it('describes the VM: name, .vmx, unlocked, the .vmsd snapshots with the current one', () => {
		const vm = onBundle.vm!;
		expect(vm).toMatchObject({
			vmxPath: vmx,
			kind: 'vmware',
			displayName: VM_NAME,
			guestOS: 'ubuntu-64',
			locked: false,
		});
		expect(vm.snapshots?.map((s) => [s.uid, s.parentUid, s.displayName, s.description, s.current])).toEqual([
			['1', null, 'Fresh install', null, false],
			['2', '1', 'Before upgrade', 'pre-apt', true],
		]);
		expect(vm.snapshots?.map((s) => s.disks)).toEqual([
			[{ node: 'scsi0:0', fileName: 'system.vmdk' }],
			[{ node: 'scsi0:0', fileName: 'system-000001.vmdk' }],
		]);
		expect(vm.warnings).toEqual([]);
	});

	it('follows each chain as qemu-img does: paths, create types and CIDs, leaf first', () => {
		for (const disk of onBundle.disks) {
			expect(disk.chain).toEqual(qemuChain(disk.path));
			expect(disk.warnings).toEqual([]);
		}
		expect(onBundle.disks.map((d) => d.chain.length)).toEqual([3, 1]);
	});

	it('sees the volumes through the chain as sfdisk and blkid see qemu’s raw export', () => {
		const [system, data] = onBundle.disks as [DiskInfo, DiskInfo];
		const systemPeer = peerView(leafRaw.get('system-000002.vmdk')!);
		expect(ourView(system, systemPeer)).toEqual(systemPeer);
		const dataPeer = peerView(leafRaw.get('data.vmdk')!);
		expect(ourView(data, dataPeer)).toEqual(dataPeer);
		// The leaf's write removed the FAT that the base still has.
		expect(system.volumes.map((v) => v.filesystem?.type ?? null)).toEqual(['ext4', null]);
		expect(data.volumes.map((v) => [v.partitionName, v.filesystem?.label])).toEqual([['data', 'data']]);
	});

	it('the base image alone still has the FAT the snapshot wiped', async () => {
		const base = (await infoJson(join(bundle, 'system.vmdk'))).disks[0]!;
		const peer = peerView(leafRaw.get('system.vmdk')!);
		expect(ourView(base, peer)).toEqual(peer);
		expect(base.volumes.map((v) => v.filesystem?.type)).toEqual(['ext4', 'vfat']);
	});

	it('a plain folder lists its top-level VMDKs (the leaves), by name, with their chains', () => {
		expect(onFolder.vm).toMatchObject({ kind: 'folder', vmxPath: plain, displayName: null, locked: false });
		expect(onFolder.disks.map((d) => [d.path, d.chain.length, d.controller])).toEqual([
			[join(plain, 'data.vmdk'), 1, undefined],
			[join(plain, 'system-000002.vmdk'), 3, undefined],
		]);
		// Same content as in the bundle: the volumes are identical.
		expect(onFolder.disks[1]!.volumes).toEqual(onBundle.disks[0]!.volumes);
		expect(onFolder.disks[1]!.chain.map((l) => l.cid)).toEqual(onBundle.disks[0]!.chain.map((l) => l.cid));
	});

	it('a .vmx naming a missing disk: that disk carries the error, the other is still shown', async () => {
		expect(onBroken.vm?.displayName).toBe('Broken VM');
		expect(onBroken.vm?.warnings?.some((w) => w.includes('gone.vmdk'))).toBe(true);
		const [gone, data] = onBroken.disks as [DiskInfo, DiskInfo];
		expect(gone.controller).toBe('scsi0:0');
		expect(gone.path).toBe(join(root, 'broken', 'gone.vmdk'));
		expect(gone.error?.code).toMatch(/^VMDK_/);
		expect(gone.volumes).toEqual([]);
		expect(data.error).toBeUndefined();
		expect(data).toMatchObject({ controller: 'scsi0:1', path: join(bundle, 'data.vmdk') });
		expect(data.volumes).toEqual(onBundle.disks[1]!.volumes);
		const text = await infoText(brokenVmx);
		expect(text.exitCode).toBe(0);
		expect(text.stdout).toContain('gone.vmdk (scsi0:0)\n  ! cannot open:');
	});

	it('a parent written after the snapshot: CID mismatch error, or a warning with --ignore-cid', async () => {
		const dir = join(root, 'changed');
		await mkdir(dir);
		run('qemu-img', ['create', '-q', '-f', 'vmdk', join(dir, 'base.vmdk'), '16M']);
		run('qemu-img', ['create', '-q', '-f', 'vmdk', '-b', 'base.vmdk', '-F', 'vmdk', join(dir, 'leaf.vmdk')]);
		// qemu gives the base a new CID on its first write; the leaf still names the old one.
		run('qemu-io', ['-f', 'vmdk', '-c', 'write -P 0x11 0 4k', join(dir, 'base.vmdk')]);
		const qemu = qemuChain(join(dir, 'leaf.vmdk'));
		expect(qemu[0]!.parentCid).not.toBe(qemu[1]!.cid);
		const changedVmx = join(dir, 'changed.vmx');
		await writeFile(
			changedVmx,
			'displayName = "Changed"\nscsi0:0.present = "TRUE"\nscsi0:0.fileName = "leaf.vmdk"\n',
		);
		const strict = await infoJson(changedVmx);
		expect(strict.disks[0]!.error?.code).toBe('VMDK_CID_MISMATCH');
		expect(strict.disks[0]!.error?.message).toContain(qemu[0]!.parentCid);
		const lenient = await infoJson(changedVmx, ['--ignore-cid']);
		expect(lenient.disks[0]!.error).toBeUndefined();
		expect(lenient.disks[0]!.chain).toEqual(qemu);
		expect(lenient.disks[0]!.warnings).toEqual([expect.stringMatching(/^CID mismatch ignored: /)]);
	});

	describe('with VMware .lck folders', () => {
		const vmxLock = (): string => join(bundle, `${VM_NAME}.vmx.lck`);
		const diskLock = (): string => join(bundle, 'system-000002.vmdk.lck');

		async function writeLocks(pid: number): Promise<void> {
			await mkdir(vmxLock(), { recursive: true });
			await mkdir(diskLock(), { recursive: true });
			await writeFile(join(vmxLock(), 'M00001.lck'), lockMember(hostname(), pid));
			await writeFile(join(diskLock(), 'M31337.lck'), lockMember(hostname(), pid));
		}
		async function removeLocks(): Promise<void> {
			await rm(vmxLock(), { recursive: true, force: true });
			await rm(diskLock(), { recursive: true, force: true });
		}

		it('a lock held by a live process of this host: locked, not stale; the text says so', async () => {
			try {
				await writeLocks(process.pid);
				const result = await infoJson(bundle);
				expect(result.vm).toMatchObject({ locked: true, staleLock: false });
				expect([...(result.vm?.lockPaths ?? [])].sort()).toEqual([diskLock(), vmxLock()].sort());
				// Locks change nothing about the disks.
				expect(result.disks).toEqual(onBundle.disks);
				const text = await infoText(bundle);
				expect(text.stdout).toMatch(/State:\s+LOCKED — the VM looks like it is running/);
			} finally {
				await removeLocks();
			}
		});

		it('a lock whose process is gone is stale', async () => {
			try {
				await writeLocks(await deadPid());
				const result = await infoJson(bundle);
				expect(result.vm).toMatchObject({ locked: true, staleLock: true });
				expect((await infoText(bundle)).stdout).toMatch(
					/State:\s+locked \(stale lock: its process is gone\)/,
				);
			} finally {
				await removeLocks();
			}
		});
	});

	it('human output: the VM name, lock state, snapshots, and each disk with its volumes table', async () => {
		const { exitCode, stdout } = await infoText(bundle);
		expect(exitCode).toBe(0);
		expect(stdout).toMatch(new RegExp(`^VMware VM:\\s+${vmx.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
		expect(stdout).toMatch(new RegExp(`^Name:\\s+${VM_NAME}$`, 'm'));
		expect(stdout).toMatch(/^State:\s+not locked$/m);
		expect(stdout).toMatch(/^\s+2\s+1\s+└ Before upgrade\s+scsi0:0 system-000001\.vmdk\s+<- current$/m);
		// One "Disk:" block per disk, each followed by its own volumes table.
		const blocks = stdout.split(/^(?=Disk:)/m).slice(1);
		expect(blocks).toHaveLength(2);
		expect(blocks[0]).toContain(join(bundle, 'system-000002.vmdk'));
		expect(blocks[0]).toMatch(/^Slot:\s+scsi0:0$/m);
		expect(blocks[0]).toMatch(/Snapshot chain \(3 images, leaf first\)/);
		expect(blocks[0]).toMatch(/^\s+1\s+p1\s+1048576\s+8\.0 MiB .*\s+ext4\s+system\s+[0-9a-f-]{36}$/m);
		expect(blocks[0]).toMatch(/^\s+2\s+p2\s+9437184\s+32\.0 MiB .*\s+-\s*$/m);
		expect(blocks[1]).toMatch(/^Slot:\s+sata0:1$/m);
		expect(blocks[1]).toMatch(/^\s+1\s+p1\s+1048576\s+.*\s+ext4\s+data\s+[0-9a-f-]{36}$/m);
	});
});
