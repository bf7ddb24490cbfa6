// SPDX-License-Identifier: MIT
/**
 * The disks the e2e tests open in the window, made with the real tools (sfdisk, mkfs.*, mcopy,
 * ntfscp, qemu-img): a three-volume disk with known files, a locked `.vmwarevm` bundle with two
 * disks and a snapshot chain, a disk for the CLI to mount, and two files that cannot be opened.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { blkidAt, writeFilesystemAt } from '../fixtures/make-inspect-disks.js';
import { type KnownFile } from '../helpers/mount-env.js';
import { runSync, sha256File } from '../helpers/run.js';
import { placeImageSync } from '../helpers/place-image.js';

const MIB = 1024 * 1024;
const SECTOR = 512;

/** A partition of the sample disk, and what blkid finds in it. */
export interface SamplePartition {
	readonly index: number;
	readonly startBytes: number;
	readonly sizeBytes: number;
	/** blkid's TYPE and LABEL of the partition's bytes (the peer the window is compared to). */
	readonly blkid: { readonly type: string; readonly label: string; readonly version: string | undefined };
}

/** Everything the tests open. */
export interface E2eFixtures {
	readonly dir: string;
	/** MBR: ext4 LINUXDATA, FAT32 FATDATA, NTFS NTDATA, each holding {@link files}; monolithicSparse. */
	readonly sample: string;
	readonly samplePartitions: readonly SamplePartition[];
	/** `E2E VM.vmwarevm`: a running (locked) VM with a snapshot chain and a second disk. */
	readonly bundle: string;
	readonly bundleName: string;
	/** Its disks, as the .vmx names them (the system disk's leaf, then the data disk). */
	readonly bundleDisks: readonly string[];
	/** One ext4 CLIDATA volume, for the CLI to mount. */
	readonly cliDisk: string;
	/** A text file named like a disk would not be. */
	readonly notVmdk: string;
	/** A snapshot whose parent is not there. */
	readonly orphan: string;
	/** The files in every filesystem of the sample disk. */
	readonly files: readonly KnownFile[];
}

/** The known files, deterministic so screenshots and hashes repeat. */
async function makeContent(dir: string): Promise<KnownFile[]> {
	await mkdir(dir, { recursive: true });
	await writeFile(join(dir, 'hello.txt'), 'Hello from inside a VMDK\n');
	const data = new Uint8Array(300_000);
	for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
	await writeFile(join(dir, 'data.bin'), data);
	return Promise.all(
		['hello.txt', 'data.bin'].map(async (name) => ({ name, sha256: await sha256File(join(dir, name)) })),
	);
}

/** Makes a filesystem image with `mkfs`, fills it with `fill`, and copies it into `raw` at `startSector`. */
function putFilesystem(
	raw: string,
	scratch: string,
	startSector: number,
	sizeSectors: number,
	mkfs: readonly string[],
	fill: (image: string) => void = () => undefined,
): void {
	const image = join(scratch, `fs-${startSector}.img`);
	runSync('truncate', ['-s', String(sizeSectors * SECTOR), image]);
	const [tool, ...args] = mkfs;
	runSync(tool ?? 'false', [...args, image]);
	fill(image);
	placeImageSync(image, raw, startSector);
	runSync('rm', ['-f', image]);
}

/** A VMware lock member naming a live process of this host: the VM "is running". */
function lockMember(): Uint8Array {
	const out = new Uint8Array(512);
	out.set(new TextEncoder().encode(`${hostname()} ${process.pid}-123456(vmware-vmx) 1 X [ lc=4242`));
	return out;
}

/** Builds every fixture in `dir` (a few seconds). */
export async function makeE2eFixtures(dir: string): Promise<E2eFixtures> {
	await mkdir(dir, { recursive: true });
	const content = join(dir, 'content');
	const files = await makeContent(content);
	const names = files.map((f) => f.name);
	const scratch = join(dir, 'scratch');
	await mkdir(scratch, { recursive: true });

	// The sample: three partitions, three filesystems, the same two files in each.
	const parts = [
		{
			index: 1,
			start: 2048,
			size: 49152,
			type: '83',
			mkfs: ['mkfs.ext4', '-q', '-F', '-L', 'LINUXDATA', '-d', content],
		},
		{ index: 2, start: 51200, size: 81920, type: 'c', mkfs: ['mkfs.vfat', '-F', '32', '-n', 'FATDATA'] },
		{ index: 3, start: 133120, size: 32768, type: '7', mkfs: ['mkntfs', '-q', '-F', '-f', '-L', 'NTDATA'] },
	] as const;
	const sampleRaw = join(dir, 'sample.raw');
	runSync('truncate', ['-s', String(88 * MIB), sampleRaw]);
	runSync('sfdisk', ['-q', '--no-reread', '--no-tell-kernel', sampleRaw], {
		input: ['label: dos', ...parts.map((p) => `start=${p.start}, size=${p.size}, type=${p.type}`)].join('\n'),
	});
	for (const p of parts) {
		putFilesystem(sampleRaw, scratch, p.start, p.size, p.mkfs, (image) => {
			if (p.index === 2) for (const n of names) runSync('mcopy', ['-i', image, join(content, n), `::/${n}`]);
			if (p.index === 3) for (const n of names) runSync('ntfscp', ['-q', '-f', image, join(content, n), n]);
		});
	}
	const samplePartitions = parts.map((p) => {
		const found = blkidAt(sampleRaw, p.start * SECTOR, p.size * SECTOR);
		return {
			index: p.index,
			startBytes: p.start * SECTOR,
			sizeBytes: p.size * SECTOR,
			blkid: { type: found.TYPE ?? '', label: found.LABEL ?? '', version: found.VERSION },
		};
	});
	const sample = join(dir, 'sample.vmdk');
	runSync('qemu-img', [
		'convert',
		'-f',
		'raw',
		'-O',
		'vmdk',
		'-o',
		'subformat=monolithicSparse',
		sampleRaw,
		sample,
	]);

	// The bundle: a system disk with one snapshot, a whole-disk data disk, a .vmx, a .vmsd, a lock.
	const bundleName = 'E2E VM';
	const bundle = join(dir, `${bundleName}.vmwarevm`);
	await mkdir(bundle);
	const systemRaw = join(scratch, 'system.raw');
	runSync('truncate', ['-s', String(32 * MIB), systemRaw]);
	runSync('sfdisk', ['-q', '--no-reread', '--no-tell-kernel', systemRaw], {
		input: 'label: dos\nstart=2048, type=83\n',
	});
	writeFilesystemAt(
		systemRaw,
		{
			startSector: 2048,
			sizeSectors: (31 * MIB) / SECTOR,
			mkfs: ['mkfs.ext4', '-q', '-F', '-L', 'SYSTEM', '-d', content],
		},
		scratch,
	);
	runSync('qemu-img', ['convert', '-f', 'raw', '-O', 'vmdk', systemRaw, join(bundle, 'system.vmdk')]);
	runSync('qemu-img', [
		'create',
		'-q',
		'-f',
		'vmdk',
		'-b',
		'system.vmdk',
		'-F',
		'vmdk',
		join(bundle, 'system-000001.vmdk'),
	]);
	const dataRaw = join(scratch, 'data.raw');
	runSync('truncate', ['-s', String(16 * MIB), dataRaw]);
	runSync('mkfs.ext2', ['-q', '-F', '-L', 'DATA', '-d', content, dataRaw]);
	runSync('qemu-img', [
		'convert',
		'-f',
		'raw',
		'-O',
		'vmdk',
		'-o',
		'subformat=streamOptimized',
		dataRaw,
		join(bundle, 'data.vmdk'),
	]);
	await writeFile(
		join(bundle, `${bundleName}.vmx`),
		[
			'.encoding = "UTF-8"',
			'config.version = "8"',
			'virtualHW.version = "19"',
			`displayName = "${bundleName}"`,
			'guestOS = "ubuntu-64"',
			'scsi0.present = "TRUE"',
			'scsi0:0.present = "TRUE"',
			'scsi0:0.fileName = "system-000001.vmdk"',
			'sata0.present = "TRUE"',
			'sata0:1.present = "TRUE"',
			'sata0:1.fileName = "data.vmdk"',
			'',
		].join('\n'),
	);
	await writeFile(
		join(bundle, `${bundleName}.vmsd`),
		[
			'.encoding = "UTF-8"',
			'snapshot.lastUID = "1"',
			'snapshot.current = "1"',
			'snapshot0.uid = "1"',
			`snapshot0.filename = "${bundleName}-Snapshot1.vmsn"`,
			'snapshot0.displayName = "Before update"',
			'snapshot0.numDisks = "1"',
			'snapshot0.disk0.fileName = "system.vmdk"',
			'snapshot0.disk0.node = "scsi0:0"',
			'snapshot.numSnapshots = "1"',
			'',
		].join('\n'),
	);
	const lockDir = join(bundle, `${bundleName}.vmx.lck`);
	await mkdir(lockDir);
	await writeFile(join(lockDir, 'M00001.lck'), lockMember());

	// A disk for the CLI.
	const cliRaw = join(scratch, 'cli.raw');
	runSync('truncate', ['-s', String(24 * MIB), cliRaw]);
	runSync('sfdisk', ['-q', '--no-reread', '--no-tell-kernel', cliRaw], {
		input: 'label: dos\nstart=2048, type=83\n',
	});
	writeFilesystemAt(
		cliRaw,
		{
			startSector: 2048,
			sizeSectors: (23 * MIB) / SECTOR,
			mkfs: ['mkfs.ext4', '-q', '-F', '-L', 'CLIDATA', '-d', content],
		},
		scratch,
	);
	const cliDisk = join(dir, 'cli.vmdk');
	runSync('qemu-img', ['convert', '-f', 'raw', '-O', 'vmdk', cliRaw, cliDisk]);

	// Two things that cannot be opened: not a disk at all, and a snapshot without its parent.
	const notVmdk = join(dir, 'notes.vmdk');
	await writeFile(notVmdk, 'These are not the disks you are looking for.\n');
	const orphanDir = join(dir, 'orphan');
	await mkdir(orphanDir);
	const orphan = join(orphanDir, 'system-000001.vmdk');
	runSync('cp', [join(bundle, 'system-000001.vmdk'), orphan]);

	await rm(scratch, { recursive: true, force: true });
	return {
		dir,
		sample,
		samplePartitions,
		bundle,
		bundleName,
		bundleDisks: [join(bundle, 'system-000001.vmdk'), join(bundle, 'data.vmdk')],
		cliDisk,
		notVmdk,
		orphan,
		files,
	};
}
