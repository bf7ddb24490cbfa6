// SPDX-License-Identifier: MIT
import { describe, expect, it } from 'vitest';
import { MemoryByteSource, formatGuid, readPartitionTable } from '../../../../src/core/index.js';
import { u32le } from '../../../helpers/bytes.js';
import {
	BASIC_DATA,
	EFI_SYSTEM,
	LINUX_FS,
	gptDisk,
	guidBytes,
	mbrEntry,
	resignGpt,
} from '../../../helpers/build-partition-tables.js';

const read = (disk: Uint8Array) => readPartitionTable(new MemoryByteSource(disk));

const ENTRIES = [
	{ type: EFI_SYSTEM, uuid: '11111111-2222-3333-4444-555555555555', firstLba: 40, lastLba: 139, name: 'EFI' },
	{
		type: LINUX_FS,
		uuid: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
		firstLba: 140,
		lastLba: 339,
		name: 'Données',
		slot: 2,
	},
	{
		type: BASIC_DATA,
		uuid: '00112233-4455-6677-8899-aabbccddeeff',
		firstLba: 340,
		lastLba: 399,
		name: 'ünicode ✓',
		slot: 3,
	},
];

const EXPECTED = [
	{
		index: 1,
		startBytes: 40 * 512,
		sizeBytes: 100 * 512,
		typeId: EFI_SYSTEM,
		typeName: 'EFI System',
		name: 'EFI',
		uuid: ENTRIES[0]!.uuid,
	},
	{
		index: 3,
		startBytes: 140 * 512,
		sizeBytes: 200 * 512,
		typeId: LINUX_FS,
		typeName: 'Linux filesystem',
		name: 'Données',
		uuid: ENTRIES[1]!.uuid,
	},
	{
		index: 4,
		startBytes: 340 * 512,
		sizeBytes: 60 * 512,
		typeId: BASIC_DATA,
		typeName: 'Microsoft basic data',
		name: 'ünicode ✓',
		uuid: ENTRIES[2]!.uuid,
	},
];

/** Sets a u32 header field at byte `field` of the header at `lba`, then re-signs the header. */
function setHeaderU32(disk: Uint8Array, lba: number, field: number, value: number, sectorSize = 512): void {
	disk.set(u32le(value), lba * sectorSize + field);
	resignGpt(disk, lba, sectorSize);
}
const NUM_ENTRIES_FIELD = 80;
const ENTRY_SIZE_FIELD = 84;

describe('GPT', () => {
	it('formats GUIDs mixed-endian as blkid/sgdisk do', () => {
		const raw = Uint8Array.from([
			0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11, 0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9, 0x3b,
		]);
		expect(formatGuid(raw)).toBe(EFI_SYSTEM);
		expect(formatGuid(guidBytes(LINUX_FS))).toBe(LINUX_FS);
	});

	it('reads entries by slot with UTF-16LE names, GUIDs and type names', async () => {
		const table = await read(gptDisk({ sectors: 500, entries: ENTRIES }));
		expect(table.scheme).toBe('gpt');
		expect(table.warnings).toEqual([]);
		expect(table.diskId).toBe('01234567-89ab-cdef-0011-223344556677');
		expect(table.partitions).toEqual(EXPECTED);
	});

	it('falls back to the backup header when the primary is damaged, with a warning', async () => {
		const disk = gptDisk({ sectors: 500, entries: ENTRIES });
		disk[512 + 40] = disk[512 + 40]! ^ 0xff; // a byte of "first usable LBA": the header CRC no longer matches
		const table = await read(disk);
		expect(table.partitions).toEqual(EXPECTED);
		expect(table.warnings).toHaveLength(1);
		expect(table.warnings[0]).toMatch(
			/^primary GPT header is damaged \(header CRC32 mismatch \(stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\)\); using the backup GPT header at LBA 499$/,
		);
	});

	it('falls back to the backup entry array when the primary array fails its CRC', async () => {
		const disk = gptDisk({ sectors: 500, entries: ENTRIES });
		disk[2 * 512 + 60] = disk[2 * 512 + 60]! ^ 0x01; // inside entry 1's name
		const table = await read(disk);
		expect(table.partitions).toEqual(EXPECTED);
		expect(table.warnings).toEqual([
			'primary GPT entry array fails its CRC32; using the backup GPT header at LBA 499',
		]);
	});

	it('reads the primary and warns when the backup header is damaged', async () => {
		const disk = gptDisk({ sectors: 500, entries: ENTRIES });
		disk.fill(0, 499 * 512, 500 * 512);
		const table = await read(disk);
		expect(table.partitions).toEqual(EXPECTED);
		expect(table.warnings).toEqual([
			'backup GPT header at LBA 499 is unusable (no "EFI PART" signature); the primary is fine',
		]);
	});

	it('uses the primary entries, flagged, when both arrays fail their CRC', async () => {
		const disk = gptDisk({ sectors: 500, entries: ENTRIES });
		disk[2 * 512 + 60] = disk[2 * 512 + 60]! ^ 0x01;
		disk[(499 - 32) * 512 + 60] = disk[(499 - 32) * 512 + 60]! ^ 0x01;
		const table = await read(disk);
		expect(table.partitions).toHaveLength(3);
		expect(table.warnings[0]).toMatch(/no valid backup exists; partitions may be wrong/);
	});

	it.each([
		[
			'2^32-1 entries',
			NUM_ENTRIES_FIELD,
			0xffffffff,
			/4294967295 partition entries of 128 bytes exceed our limit/,
		],
		[
			'a 1 GiB entry size',
			ENTRY_SIZE_FIELD,
			1024 ** 3,
			/partition entry size 1073741824 is not a multiple of 128 in 128..4096/,
		],
		['a 100-byte entry size', ENTRY_SIZE_FIELD, 100, /partition entry size 100/],
	])(
		'refuses a primary header with %s (CRC valid) and uses the backup',
		async (_what, field, value, reason) => {
			const disk = gptDisk({ sectors: 500, entries: ENTRIES });
			setHeaderU32(disk, 1, field, value);
			const table = await read(disk);
			expect(table.partitions).toEqual(EXPECTED);
			expect(table.warnings[0]).toMatch(reason);
			expect(table.warnings[0]).toMatch(/using the backup GPT header at LBA 499$/);
		},
	);

	it('gives an empty GPT with warnings when both headers claim absurd sizes', async () => {
		const disk = gptDisk({ sectors: 500, entries: ENTRIES });
		setHeaderU32(disk, 1, NUM_ENTRIES_FIELD, 0xffffffff);
		setHeaderU32(disk, 499, ENTRY_SIZE_FIELD, 1024 ** 3);
		const table = await read(disk);
		expect(table.scheme).toBe('gpt');
		expect(table.partitions).toEqual([]);
		expect(table.warnings).toEqual([
			'protective MBR found but no usable GPT',
			'primary GPT header is damaged (4294967295 partition entries of 128 bytes exceed our limit of 16384 entries / 4194304 bytes) and no valid backup exists',
			'backup GPT header at LBA 499 is unusable (partition entry size 1073741824 is not a multiple of 128 in 128..4096)',
		]);
	});

	it('skips inverted entries and clamps entries past the end of the disk', async () => {
		const table = await read(
			gptDisk({
				sectors: 500,
				entries: [
					{ type: LINUX_FS, uuid: '11111111-2222-3333-4444-555555555555', firstLba: 200, lastLba: 100 },
					{ type: LINUX_FS, uuid: '11111111-2222-3333-4444-555555555556', firstLba: 400, lastLba: 900 },
					{ type: LINUX_FS, uuid: '11111111-2222-3333-4444-555555555557', firstLba: 1000, lastLba: 2000 },
				],
			}),
		);
		expect(table.partitions.map((p) => [p.index, p.startBytes / 512, p.sizeBytes / 512])).toEqual([
			[2, 400, 100],
		]);
		expect(table.warnings).toEqual([
			'GPT entry 1 has an invalid LBA range; skipped',
			'partition 2 ends past the end of the disk; clamped from 256512 to 51200 bytes',
			'partition 3 starts at byte 512000, past the end of the disk (256000 bytes); skipped',
		]);
	});

	it('reports a hybrid MBR', async () => {
		const table = await read(
			gptDisk({ sectors: 500, entries: ENTRIES, hybrid: [mbrEntry(0x80, 0x83, 140, 200)] }),
		);
		expect(table.scheme).toBe('gpt');
		expect(table.partitions).toEqual(EXPECTED);
		expect(table.warnings).toEqual([
			'hybrid MBR: 1 MBR entry besides the GPT protective one; the GPT is used',
		]);
	});

	it('reads a GPT with 4096-byte sectors', async () => {
		const table = await read(
			gptDisk({
				sectors: 100,
				sectorSize: 4096,
				entries: [
					{
						type: LINUX_FS,
						uuid: '11111111-2222-3333-4444-555555555555',
						firstLba: 10,
						lastLba: 59,
						name: '4k',
					},
				],
			}),
		);
		expect(table.scheme).toBe('gpt');
		expect(table.warnings).toEqual([]);
		expect(table.partitions.map((p) => [p.startBytes, p.sizeBytes, p.name])).toEqual([
			[10 * 4096, 50 * 4096, '4k'],
		]);
	});

	it('reads a GPT whose protective MBR was wiped, with a warning', async () => {
		const table = await read(gptDisk({ sectors: 500, entries: ENTRIES, noMbr: true }));
		expect(table.scheme).toBe('gpt');
		expect(table.partitions).toEqual(EXPECTED);
		expect(table.warnings).toEqual(['GPT found without a protective MBR']);
	});
});
