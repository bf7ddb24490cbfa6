// SPDX-License-Identifier: MIT
// `vmdk-mounter info --json` on a VMDK whose MBR partition is an LVM2 PV made by the real lvm2
// tools (on a loop device over the partition; no device-mapper here, so nothing is activated).
// An ext4 is written where `lvs` says the LV lives; the LV must be its own volume with the
// filesystem blkid finds at that offset, and the partitions must be sfdisk's. Teardown removes
// the VG and detaches the loop device even on failure.
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { DiskInfo } from '../../src/shared/models.js';
import {
	blkidAt,
	infoJson,
	rawToVmdk,
	SECTOR_BYTES,
	sfdiskTable,
	writeFilesystemAt,
} from '../fixtures/make-inspect-disks.js';
import { runSync } from '../helpers/run.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { describeNeeding, rootMissing } from '../helpers/capability.js';

const MIB = 1024 * 1024;
/** losetup and pvcreate need root; without it the test skips, CI must not. */

/** lvm2 settings for a machine without udev and device-mapper. */
const LVM_CONFIG = 'activation{udev_sync=0 udev_rules=0} devices{obtain_device_list_from_udev=0}';
const EXTENT_BYTES = 4 * MIB;
/** lvm2 warns about inherited file descriptors; that is noise here. */
const LVM_QUIET = { env: { LVM_SUPPRESS_FD_WARNINGS: '1' } };
const PV_START_SECTOR = 18432;
const PV_SIZE_SECTORS = 65536;
const LV_BYTES = 12 * MIB;
const SUBFORMATS = ['monolithicSparse', 'streamOptimized'] as const;

describeNeeding(rootMissing(), `info on an LVM disk made by the lvm2 tools`, () => {
	const vg = `vgi${process.pid}x${Math.floor(Math.random() * 1e6)}`;
	let loop: string | undefined;
	let vgCreated = false;
	let dir: string;
	let cleanup: (() => Promise<void>) | undefined;
	let raw: string;
	let lvOffsetBytes = -1;
	let peer: Record<string, string> = {};
	let pvPeer: Record<string, string> = {};
	const infos = new Map<string, DiskInfo>();
	const lvmArgs = (): string[] => ['--devices', loop ?? '', '--config', LVM_CONFIG];

	/** Removes the VG (its metadata is on our temp image only) and frees the loop device. */
	function teardownLvm(): void {
		try {
			if (vgCreated) runSync('vgremove', [...lvmArgs(), '-f', vg], LVM_QUIET);
		} catch {
			// Setup may have failed before the VG was complete; the loop device still goes.
		}
		vgCreated = false;
		if (loop !== undefined) {
			try {
				runSync('losetup', ['-d', loop]);
			} catch {
				// Already detached.
			}
			loop = undefined;
		}
	}

	beforeAll(async () => {
		({ dir, cleanup } = await makeTempDir('vmdk-info-lvm-'));
		raw = join(dir, 'lvm.img');
		runSync('truncate', ['-s', String(48 * MIB), raw]);
		runSync('sfdisk', ['--no-reread', '--no-tell-kernel', '-q', raw], {
			input: [
				'label: dos',
				'start=2048, size=16384, type=83',
				`start=${PV_START_SECTOR}, size=${PV_SIZE_SECTORS}, type=8e`,
			].join('\n'),
		});
		writeFilesystemAt(
			raw,
			{ startSector: 2048, sizeSectors: 16384, mkfs: ['mkfs.ext4', '-q', '-F', '-L', 'boot'] },
			dir,
		);
		try {
			const pvStartBytes = PV_START_SECTOR * SECTOR_BYTES;
			loop = runSync('losetup', [
				'-f',
				'--show',
				'--offset',
				String(pvStartBytes),
				'--sizelimit',
				String(PV_SIZE_SECTORS * SECTOR_BYTES),
				raw,
			]).trim();
			runSync('pvcreate', [...lvmArgs(), '-y', loop], LVM_QUIET);
			runSync('vgcreate', [...lvmArgs(), '-s', `${EXTENT_BYTES / MIB}M`, vg, loop], LVM_QUIET);
			vgCreated = true;
			runSync(
				'lvcreate',
				[
					...lvmArgs(),
					'--driverloaded',
					'n',
					'--activate',
					'n',
					'-Zn',
					'-y',
					'-L',
					`${LV_BYTES / MIB}M`,
					'-n',
					'data',
					vg,
				],
				LVM_QUIET,
			);
			// Where lvm2 put the LV: pe_start on the PV, then its first physical extent.
			const pvs = JSON.parse(
				runSync(
					'pvs',
					[...lvmArgs(), '--units', 'b', '--nosuffix', '-o', 'pe_start', '--reportformat', 'json'],
					LVM_QUIET,
				),
			) as { report: { pv: { pe_start: string }[] }[] };
			const segs = JSON.parse(
				runSync(
					'lvs',
					[...lvmArgs(), '--segments', '-o', 'lv_name,segtype,seg_pe_ranges', '--reportformat', 'json', vg],
					LVM_QUIET,
				),
			) as { report: { seg: { lv_name: string; segtype: string; seg_pe_ranges: string }[] }[] };
			const seg = segs.report[0]!.seg;
			expect(seg).toHaveLength(1);
			const m = /:(\d+)-(\d+)$/.exec(seg[0]!.seg_pe_ranges)!;
			lvOffsetBytes = pvStartBytes + Number(pvs.report[0]!.pv[0]!.pe_start) + Number(m[1]) * EXTENT_BYTES;
			writeFilesystemAt(
				raw,
				{
					startSector: lvOffsetBytes / SECTOR_BYTES,
					sizeSectors: LV_BYTES / SECTOR_BYTES,
					mkfs: ['mkfs.ext4', '-q', '-F', '-L', 'in-the-lv'],
				},
				dir,
			);
			// The peers' view and the VMDKs are taken before vgremove wipes the PV label.
			peer = blkidAt(raw, lvOffsetBytes, LV_BYTES);
			pvPeer = blkidAt(raw, pvStartBytes, PV_SIZE_SECTORS * SECTOR_BYTES);
			for (const subformat of SUBFORMATS) {
				const result = await infoJson(rawToVmdk(raw, subformat));
				infos.set(subformat, result.disks[0]!);
			}
		} finally {
			teardownLvm();
		}
	}, 120_000);

	afterAll(async () => {
		teardownLvm();
		await cleanup?.();
	});

	it.each(SUBFORMATS)('%s: the partitions are sfdisk’s, then the LV as its own volume', (subformat) => {
		const info = infos.get(subformat)!;
		expect(info.warnings).toEqual([]);
		expect(info.partitionTable.scheme).toBe('mbr');
		const table = sfdiskTable(raw);
		expect(
			info.volumes
				.filter((v) => v.kind === 'partition')
				.map((v) => [v.startBytes, v.sizeBytes, v.partitionType?.id]),
		).toEqual(table.partitions.map((p) => [p.start * SECTOR_BYTES, p.size * SECTOR_BYTES, `0x${p.type}`]));
		expect(info.volumes.map((v) => [v.index, v.name, v.kind, v.filesystem?.type])).toEqual([
			[1, 'p1', 'partition', 'ext4'],
			[2, 'p2', 'partition', 'LVM2_member'],
			[3, `${vg}-data`, 'lvm', 'ext4'],
		]);
		expect(pvPeer.TYPE).toBe('LVM2_member');
		expect(info.volumes[1]!.filesystem).toMatchObject({ type: pvPeer.TYPE, uuid: pvPeer.UUID });
	});

	it.each(SUBFORMATS)('%s: the LV is at the offset lvm2 reports and its ext4 is blkid’s', (subformat) => {
		const lv = infos.get(subformat)!.volumes[2]!;
		expect(lv).toMatchObject({
			kind: 'lvm',
			lvmName: `${vg}/data`,
			startBytes: lvOffsetBytes,
			sizeBytes: LV_BYTES,
		});
		expect(lv.unsupported).toBeUndefined();
		expect(peer.TYPE).toBe('ext4');
		expect(lv.filesystem).toMatchObject({
			type: peer.TYPE,
			label: peer.LABEL,
			uuid: peer.UUID,
			version: peer.VERSION,
		});
	});
});
