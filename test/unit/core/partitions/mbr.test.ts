// SPDX-License-Identifier: MIT
import { describe, expect, it } from 'vitest';
import { MemoryByteSource, readPartitionTable } from '../../../../src/core/index.js';
import { diskWith, mbrEntry, mbrSector } from '../../../helpers/build-partition-tables.js';
import { ascii, bytes, zeros } from '../../../helpers/bytes.js';

const read = (disk: Uint8Array) => readPartitionTable(new MemoryByteSource(disk));

describe('MBR', () => {
	it('reads primaries by slot with boot flag, type names and disk signature', async () => {
		const mbr = mbrSector(
			[
				mbrEntry(0x80, 0x07, 2048, 4096), // p1 NTFS, bootable
				mbrEntry(0, 0, 0, 0), // p2 empty: numbering keeps the slot
				mbrEntry(0, 0x83, 6144, 2048), // p3 Linux
				mbrEntry(0, 0x0c, 8192, 1024), // p4 FAT32 LBA
			],
			0xdeadbeef,
		);
		const table = await read(diskWith(10000, [[0, mbr]]));
		expect(table.scheme).toBe('mbr');
		expect(table.diskId).toBe('0xdeadbeef');
		expect(table.warnings).toEqual([]);
		expect(table.partitions).toEqual([
			{
				index: 1,
				startBytes: 2048 * 512,
				sizeBytes: 4096 * 512,
				typeId: '0x07',
				typeName: 'HPFS/NTFS/exFAT',
				bootable: true,
				mbrKind: 'primary',
			},
			{
				index: 3,
				startBytes: 6144 * 512,
				sizeBytes: 2048 * 512,
				typeId: '0x83',
				typeName: 'Linux',
				bootable: false,
				mbrKind: 'primary',
			},
			{
				index: 4,
				startBytes: 8192 * 512,
				sizeBytes: 1024 * 512,
				typeId: '0x0c',
				typeName: 'W95 FAT32 (LBA)',
				bootable: false,
				mbrKind: 'primary',
			},
		]);
	});

	it('follows the EBR chain: logical partitions from p5, links relative to the extended start', async () => {
		const ext = 1000;
		const table = await read(
			diskWith(4000, [
				[0, mbrSector([mbrEntry(0, 0x83, 100, 800), mbrEntry(0, 0x05, ext, 3000)])],
				// EBR 1 at the extended start: data at +10, link to the EBR at ext+500.
				[ext, mbrSector([mbrEntry(0, 0x83, 10, 400), mbrEntry(0, 0x05, 500, 600)])],
				// EBR 2: data at +10 (relative to this EBR), link to ext+1200.
				[ext + 500, mbrSector([mbrEntry(0, 0x82, 10, 300), mbrEntry(0, 0x05, 1200, 600)])],
				// EBR 3: last (no link).
				[ext + 1200, mbrSector([mbrEntry(0, 0x8e, 20, 500)])],
			]),
		);
		expect(table.warnings).toEqual([]);
		expect(
			table.partitions.map((p) => [p.index, p.startBytes / 512, p.sizeBytes / 512, p.typeName, p.mbrKind]),
		).toEqual([
			[1, 100, 800, 'Linux', 'primary'],
			[5, ext + 10, 400, 'Linux', 'logical'],
			[6, ext + 510, 300, 'Linux swap / Solaris', 'logical'],
			[7, ext + 1220, 500, 'Linux LVM', 'logical'],
		]);
	});

	it('cuts an EBR loop with a warning and lists each logical once', async () => {
		const ext = 100;
		const table = await read(
			diskWith(2000, [
				[0, mbrSector([mbrEntry(0, 0x0f, ext, 1800)])],
				[ext, mbrSector([mbrEntry(0, 0x83, 1, 50), mbrEntry(0, 0x05, 100, 100)])],
				[ext + 100, mbrSector([mbrEntry(0, 0x83, 1, 50), mbrEntry(0, 0x05, 0, 100)])], // back to the first
			]),
		);
		expect(table.partitions.map((p) => p.index)).toEqual([5, 6]);
		expect(table.warnings).toEqual([`MBR: EBR chain loops back to sector ${ext}; logical chain cut`]);
	});

	it('cuts links that leave the extended partition or the disk', async () => {
		const leaving = await read(
			diskWith(2000, [
				[0, mbrSector([mbrEntry(0, 0x05, 100, 500)])],
				[100, mbrSector([mbrEntry(0, 0x83, 1, 50), mbrEntry(0, 0x05, 900, 100)])], // 100+900 is outside 100..600
			]),
		);
		expect(leaving.partitions.map((p) => p.index)).toEqual([5]);
		expect(leaving.warnings).toEqual([
			'MBR: EBR link to sector 1000 leaves the extended partition; logical chain cut',
		]);

		// The extended partition itself claims 2^32-1 sectors; the link points past the 2000-sector disk.
		const pastDisk = await read(
			diskWith(2000, [
				[0, mbrSector([mbrEntry(0, 0x05, 100, 0xffffffff)])],
				[100, mbrSector([mbrEntry(0, 0x83, 1, 50), mbrEntry(0, 0x05, 5000, 100)])],
			]),
		);
		expect(pastDisk.partitions.map((p) => p.index)).toEqual([5]);
		expect(pastDisk.warnings).toEqual([
			'MBR: EBR at sector 5100 is past the end of the disk; logical chain cut',
		]);
	});

	it('caps a very long logical chain at 128 partitions', async () => {
		const parts: [number, Uint8Array][] = [[0, mbrSector([mbrEntry(0, 0x05, 10, 100000)])]];
		for (let i = 0; i < 200; i++) {
			parts.push([10 + i * 2, mbrSector([mbrEntry(0, 0x83, 1, 1), mbrEntry(0, 0x05, (i + 1) * 2, 2)])]);
		}
		const table = await read(diskWith(1000, parts));
		expect(table.partitions).toHaveLength(128);
		expect(table.partitions.at(-1)!.index).toBe(132);
		expect(table.warnings).toContain('MBR: more than 128 logical partitions; the rest were ignored');
	});

	it('clamps a partition that ends past the disk and skips one that starts past it', async () => {
		const table = await read(
			diskWith(1000, [[0, mbrSector([mbrEntry(0, 0x83, 100, 5000), mbrEntry(0, 0x83, 2000, 10)])]]),
		);
		expect(table.partitions.map((p) => [p.index, p.startBytes, p.sizeBytes])).toEqual([
			[1, 100 * 512, 900 * 512],
		]);
		expect(table.warnings).toEqual([
			`partition 1 ends past the end of the disk; clamped from ${5000 * 512} to ${900 * 512} bytes`,
			`partition 2 starts at byte ${2000 * 512}, past the end of the disk (${1000 * 512} bytes); skipped`,
		]);
	});

	it('warns about overlapping partitions but keeps them', async () => {
		const table = await read(
			diskWith(1000, [
				[
					0,
					mbrSector([mbrEntry(0, 0x83, 100, 300), mbrEntry(0, 0x83, 350, 100), mbrEntry(0, 0x83, 500, 10)]),
				],
			]),
		);
		expect(table.partitions).toHaveLength(3);
		expect(table.warnings).toEqual(['partitions 1 and 2 overlap']);
	});

	it('is not an MBR: no signature, a bad boot flag, no entries, or a FAT/NTFS boot sector', async () => {
		const valid = [mbrEntry(0, 0x83, 100, 300)];
		expect((await read(diskWith(1000, [[0, mbrSector(valid, 0, 0)]]))).scheme).toBe('none');
		expect((await read(diskWith(1000, [[0, mbrSector([mbrEntry(0x12, 0x83, 100, 300)])]]))).scheme).toBe(
			'none',
		);
		expect((await read(diskWith(1000, [[0, mbrSector([])]]))).scheme).toBe('none');
		const ntfs = mbrSector(valid);
		ntfs.set(bytes([0xeb, 0x52, 0x90], ascii('NTFS    ')), 0);
		expect((await read(diskWith(1000, [[0, ntfs]]))).scheme).toBe('none');
		const fat32 = mbrSector(valid);
		fat32.set([0xeb, 0x58, 0x90], 0);
		fat32.set(ascii('FAT32   '), 82);
		expect((await read(diskWith(1000, [[0, fat32]]))).scheme).toBe('none');
		expect((await read(zeros(100))).scheme).toBe('none');
	});

	it('treats a protective MBR without a GPT as an empty GPT, and keeps real entries beside it', async () => {
		const onlyProtective = await read(diskWith(1000, [[0, mbrSector([mbrEntry(0, 0xee, 1, 999)])]]));
		expect(onlyProtective.scheme).toBe('gpt');
		expect(onlyProtective.partitions).toEqual([]);
		expect(onlyProtective.warnings[0]).toBe('protective MBR found but no usable GPT');

		const withOthers = await read(
			diskWith(1000, [[0, mbrSector([mbrEntry(0, 0xee, 1, 99), mbrEntry(0, 0x83, 100, 50)])]]),
		);
		expect(withOthers.scheme).toBe('mbr');
		expect(withOthers.partitions.map((p) => p.index)).toEqual([2]);
		expect(withOthers.warnings[0]).toBe(
			'protective MBR entry found but no usable GPT; using the MBR entries',
		);
	});
});
