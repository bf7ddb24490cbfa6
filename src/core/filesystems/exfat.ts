// SPDX-License-Identifier: MIT
/**
 * exFAT (Microsoft exFAT specification): main boot region checks and boot checksum as libblkid
 * does, the label from the root directory's volume-label entry (UTF-16LE, up to 11 characters),
 * the serial as `ABCD-1234`, revision as VERSION, the VolumeDirty flag.
 */
import { Reader, assertOffset } from '../io/reader.js';
import { toSafeNumber } from '../io/safe-number.js';
import type { FilesystemInfo } from './types.js';
import { type ProbeReader, checkedProduct, damaged, matches } from './probe-io.js';
import { formatSerial32, utf16Label } from './text.js';

const EXFAT_JUMP = [0xeb, 0x76, 0x90] as const;
const EXFAT_FIRST_DATA_CLUSTER = 2;
const EXFAT_LAST_DATA_CLUSTER = 0x0ffffff6;
const EXFAT_ENTRY_BYTES = 32;
const EXFAT_ENTRY_END = 0x00;
const EXFAT_ENTRY_LABEL = 0x83;
/** We scan at most this many root-directory entries for the label (blkid allows 256 MiB). */
const EXFAT_LABEL_MAX_ENTRIES = 8192;
/** The checksum covers sectors 0..10; sector 11 repeats it. */
const EXFAT_CHECKSUMMED_SECTORS = 11;
/** VolumeFlags bit 1: VolumeDirty. */
const EXFAT_VOLUME_DIRTY = 0x0002;

/** Probes an exFAT boot sector. */
export async function probeExfat(r: ProbeReader): Promise<FilesystemInfo | null> {
	const boot = await r.peek(0, 512);
	if (!boot || !matches(boot, 3, 'EXFAT   ')) return null;
	const what = 'exFAT boot sector';
	const b = new Reader(boot, what);
	b.skip(3 + 8, 'JumpBoot, FileSystemName');
	const mustBeZero = b.bytesView(53, 'MustBeZero');
	b.u64le('PartitionOffset');
	const volumeSectors = toSafeNumber(b.u64le('VolumeLength'), 'VolumeLength');
	const fatOffsetSectors = b.u32le('FatOffset');
	const fatLengthSectors = b.u32le('FatLength');
	const heapOffsetSectors = b.u32le('ClusterHeapOffset');
	const clusterCount = b.u32le('ClusterCount');
	const rootCluster = b.u32le('FirstClusterOfRootDirectory');
	const serial = b.bytesView(4, 'VolumeSerialNumber');
	const revisionMinor = b.u8('FileSystemRevision.minor');
	const revisionMajor = b.u8('FileSystemRevision.major');
	const volumeFlags = b.u16le('VolumeFlags');
	const sectorShift = b.u8('BytesPerSectorShift');
	const clusterShift = b.u8('SectorsPerClusterShift');
	const fats = b.u8('NumberOfFats');
	b.skip(1 + 1 + 7 + 390, 'DriveSelect .. BootCode');
	const bootSignature = b.u16le('BootSignature');
	assertOffset(b, 512, what);

	const fatEnd = fatOffsetSectors + fatLengthSectors * fats;
	const checks: [boolean, string, number][] = [
		[bootSignature === 0xaa55, 'boot signature', 510],
		[matches(boot, 0, EXFAT_JUMP), 'jump instruction', 0],
		[mustBeZero.every((x) => x === 0), 'MustBeZero area', 11],
		[fats >= 1 && fats <= 2, `NumberOfFats ${fats}`, 110],
		[sectorShift >= 9 && sectorShift <= 12, `BytesPerSectorShift ${sectorShift}`, 108],
		[clusterShift <= 25 - sectorShift, `SectorsPerClusterShift ${clusterShift}`, 109],
		[
			fatOffsetSectors >= 24 && fatOffsetSectors <= heapOffsetSectors - fatLengthSectors * fats,
			'FatOffset',
			80,
		],
		[heapOffsetSectors >= fatEnd && heapOffsetSectors <= 2 ** 31, 'ClusterHeapOffset', 88],
		[rootCluster >= 2 && rootCluster <= clusterCount + 1, `FirstClusterOfRootDirectory ${rootCluster}`, 96],
	];
	for (const [ok, field, at] of checks) if (!ok) damaged(what, `${field} is invalid`, at);

	const sectorBytes = 2 ** sectorShift;
	const region = await r.read(0, sectorBytes * (EXFAT_CHECKSUMMED_SECTORS + 1), 'exFAT boot region');
	const computed = bootChecksum(region.subarray(0, sectorBytes * EXFAT_CHECKSUMMED_SECTORS));
	const view = new DataView(region.buffer, region.byteOffset, region.byteLength);
	for (let at = sectorBytes * EXFAT_CHECKSUMMED_SECTORS; at < region.length; at += 4) {
		if (view.getUint32(at, true) !== computed) {
			damaged(what, `boot checksum mismatch: computed 0x${computed.toString(16)}`, at, 'VMDK_CORRUPT');
		}
	}
	const clusterBytes = sectorBytes * 2 ** clusterShift;
	const geometry = { sectorBytes, clusterBytes, fatOffsetSectors, heapOffsetSectors };
	return {
		type: 'exfat',
		label: await findLabel(r, geometry, rootCluster),
		uuid: formatSerial32(serial),
		version: `${revisionMajor}.${revisionMinor}`,
		sizeBytes: checkedProduct(sectorBytes, volumeSectors, 'exFAT size'),
		blockSizeBytes: clusterBytes,
		health: { dirty: (volumeFlags & EXFAT_VOLUME_DIRTY) !== 0 },
	};
}

/** The exFAT boot checksum (spec §3.4): a rotate-and-add over the boot region minus VolumeFlags and PercentInUse. */
function bootChecksum(bytes: Uint8Array): number {
	let sum = 0;
	for (let i = 0; i < bytes.length; i++) {
		if (i === 106 || i === 107 || i === 112) continue;
		sum = (((sum & 1) !== 0 ? 0x80000000 : 0) + (sum >>> 1) + (bytes[i] ?? 0)) >>> 0;
	}
	return sum;
}

interface Geometry {
	readonly sectorBytes: number;
	readonly clusterBytes: number;
	readonly fatOffsetSectors: number;
	readonly heapOffsetSectors: number;
}

async function findLabel(r: ProbeReader, g: Geometry, firstCluster: number): Promise<string | null> {
	const clusterOffset = (cluster: number): number =>
		g.heapOffsetSectors * g.sectorBytes + (cluster - EXFAT_FIRST_DATA_CLUSTER) * g.clusterBytes;
	let cluster = firstCluster;
	let offsetBytes = clusterOffset(cluster);
	for (let i = 0; i < EXFAT_LABEL_MAX_ENTRIES; i++) {
		if (!r.has(offsetBytes, EXFAT_ENTRY_BYTES)) return null;
		const entry = await r.read(offsetBytes, EXFAT_ENTRY_BYTES, 'exFAT directory entry');
		if (entry[0] === EXFAT_ENTRY_END) return null;
		if (entry[0] === EXFAT_ENTRY_LABEL) {
			const lengthChars = Math.min(entry[1] ?? 0, 11);
			return utf16Label(entry.subarray(2, 2 + lengthChars * 2), true);
		}
		offsetBytes += EXFAT_ENTRY_BYTES;
		if ((offsetBytes - clusterOffset(cluster)) % g.clusterBytes === 0) {
			const fatEntryOffset = g.fatOffsetSectors * g.sectorBytes + cluster * 4;
			if (!r.has(fatEntryOffset, 4)) return null;
			const next = await r.read(fatEntryOffset, 4, 'exFAT FAT entry');
			cluster = new DataView(next.buffer, next.byteOffset, 4).getUint32(0, true);
			if (cluster < EXFAT_FIRST_DATA_CLUSTER || cluster > EXFAT_LAST_DATA_CLUSTER) return null;
			offsetBytes = clusterOffset(cluster);
		}
	}
	return null;
}
