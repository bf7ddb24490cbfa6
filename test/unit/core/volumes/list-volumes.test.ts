// SPDX-License-Identifier: MIT
import { describe, expect, it } from 'vitest';
import {
	LinearVolumeSource,
	MemoryByteSource,
	VmdkError,
	listVolumes,
	oversizedFilesystemWarning,
	type ByteSource,
	type FilesystemInfo,
} from '../../../../src/core/index.js';
import { ascii } from '../../../helpers/bytes.js';
import {
	EXTENT_SECTORS,
	MDA_OFFSET,
	MDA_SIZE,
	PE_START_SECTORS,
	PV_UUID,
	diskWith,
	fillExtent,
	lvmLabelSector,
	lvmMetadataText,
	lvmPv,
	mbrEntry,
	mbrSector,
	type LvSpec,
} from '../partitions/table-builders.js';

const EXTENT = EXTENT_SECTORS * 512;
const noProbe = async (): Promise<FilesystemInfo | null> => null;

/** A probe that only knows an "EXT" marker at byte 0, to see LVs get probed. */
const markerProbe = async (src: ByteSource): Promise<FilesystemInfo | null> => {
	const head = await src.read(0, 3);
	return String.fromCharCode(...head) === 'EXT' ? { type: 'ext4', label: 'inner', uuid: null } : null;
};

const LVS: LvSpec[] = [
	// Two segments: LV extents 0-1 on PV extents 0-1, LV extent 2 on PV extent 5.
	{
		name: 'root',
		segments: [
			{ start: 0, count: 2, stripes: [['pv0', 0]] },
			{ start: 2, count: 1, stripes: [['pv0', 5]] },
		],
	},
	{ name: 'my-data', segments: [{ start: 0, count: 1, stripes: [['pv0', 2]] }] },
	{
		name: 'wide',
		segments: [
			{
				start: 0,
				count: 2,
				stripes: [
					['pv0', 3],
					['pv0', 4],
				],
			},
		],
	},
	{ name: 'thin', segments: [{ type: 'thin', start: 0, count: 4 }] },
	{ name: 'hidden_tmeta', visible: false, segments: [{ start: 0, count: 1, stripes: [['pv0', 9]] }] },
	{ name: 'away', segments: [{ start: 0, count: 1, stripes: [['pv1', 0]] }] },
	{ name: 'outside', segments: [{ start: 0, count: 1, stripes: [['pv0', 1000]] }] },
];

function pvDisk(textOffset?: number, textCrc?: number): Uint8Array {
	const disk = lvmPv(lvmMetadataText('vg-main', LVS, { extraPv: true }), 512 * 1024, textOffset, textCrc);
	for (let pe = 0; pe < 10; pe++) fillExtent(disk, pe, 0x30 + pe);
	disk.set(ascii('EXT'), PE_START_SECTORS * 512); // PV extent 0 = start of LV root
	return disk;
}

describe('listVolumes with LVM2', () => {
	it('lists a whole-disk PV, then its LVs: linear ones mapped, the rest unsupported with a reason', async () => {
		const layout = await listVolumes(new MemoryByteSource(pvDisk()), markerProbe);
		expect(layout.partitionTable.scheme).toBe('none');
		expect(layout.warnings).toEqual([]);
		const summary = layout.volumes.map((v) => [
			v.index,
			v.name,
			v.kind,
			v.lvmName,
			v.sizeBytes,
			v.unsupported,
		]);
		expect(summary).toEqual([
			[1, 'disk', 'whole-disk', undefined, 512 * 1024, undefined],
			[2, 'vg--main-root', 'lvm', 'vg-main/root', 3 * EXTENT, undefined],
			[3, 'vg--main-my--data', 'lvm', 'vg-main/my-data', EXTENT, undefined],
			[4, 'vg--main-wide', 'lvm', 'vg-main/wide', 2 * EXTENT, 'not supported yet: striped'],
			[5, 'vg--main-thin', 'lvm', 'vg-main/thin', 4 * EXTENT, 'not supported yet: thin'],
			[
				6,
				'vg--main-away',
				'lvm',
				'vg-main/away',
				EXTENT,
				'its PV Zyxwvu-9876-5432-10Zy-xwvu-9876-543210 (last seen as /dev/sdz1) is on another disk',
			],
			[
				7,
				'vg--main-outside',
				'lvm',
				'vg-main/outside',
				EXTENT,
				`its metadata is inconsistent: LV segment at PV byte ${PE_START_SECTORS * 512 + 1000 * EXTENT} (${EXTENT} bytes) lies outside the PV (${512 * 1024} bytes)`,
			],
		]);
		expect(layout.volumes[0]!.filesystem).toEqual({
			type: 'LVM2_member',
			label: null,
			uuid: 'Abcdef-0123-4567-89Ab-cdef-0123-456789',
		});
		expect(layout.volumes[1]!.filesystem).toEqual({ type: 'ext4', label: 'inner', uuid: null });
		expect(layout.volumes[1]!.startBytes).toBe(PE_START_SECTORS * 512);
		// Unsupported LVs still say where their first segment starts when it is local.
		expect(layout.volumes[3]!.startBytes).toBe(PE_START_SECTORS * 512 + 3 * EXTENT);
		expect(layout.volumes[5]!.startBytes).toBe(0);
		await expect(layout.volumes[3]!.source.read(0, 1)).rejects.toBeInstanceOf(VmdkError);
	});

	it('maps reads through segments, including one that crosses into the second segment', async () => {
		const layout = await listVolumes(new MemoryByteSource(pvDisk()), noProbe);
		const root = layout.volumes[1]!.source;
		expect(root).toBeInstanceOf(LinearVolumeSource);
		const all = await root.read(0, 3 * EXTENT);
		expect(String.fromCharCode(...all.subarray(EXTENT, EXTENT + 3))).toBe('pe1');
		expect(String.fromCharCode(...all.subarray(2 * EXTENT, 2 * EXTENT + 3))).toBe('pe5');
		expect(all[2 * EXTENT - 1]).toBe(0x31);
		expect(all[3 * EXTENT - 1]).toBe(0x35);
		const across = await root.read(2 * EXTENT - 2, 4);
		expect([...across]).toEqual([0x31, 0x31, ...ascii('pe')]);
		await expect(root.read(3 * EXTENT - 1, 2)).rejects.toThrow(RangeError);
		// readInto fills the caller's buffer piece by piece, the same bytes as read.
		const dest = new Uint8Array(3 * EXTENT + 8).fill(0xee);
		await root.readInto(0, dest, 8, 3 * EXTENT);
		expect(dest.subarray(8)).toEqual(all);
		expect(dest[7]).toBe(0xee);
		await expect(root.readInto(3 * EXTENT - 1, dest, 0, 2)).rejects.toThrow(RangeError);
		await expect(layout.volumes[3]!.source.readInto(0, dest, 0, 1)).rejects.toBeInstanceOf(VmdkError);
	});

	it('reads metadata text that wraps around the circular buffer', async () => {
		const text = lvmMetadataText('vg-main', LVS, { extraPv: true });
		const offset = MDA_SIZE - 1000; // the text is longer than 1000 bytes, so it wraps
		expect(text.length).toBeGreaterThan(1000);
		const layout = await listVolumes(new MemoryByteSource(pvDisk(offset)), noProbe);
		expect(layout.warnings).toEqual([]);
		expect(layout.volumes).toHaveLength(7);
	});

	it('warns about bad checksums but still uses the metadata', async () => {
		const disk = pvDisk(512, 0x12345678);
		disk.set(lvmLabelSector(PV_UUID, 512 * 1024, 1, 0xdeadbeef), 512);
		const layout = await listVolumes(new MemoryByteSource(disk), noProbe);
		expect(layout.warnings).toEqual([
			'disk: LVM2 label checksum mismatch in sector 1',
			`disk: LVM metadata text at byte ${MDA_OFFSET + 512} has a bad checksum`,
		]);
		expect(layout.volumes).toHaveLength(7);
	});

	it('refuses metadata text over 1 MiB without reading it', async () => {
		const disk = pvDisk();
		const view = new DataView(disk.buffer);
		view.setBigUint64(MDA_OFFSET + 4 + 16 + 4 + 8, 8n * 1024n * 1024n, true); // mda size 8 MiB
		view.setBigUint64(MDA_OFFSET + 4 + 16 + 4 + 8 + 8 + 8, 2n * 1024n * 1024n, true); // text size 2 MiB
		disk.set(lvmLabelSector(PV_UUID, 512 * 1024), 512);
		const label = new DataView(disk.buffer, 512);
		label.setBigUint64(32 + 32 + 8 + 32 + 8, 8n * 1024n * 1024n, true); // PV header mda size
		const layout = await listVolumes(new MemoryByteSource(disk), noProbe);
		expect(layout.volumes.map((v) => v.name)).toEqual(['disk']);
		expect(layout.warnings.some((w) => /text size 2097152 is invalid \(limit 1048576 bytes\)/.test(w))).toBe(
			true,
		);
	});

	it('turns unparsable metadata into a warning', async () => {
		const disk = lvmPv('vg {\n id = "x"\n seqno = ', 512 * 1024);
		const layout = await listVolumes(new MemoryByteSource(disk), noProbe);
		expect(layout.volumes.map((v) => [v.name, v.filesystem?.type])).toEqual([['disk', 'LVM2_member']]);
		expect(layout.warnings).toEqual([
			'disk: LVM metadata unreadable: LVM metadata line 3: unexpected end of text, expected a value',
		]);
	});

	it('finds a PV inside an MBR partition; the LV offset is relative to the partition', async () => {
		const pv = pvDisk();
		const disk = diskWith(2048 + pv.length / 512, [
			[0, mbrSector([mbrEntry(0, 0x8e, 2048, pv.length / 512)])],
			[2048, pv],
		]);
		const layout = await listVolumes(new MemoryByteSource(disk), markerProbe);
		expect(layout.volumes.map((v) => v.name).slice(0, 3)).toEqual([
			'p1',
			'vg--main-root',
			'vg--main-my--data',
		]);
		expect(layout.volumes[1]!.startBytes).toBe(2048 * 512 + PE_START_SECTORS * 512);
		expect(layout.volumes[1]!.filesystem?.type).toBe('ext4');
	});

	it('records probe failures as warnings', async () => {
		const failing = async (): Promise<FilesystemInfo | null> => {
			throw new VmdkError('VMDK_CORRUPT', 'superblock is garbage');
		};
		const layout = await listVolumes(new MemoryByteSource(new Uint8Array(4096)), failing);
		expect(layout.volumes.map((v) => [v.name, v.filesystem])).toEqual([['disk', null]]);
		expect(layout.warnings).toEqual(['disk: filesystem probe failed: superblock is garbage']);
	});

	it('warns when a filesystem claims more bytes than its partition holds, naming both sizes', async () => {
		// p1's filesystem (marked "BIG") is one byte too large, p2's fits exactly.
		const disk = diskWith(4096, [
			[0, mbrSector([mbrEntry(0, 0x83, 2048, 1024), mbrEntry(0, 0x83, 3072, 1024)])],
			[2048, ascii('BIG')],
		]);
		const sized = async (src: ByteSource): Promise<FilesystemInfo | null> => {
			const big = String.fromCharCode(...(await src.read(0, 3))) === 'BIG';
			return { type: 'ext4', label: null, uuid: null, sizeBytes: src.sizeBytes + (big ? 1 : 0) };
		};
		const layout = await listVolumes(new MemoryByteSource(disk), sized);
		expect(layout.volumes.map((v) => v.name)).toEqual(['p1', 'p2']);
		expect(layout.warnings).toEqual([
			'p1: the ext4 filesystem claims 524289 bytes but its partition holds 524288: its last 1 bytes are missing, so a mount may be refused and files stored there cannot be read',
		]);
	});

	it('words the size warning for the whole disk and LVM volumes, and skips multi-device btrfs', () => {
		const fs = (sizeBytes: number, extra: Partial<FilesystemInfo> = {}): FilesystemInfo => ({
			type: 'xfs',
			label: null,
			uuid: null,
			sizeBytes,
			...extra,
		});
		expect(
			oversizedFilesystemWarning({ name: 'disk', kind: 'whole-disk', sizeBytes: 100, filesystem: fs(300) }),
		).toMatch(/^disk: the xfs filesystem claims 300 bytes but its disk holds 100: its last 200 bytes/);
		expect(
			oversizedFilesystemWarning({ name: 'vg-lv', kind: 'lvm', sizeBytes: 100, filesystem: fs(101) }),
		).toMatch(/its logical volume holds 100/);
		expect(
			oversizedFilesystemWarning({ name: 'p1', kind: 'partition', sizeBytes: 100, filesystem: fs(100) }),
		).toBeUndefined();
		const twoDevices = fs(500, { type: 'btrfs', deviceCount: 2 });
		expect(
			oversizedFilesystemWarning({ name: 'p1', kind: 'partition', sizeBytes: 100, filesystem: twoDevices }),
		).toBeUndefined();
		expect(
			oversizedFilesystemWarning({ name: 'p1', kind: 'partition', sizeBytes: 100, filesystem: null }),
		).toBe(undefined);
	});
});
