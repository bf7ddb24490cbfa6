// SPDX-License-Identifier: MIT
// `vmdk-mounter info --json` end to end, differential against the real peers: disks with a GPT
// (four filesystems), an MBR with logical partitions, and a bare filesystem (no table) are built
// with sgdisk/sfdisk/mkfs, converted to VMDK by qemu-img, and every partition must match
// `sfdisk --json` and every filesystem `blkid -p` on the same raw bytes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DiskInfo } from '../../src/shared/models.js';
import {
	infoJson,
	makeBareDisk,
	makeGptDisk,
	makeMbrDisk,
	ourView,
	peerView,
	rawToVmdk,
	sfdiskTable,
	type BuiltDisk,
} from '../fixtures/make-inspect-disks.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/** qemu-img subformats every disk is converted to. */
const SUBFORMATS = ['monolithicSparse', 'streamOptimized', 'twoGbMaxExtentSparse', 'monolithicFlat'] as const;

/** Our partitions, filesystems, labels, uuids and versions must be sfdisk's and blkid's. */
function expectMatchesPeers(info: DiskInfo, raw: string): void {
	const peer = peerView(raw);
	expect(ourView(info, peer)).toEqual(peer);
}

describe('info --json on qemu-img VMDKs, against sfdisk and blkid', () => {
	let dir: string;
	let cleanup: (() => Promise<void>) | undefined;
	const disks: Record<'gpt' | 'mbr' | 'bare', BuiltDisk> = {} as Record<'gpt' | 'mbr' | 'bare', BuiltDisk>;
	/** `info --json` of each VMDK, by disk kind then subformat. */
	const infos = new Map<string, DiskInfo>();

	beforeAll(async () => {
		({ dir, cleanup } = await makeTempDir('vmdk-info-'));
		disks.gpt = makeGptDisk(dir);
		disks.mbr = makeMbrDisk(dir);
		disks.bare = makeBareDisk(dir);
		for (const [kind, built] of Object.entries(disks)) {
			for (const subformat of SUBFORMATS) {
				const vmdk = rawToVmdk(built.raw, subformat);
				const result = await infoJson(vmdk);
				expect(result.vm).toBeNull();
				expect(result.disks).toHaveLength(1);
				infos.set(`${kind}/${subformat}`, result.disks[0]!);
			}
		}
	}, 120_000);

	afterAll(async () => {
		await cleanup?.();
	});

	describe.each(SUBFORMATS)('%s', (subformat) => {
		it('GPT: the four partitions are sfdisk’s and ext4/vfat/ntfs/xfs are blkid’s', () => {
			const info = infos.get(`gpt/${subformat}`)!;
			expect(info.createType).toBe(subformat);
			expect(info.capacityBytes).toBe(400 * 1024 * 1024);
			expect(info.chain).toHaveLength(1);
			expect(info.warnings).toEqual([]);
			expectMatchesPeers(info, disks.gpt.raw);
			expect(info.volumes.map((v) => [v.index, v.name, v.filesystem?.type])).toEqual([
				[1, 'p1', 'ext4'],
				[2, 'p2', 'vfat'],
				[3, 'p3', 'ntfs'],
				[4, 'p4', 'xfs'],
			]);
		});

		it('MBR: primary and logical partitions are sfdisk’s (no extended container), filesystems blkid’s', () => {
			const info = infos.get(`mbr/${subformat}`)!;
			expect(info.warnings).toEqual([]);
			expectMatchesPeers(info, disks.mbr.raw);
			expect(info.volumes.map((v) => [v.name, v.filesystem?.type, v.filesystem?.label])).toEqual([
				['p1', 'ext2', 'mbr-boot'],
				['p5', 'ext3', 'logical5'],
				['p6', 'exfat', 'EXDATA'],
				['p7', 'swap', 'swap7'],
			]);
		});

		it('bare filesystem at byte 0: one whole-disk volume, no table (sfdisk finds none either)', () => {
			const info = infos.get(`bare/${subformat}`)!;
			expect(() => sfdiskTable(disks.bare.raw)).toThrow();
			expect(info.partitionTable.scheme).toBe('none');
			expect(info.volumes).toHaveLength(1);
			const whole = info.volumes[0]!;
			expect(whole).toMatchObject({ index: 1, kind: 'whole-disk', startBytes: 0 });
			expect(whole.sizeBytes).toBe(info.capacityBytes);
			expectMatchesPeers(info, disks.bare.raw);
		});
	});

	it('every subformat of the same raw reports the same volumes, filesystem details included', () => {
		for (const kind of ['gpt', 'mbr', 'bare']) {
			for (const subformat of SUBFORMATS) {
				expect(infos.get(`${kind}/${subformat}`)!.volumes).toEqual(
					infos.get(`${kind}/monolithicSparse`)!.volumes,
				);
			}
		}
	});
});
