// SPDX-License-Identifier: MIT
/**
 * VirtualBox machine files (`.vbox`, XML). We read only what finding the disks needs:
 * `Machine` (`name`, `OSType`, `snapshotFolder`), the hard disks of its `MediaRegistry`
 * (`HardDisk uuid location format type`, nested `HardDisk` = differencing child of its parent),
 * and the current state's `StorageController`s with their `AttachedDevice type="HardDisk"` →
 * `Image uuid` attachments. Controllers inside `Snapshot` elements describe old states and are
 * ignored. Layout checked against VirtualBox's settings format (Main/xml/Settings.cpp, schema
 * VirtualBox-settings.xsd); the XML reader is our own and deliberately tiny: elements,
 * attributes, the five predefined entities and numeric references. No DTDs (refused), no
 * external anything, and caps on size, depth and element count.
 */
import { VmdkError, type ErrorLocation } from '../errors.js';
import { childrenNamed, localName, readXml, type XmlElement } from '../xml/xml-reader.js';
import type { DiskBus } from './vmx-file.js';

export { XML_MAX_ATTRIBUTES, XML_MAX_DEPTH, XML_MAX_ELEMENTS, type XmlElement } from '../xml/xml-reader.js';

/** Largest .vbox we read; machines with hundreds of snapshots stay far below. */
export const VBOX_MAX_BYTES = 8 * 1024 * 1024;
/** A hard disk of the media registry. */
export interface VboxMedium {
	/** The medium uuid, lower-cased, with braces as VirtualBox writes them. */
	readonly uuid: string;
	/** `location`: relative to the .vbox folder, or absolute (possibly a Windows path). */
	readonly location: string;
	/** `format`: `VMDK`, `VDI`, `VHD`, … */
	readonly format: string;
	/** `type` (`Normal`, `Immutable`, …) as written on the base; differencing children inherit it. */
	readonly type: string | null;
	/** The uuid of the medium it is nested in (its parent), or null for a base. */
	readonly parentUuid: string | null;
}

/** A hard-disk attachment of the current machine state. */
export interface VboxAttachment {
	/** The controller's `name` (`SATA`, `IDE Controller`). */
	readonly controllerName: string;
	/** The controller's `type` (`AHCI`, `PIIX4`, `LsiLogic`, `NVMe`, …). */
	readonly controllerType: string;
	/** The controller family. */
	readonly bus: DiskBus;
	/** Index of this controller among those of the same family, in document order. */
	readonly controllerIndex: number;
	/** `port` of the attachment. */
	readonly port: number;
	/** `device` of the attachment. */
	readonly device: number;
	/** The attached medium's uuid (lower-cased). */
	readonly uuid: string;
}

/** What we read from a .vbox. */
export interface VboxFile {
	/** `Machine name`, or null. */
	readonly name: string | null;
	/** `Machine OSType`, or null. */
	readonly osType: string | null;
	/** `Machine snapshotFolder` (where differencing images go), or null. */
	readonly snapshotFolder: string | null;
	/** Hard disks of the media registry by uuid (lower-cased). */
	readonly media: ReadonlyMap<string, VboxMedium>;
	/** Hard-disk attachments, in document order. */
	readonly attachments: readonly VboxAttachment[];
	/** Things skipped or odd, for the user. */
	readonly warnings: readonly string[];
}

/** Parses a .vbox. Throws `VMX_BAD_FILE` (with the line) on malformed XML or a missing `Machine`. */
export function parseVbox(text: Uint8Array | string, location: ErrorLocation = {}): VboxFile {
	const root = parseXml(text, location);
	const fail = (why: string, offset = 0): never => {
		throw new VmdkError('VMX_BAD_FILE', `.vbox: ${why}`, { file: location.file, offsetBytes: offset });
	};
	if (localName(root.name) !== 'VirtualBox') fail(`root element is <${root.name}>, not <VirtualBox>`);
	const machine = root.children.find((c) => localName(c.name) === 'Machine');
	if (!machine) return fail('no <Machine> element (a global VirtualBox.xml is not a machine file)');
	const warnings: string[] = [];
	const media = new Map<string, VboxMedium>();
	for (const registry of childrenNamed(machine, 'MediaRegistry')) {
		for (const disks of childrenNamed(registry, 'HardDisks')) {
			for (const disk of childrenNamed(disks, 'HardDisk')) collectMedium(disk, null, null, media, warnings);
		}
	}
	const attachments: VboxAttachment[] = [];
	const busCounts = new Map<DiskBus, number>();
	for (const controllers of currentStorageControllers(machine)) {
		for (const ctl of childrenNamed(controllers, 'StorageController')) {
			const controllerName = ctl.attributes.get('name') ?? '';
			const controllerType = ctl.attributes.get('type') ?? '';
			const bus = busOfControllerType(controllerType);
			const controllerIndex = busCounts.get(bus) ?? 0;
			busCounts.set(bus, controllerIndex + 1);
			for (const dev of childrenNamed(ctl, 'AttachedDevice')) {
				if (dev.attributes.get('type') !== 'HardDisk') continue;
				const image = childrenNamed(dev, 'Image')[0];
				const uuid = image?.attributes.get('uuid');
				if (uuid === undefined) continue;
				const port = Number(dev.attributes.get('port') ?? '0');
				const device = Number(dev.attributes.get('device') ?? '0');
				if (!Number.isSafeInteger(port) || !Number.isSafeInteger(device) || port < 0 || device < 0) {
					warnings.push(`${controllerName}: attachment with invalid port/device skipped`);
					continue;
				}
				attachments.push({
					controllerName,
					controllerType,
					bus,
					controllerIndex,
					port,
					device,
					uuid: uuid.toLowerCase(),
				});
			}
		}
	}
	return {
		name: machine.attributes.get('name') ?? null,
		osType: machine.attributes.get('OSType') ?? null,
		snapshotFolder: machine.attributes.get('snapshotFolder') ?? null,
		media,
		attachments,
		warnings,
	};
}

function collectMedium(
	el: XmlElement,
	parentUuid: string | null,
	parentType: string | null,
	media: Map<string, VboxMedium>,
	warnings: string[],
): void {
	const uuid = el.attributes.get('uuid')?.toLowerCase();
	const location = el.attributes.get('location');
	if (uuid === undefined || location === undefined) {
		warnings.push('a <HardDisk> without uuid or location was skipped');
		return;
	}
	const type = el.attributes.get('type') ?? parentType;
	media.set(uuid, { uuid, location, format: el.attributes.get('format') ?? '', type, parentUuid });
	for (const child of childrenNamed(el, 'HardDisk')) collectMedium(child, uuid, type, media, warnings);
}

/** `StorageControllers` of the current state: under `Machine/Hardware` (≥ 4.x) or `Machine` (older). */
function currentStorageControllers(machine: XmlElement): XmlElement[] {
	return [
		...childrenNamed(machine, 'StorageControllers'),
		...childrenNamed(machine, 'Hardware').flatMap((h) => childrenNamed(h, 'StorageControllers')),
	];
}

/** Maps VirtualBox's controller `type` to a family. */
export function busOfControllerType(type: string): DiskBus {
	switch (type.toLowerCase()) {
		case 'piix3':
		case 'piix4':
		case 'ich6':
			return 'ide';
		case 'ahci':
			return 'sata';
		case 'lsilogic':
		case 'buslogic':
		case 'lsilogicsas':
		case 'virtioscsi':
			return 'scsi';
		case 'nvme':
			return 'nvme';
		default:
			return 'other';
	}
}

/** Parses a `.vbox`'s XML into its root element. Throws `VMX_BAD_FILE` with a line number. */
export function parseXml(input: Uint8Array | string, location: ErrorLocation = {}): XmlElement {
	return readXml(input, location, { what: '.vbox file', maxBytes: VBOX_MAX_BYTES, code: 'VMX_BAD_FILE' });
}
