// SPDX-License-Identifier: MIT
// Differential tests: tables written by sfdisk and sgdisk must read back exactly as those
// tools print them (start, size, type, GUIDs, names). Images are small sparse files.
import { open, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
	APM_TYPE_NAMES,
	GPT_TYPE_NAMES,
	MBR_TYPE_NAMES,
	listVolumes,
	probeFilesystem,
	readPartitionTable,
} from '../../src/core/index.js';
import { runSync, type RunOptions } from '../helpers/run.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { FileByteSource } from '../../src/host/node/file-byte-source.js';

/** Partition names and labels here are UTF-8: the peers run in a UTF-8 locale. */
const UTF8: RunOptions = { locale: 'C.UTF-8' };

interface SfdiskPartition {
	node: string;
	start: number;
	size: number;
	type: string;
	uuid?: string;
	name?: string;
	bootable?: boolean;
}
interface SfdiskJson {
	partitiontable: { label: string; id: string; partitions: SfdiskPartition[] };
}

function sfdiskJson(path: string): SfdiskJson['partitiontable'] {
	return (JSON.parse(runSync('sfdisk', ['--json', path], UTF8)) as SfdiskJson).partitiontable;
}

/** Partition number from an sfdisk node name (`/tmp/x/disk.img5` → 5). */
function nodeNumber(node: string, path: string): number {
	return Number(node.slice(path.length));
}

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
	({ dir, cleanup } = await makeTempDir('vmdk-partitions-'));
});
afterAll(async () => {
	await cleanup();
});

async function withSource<T>(path: string, fn: (src: FileByteSource) => Promise<T>): Promise<T> {
	const src = await FileByteSource.open(path);
	try {
		return await fn(src);
	} finally {
		await src.close();
	}
}

describe('MBR written by sfdisk', () => {
	it('matches sfdisk --json for primaries, the extended chain and 3 logical partitions', async () => {
		const path = join(dir, 'mbr.img');
		await (await open(path, 'w')).close();
		await truncate(path, 32 * 1024 * 1024);
		runSync('sfdisk', ['--no-reread', '--no-tell-kernel', path], {
			...UTF8,
			input: [
				'label: dos',
				'label-id: 0x1234abcd',
				'start=2048, size=4096, type=83, bootable',
				'start=6144, size=4096, type=7',
				'start=10240, size=2048, type=c',
				'start=12288, size=40960, type=5',
				'size=8192, type=83',
				'size=8192, type=82',
				'type=8e',
			].join('\n'),
		});
		const expected = sfdiskJson(path);
		const table = await withSource(path, readPartitionTable);
		expect(table.scheme).toBe('mbr');
		expect(table.diskId).toBe(expected.id);
		expect(table.warnings).toEqual([]);
		const fromSfdisk = expected.partitions
			.filter((p) => !['5', 'f', '85'].includes(p.type))
			.map((p) => ({
				index: nodeNumber(p.node, path),
				startBytes: p.start * 512,
				sizeBytes: p.size * 512,
				typeId: `0x${p.type.padStart(2, '0')}`,
				bootable: p.bootable === true,
			}));
		expect(fromSfdisk).toHaveLength(6);
		expect(
			table.partitions.map((p) => ({
				index: p.index,
				startBytes: p.startBytes,
				sizeBytes: p.sizeBytes,
				typeId: p.typeId,
				bootable: p.bootable,
			})),
		).toEqual(fromSfdisk);
		expect(table.partitions.map((p) => p.mbrKind)).toEqual([
			'primary',
			'primary',
			'primary',
			'logical',
			'logical',
			'logical',
		]);
		expect(table.partitions.map((p) => p.typeName)).toEqual([
			'Linux',
			'HPFS/NTFS/exFAT',
			'W95 FAT32 (LBA)',
			'Linux',
			'Linux swap / Solaris',
			'Linux LVM',
		]);

		const layout = await withSource(path, (src) => listVolumes(src, async () => null));
		expect(layout.volumes.map((v) => [v.index, v.name])).toEqual([
			[1, 'p1'],
			[2, 'p2'],
			[3, 'p3'],
			[4, 'p5'],
			[5, 'p6'],
			[6, 'p7'],
		]);
	});
});

describe('volumes probed with the real filesystem probe', () => {
	it('agrees with blkid -p on filesystems inside primary and logical partitions', async () => {
		const path = join(dir, 'fs.img');
		await (await open(path, 'w')).close();
		await truncate(path, 32 * 1024 * 1024);
		runSync('sfdisk', ['-q', '--no-reread', '--no-tell-kernel', path], {
			...UTF8,
			input: [
				'label: dos',
				'start=2048, size=8192, type=83',
				'start=10240, size=40000, type=f',
				'start=12288, size=8192, type=c',
			].join('\n'),
		});
		const parts = sfdiskJson(path).partitions;
		const logicalStart = parts.find((p) => nodeNumber(p.node, path) === 5)!.start;
		runSync('mkfs.ext4', ['-q', '-F', '-L', 'rootfs', '-E', `offset=${2048 * 512}`, path, '4M'], UTF8);
		runSync('mkfs.vfat', ['-n', 'DATA', '--offset', String(logicalStart), path, '4096'], UTF8);
		const blkid = (offsetBytes: number): Record<string, string> =>
			Object.fromEntries(
				runSync('blkid', ['-p', '-O', String(offsetBytes), '-o', 'export', path], UTF8)
					.trim()
					.split('\n')
					.map((line) => line.split('=', 2) as [string, string]),
			);
		const layout = await withSource(path, (src) => listVolumes(src, probeFilesystem));
		expect(layout.volumes.map((v) => v.name)).toEqual(['p1', 'p5']);
		for (const volume of layout.volumes) {
			const peer = blkid(volume.startBytes);
			expect(volume.filesystem).toMatchObject({ type: peer.TYPE, label: peer.LABEL, uuid: peer.UUID });
		}
		expect(layout.volumes.map((v) => v.filesystem?.type)).toEqual(['ext4', 'vfat']);
	});
});

describe('GPT written by sgdisk', () => {
	let path: string;
	beforeAll(async () => {
		path = join(dir, 'gpt.img');
		await (await open(path, 'w')).close();
		await truncate(path, 24 * 1024 * 1024);
		runSync(
			'sgdisk',
			[
				'-o',
				...['-n', '1:2048:+1M', '-t', '1:ef00', '-c', '1:EFI system partition'],
				...['-n', '2:0:+2M', '-t', '2:8300', '-c', '2:Données ü root'],
				...['-n', '3:0:+1M', '-t', '3:0700'],
				...['-n', '4:0:+1M', '-t', '4:8e00', '-c', '4:lvm'],
				...['-n', '6:0:+1M', '-t', '6:8200', '-c', '6:swap'],
				...['-n', '7:0:+1M', '-t', '7:af00', '-c', '7:Mac'],
				...['-n', '8:0:+1M', '-t', '8:0c01', '-c', '8:msr'],
				path,
			],
			UTF8,
		);
	});

	/** What sgdisk -p and -i N say, normalised to our lower-case GUIDs. */
	function sgdiskView(): {
		diskGuid: string;
		parts: Map<number, { type: string; uuid: string; first: number; last: number; name: string }>;
	} {
		const listing = runSync('sgdisk', ['-p', path], UTF8);
		const diskGuid = /Disk identifier \(GUID\): (\S+)/.exec(listing)![1]!.toLowerCase();
		const parts = new Map<
			number,
			{ type: string; uuid: string; first: number; last: number; name: string }
		>();
		for (const m of listing.matchAll(/^\s+(\d+)\s+\d+\s+\d+/gm)) {
			const n = Number(m[1]);
			const info = runSync('sgdisk', ['-i', String(n), path], UTF8);
			parts.set(n, {
				type: /Partition GUID code: (\S+)/.exec(info)![1]!.toLowerCase(),
				uuid: /Partition unique GUID: (\S+)/.exec(info)![1]!.toLowerCase(),
				first: Number(/First sector: (\d+)/.exec(info)![1]),
				last: Number(/Last sector: (\d+)/.exec(info)![1]),
				name: /Partition name: '(.*)'/.exec(info)![1]!,
			});
		}
		return { diskGuid, parts };
	}

	function expectMatches(table: Awaited<ReturnType<typeof readPartitionTable>>): void {
		const view = sgdiskView();
		expect(table.scheme).toBe('gpt');
		expect(table.diskId).toBe(view.diskGuid);
		expect(table.partitions.map((p) => p.index)).toEqual([...view.parts.keys()]);
		for (const p of table.partitions) {
			const s = view.parts.get(p.index)!;
			expect(p.typeId).toBe(s.type);
			expect(p.uuid).toBe(s.uuid);
			expect(p.startBytes).toBe(s.first * 512);
			expect(p.sizeBytes).toBe((s.last - s.first + 1) * 512);
			expect(p.name).toBe(s.name);
		}
	}

	it('matches sgdisk -p / -i N: GUIDs (mixed-endian), names (UTF-16LE), ranges', async () => {
		const table = await withSource(path, readPartitionTable);
		expect(table.warnings).toEqual([]);
		expectMatches(table);
		expect(table.partitions.map((p) => p.typeName)).toEqual([
			'EFI System',
			'Linux filesystem',
			'Microsoft basic data',
			'Linux LVM',
			'Linux swap',
			'Apple HFS/HFS+',
			'Microsoft reserved',
		]);
		// sfdisk agrees too (it prints the same GUIDs upper case).
		const sf = sfdiskJson(path);
		expect(table.partitions.map((p) => p.typeId.toUpperCase())).toEqual(sf.partitions.map((p) => p.type));
	});

	it('uses the backup header when the primary is damaged, and says so', async () => {
		const damaged = join(dir, 'gpt-damaged.img');
		runSync('cp', ['--sparse=always', path, damaged], UTF8);
		const fh = await open(damaged, 'r+');
		await fh.write(Uint8Array.of(0xff, 0xff), 0, 2, 512 + 24); // inside "my LBA": header CRC now fails
		await fh.close();
		const table = await withSource(damaged, readPartitionTable);
		expect(table.warnings[0]).toMatch(
			/primary GPT header is damaged .*using the backup GPT header at LBA 49151/,
		);
		// Same partitions as the intact disk.
		expectMatches(table);
	});

	it('uses the backup entry array when the primary array fails its CRC', async () => {
		const damaged = join(dir, 'gpt-entries.img');
		runSync('cp', ['--sparse=always', path, damaged], UTF8);
		const fh = await open(damaged, 'r+');
		await fh.write(Uint8Array.of(0x41), 0, 1, 1024 + 56); // a byte of entry 1's name
		await fh.close();
		const table = await withSource(damaged, readPartitionTable);
		expect(table.warnings[0]).toMatch(/primary GPT entry array fails its CRC32; using the backup/);
		expectMatches(table);
	});

	it('reports a hybrid MBR made by sgdisk -h', async () => {
		const hybrid = join(dir, 'gpt-hybrid.img');
		runSync('cp', ['--sparse=always', path, hybrid], UTF8);
		runSync('sgdisk', ['-h', '2:EE', hybrid], UTF8);
		const table = await withSource(hybrid, readPartitionTable);
		expect(table.scheme).toBe('gpt');
		expect(table.warnings.some((w) => w.startsWith('hybrid MBR'))).toBe(true);
		expect(table.partitions).toHaveLength(7);
	});
});

describe('type name tables', () => {
	/** `sfdisk --label X --list-types` as id → name. */
	function sfdiskTypes(label: 'dos' | 'gpt'): Map<string, string> {
		const out = runSync('sfdisk', ['--label', label, '--list-types'], UTF8);
		const types = new Map<string, string>();
		for (const line of out.split('\n')) {
			const m = /^\s*([0-9a-fA-F-]+)\s{2,}(.+)$/.exec(line) ?? /^\s*([0-9a-f]{1,2}) (.+)$/.exec(line);
			if (m) types.set(m[1]!.toLowerCase(), m[2]!.trim());
		}
		return types;
	}

	it('every MBR name is the one sfdisk uses', () => {
		const sf = sfdiskTypes('dos');
		for (const [id, name] of MBR_TYPE_NAMES)
			expect([id.toString(16), name]).toEqual([id.toString(16), sf.get(id.toString(16))]);
	});

	it('every GPT name is the one sfdisk uses', () => {
		const sf = sfdiskTypes('gpt');
		for (const [guid, name] of GPT_TYPE_NAMES) expect([guid, name]).toEqual([guid, sf.get(guid)]);
		expect(APM_TYPE_NAMES.get('Apple_HFS')).toBe(sf.get('48465300-0000-11aa-aa11-00306543ecac'));
	});
});
