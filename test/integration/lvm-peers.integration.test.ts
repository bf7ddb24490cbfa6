// SPDX-License-Identifier: MIT
// LVM2 differential test: the real lvm2 tools create PVs, a VG and LVs (linear with two
// segments, striped, one on another disk) on loop devices over partitions of a sparse image;
// we write a pattern where `lvs`/`pvs` say each LV lives, then read it back through our LV
// sources. Needs root and loop devices; this kernel has no device-mapper, so nothing is
// activated. Teardown removes the VG and detaches every loop device even on failure.
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
	LinearVolumeSource,
	listVolumes,
	probeFilesystem,
	type ByteSource,
	type DiskLayout,
	type FilesystemInfo,
} from '../../src/core/index.js';
import { runSync, type RunOptions } from '../helpers/run.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { FileByteSource } from '../../src/host/node/file-byte-source.js';
import { describeNeeding, rootMissing } from '../helpers/capability.js';

const MIB = 1024 * 1024;
/** losetup and pvcreate need root; a developer laptop without it skips, CI must not. */

/** lvm2 settings for a machine without udev and device-mapper. */
const LVM_CONFIG = 'activation{udev_sync=0 udev_rules=0} devices{obtain_device_list_from_udev=0}';

/** lvm2 warns about inherited file descriptors; that is noise here. */
const LVM_QUIET: RunOptions = { env: { LVM_SUPPRESS_FD_WARNINGS: '1' } };

/** A tiny probe of our own: recognises only the LVM2 label, so this test needs no colleague code. */
async function lvmOnlyProbe(src: ByteSource): Promise<FilesystemInfo | null> {
	if (src.sizeBytes < 2048) return null;
	const head = await src.read(0, 2048);
	for (let s = 0; s < 4; s++) {
		const text = String.fromCharCode(...head.subarray(s * 512, s * 512 + 32));
		if (text.startsWith('LABELONE') && text.slice(24, 32) === 'LVM2 001')
			return { type: 'LVM2_member', label: null, uuid: null };
	}
	return null;
}

/** The 512-byte block at LV offset `at`: a header naming the LV and offset, then filler. */
function patternBlock(lv: string, at: number): Uint8Array {
	const block = new Uint8Array(512).fill(lv.charCodeAt(2));
	block.set(Buffer.from(`${lv}@${at};`, 'ascii'));
	return block;
}

describeNeeding(rootMissing(), `LVM2 volumes made by the lvm2 tools`, () => {
	const vg = `vgt${process.pid}x${Math.floor(Math.random() * 1e6)}`;
	const loops: string[] = [];
	let dir: string;
	let cleanup: () => Promise<void>;
	let diskPath: string;
	let layout: DiskLayout;
	let disk: FileByteSource;
	let lvTwoDiskOffset = -1;
	const lvmArgs = (): string[] => ['--devices', loops.join(','), '--config', LVM_CONFIG];
	const P2_START = 16 * MIB;
	const P3_START = 48 * MIB;

	beforeAll(async () => {
		({ dir, cleanup } = await makeTempDir('vmdk-lvm-'));
		diskPath = join(dir, 'disk.img');
		const otherPath = join(dir, 'other.img');
		runSync('truncate', ['-s', '80M', diskPath], LVM_QUIET);
		runSync('truncate', ['-s', '16M', otherPath], LVM_QUIET);
		runSync('sfdisk', ['--no-reread', '--no-tell-kernel', diskPath], {
			...LVM_QUIET,
			input: [
				'label: dos',
				'start=2048, size=30720, type=83',
				'start=32768, size=65536, type=8e',
				'start=98304, size=65536, type=8e',
			].join('\n'),
		});
		const attach = (path: string, offset: number, size?: number): string => {
			const args = ['-f', '--show', '--offset', String(offset)];
			if (size !== undefined) args.push('--sizelimit', String(size));
			const dev = runSync('losetup', [...args, path], LVM_QUIET).trim();
			loops.push(dev);
			return dev;
		};
		const p2 = attach(diskPath, P2_START, 32 * MIB);
		const p3 = attach(diskPath, P3_START, 32 * MIB);
		const other = attach(otherPath, 0);
		const lvm = (cmd: string, ...args: string[]): string => runSync(cmd, [...lvmArgs(), ...args], LVM_QUIET);
		lvm('pvcreate', '-y', p2, p3, other);
		lvm('vgcreate', '-s', '4M', vg, p2, p3, other);
		const create = (...args: string[]): string =>
			lvm('lvcreate', '--driverloaded', 'n', '--activate', 'n', '-Zn', '-y', ...args);
		create('-L', '8M', '-n', 'lv1', vg, p2);
		create('-L', '4M', '-n', 'lv-two', vg, p2);
		lvm('lvextend', '--driverloaded', 'n', '-L', '16M', `${vg}/lv1`, p2);
		create('-i', '2', '-I', '64k', '-L', '8M', '-n', 'striped', vg, p2, p3);
		create('-L', '4M', '-n', 'elsewhere', vg, other);

		// Where lvm2 says each LV's segments live; write the pattern there ourselves.
		const pvStart = new Map([
			[p2, P2_START],
			[p3, P3_START],
		]);
		const pvsJson = JSON.parse(
			lvm('pvs', '--units', 'b', '--nosuffix', '-o', 'pv_name,pe_start', '--reportformat', 'json'),
		) as {
			report: { pv: { pv_name: string; pe_start: string }[] }[];
		};
		const peStart = new Map(pvsJson.report[0]!.pv.map((p) => [p.pv_name, Number(p.pe_start)]));
		const segJson = JSON.parse(
			lvm(
				'lvs',
				'--segments',
				'--units',
				'b',
				'--nosuffix',
				'-o',
				'lv_name,segtype,seg_start_pe,seg_pe_ranges',
				'--reportformat',
				'json',
				vg,
			),
		) as {
			report: { seg: { lv_name: string; segtype: string; seg_start_pe: string; seg_pe_ranges: string }[] }[];
		};
		const fh = await open(diskPath, 'r+');
		try {
			for (const seg of segJson.report[0]!.seg) {
				if (seg.segtype !== 'linear') continue;
				const m = /^(\S+):(\d+)-(\d+)$/.exec(seg.seg_pe_ranges)!;
				const [dev, first, last] = [m[1]!, Number(m[2]), Number(m[3])];
				if (!pvStart.has(dev)) continue;
				for (let pe = first; pe <= last; pe++) {
					const lvOffset = (Number(seg.seg_start_pe) + pe - first) * 4 * MIB;
					const diskOffset = pvStart.get(dev)! + peStart.get(dev)! + pe * 4 * MIB;
					if (seg.lv_name === 'lv-two' && lvOffset === 0) lvTwoDiskOffset = diskOffset;
					// First and last block of every extent carry the pattern.
					for (const delta of [0, 4 * MIB - 512]) {
						await fh.write(patternBlock(seg.lv_name, lvOffset + delta), 0, 512, diskOffset + delta);
					}
				}
			}
		} finally {
			await fh.close();
		}
		// A real filesystem on lv-two (one segment, so it is contiguous on the disk).
		runSync(
			'mkfs.ext4',
			['-q', '-F', '-L', 'inside-lv', '-E', `offset=${lvTwoDiskOffset}`, diskPath, '4M'],
			LVM_QUIET,
		);
		disk = await FileByteSource.open(diskPath);
		layout = await listVolumes(disk, lvmOnlyProbe);
	}, 120_000);

	afterAll(async () => {
		try {
			if (loops.length > 0) runSync('vgremove', [...lvmArgs(), '-f', vg], LVM_QUIET);
		} catch {
			// The VG may not exist if setup failed early; the loop devices still go.
		}
		for (const dev of loops) {
			try {
				runSync('losetup', ['-d', dev], LVM_QUIET);
			} catch {
				// Already gone.
			}
		}
		await disk?.close();
		await cleanup?.();
	});

	it('lists the partitions, then every LV as vg-lv', () => {
		expect(layout.warnings).toEqual([]);
		expect(layout.volumes.map((v) => [v.index, v.name, v.kind])).toEqual([
			[1, 'p1', 'partition'],
			[2, 'p2', 'partition'],
			[3, 'p3', 'partition'],
			[4, `${vg}-lv1`, 'lvm'],
			[5, `${vg}-lv--two`, 'lvm'],
			[6, `${vg}-striped`, 'lvm'],
			[7, `${vg}-elsewhere`, 'lvm'],
		]);
		expect(layout.volumes[1]!.filesystem?.type).toBe('LVM2_member');
		expect(layout.volumes[3]!.lvmName).toBe(`${vg}/lv1`);
	});

	it('maps a two-segment linear LV through its segments onto the PV', async () => {
		const lv1 = layout.volumes[3]!;
		expect(lv1.unsupported).toBeUndefined();
		expect(lv1.sizeBytes).toBe(16 * MIB);
		expect(lv1.source).toBeInstanceOf(LinearVolumeSource);
		expect((lv1.source as LinearVolumeSource).pieces).toHaveLength(2);
		for (let extent = 0; extent < 4; extent++) {
			for (const delta of [0, 4 * MIB - 512]) {
				const at = extent * 4 * MIB + delta;
				expect(Buffer.from(await lv1.source.read(at, 512)).equals(patternBlock('lv1', at))).toBe(true);
			}
		}
		// A read spanning the boundary between extents 1 and 2 (segment 1 → segment 2).
		const across = await lv1.source.read(8 * MIB - 512, 1024);
		expect(Buffer.from(across.subarray(0, 512)).equals(patternBlock('lv1', 8 * MIB - 512))).toBe(true);
		expect(Buffer.from(across.subarray(512)).equals(patternBlock('lv1', 8 * MIB))).toBe(true);
		// startBytes is the first segment's byte offset on the disk.
		expect(Buffer.from(await disk.read(lv1.startBytes, 512)).equals(patternBlock('lv1', 0))).toBe(true);
	});

	it('probes the filesystem inside an LV as blkid does at the offset lvm2 reports', async () => {
		const two = layout.volumes[4]!;
		expect(two.startBytes).toBe(lvTwoDiskOffset);
		const real = await listVolumes(disk, probeFilesystem);
		const peer = Object.fromEntries(
			runSync('blkid', ['-p', '-O', String(lvTwoDiskOffset), '-o', 'export', diskPath], LVM_QUIET)
				.trim()
				.split('\n')
				.map((line) => line.split('=', 2) as [string, string]),
		);
		expect(real.volumes[4]!.filesystem).toMatchObject({ type: 'ext4', label: 'inside-lv', uuid: peer.UUID });
		expect(real.volumes[1]!.filesystem?.type).toBe('LVM2_member');
		expect(real.volumes.map((v) => v.name)).toEqual(layout.volumes.map((v) => v.name));
	});

	it('lists striped LVs and LVs on other disks as unsupported, with the reason', async () => {
		const striped = layout.volumes[5]!;
		expect(striped.unsupported).toBe('not supported yet: striped');
		expect(striped.sizeBytes).toBe(8 * MIB);
		await expect(striped.source.read(0, 512)).rejects.toMatchObject({ code: 'VMDK_UNSUPPORTED_TYPE' });
		expect(layout.volumes[6]!.unsupported).toMatch(
			/^its PV \S+ \(last seen as \/dev\/loop\d+\) is on another disk$/,
		);
	});

	it('names an unprobed PV LVM2_member with the uuid pvs prints', async () => {
		const unprobed = await listVolumes(disk, async () => null);
		const uuids = JSON.parse(
			runSync('pvs', [...lvmArgs(), '-o', 'pv_name,pv_uuid', '--reportformat', 'json'], LVM_QUIET),
		) as {
			report: { pv: { pv_name: string; pv_uuid: string }[] }[];
		};
		const p2 = uuids.report[0]!.pv.find((p) => p.pv_name === loops[0])!;
		expect(unprobed.volumes[1]!.filesystem).toEqual({ type: 'LVM2_member', label: null, uuid: p2.pv_uuid });
		expect(unprobed.volumes.map((v) => v.name)).toEqual(layout.volumes.map((v) => v.name));
	});
});
