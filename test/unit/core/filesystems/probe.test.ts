// SPDX-License-Identifier: MIT
// Filesystem probes on hand-made bytes: the health flags blkid does not report (ext
// needs_recovery/dirty, NTFS dirty, FAT dirty, HFS+ unmounted/journal), FAT label preference and
// false-positive guards, tiny sources, and the checksum/UUID helpers against known answers.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MemoryByteSource, probeFilesystem, type ByteSource } from '../../../../src/core/index.js';
import { crc32Update, crc32c, md5 } from '../../../../src/core/filesystems/checksums.js';
import { extTypeFromFeatures } from '../../../../src/core/filesystems/ext.js';
import { hfsUuidFromVolumeId } from '../../../../src/core/filesystems/hfs.js';
import { isoDateUuid } from '../../../../src/core/filesystems/iso9660.js';
import { udfUuidFromVolumeSetId } from '../../../../src/core/filesystems/udf.js';
import { ascii } from '../../../helpers/bytes.js';
import { buildExt, buildFat, buildNtfs } from './fs-builders.js';
import { buildHfsPlusVolume, buildHfsVolume } from './hfs-builders.js';

const probe = (bytes: Uint8Array): ReturnType<typeof probeFilesystem> =>
	probeFilesystem(new MemoryByteSource(bytes));

describe('probeFilesystem on hand-made volumes', () => {
	it('returns null for empty, tiny and all-zero sources', async () => {
		expect(await probe(new Uint8Array(0))).toBeNull();
		expect(await probe(new Uint8Array(1))).toBeNull();
		expect(await probe(new Uint8Array(600))).toBeNull();
		expect(await probe(new Uint8Array(2 * 1024 * 1024))).toBeNull();
	});

	it('reads only a few small blocks, each at most once', async () => {
		const reads: [number, number][] = [];
		const counting = (bytes: Uint8Array): ByteSource => {
			const inner = new MemoryByteSource(bytes);
			return {
				sizeBytes: inner.sizeBytes,
				read: (offsetBytes, length) => {
					reads.push([offsetBytes, length]);
					return inner.read(offsetBytes, length);
				},
				readInto: (offsetBytes, dest, destOffset, length) => {
					reads.push([offsetBytes, length]);
					return inner.readInto(offsetBytes, dest, destOffset, length);
				},
			};
		};
		expect(await probeFilesystem(counting(new Uint8Array(2 * 1024 * 1024)))).toBeNull();
		const total = reads.reduce((sum, [, length]) => sum + length, 0);
		expect(reads.length).toBeLessThanOrEqual(10);
		expect(total).toBeLessThanOrEqual(40 * 1024);
		expect(new Set(reads.map(([at]) => at)).size).toBe(reads.length);
		reads.length = 0;
		expect((await probeFilesystem(counting(buildFat({ bootLabel: 'X', rootLabel: 'ROOT' }))))?.type).toBe(
			'vfat',
		);
		expect(reads.length).toBeLessThanOrEqual(6);
	});

	it('ext: type from features, needs_recovery and not-clean state as health', async () => {
		const ext3 = await probe(buildExt({ compat: 0x4, incompat: 0x2 | 0x4, state: 0, label: 'journal' }));
		expect(ext3).toMatchObject({
			type: 'ext3',
			label: 'journal',
			uuid: 'deadbeef-0102-0304-0506-0708090a0b0c',
			version: '1.0',
		});
		expect(ext3?.health).toEqual({ needsRecovery: true, dirty: true });
		const ext2 = await probe(buildExt({ incompat: 0x2 }));
		expect(ext2).toMatchObject({
			type: 'ext2',
			label: null,
			sizeBytes: 1024 * 1024,
			health: { needsRecovery: false, dirty: false },
		});
	});

	it('ext: feature flags decide the type exactly as blkid does', () => {
		const HAS_JOURNAL = 0x4;
		const EXTENTS = 0x40;
		const RECOVER = 0x4;
		const JOURNAL_DEV = 0x8;
		const HUGE_FILE = 0x8;
		expect(extTypeFromFeatures(0, 0x2, 0x1, 0)).toBe('ext2');
		expect(extTypeFromFeatures(HAS_JOURNAL, 0x2 | RECOVER, 0x3, 0)).toBe('ext3');
		expect(extTypeFromFeatures(HAS_JOURNAL, EXTENTS, 0, 0)).toBe('ext4');
		expect(extTypeFromFeatures(0, EXTENTS, 0, 0)).toBe('ext4');
		expect(extTypeFromFeatures(HAS_JOURNAL, 0, HUGE_FILE, 0)).toBe('ext4');
		expect(extTypeFromFeatures(HAS_JOURNAL, EXTENTS, 0, 0x4)).toBe('ext4dev');
		expect(extTypeFromFeatures(0, JOURNAL_DEV, 0, 0)).toBe('jbd');
		// RECOVER without a journal: no blkid ext probe accepts it.
		expect(extTypeFromFeatures(0, RECOVER, 0, 0)).toBeNull();
	});

	it('ext: a superblock with a bad block size is unknown with a reason', async () => {
		const bytes = buildExt({});
		new DataView(bytes.buffer).setUint32(1024 + 24, 300, true);
		const info = await probe(bytes);
		expect(info).toMatchObject({ type: 'unknown', label: null, uuid: null });
		expect(info?.problem).toBe(
			'ext: ext superblock: s_log_block_size 300 is out of range (at volume byte 1048)',
		);
	});

	it('ext: a superblock cut off by the end of the source is unknown (truncated)', async () => {
		const info = await probe(buildExt({}).subarray(0, 1500));
		expect(info?.type).toBe('unknown');
		expect(info?.problem).toMatch(/ext superblock needs bytes 1024\.\.2048 but the volume has 1500/u);
	});

	it('FAT: the root-directory label wins over the boot-sector label, as in blkid', async () => {
		const info = await probe(buildFat({ bootLabel: 'BOOTLABEL', rootLabel: 'ROOTLABEL' }));
		expect(info).toMatchObject({
			type: 'vfat',
			label: 'ROOTLABEL',
			uuid: '1234-5678',
			version: 'FAT12',
			health: { dirty: false },
		});
	});

	it('FAT: without a root-directory label the boot label is used, unless it is NO NAME', async () => {
		expect((await probe(buildFat({ bootLabel: 'BOOTLABEL' })))?.label).toBe('BOOTLABEL');
		expect((await probe(buildFat({ bootLabel: 'NO NAME' })))?.label).toBeNull();
	});

	it('FAT: the dirty bit of the boot sector is reported', async () => {
		expect((await probe(buildFat({ bootLabel: 'X', dirty: true })))?.health).toEqual({ dirty: true });
	});

	it('FAT: weak magics need a sane BPB (an MBR is not FAT); a strong magic with a bad BPB is damaged', async () => {
		const mbr = new Uint8Array(1024 * 1024);
		mbr.set([0xfa, 0x33, 0xc0], 0);
		mbr.set([0x80, 0, 0, 0, 0x83], 446);
		mbr.set([0x55, 0xaa], 510);
		expect(await probe(mbr)).toBeNull();
		const jumpOnly = buildFat({ bootLabel: 'X', magic: '\0\0\0\0\0\0\0\0' });
		jumpOnly[16] = 0; // no FATs
		expect(await probe(jumpOnly)).toBeNull();
		const strong = buildFat({ bootLabel: 'X' });
		strong[16] = 0;
		const info = await probe(strong);
		expect(info?.type).toBe('unknown');
		expect(info?.problem).toMatch(/FAT boot sector: number of FATs is 0/u);
	});

	it('NTFS: volume name (with update-sequence fixups) and the dirty flag', async () => {
		const clean = await probe(buildNtfs({ name: 'Fixup Test Name', dirty: false }));
		expect(clean).toMatchObject({
			type: 'ntfs',
			label: 'Fixup Test Name',
			uuid: '0123456789ABCDEF',
			sizeBytes: 2047 * 512,
			health: { dirty: false },
		});
		expect((await probe(buildNtfs({ name: 'D', dirty: true })))?.health).toEqual({ dirty: true });
	});

	it('NTFS: FAT-only BPB fields set mean a damaged boot sector', async () => {
		const bytes = buildNtfs({ name: 'x', dirty: false });
		bytes[16] = 2; // fats
		expect((await probe(bytes))?.problem).toMatch(/NTFS boot sector: FAT-only BPB fields are not zero/u);
	});

	it('HFS+: not cleanly unmounted and journal with unreplayed transactions', async () => {
		const clean = await probe(buildHfsPlusVolume({ name: 'Clean', journal: { dirty: false } }));
		expect(clean).toMatchObject({
			type: 'hfsplus',
			label: 'Clean',
			health: { dirty: false, journalDirty: false },
		});
		const dirty = await probe(
			buildHfsPlusVolume({ name: 'Dirty', cleanlyUnmounted: false, journal: { dirty: true } }),
		);
		expect(dirty?.health).toEqual({ dirty: true, journalDirty: true });
		const unjournaled = await probe(buildHfsPlusVolume({ name: 'NoJournal' }));
		expect(unjournaled?.health).toEqual({ dirty: false, journalDirty: undefined });
	});

	it('HFS: label, UUID and the unmounted attribute', async () => {
		const clean = await probe(buildHfsVolume('Classic'));
		expect(clean).toMatchObject({
			type: 'hfs',
			label: 'Classic',
			blockSizeBytes: 512,
			health: { dirty: false },
		});
		expect(clean?.uuid).toBe(
			hfsUuidFromVolumeId(Uint8Array.of(0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0)),
		);
		const dirty = buildHfsVolume('Classic');
		dirty[1024 + 10] = 0; // drAtrb high byte holds kHFSVolumeUnmountedBit
		expect((await probe(dirty))?.health).toEqual({ dirty: true });
	});

	it('HFS+: a zero volume id gives no UUID; a bad block size is damaged', async () => {
		expect(
			(await probe(buildHfsPlusVolume({ name: 'x', volumeId: [0, 0, 0, 0, 0, 0, 0, 0] })))?.uuid,
		).toBeNull();
		const bad = buildHfsPlusVolume({ name: 'x' });
		new DataView(bad.buffer).setUint32(1024 + 40, 1000);
		expect((await probe(bad))?.problem).toMatch(/HFS\+ volume header: blockSize 1000 is invalid/u);
	});
});

describe('probeFilesystem on random bytes behind each signature', () => {
	/** [name, offset, signature bytes]: enough to get each probe past its magic check. */
	const SIGNATURES: [string, number, number[]][] = [
		['luks', 0, [0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe, 0, 2]],
		[
			'lvm2',
			512,
			[...ascii('LABELONE'), 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, ...ascii('LVM2 001')],
		],
		['swap', 4086, [...ascii('SWAPSPACE2')]],
		['ntfs', 3, [...ascii('NTFS    ')]],
		['exfat', 3, [...ascii('EXFAT   ')]],
		['fat', 0x36, [...ascii('FAT16   ')]],
		['xfs', 0, [...ascii('XFSB')]],
		['ext', 1080, [0x53, 0xef]],
		['udf', 32768 + 2048 + 1, [...ascii('NSR02')]],
		['iso', 32769, [...ascii('CD001')]],
		['hfs', 1024, [...ascii('BD')]],
		['hfsplus', 1024, [...ascii('H+')]],
		['btrfs', 65536 + 0x40, [...ascii('_BHRfS_M')]],
		['apfs', 32, [...ascii('NXSB')]],
	];

	it('never throws, and damaged results always carry a typed reason', async () => {
		let seed = 0x1234567;
		const random = (): number => {
			seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
			return seed >>> 8;
		};
		for (const [name, offset, signature] of SIGNATURES) {
			for (let round = 0; round < 40; round++) {
				const bytes = new Uint8Array(1024 * 1024);
				// Random bytes in the first 160 KiB (all the probes look at), zeros elsewhere.
				for (let i = 0; i < 160 * 1024; i++) bytes[i] = random() & 0xff;
				bytes.set(signature, offset);
				if (name === 'udf') bytes.set(ascii('BEA01'), 32769);
				const info = await probe(bytes);
				if (info?.type === 'unknown')
					expect(info.problem, `${name} round ${round}`).not.toMatch(/unexpectedly/u);
			}
		}
	});
});

describe('probe helpers', () => {
	it('md5 equals node:crypto for many lengths', () => {
		for (let length = 0; length < 200; length += 7) {
			const input = Uint8Array.from({ length }, (_, i) => (i * 31 + length) & 0xff);
			expect(Buffer.from(md5(input)).toString('hex')).toBe(createHash('md5').update(input).digest('hex'));
		}
	});

	it('CRC-32C and CRC-32 of "123456789" match the catalogue check values', () => {
		expect(crc32c(ascii('123456789'))).toBe(0xe3069283);
		expect((crc32Update(0xffffffff, ascii('123456789')) ^ 0xffffffff) >>> 0).toBe(0xcbf43926);
	});

	it('HFS UUID: MD5 of the namespace and id, as a v3 UUID; zero id → null', () => {
		const uuid = hfsUuidFromVolumeId(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
		expect(uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-3[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/u);
		expect(hfsUuidFromVolumeId(new Uint8Array(8))).toBeNull();
	});

	it('ISO 9660 UUID from a dec-datetime; an unset date gives none', () => {
		expect(isoDateUuid(Uint8Array.of(...ascii('2026112705104600'), 0))).toBe('2026-11-27-05-10-46-00');
		expect(isoDateUuid(Uint8Array.of(...ascii('0000000000000000'), 0))).toBeNull();
	});

	it('UDF UUID from the volume set identifier, per blkid', () => {
		expect(udfUuidFromVolumeSetId('6B0910d64e94944aLinuxUDF')).toBe('6b0910d64e94944a');
		expect(udfUuidFromVolumeSetId('ABCDEF01xyz12345')).toBe('abcdef0178797a31');
		expect(udfUuidFromVolumeSetId('hello world')).toBe('68656c6c6f20776f');
		expect(udfUuidFromVolumeSetId('short')).toBeNull();
	});
});
