// SPDX-License-Identifier: MIT
// Builds a VMware VM with a snapshot tree on real files, the way Workstation/ESXi leave it:
//
//   snapshot 1 "Installed"  → base.vmdk            (monolithicSparse, qemu-img)      state A
//   ├─ snapshot 2 "Updated" → base-000001.vmdk     (monolithicSparse child, qemu-img + qemu-io)  B
//   └─ snapshot 3 "Experiment" → base-000002.vmdk  (vmfsSparse: COWD -delta extent)  state C
//        └─ current state → base-000003.vmdk       (seSparse delta)                  state D
//
// plus an independent disk (data.vmdk, sata0:1) that snapshots do not cover. Each state is a
// whole-disk ext4 filesystem "SNAPDATA" whose hello.txt says which state it is, made with
// mkfs.ext4 -d and changed with debugfs; each delta holds exactly the grains where its state
// differs from its parent's, so reads must go through the chain to be right.
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildCowdExtent } from './build-cowd.js';
import { run, sha256File } from './build-ova.js';
import { buildSeSparseExtent } from './build-sesparse.js';

const MIB = 1024 * 1024;
const SECTOR = 512;
/** Capacity of the snapshotted disk. */
export const SNAPSHOT_DISK_BYTES = 16 * MIB;

/** The states of the disk, by the snapshot point that shows them. */
export type StateName = 'A' | 'B' | 'C' | 'D';

/** What was built. */
export interface SnapshotVm {
	/** The `.vmwarevm` bundle folder. */
	readonly bundle: string;
	readonly vmx: string;
	readonly vmsd: string;
	/** Raw image of each state. */
	readonly raw: Readonly<Record<StateName, string>>;
	/** hello.txt of each state. */
	readonly hello: Readonly<Record<StateName, string>>;
	/** The independent disk's raw image. */
	readonly dataRaw: string;
}

/** The .vmsd of the tree above (snapshot 3 current). */
export const VMSD_TEXT = `.encoding = "UTF-8"
snapshot.lastUID = "3"
snapshot.current = "3"
snapshot0.uid = "1"
snapshot0.filename = "Test VM-Snapshot1.vmsn"
snapshot0.displayName = "Installed"
snapshot0.createTimeHigh = "395812"
snapshot0.createTimeLow = "-1742724544"
snapshot0.numDisks = "1"
snapshot0.disk0.fileName = "base.vmdk"
snapshot0.disk0.node = "scsi0:0"
snapshot1.uid = "2"
snapshot1.filename = "Test VM-Snapshot2.vmsn"
snapshot1.parent = "1"
snapshot1.displayName = "Updated"
snapshot1.description = "after apt upgrade"
snapshot1.numDisks = "1"
snapshot1.disk0.fileName = "base-000001.vmdk"
snapshot1.disk0.node = "scsi0:0"
snapshot2.uid = "3"
snapshot2.filename = "Test VM-Snapshot3.vmsn"
snapshot2.parent = "1"
snapshot2.displayName = "Experiment"
snapshot2.numDisks = "1"
snapshot2.disk0.fileName = "base-000002.vmdk"
snapshot2.disk0.node = "scsi0:0"
snapshot.numSnapshots = "3"
`;

const VMX_TEXT = `.encoding = "UTF-8"
config.version = "8"
virtualHW.version = "19"
displayName = "Test VM"
guestOS = "debian11-64"
scsi0.present = "TRUE"
scsi0.virtualDev = "lsilogic"
scsi0:0.present = "TRUE"
scsi0:0.fileName = "base-000003.vmdk"
sata0.present = "TRUE"
sata0:1.present = "TRUE"
sata0:1.fileName = "data.vmdk"
sata0:1.mode = "independent-persistent"
`;

/** Grains of `size` bytes where `a` and `b` differ, with `b`'s bytes. */
function changedGrains(a: Uint8Array, b: Uint8Array, size: number): Map<number, Uint8Array> {
	const out = new Map<number, Uint8Array>();
	for (let g = 0; g * size < b.length; g++) {
		const x = a.subarray(g * size, (g + 1) * size);
		const y = b.subarray(g * size, (g + 1) * size);
		if (Buffer.compare(x, y) !== 0) out.set(g, y.slice());
	}
	return out;
}

/** CID of a VMDK, as qemu-img reads it, in descriptor hex. */
async function cidOf(path: string): Promise<string> {
	const info = JSON.parse(await run('/usr/bin/qemu-img', ['info', '--output=json', path])) as {
		'format-specific': { data: { cid: number } };
	};
	return info['format-specific'].data.cid.toString(16).padStart(8, '0');
}

/** A text descriptor for a delta over `parent`. */
function deltaDescriptor(
	createType: string,
	extentType: string,
	extent: string,
	cid: string,
	parentCid: string,
	parent: string,
): string {
	return `# Disk DescriptorFile
version=1
encoding="UTF-8"
CID=${cid}
parentCID=${parentCid}
isNativeSnapshot="no"
createType="${createType}"
parentFileNameHint="${parent}"

# Extent description
RW ${SNAPSHOT_DISK_BYTES / SECTOR} ${extentType} "${extent}"

# The Disk Data Base
#DDB

ddb.virtualHWVersion = "19"
ddb.adapterType = "lsilogic"
`;
}

/** Changes `image` with debugfs so that hello.txt says `hello` and `only-<state>.txt` exists. */
async function setState(image: string, dir: string, state: StateName, hello: string): Promise<void> {
	const src = join(dir, `src-${state}`);
	await mkdir(src, { recursive: true });
	await writeFile(join(src, 'hello.txt'), hello);
	await writeFile(join(src, 'only.txt'), `only in state ${state}\n`);
	const commands = [
		'rm hello.txt',
		`write ${join(src, 'hello.txt')} hello.txt`,
		`write ${join(src, 'only.txt')} only-${state}.txt`,
	];
	await writeFile(join(dir, `debugfs-${state}.txt`), commands.join('\n') + '\n');
	await run('/usr/sbin/debugfs', ['-w', '-f', join(dir, `debugfs-${state}.txt`), image]);
}

/** Builds the VM in `<dir>/Test VM.vmwarevm`. */
export async function makeSnapshotVm(dir: string): Promise<SnapshotVm> {
	const work = join(dir, 'work');
	const bundle = join(dir, 'Test VM.vmwarevm');
	await mkdir(work, { recursive: true });
	await mkdir(bundle, { recursive: true });
	const hello: Record<StateName, string> = {
		A: 'state A: freshly installed\n',
		B: 'state B: after the update\n',
		C: 'state C: an experiment on the installed system\n',
		D: 'state D: the experiment goes on (current)\n',
	};
	const raw = {} as Record<StateName, string>;
	for (const s of ['A', 'B', 'C', 'D'] as const) raw[s] = join(work, `state-${s}.raw`);

	await mkdir(join(work, 'content'), { recursive: true });
	await writeFile(join(work, 'content', 'hello.txt'), hello.A);
	await writeFile(join(work, 'content', 'only-A.txt'), 'only in state A\n');
	await run('/usr/bin/truncate', ['-s', `${SNAPSHOT_DISK_BYTES}`, raw.A]);
	await run('/usr/sbin/mkfs.ext4', ['-q', '-F', '-L', 'SNAPDATA', '-d', join(work, 'content'), raw.A]);
	await copyFile(raw.A, raw.B);
	await setState(raw.B, work, 'B', hello.B);
	await copyFile(raw.A, raw.C);
	await setState(raw.C, work, 'C', hello.C);
	await copyFile(raw.C, raw.D);
	await setState(raw.D, work, 'D', hello.D);
	const bytes = {} as Record<StateName, Uint8Array>;
	for (const s of ['A', 'B', 'C', 'D'] as const) bytes[s] = new Uint8Array(await readFile(raw[s]));

	// Snapshot 1: the base disk, state A.
	await run('/usr/bin/qemu-img', [
		'convert',
		'-f',
		'raw',
		'-O',
		'vmdk',
		'-o',
		'subformat=monolithicSparse',
		raw.A,
		join(bundle, 'base.vmdk'),
	]);
	const baseCid = await cidOf(join(bundle, 'base.vmdk'));

	// Snapshot 2: a hosted monolithicSparse child holding B's changed 64 KiB grains.
	await run(
		'/usr/bin/qemu-img',
		['create', '-q', '-f', 'vmdk', '-b', 'base.vmdk', '-F', 'vmdk', 'base-000001.vmdk'],
		bundle,
	);
	const grainsB = changedGrains(bytes.A, bytes.B, 64 * 1024);
	const writes: string[] = [];
	for (const [g, data] of grainsB) {
		const file = join(work, `grain-${g}.bin`);
		await writeFile(file, data);
		writes.push('-c', `write -q -s ${file} ${g * 64 * 1024} ${data.length}`);
	}
	await run('/usr/bin/qemu-io', ['-f', 'vmdk', ...writes, join(bundle, 'base-000001.vmdk')]);

	// Snapshot 3: an ESX vmfsSparse (COWD) delta over the base, holding C's changes.
	const cowdGrainSectors = 128;
	await writeFile(
		join(bundle, 'base-000002-delta.vmdk'),
		buildCowdExtent({
			capacitySectors: SNAPSHOT_DISK_BYTES / SECTOR,
			grainSizeSectors: cowdGrainSectors,
			grains: changedGrains(bytes.A, bytes.C, cowdGrainSectors * SECTOR),
		}),
	);
	const cowdCid = '2c0d2c0d';
	await writeFile(
		join(bundle, 'base-000002.vmdk'),
		deltaDescriptor('vmfsSparse', 'VMFSSPARSE', 'base-000002-delta.vmdk', cowdCid, baseCid, 'base.vmdk'),
	);

	// The current state: a seSparse delta over snapshot 3's, holding D's changes (4 KiB grains).
	await writeFile(
		join(bundle, 'base-000003-sesparse.vmdk'),
		buildSeSparseExtent({
			capacitySectors: SNAPSHOT_DISK_BYTES / SECTOR,
			grains: changedGrains(bytes.C, bytes.D, 4096),
		}),
	);
	await writeFile(
		join(bundle, 'base-000003.vmdk'),
		deltaDescriptor(
			'seSparse',
			'SESPARSE',
			'base-000003-sesparse.vmdk',
			'5e5e5e5e',
			cowdCid,
			'base-000002.vmdk',
		),
	);

	// An independent disk: snapshots do not cover it.
	const dataRaw = join(work, 'data.raw');
	await run('/usr/bin/truncate', ['-s', `${8 * MIB}`, dataRaw]);
	await run('/usr/sbin/mkfs.ext4', ['-q', '-F', '-L', 'INDEP', dataRaw]);
	await run('/usr/bin/qemu-img', ['convert', '-f', 'raw', '-O', 'vmdk', dataRaw, join(bundle, 'data.vmdk')]);

	const vmx = join(bundle, 'Test VM.vmx');
	const vmsd = join(bundle, 'Test VM.vmsd');
	await writeFile(vmx, VMX_TEXT);
	await writeFile(vmsd, VMSD_TEXT);
	return { bundle, vmx, vmsd, raw, hello, dataRaw };
}

/** sha256 of every file in the bundle, to prove nothing was written. */
export async function hashBundle(bundle: string, names: readonly string[]): Promise<Record<string, string>> {
	const out: Record<string, string> = {};
	for (const n of names) out[n] = await sha256File(join(bundle, n));
	return out;
}
