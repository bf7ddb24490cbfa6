// SPDX-License-Identifier: MIT
// A filesystem that claims more bytes than its partition holds: an ext4 made with mkfs on a
// 64 MiB file, then copied into a 16 MiB MBR partition (as when a partition is shrunk without
// its filesystem). `info` must warn, with the sizes dumpe2fs and sfdisk report; the peers show
// why it matters: the kernel refuses the mount ("bad geometry") and fuse2fs mounts it but cannot
// read a file stored past the partition's end.
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { infoJson, infoText, rawToVmdk, run, sfdiskTable } from '../fixtures/make-inspect-disks.js';
import { describeNeeding, rootMissing } from '../helpers/capability.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const MIB = 1024 * 1024;
const PARTITION_START_SECTORS = 2048;
const PARTITION_BYTES = 16 * MIB;
const FILESYSTEM_BYTES = 64 * MIB;

/** Block count and block size from the superblock, as dumpe2fs prints them. */
function dumpe2fsSize(image: string): number {
	const out = run('dumpe2fs', ['-h', image]);
	const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)$`, 'm').exec(out)?.[1]);
	return field('Block count') * field('Block size');
}

describe('info on an ext4 larger than its partition', () => {
	let dir: string;
	let cleanup: (() => Promise<void>) | undefined;
	let raw: string;
	/** The partition's bytes alone, as a helper would see the exported `p1`. */
	let partition: string;
	let vmdk: string;

	beforeAll(async () => {
		({ dir, cleanup } = await makeTempDir('vmdk-oversized-'));
		const files = join(dir, 'files');
		await mkdir(files);
		// 40 MiB of data cannot fit in the first 16 MiB: part of it lies past the partition's end.
		await writeFile(join(files, 'big.bin'), new Uint8Array(40 * MIB).fill(0x5a));
		const fs = join(dir, 'fs.img');
		run('truncate', ['-s', String(FILESYSTEM_BYTES), fs]);
		run('mkfs.ext4', ['-q', '-F', '-b', '4096', '-L', 'shrunk', '-d', files, fs]);
		raw = join(dir, 'disk.raw');
		run('truncate', ['-s', String(48 * MIB), raw]);
		run(
			'sfdisk',
			['-q', raw],
			`label: dos\nstart=${PARTITION_START_SECTORS}, size=${PARTITION_BYTES / 512}, type=83\n`,
		);
		const copy = (to: string, seekMib: number) =>
			run('dd', [
				`if=${fs}`,
				`of=${to}`,
				`bs=${MIB}`,
				`seek=${seekMib}`,
				`count=${PARTITION_BYTES / MIB}`,
				'conv=notrunc,sparse',
				'status=none',
			]);
		copy(raw, (PARTITION_START_SECTORS * 512) / MIB);
		partition = join(dir, 'p1.img');
		copy(partition, 0);
		vmdk = rawToVmdk(raw, 'monolithicSparse');
	}, 120_000);

	afterAll(async () => {
		await cleanup?.();
	});

	it('warns in --json with the sizes of dumpe2fs and sfdisk, and shows the warning in the text output', async () => {
		const claimed = dumpe2fsSize(partition);
		expect(claimed).toBe(FILESYSTEM_BYTES);
		const table = sfdiskTable(raw);
		const partitionBytes = (table.partitions[0]?.size ?? 0) * 512;
		expect(partitionBytes).toBe(PARTITION_BYTES);

		const info = (await infoJson(vmdk)).disks[0]!;
		expect(
			info.volumes.map((v) => [v.name, v.sizeBytes, v.filesystem?.type, v.filesystem?.sizeBytes]),
		).toEqual([['p1', partitionBytes, 'ext4', claimed]]);
		const warning =
			`p1: the ext4 filesystem claims ${claimed} bytes but its partition holds ${partitionBytes}: ` +
			`its last ${claimed - partitionBytes} bytes are missing, so a mount may be refused and files stored there cannot be read`;
		expect(info.warnings).toEqual([warning]);

		const text = await infoText(vmdk);
		expect(text.exitCode).toBe(0);
		expect(text.stdout).toContain(`Warnings:\n  ! ${warning}`);
	});

	it('does not warn about one device of a two-device btrfs (its size is both devices together)', async () => {
		const devices = [join(dir, 'btrfs-a.img'), join(dir, 'btrfs-b.img')];
		for (const d of devices) run('truncate', ['-s', String(128 * MIB), d]);
		run('mkfs.btrfs', ['-q', '-f', '-d', 'single', '-m', 'single', ...devices]);
		const btrfsRaw = join(dir, 'btrfs.raw');
		run('truncate', ['-s', String(130 * MIB), btrfsRaw]);
		run(
			'sfdisk',
			['-q', btrfsRaw],
			`label: dos\nstart=${PARTITION_START_SECTORS}, size=${(128 * MIB) / 512}, type=83\n`,
		);
		run('dd', [
			`if=${devices[0]}`,
			`of=${btrfsRaw}`,
			`bs=${MIB}`,
			'seek=1',
			'conv=notrunc,sparse',
			'status=none',
		]);
		const info = (await infoJson(rawToVmdk(btrfsRaw, 'monolithicSparse'))).disks[0]!;
		expect(info.volumes[0]?.filesystem).toMatchObject({
			type: 'btrfs',
			sizeBytes: 256 * MIB,
			deviceCount: 2,
		});
		expect(info.volumes[0]?.sizeBytes).toBe(128 * MIB);
		expect(info.warnings).toEqual([]);
	});

	describeNeeding(rootMissing(), 'what the kernel and fuse2fs make of it', () => {
		it('the kernel refuses it: bad geometry', () => {
			const loop = run('losetup', [
				'--find',
				'--show',
				'--read-only',
				'--offset',
				String(PARTITION_START_SECTORS * 512),
				'--sizelimit',
				String(PARTITION_BYTES),
				raw,
			]).trim();
			const mountpoint = join(dir, 'kernel');
			try {
				execFileSync('mkdir', ['-p', mountpoint]);
				expect(() => run('mount', ['-t', 'ext4', '-o', 'ro', loop, mountpoint])).toThrow();
				const name = loop.replace('/dev/', '');
				expect(run('dmesg', [])).toMatch(
					new RegExp(`EXT4-fs \\(${name}\\): bad geometry: block count \\d+ exceeds size of device`),
				);
			} finally {
				// Only mounted if the kernel unexpectedly accepted it.
				execFileSync('sh', ['-c', `umount ${mountpoint} 2>/dev/null; losetup -d ${loop}`]);
			}
		});

		it('fuse2fs mounts it, but a file stored past the end of the partition fails with EIO', async () => {
			const mountpoint = join(dir, 'fuse2fs');
			await mkdir(mountpoint, { recursive: true });
			run('fuse2fs', ['-o', 'ro', partition, mountpoint]);
			try {
				await expect(readFile(join(mountpoint, 'big.bin'))).rejects.toMatchObject({ code: 'EIO' });
			} finally {
				run('umount', [mountpoint]);
			}
		});
	});
});
