// SPDX-License-Identifier: MIT
/**
 * The `createType` values of a VMDK descriptor and what each means for opening the disk.
 * Names follow VMware's Virtual Disk Format 1.1 / 5.0 technotes (docs/vmdk-format.md §1); the
 * `2Gb…` spellings are older VMware products' and are read as their `twoGb…` twins.
 * Matching is case-insensitive because hand-edited descriptors vary; we report the canonical
 * spelling.
 */

/** Every createType we read, in canonical spelling. */
export const CREATE_TYPES = [
	'monolithicSparse',
	'monolithicFlat',
	'twoGbMaxExtentSparse',
	'twoGbMaxExtentFlat',
	'streamOptimized',
	'vmfs',
	'vmfsPreallocated',
	'vmfsEagerZeroedThick',
	'vmfsThin',
	'vmfsSparse',
	'seSparse',
	'custom',
	// Raw-device types: only with `allowRawDevices` (docs/vmdk-format.md §1: a crafted descriptor
	// must not make us read a host disk).
	'fullDevice',
	'partitionedDevice',
	'vmfsRaw',
	'vmfsRDM',
	'vmfsRDMP',
] as const;

/** A createType in canonical spelling. */
export type CreateType = (typeof CREATE_TYPES)[number];

/** Createtypes whose extents are host devices (or mappings of them). */
const RAW_DEVICE_CREATE_TYPES: ReadonlySet<CreateType> = new Set<CreateType>([
	'fullDevice',
	'partitionedDevice',
	'vmfsRaw',
	'vmfsRDM',
	'vmfsRDMP',
]);

/** Other spellings seen in the wild → canonical spelling (keys lower-case). */
const ALIASES: ReadonlyMap<string, CreateType> = new Map<string, CreateType>([
	['2gbmaxextentsparse', 'twoGbMaxExtentSparse'],
	['2gbmaxextentflat', 'twoGbMaxExtentFlat'],
	['vmfsrawdevicemap', 'vmfsRDM'],
	['vmfspassthroughrawdevicemap', 'vmfsRDMP'],
	...CREATE_TYPES.map((t): [string, CreateType] => [t.toLowerCase(), t]),
]);

/** The canonical createType for a descriptor's value, or undefined if we do not know it. */
export function canonicalCreateType(value: string): CreateType | undefined {
	return ALIASES.get(value.trim().toLowerCase());
}

/** True for createTypes that describe a raw host device rather than image files. */
export function isRawDeviceCreateType(type: CreateType): boolean {
	return RAW_DEVICE_CREATE_TYPES.has(type);
}
