// SPDX-License-Identifier: MIT
/**
 * The property lists `hdiutil … -plist` and `diskutil … -plist` print, read with the `plist`
 * package into small typed shapes. Decisions on macOS are made on these fields and on exit
 * codes, never on message text: tool messages are translated into the user's language
 * (docs/macos.md, "Messages are localized").
 *
 * What the parsers tolerate, each seen in real output (test/fixtures/darwin, SOURCES.md):
 * text before and after the XML (hdiutil prints licence agreements and, from macOS 27,
 * deprecation warnings), sizes written as `<real>`, entities in any order (the whole disk may
 * come after its partitions), missing keys, and APFS volumes on a second, synthesized disk.
 */
import { parse, type PlistValue } from 'plist';
import { AppError } from '../../shared/app-error.js';

/** Content hint of an APFS volume (GPT type of an APFS volume on the synthesized disk). */
export const APFS_VOLUME_HINT = '41504653-0000-11AA-AA11-00306543ECAC';
/** Content hints of an APFS container: the partition type name, its GPT GUID, the synthesized container. */
export const APFS_CONTAINER_HINTS: ReadonlySet<string> = new Set([
	'Apple_APFS',
	'7C3457EF-0000-11AA-AA11-00306543ECAC',
	'EF57347C-0000-11AA-AA11-00306543ECAC',
]);

type PlistDict = { readonly [key: string]: PlistValue };

/** Parses the one property list in `text`, ignoring whatever a tool printed around it. */
export function parsePlistOutput(text: string, what: string): PlistDict {
	const start = text.search(/<\?xml|<!DOCTYPE plist|<plist[\s>]/);
	const end = text.lastIndexOf('</plist>');
	if (start < 0 || end < start) {
		throw new AppError('TOOL_FAILED', `${what} printed no property list`);
	}
	let value: PlistValue;
	try {
		value = parse(text.slice(start, end + '</plist>'.length));
	} catch (cause) {
		throw new AppError('TOOL_FAILED', `${what} printed a property list that cannot be read`, { cause });
	}
	if (!isDict(value))
		throw new AppError('TOOL_FAILED', `${what} printed a property list that is not a dictionary`);
	return value;
}

function isDict(v: PlistValue | undefined): v is PlistDict {
	return (
		typeof v === 'object' &&
		v !== null &&
		!Array.isArray(v) &&
		!(v instanceof Date) &&
		!(v instanceof Uint8Array)
	);
}

function str(d: PlistDict, key: string): string | undefined {
	const v = d[key];
	return typeof v === 'string' ? v : undefined;
}

function bool(d: PlistDict, key: string): boolean | undefined {
	const v = d[key];
	return typeof v === 'boolean' ? v : undefined;
}

function num(d: PlistDict, key: string): number | undefined {
	const v = d[key];
	return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function dicts(d: PlistDict, key: string): PlistDict[] {
	const v = d[key];
	return Array.isArray(v) ? v.filter(isDict) : [];
}

/** One entity (whole disk, partition or synthesized volume) of an attached image. */
export interface ImageEntity {
	/** `/dev/diskN` or `/dev/diskNsM`. */
	readonly devEntry: string;
	/** Partition-map name, partition type or GPT type GUID (`Apple_HFS`, `GUID_partition_scheme` …); '' when none. */
	readonly contentHint: string;
	/** The same before any mapping, when given. */
	readonly unmappedContentHint?: string | undefined;
	/** Whether macOS thinks a filesystem may be mounted from it, when said. */
	readonly potentiallyMountable?: boolean | undefined;
	/** Where it is mounted, when it is. */
	readonly mountPoint?: string | undefined;
}

const DEV_ENTRY = /^\/dev\/disk\d+(s\d+)*$/;

function entitiesOf(d: PlistDict): ImageEntity[] {
	return dicts(d, 'system-entities').flatMap((e) => {
		const devEntry = str(e, 'dev-entry');
		if (devEntry === undefined || !DEV_ENTRY.test(devEntry)) return [];
		return [
			{
				devEntry,
				contentHint: str(e, 'content-hint') ?? '',
				unmappedContentHint: str(e, 'unmapped-content-hint'),
				potentiallyMountable: bool(e, 'potentially-mountable'),
				mountPoint: str(e, 'mount-point'),
			},
		];
	});
}

/** `hdiutil attach -plist` / `diskutil image attach --plist`: the entities that appeared. */
export function parseAttachOutput(text: string): ImageEntity[] {
	const entities = entitiesOf(parsePlistOutput(text, 'attaching the disk image'));
	if (entities.length === 0) throw new AppError('TOOL_FAILED', 'attaching the disk image gave no device');
	return entities;
}

/** One attached image of `hdiutil info -plist`. */
export interface AttachedImage {
	/** The image file (or `ram://…`). */
	readonly imagePath: string;
	readonly entities: readonly ImageEntity[];
}

/** `hdiutil info -plist`: every attached image. */
export function parseHdiutilInfo(text: string): AttachedImage[] {
	return dicts(parsePlistOutput(text, 'hdiutil info'), 'images').flatMap((image) => {
		const imagePath = str(image, 'image-path');
		return imagePath === undefined ? [] : [{ imagePath, entities: entitiesOf(image) }];
	});
}

/** The fields of `diskutil info -plist <device>` we use. */
export interface DiskInfo {
	readonly deviceIdentifier: string;
	/** Where it is mounted; undefined when not mounted (diskutil prints an empty string). */
	readonly mountPoint?: string | undefined;
	/** `msdos`, `hfs`, `apfs`, `exfat`, `ntfs` …, when it holds a filesystem. */
	readonly filesystemType?: string | undefined;
	readonly volumeName?: string | undefined;
	/** Whether the mounted volume is writable, when said. */
	readonly writableVolume?: boolean | undefined;
	readonly wholeDisk?: boolean | undefined;
	/** For a synthesized APFS container: its physical stores (`disk0s2`). */
	readonly apfsPhysicalStores: readonly string[];
	readonly sizeBytes?: number | undefined;
}

/** `diskutil info -plist <device>`. */
export function parseDiskutilInfo(text: string): DiskInfo {
	const d = parsePlistOutput(text, 'diskutil info');
	const deviceIdentifier = str(d, 'DeviceIdentifier');
	if (deviceIdentifier === undefined) {
		// On failure diskutil still prints a property list, with ErrorMessage.
		throw new AppError('TOOL_FAILED', `diskutil info: ${str(d, 'ErrorMessage') ?? 'no DeviceIdentifier'}`);
	}
	const mountPoint = str(d, 'MountPoint');
	return {
		deviceIdentifier,
		mountPoint: mountPoint === '' ? undefined : mountPoint,
		filesystemType: str(d, 'FilesystemType'),
		volumeName: str(d, 'VolumeName'),
		writableVolume: bool(d, 'WritableVolume'),
		wholeDisk: bool(d, 'WholeDisk'),
		apfsPhysicalStores: dicts(d, 'APFSPhysicalStores').flatMap((s) => str(s, 'APFSPhysicalStore') ?? []),
		sizeBytes: num(d, 'Size') ?? num(d, 'TotalSize'),
	};
}

/** A synthesized APFS container of `diskutil list -plist`. */
export interface ApfsContainer {
	/** `disk5`. */
	readonly deviceIdentifier: string;
	/** The partitions or disks it lives on (`disk4s1`). */
	readonly physicalStores: readonly string[];
	/** Its volumes (`disk5s1` …), in the order listed. */
	readonly volumes: readonly string[];
}

/** `diskutil list -plist`: the APFS containers and their physical stores. */
export function parseApfsContainers(text: string): ApfsContainer[] {
	return dicts(parsePlistOutput(text, 'diskutil list'), 'AllDisksAndPartitions').flatMap((disk) => {
		const deviceIdentifier = str(disk, 'DeviceIdentifier');
		const physicalStores = dicts(disk, 'APFSPhysicalStores').flatMap((s) => str(s, 'DeviceIdentifier') ?? []);
		if (deviceIdentifier === undefined || physicalStores.length === 0) return [];
		const volumes = dicts(disk, 'APFSVolumes').flatMap((v) => str(v, 'DeviceIdentifier') ?? []);
		return [{ deviceIdentifier, physicalStores, volumes }];
	});
}

/** `/dev/disk4s1` → `disk4s1`. */
export function bsdName(dev: string): string {
	return dev.startsWith('/dev/') ? dev.slice('/dev/'.length) : dev;
}

/** `/dev/disk4s1` → `/dev/disk4`. */
export function wholeDiskOf(dev: string): string {
	return dev.replace(/^(\/dev\/disk\d+).*$/, '$1');
}

/** The disk number of `/dev/disk4s1` (4), for ordering. */
function diskNumber(dev: string): number {
	return Number(/disk(\d+)/.exec(dev)?.[1] ?? Number.MAX_SAFE_INTEGER);
}

/** Orders devices as macOS numbers them: disk4 < disk4s1 < disk4s2 < disk5. */
export function compareDevices(a: string, b: string): number {
	const parts = (dev: string): number[] => (dev.match(/\d+/g) ?? []).map(Number);
	const pa = parts(a);
	const pb = parts(b);
	for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
		const x = pa[i] ?? -1;
		const y = pb[i] ?? -1;
		if (x !== y) return x - y;
	}
	return 0;
}

/** True for an entity that is an APFS volume (it sits on the synthesized disk). */
export function isApfsVolume(e: ImageEntity): boolean {
	return e.contentHint === APFS_VOLUME_HINT || e.unmappedContentHint === APFS_VOLUME_HINT;
}

/**
 * The image's own whole disk: the lowest-numbered disk among entities that are not APFS
 * volumes (those sit on a synthesized disk numbered after the image).
 */
export function imageDiskOf(entities: readonly ImageEntity[]): string {
	const own = entities.filter((e) => !isApfsVolume(e));
	const disks = (own.length > 0 ? own : entities).map((e) => wholeDiskOf(e.devEntry));
	const first = disks.sort((a, b) => diskNumber(a) - diskNumber(b))[0];
	if (first === undefined) throw new AppError('TOOL_FAILED', 'the attached image has no device');
	return first;
}
