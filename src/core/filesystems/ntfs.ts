// SPDX-License-Identifier: MIT
/**
 * NTFS: the boot sector BPB checks of libblkid, then MFT record 3 ($Volume) for the volume name
 * (attribute 0x60) and the volume flags (0x70 $VOLUME_INFORMATION: dirty bit). UUID is the
 * 64-bit volume serial as 16 upper-case hex digits. `health.hibernated` comes from hiberfil.sys
 * (see ntfs-mft.ts): a few more small reads, only for NTFS volumes.
 */
import { Reader, assertOffset } from '../io/reader.js';
import { toSafeNumber } from '../io/safe-number.js';
import type { FilesystemInfo } from './types.js';
import { type ProbeReader, checkedProduct, damaged, isPowerOfTwo, matches } from './probe-io.js';
import { hex, utf16Label } from './text.js';
import { applyFixups, ntfsHealth, readHibernated, readVolumeAttributes } from './ntfs-mft.js';
import { isVmdkError } from '../errors.js';

/** blkid refuses clusters larger than 2 MiB. */
const NTFS_MAX_CLUSTER_BYTES = 2 * 1024 * 1024;
/** We refuse MFT records larger than this (Windows uses 1 KiB or 4 KiB). */
const NTFS_MAX_MFT_RECORD_BYTES = 64 * 1024;
/** $Volume is MFT record 3. */
const MFT_RECORD_VOLUME = 3;
/** Size of the fixed part of an MFT record header we read. */
const MFT_HEADER_BYTES = 32;

/** Probes an NTFS boot sector and $Volume. */
export async function probeNtfs(r: ProbeReader): Promise<FilesystemInfo | null> {
	const boot = await r.peek(0, 512);
	if (!boot || !matches(boot, 3, 'NTFS    ')) return null;
	const b = new Reader(boot, 'NTFS boot sector');
	b.skip(3 + 8, 'jump, oem_id');
	const sectorSizeBytes = b.u16le('bytes_per_sector');
	const sectorsPerClusterRaw = b.u8('sectors_per_cluster');
	const reservedSectors = b.u16le('reserved_sectors');
	const fats = b.u8('fats');
	const rootEntries = b.u16le('root_entries');
	const sectors16 = b.u16le('sectors');
	b.u8('media_type');
	const sectorsPerFat = b.u16le('sectors_per_fat');
	b.skip(2 + 2 + 4, 'sectors_per_track, heads, hidden_sectors');
	const largeSectors = b.u32le('large_sectors');
	b.skip(4, 'unused');
	const totalSectors = toSafeNumber(b.u64le('number_of_sectors'), 'number_of_sectors');
	const mftCluster = toSafeNumber(b.u64le('mft_cluster_location'), 'mft_cluster_location');
	const mftMirrorCluster = toSafeNumber(
		b.u64le('mft_mirror_cluster_location'),
		'mft_mirror_cluster_location',
	);
	const clustersPerMftRecord = b.u8('clusters_per_mft_record');
	b.skip(3 + 1 + 3, 'reserved, clusters_per_index_record, reserved');
	const serial = b.bytesView(8, 'volume_serial');
	assertOffset(b, 0x50, 'NTFS boot sector before checksum');

	const what = 'NTFS boot sector';
	if (sectorSizeBytes < 256 || sectorSizeBytes > 4096 || !isPowerOfTwo(sectorSizeBytes)) {
		damaged(what, `bytes_per_sector ${sectorSizeBytes} is invalid`, 0x0b);
	}
	let sectorsPerCluster: number;
	if (isPowerOfTwo(sectorsPerClusterRaw) && sectorsPerClusterRaw <= 128)
		sectorsPerCluster = sectorsPerClusterRaw;
	// Values 240..249 encode 2^(256 − value) sectors (large clusters).
	else if (sectorsPerClusterRaw >= 240 && sectorsPerClusterRaw <= 249)
		sectorsPerCluster = 2 ** (256 - sectorsPerClusterRaw);
	else damaged(what, `sectors_per_cluster ${sectorsPerClusterRaw} is invalid`, 0x0d);
	const clusterBytes = sectorSizeBytes * sectorsPerCluster;
	if (clusterBytes > NTFS_MAX_CLUSTER_BYTES) damaged(what, `cluster size ${clusterBytes} is too large`, 0x0d);
	if (reservedSectors || rootEntries || sectors16 || sectorsPerFat || largeSectors || fats) {
		damaged(what, 'FAT-only BPB fields are not zero', 0x0e);
	}
	let mftRecordBytes: number;
	if (clustersPerMftRecord >= 0xe1 && clustersPerMftRecord <= 0xf7) {
		// Negative: the record size is 2^(−value) bytes.
		mftRecordBytes = 2 ** (256 - clustersPerMftRecord);
	} else if ([1, 2, 4, 8, 16, 32, 64].includes(clustersPerMftRecord)) {
		mftRecordBytes = clustersPerMftRecord * clusterBytes;
	} else {
		return damaged(what, `clusters_per_mft_record ${clustersPerMftRecord} is invalid`, 0x40);
	}
	const clusterCount = Math.floor(totalSectors / sectorsPerCluster);
	if (mftCluster > clusterCount || mftMirrorCluster > clusterCount) {
		damaged(what, `MFT cluster ${mftCluster} is beyond the ${clusterCount} clusters`, 0x30);
	}
	if (mftRecordBytes < MFT_HEADER_BYTES || mftRecordBytes > NTFS_MAX_MFT_RECORD_BYTES) {
		damaged(what, `MFT record size ${mftRecordBytes} is not supported`, 0x40, 'VMDK_LIMIT');
	}
	const mftOffsetBytes = checkedProduct(mftCluster, clusterBytes, 'MFT offset');
	const record0 = await r.read(mftOffsetBytes, mftRecordBytes, 'NTFS MFT record 0');
	if (!matches(record0, 0, 'FILE')) damaged('NTFS $MFT record', 'no FILE signature', mftOffsetBytes);
	const volumeOffsetBytes = mftOffsetBytes + MFT_RECORD_VOLUME * mftRecordBytes;
	const raw = await r.read(volumeOffsetBytes, mftRecordBytes, 'NTFS $Volume record');
	if (!matches(raw, 0, 'FILE')) damaged('NTFS $Volume record', 'no FILE signature', volumeOffsetBytes);
	// blkid reads the record without fixups; a torn record still yields its name that way.
	const record = applyFixups(raw.slice()) ?? raw;
	const volume = readVolumeAttributes(record);
	const geometry = { clusterBytes, mftRecordBytes };
	let hibernated: boolean | undefined;
	try {
		const mftRecord = applyFixups(record0.slice());
		hibernated = mftRecord ? await readHibernated(r, geometry, mftRecord) : undefined;
	} catch (error) {
		// A damaged directory makes hibernation unknown; it does not make the volume unknown.
		if (!isVmdkError(error)) throw error;
	}
	return {
		type: 'ntfs',
		label: volume.label ? utf16Label(volume.label, true) : null,
		uuid: hex(Uint8Array.from(serial).reverse(), true),
		sizeBytes: checkedProduct(totalSectors, sectorSizeBytes, 'NTFS size'),
		blockSizeBytes: clusterBytes,
		health: ntfsHealth(volume.flags, hibernated),
	};
}
