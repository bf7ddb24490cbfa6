// SPDX-License-Identifier: MIT
/**
 * The volume list of a flat disk: the whole disk when there is no partition table, else one
 * volume per partition (`p1` …, MBR logical from `p5`), then every visible LVM logical volume
 * found on LVM2 physical volumes of this disk (`vg-lv`). Linear LVs are readable; the others
 * are listed with `unsupported` set. The filesystem probe is passed in.
 */
import { isVmdkError } from '../errors.js';
import { PartitionView } from '../disk/partition-view.js';
import type { ByteSource } from '../io/byte-source.js';
import type { FilesystemInfo } from '../filesystems/types.js';
import { readPartitionTable } from '../partitions/read-partition-table.js';
import { LVM_SECTOR_SIZE_BYTES, formatLvmId, readLvmLabel } from './lvm-label.js';
import {
	extentSizeBytes,
	interpretVolumeGroup,
	parseLvmConfig,
	readLvmMetadataText,
	type LvmLogicalVolume,
	type LvmVolumeGroup,
} from './lvm-metadata.js';
import { LinearVolumeSource, UnsupportedVolumeSource, type LinearPiece } from './lvm-volume-source.js';
import type { DiskLayout, Volume } from './types.js';

/** Detects the filesystem (or container) on a volume; null when nothing is recognised. */
export type FilesystemProbe = (source: ByteSource) => Promise<FilesystemInfo | null>;

/** blkid's type for an LVM2 physical volume. */
const LVM2_MEMBER = 'LVM2_member';

/** A PV of this disk: where it starts on the disk and its bytes. */
interface FoundPv {
	/** Byte offset of the PV (its partition, or 0 for a whole-disk PV) on the disk. */
	readonly startBytes: number;
	/** The PV's bytes. */
	readonly source: ByteSource;
}

/** Volume fields before the list position is assigned. */
type PendingVolume = Omit<Volume, 'index'>;

/**
 * Lists the volumes of a disk. Throws only when reading the disk itself fails; bad tables,
 * probe failures and bad LVM metadata become warnings.
 */
export async function listVolumes(src: ByteSource, probe: FilesystemProbe): Promise<DiskLayout> {
	const partitionTable = await readPartitionTable(src);
	const warnings: string[] = [...partitionTable.warnings];
	const safeProbe = async (name: string, source: ByteSource): Promise<FilesystemInfo | null> => {
		try {
			return await probe(source);
		} catch (error) {
			if (!isVmdkError(error) && !(error instanceof RangeError)) throw error;
			warnings.push(`${name}: filesystem probe failed: ${error.message}`);
			return null;
		}
	};

	const base: PendingVolume[] = [];
	if (partitionTable.scheme === 'none') {
		base.push({
			name: 'disk',
			kind: 'whole-disk',
			startBytes: 0,
			sizeBytes: src.sizeBytes,
			source: src,
			filesystem: await safeProbe('disk', src),
		});
	} else {
		for (const partition of partitionTable.partitions) {
			const name = `p${partition.index}`;
			const source = new PartitionView(src, partition.startBytes, partition.sizeBytes);
			base.push({
				name,
				kind: 'partition',
				startBytes: partition.startBytes,
				sizeBytes: partition.sizeBytes,
				source,
				partition,
				filesystem: await safeProbe(name, source),
			});
		}
	}

	const { pvs, groups, volumes } = await findPhysicalVolumes(base, warnings);
	const lvs: PendingVolume[] = [];
	for (const vg of groups) {
		for (const lv of vg.logicalVolumes) {
			if (!lv.visible) continue;
			const volume = logicalVolume(vg, lv, pvs);
			const filesystem =
				volume.unsupported === undefined ? await safeProbe(volume.name, volume.source) : null;
			lvs.push({ ...volume, filesystem });
		}
	}
	const all = [...volumes, ...lvs].map((v, i): Volume => ({ ...v, index: i + 1 }));
	for (const volume of all) {
		const warning = oversizedFilesystemWarning(volume);
		if (warning !== undefined) warnings.push(warning);
	}
	return { partitionTable, volumes: all, warnings };
}

/** What holds a volume's bytes, in warnings. */
const CONTAINER_NAMES: Readonly<Record<Volume['kind'], string>> = {
	'whole-disk': 'disk',
	partition: 'partition',
	lvm: 'logical volume',
};

/**
 * A warning when the filesystem's superblock claims more bytes than its volume holds (a
 * partition shrunk without the filesystem, an image cut short): its end is missing, so the Linux
 * kernel refuses to mount it ("bad geometry") and files stored there cannot be read.
 */
export function oversizedFilesystemWarning(
	volume: Pick<Volume, 'name' | 'kind' | 'sizeBytes' | 'filesystem'>,
): string | undefined {
	const fs = volume.filesystem;
	// A multi-device btrfs records the size of all its devices together.
	if (fs?.sizeBytes === undefined || (fs.deviceCount ?? 1) > 1) return undefined;
	if (fs.sizeBytes <= volume.sizeBytes) return undefined;
	const container = CONTAINER_NAMES[volume.kind];
	return (
		`${volume.name}: the ${fs.type} filesystem claims ${fs.sizeBytes} bytes but its ${container} holds ${volume.sizeBytes}: ` +
		`its last ${fs.sizeBytes - volume.sizeBytes} bytes are missing, so a mount may be refused and files stored there cannot be read`
	);
}

/**
 * Reads LVM labels and metadata on every volume the probe calls `LVM2_member` (or could
 * not identify), and keeps the newest metadata (highest seqno) of each VG.
 */
async function findPhysicalVolumes(
	base: readonly PendingVolume[],
	warnings: string[],
): Promise<{ pvs: Map<string, FoundPv>; groups: LvmVolumeGroup[]; volumes: PendingVolume[] }> {
	const pvs = new Map<string, FoundPv>();
	const groups = new Map<string, LvmVolumeGroup>();
	const volumes: PendingVolume[] = [];
	for (const volume of base) {
		if (volume.filesystem !== null && volume.filesystem.type !== LVM2_MEMBER) {
			volumes.push(volume);
			continue;
		}
		try {
			const { label, problem } = await readLvmLabel(volume.source);
			if (problem !== undefined) warnings.push(`${volume.name}: ${problem}`);
			if (label === null) {
				volumes.push(volume);
				continue;
			}
			warnings.push(...label.warnings.map((w) => `${volume.name}: ${w}`));
			// blkid would have said LVM2_member; fill it in when the probe did not know it.
			const filesystem = volume.filesystem ?? {
				type: LVM2_MEMBER,
				label: null,
				uuid: formatLvmId(label.pvUuid),
			};
			const withFs = { ...volume, filesystem };
			volumes.push(withFs);
			if (pvs.has(label.pvUuid)) {
				warnings.push(`${volume.name}: duplicate LVM PV ${formatLvmId(label.pvUuid)} ignored`);
				continue;
			}
			pvs.set(label.pvUuid, { startBytes: volume.startBytes, source: volume.source });
			const location = { offsetBytes: volume.startBytes };
			const { text, warnings: mdaWarnings } = await readLvmMetadataText(volume.source, label, location);
			warnings.push(...mdaWarnings.map((w) => `${volume.name}: ${w}`));
			if (text === null) continue;
			const vg = interpretVolumeGroup(parseLvmConfig(text, location), location);
			const known = groups.get(vg.id);
			if (known === undefined || vg.seqno > known.seqno) groups.set(vg.id, vg);
		} catch (error) {
			if (!isVmdkError(error)) throw error;
			warnings.push(`${volume.name}: LVM metadata unreadable: ${error.message}`);
			if (!volumes.some((v) => v.name === volume.name)) volumes.push(volume);
		}
	}
	return { pvs, groups: [...groups.values()], volumes };
}

/** device-mapper naming: hyphens inside names are doubled, then `vg-lv`. */
function dmName(vg: string, lv: string): string {
	return `${vg.replace(/-/g, '--')}-${lv.replace(/-/g, '--')}`;
}

/** Builds the volume of one LV: a mapped source when linear and local, else unsupported. */
function logicalVolume(
	vg: LvmVolumeGroup,
	lv: LvmLogicalVolume,
	pvs: ReadonlyMap<string, FoundPv>,
): Omit<PendingVolume, 'filesystem'> {
	const extentBytes = extentSizeBytes(vg);
	const extents = lv.segments.reduce((n, s) => n + s.extentCount, 0);
	const sizeBytes = extents * extentBytes;
	const common = { name: dmName(vg.name, lv.name), kind: 'lvm' as const, lvmName: `${vg.name}/${lv.name}` };
	// Where the first segment starts on this disk, when its first stripe is on a local PV.
	const firstStripe = lv.segments[0]?.stripes[0];
	const firstPv = firstStripe && vg.physicalVolumes.get(firstStripe.pvKey);
	const firstFound = firstPv && pvs.get(firstPv.id);
	const firstStartBytes =
		firstStripe && firstPv && firstFound
			? firstFound.startBytes +
				firstPv.peStartSectors * LVM_SECTOR_SIZE_BYTES +
				firstStripe.startExtent * extentBytes
			: 0;
	const unsupported = (reason: string): Omit<PendingVolume, 'filesystem'> => ({
		...common,
		startBytes: firstStartBytes,
		sizeBytes: Number.isSafeInteger(sizeBytes) ? sizeBytes : 0,
		source: new UnsupportedVolumeSource(Number.isSafeInteger(sizeBytes) ? sizeBytes : 0, reason),
		unsupported: reason,
	});
	if (!Number.isSafeInteger(sizeBytes)) return unsupported('its size exceeds 2^53 bytes');
	if (lv.segments.length === 0) return unsupported('it has no segments');

	const pieces: LinearPiece[] = [];
	for (const seg of lv.segments) {
		if (seg.type !== 'striped' || seg.stripeCount !== 1) return unsupported(`not supported yet: ${seg.type}`);
		const stripe = seg.stripes[0]!;
		const pvMeta = vg.physicalVolumes.get(stripe.pvKey);
		if (pvMeta === undefined) return unsupported(`metadata names an unknown PV "${stripe.pvKey}"`);
		const found = pvs.get(pvMeta.id);
		if (found === undefined) {
			const where = pvMeta.deviceHint === undefined ? '' : ` (last seen as ${pvMeta.deviceHint})`;
			return unsupported(`its PV ${formatLvmId(pvMeta.id)}${where} is on another disk`);
		}
		const pvOffsetBytes = pvMeta.peStartSectors * LVM_SECTOR_SIZE_BYTES + stripe.startExtent * extentBytes;
		pieces.push({
			lvOffsetBytes: seg.startExtent * extentBytes,
			lengthBytes: seg.extentCount * extentBytes,
			pv: found.source,
			pvOffsetBytes,
		});
	}
	try {
		const source = new LinearVolumeSource(pieces);
		return { ...common, startBytes: firstStartBytes, sizeBytes: source.sizeBytes, source };
	} catch (error) {
		if (!isVmdkError(error)) throw error;
		return unsupported(`its metadata is inconsistent: ${error.message}`);
	}
}
