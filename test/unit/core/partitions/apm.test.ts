// SPDX-License-Identifier: MIT
import { describe, expect, it } from 'vitest';
import { MemoryByteSource, readPartitionTable } from '../../../../src/core/index.js';
import { apmDdm, apmEntry, diskWith } from '../../../helpers/build-partition-tables.js';

const read = (disk: Uint8Array) => readPartitionTable(new MemoryByteSource(disk));

/** A typical Mac disk: map, driver, HFS volume, free space, a Linux partition. */
function macDisk(blockSize = 512, mapCount = 5): Uint8Array {
	const spb = blockSize / 512;
	const block = (n: number, data: Uint8Array): [number, Uint8Array] => [n * spb, data];
	return diskWith(2000 * spb, [
		block(0, apmDdm(blockSize, 2000)),
		block(1, apmEntry(mapCount, 1, 63, 'Apple', 'Apple_partition_map', blockSize)),
		block(2, apmEntry(mapCount, 64, 32, 'Macintosh', 'Apple_Driver43', blockSize)),
		block(3, apmEntry(mapCount, 96, 1000, 'Macintosh HD', 'Apple_HFS', blockSize)),
		block(4, apmEntry(mapCount, 1096, 100, 'Extra', 'Apple_Free', blockSize)),
		block(5, apmEntry(mapCount, 1196, 804, 'Linux root', 'Apple_UNIX_SVR2', blockSize)),
	]);
}

describe('Apple Partition Map', () => {
	it('lists data partitions by map slot and skips map, driver and free entries', async () => {
		const table = await read(macDisk());
		expect(table.scheme).toBe('apm');
		expect(table.warnings).toEqual([]);
		expect(table.partitions).toEqual([
			{
				index: 3,
				startBytes: 96 * 512,
				sizeBytes: 1000 * 512,
				typeId: 'Apple_HFS',
				typeName: 'Apple HFS/HFS+',
				name: 'Macintosh HD',
			},
			{
				index: 5,
				startBytes: 1196 * 512,
				sizeBytes: 804 * 512,
				typeId: 'Apple_UNIX_SVR2',
				typeName: 'Apple_UNIX_SVR2',
				name: 'Linux root',
			},
		]);
	});

	it('uses the DDM block size (2048 on CDs) for entries, starts and sizes', async () => {
		const table = await read(macDisk(2048));
		expect(table.partitions.map((p) => [p.index, p.startBytes, p.sizeBytes])).toEqual([
			[3, 96 * 2048, 1000 * 2048],
			[5, 1196 * 2048, 804 * 2048],
		]);
	});

	it('cuts the map at an entry without PM and caps absurd map counts', async () => {
		const short = macDisk(512, 7); // slots 6 and 7 are zeros
		const cut = await read(short);
		expect(cut.partitions.map((p) => p.index)).toEqual([3, 5]);
		expect(cut.warnings).toEqual(["APM: entry 6 has no 'PM' signature; map cut"]);

		const huge = await read(macDisk(512, 0xffffffff));
		expect(huge.warnings[0]).toBe('APM: map claims 4294967295 entries; reading 256');
	});

	it('is not APM without a PM entry after the DDM', async () => {
		const table = await read(diskWith(100, [[0, apmDdm(512, 100)]]));
		expect(table.scheme).toBe('none');
	});

	it('falls back to 512-byte blocks when the DDM block size is nonsense', async () => {
		const disk = macDisk();
		disk[2] = 0x00;
		disk[3] = 0x07; // sbBlkSize = 7
		const table = await read(disk);
		expect(table.partitions.map((p) => p.index)).toEqual([3, 5]);
		expect(table.warnings).toEqual(['APM: block size 7 is invalid; using 512']);
	});
});
