// SPDX-License-Identifier: MIT
/**
 * OVF descriptors (`.ovf`, DMTF DSP0243 1.x/2.x; summary in docs/ova.md): what we need to find
 * an appliance's disks and show the VM. Read with the tiny XML reader; names are compared by
 * local name, so `ovf:`/`rasd:`/`sasd:` prefixes (or none) all work.
 *
 * - `References/File`: `id`, `href` (relative URI), `size`, `compression` (`gzip`), `chunkSize`.
 * - `DiskSection/Disk`: `diskId`, `fileRef`, `capacity` × `capacityAllocationUnits`
 *   (`byte * 2^30`, …; bytes when absent), `populatedSize`, `format` (a URI naming the VMDK
 *   variant), `parentRef`.
 * - `VirtualSystem` (possibly inside `VirtualSystemCollection`; OVF 0.9 `Content` elements with
 *   an `xsi:type`): `id`, `Name`,
 *   `OperatingSystemSection` (`vmw:osType`, `Description`), and in `VirtualHardwareSection` the
 *   `Item`s (`StorageItem` in 2.x): controllers (ResourceType 5 IDE, 6 SCSI, 20 other storage:
 *   SATA, or NVMe by its subtype) and disks (ResourceType 17, `HostResource` `ovf:/disk/<id>`,
 *   `Parent` = controller's `InstanceID`, `AddressOnParent` = unit).
 *
 * Decisions:
 * - Disks are named like VMware slots (`scsi0:1`), the controller number taken from the
 *   controller's `Address` when it is a number, else its order among controllers of its kind.
 * - Inconsistencies that concern one disk (unknown fileRef, unreadable capacity) are warnings
 *   here; the appliance resolver turns them into that disk's error, so the other disks still
 *   open. Duplicate ids make the whole descriptor ambiguous: `OVF_BAD_DESCRIPTOR`.
 */
import { VmdkError, type ErrorLocation } from '../errors.js';
import type { DiskBus } from '../vmx/vmx-file.js';
import { attributeNamed, childrenNamed, localName, readXml, type XmlElement } from '../xml/xml-reader.js';

/** Largest OVF descriptor we read. Real ones are tens of KiB; 4 MiB leaves room for huge property sets. */
export const OVF_MAX_BYTES = 4 * 1024 * 1024;

/** A file the appliance is made of (`References/File`). */
export interface OvfFile {
	/** `ovf:id`, referenced by disks. */
	readonly id: string;
	/** `ovf:href` exactly as written (a relative URI). */
	readonly href: string;
	/** `ovf:size`, bytes, when given. */
	readonly sizeBytes?: number | undefined;
	/** `ovf:compression` (`gzip`), when given. */
	readonly compression?: string | undefined;
	/** `ovf:chunkSize`, bytes, when the file is split into chunks. */
	readonly chunkSizeBytes?: number | undefined;
}

/** A virtual disk of the appliance (`DiskSection/Disk`). */
export interface OvfDisk {
	/** `ovf:diskId`. */
	readonly diskId: string;
	/** `ovf:fileRef`: the `OvfFile` id, or undefined for an empty disk created at deployment. */
	readonly fileRef?: string | undefined;
	/** Capacity in bytes, when it is a number we can read. */
	readonly capacityBytes?: number | undefined;
	/** `ovf:populatedSize`, bytes, when given. */
	readonly populatedSizeBytes?: number | undefined;
	/** `ovf:format` (e.g. `http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized`). */
	readonly format?: string | undefined;
	/** `ovf:parentRef`: the disk this one is a delta of (rare). */
	readonly parentRef?: string | undefined;
}

/** Where a virtual machine attaches a disk. */
export interface OvfDiskAttachment {
	/** The `Disk`'s id. */
	readonly diskId: string;
	/** VMware-style slot, `scsi0:0`. */
	readonly controller: string;
	readonly bus: DiskBus;
	readonly busNumber: number;
	readonly unitNumber: number;
}

/** One virtual machine of the appliance. */
export interface OvfSystem {
	/** `ovf:id`. */
	readonly id: string;
	/** `Name`, or null. */
	readonly name: string | null;
	/** `vmw:osType`, else the OS section's `Description`, or null. */
	readonly guestOS: string | null;
	/** Disks attached to its controllers, in slot order. */
	readonly attachments: readonly OvfDiskAttachment[];
}

/** What an OVF descriptor says. */
export interface OvfEnvelope {
	/** Files by id. */
	readonly files: ReadonlyMap<string, OvfFile>;
	/** Disks in document order. */
	readonly disks: readonly OvfDisk[];
	/** Virtual machines in document order. */
	readonly systems: readonly OvfSystem[];
	/** Odd but readable things. */
	readonly warnings: readonly string[];
}

/** RASD resource types we care about (CIM_ResourceAllocationSettingData). */
const ResourceType = { IDE: '5', SCSI: '6', OTHER_STORAGE: '20', DISK: '17' } as const;

/** Parses an OVF descriptor. Throws `OVF_BAD_DESCRIPTOR` (with the line) or `VMDK_LIMIT`. */
export function parseOvf(input: Uint8Array | string, location: ErrorLocation = {}): OvfEnvelope {
	const root = readXml(input, location, {
		what: 'OVF descriptor',
		maxBytes: OVF_MAX_BYTES,
		code: 'OVF_BAD_DESCRIPTOR',
	});
	const fail = (why: string, el?: XmlElement): never => {
		throw new VmdkError('OVF_BAD_DESCRIPTOR', why, { file: location.file, offsetBytes: el?.offset });
	};
	if (localName(root.name) !== 'Envelope')
		fail(`root element is <${root.name}>, not an OVF <Envelope>`, root);
	const warnings: string[] = [];

	const files = new Map<string, OvfFile>();
	for (const refs of childrenNamed(root, 'References')) {
		for (const el of childrenNamed(refs, 'File')) {
			const id = attributeNamed(el, 'id');
			const href = attributeNamed(el, 'href');
			if (id === undefined || href === undefined) fail('a <File> has no id or href', el);
			if (files.has(id!)) fail(`two <File> elements have the id "${id}"`, el);
			files.set(id!, {
				id: id!,
				href: href!,
				sizeBytes: optionalBytes(attributeNamed(el, 'size'), `file ${id} size`, warnings),
				compression: attributeNamed(el, 'compression'),
				chunkSizeBytes: optionalBytes(attributeNamed(el, 'chunkSize'), `file ${id} chunkSize`, warnings),
			});
		}
	}

	const disks: OvfDisk[] = [];
	const diskIds = new Set<string>();
	for (const section of sections(root, 'DiskSection')) {
		for (const el of childrenNamed(section, 'Disk')) {
			const diskId = attributeNamed(el, 'diskId');
			if (diskId === undefined) fail('a <Disk> has no diskId', el);
			if (diskIds.has(diskId!)) fail(`two <Disk> elements have the diskId "${diskId}"`, el);
			diskIds.add(diskId!);
			disks.push({
				diskId: diskId!,
				fileRef: attributeNamed(el, 'fileRef'),
				capacityBytes: capacity(el, diskId!, warnings),
				populatedSizeBytes: optionalBytes(
					attributeNamed(el, 'populatedSize'),
					`disk ${diskId} populatedSize`,
					warnings,
				),
				format: attributeNamed(el, 'format'),
				parentRef: attributeNamed(el, 'parentRef'),
			});
		}
	}

	const systems: OvfSystem[] = [];
	collectSystems(root, systems, diskIds, warnings);
	return { files, disks, systems, warnings };
}

/** Sections by local name, including OVF 0.9's `<Section xsi:type="ovf:DiskSection_Type">`. */
function sections(parent: XmlElement, name: string): XmlElement[] {
	return parent.children.filter((c) => {
		const local = localName(c.name);
		if (local === name) return true;
		return local === 'Section' && localName(attributeNamed(c, 'type') ?? '') === `${name}_Type`;
	});
}

function collectSystems(
	parent: XmlElement,
	out: OvfSystem[],
	diskIds: ReadonlySet<string>,
	warnings: string[],
): void {
	for (const el of parent.children) {
		let local = localName(el.name);
		// OVF 0.9 writes <Content xsi:type="ovf:VirtualSystem_Type">.
		if (local === 'Content') local = localName(attributeNamed(el, 'type') ?? '').replace(/_Type$/, '');
		if (local === 'VirtualSystemCollection') collectSystems(el, out, diskIds, warnings);
		else if (local === 'VirtualSystem') out.push(readSystem(el, out.length, diskIds, warnings));
	}
}

function readSystem(
	el: XmlElement,
	index: number,
	diskIds: ReadonlySet<string>,
	warnings: string[],
): OvfSystem {
	const id = attributeNamed(el, 'id') ?? `vm${index}`;
	const name = childrenNamed(el, 'Name')[0]?.text.trim() || null;
	const os = sections(el, 'OperatingSystemSection')[0];
	const guestOS =
		(os === undefined ? undefined : attributeNamed(os, 'osType')) ??
		(os === undefined ? undefined : childrenNamed(os, 'Description')[0]?.text.trim()) ??
		null;
	const items = sections(el, 'VirtualHardwareSection').flatMap((s) =>
		s.children.filter((c) => ['Item', 'StorageItem'].includes(localName(c.name))),
	);
	return { id, name, guestOS: guestOS || null, attachments: attachments(items, id, diskIds, warnings) };
}

/** The text of an item's RASD property (`rasd:InstanceID`), trimmed. */
function prop(item: XmlElement, name: string): string | undefined {
	return childrenNamed(item, name)[0]?.text.trim();
}

function attachments(
	items: readonly XmlElement[],
	systemId: string,
	diskIds: ReadonlySet<string>,
	warnings: string[],
): OvfDiskAttachment[] {
	// Controllers by InstanceID; numbered per kind by Address, else by order.
	const controllers = new Map<string, { bus: DiskBus; busNumber: number }>();
	const perBus = new Map<DiskBus, number>();
	for (const item of items) {
		const type = prop(item, 'ResourceType');
		let bus: DiskBus | undefined;
		if (type === ResourceType.IDE) bus = 'ide';
		else if (type === ResourceType.SCSI) bus = 'scsi';
		else if (type === ResourceType.OTHER_STORAGE)
			bus = /nvme/i.test(prop(item, 'ResourceSubType') ?? '') ? 'nvme' : 'sata';
		if (bus === undefined) continue;
		const address = prop(item, 'Address');
		const ordinal = perBus.get(bus) ?? 0;
		perBus.set(bus, ordinal + 1);
		const busNumber = address !== undefined && /^[0-9]{1,4}$/.test(address) ? Number(address) : ordinal;
		const instance = prop(item, 'InstanceID');
		if (instance !== undefined) controllers.set(instance, { bus, busNumber });
	}
	const out: OvfDiskAttachment[] = [];
	const unitsUsed = new Map<string, number>();
	for (const item of items) {
		if (prop(item, 'ResourceType') !== ResourceType.DISK) continue;
		const hosts = childrenNamed(item, 'HostResource').map((h) => h.text.trim());
		const diskId = hosts.map(diskIdOfHostResource).find((d) => d !== undefined);
		if (diskId === undefined) {
			warnings.push(
				`${systemId}: a disk item names no OVF disk (${hosts.join(', ') || 'no HostResource'}); skipped`,
			);
			continue;
		}
		if (!diskIds.has(diskId)) {
			warnings.push(`${systemId}: a disk item names disk "${diskId}", which the DiskSection does not list`);
			continue;
		}
		const parent = controllers.get(prop(item, 'Parent') ?? '');
		const bus: DiskBus = parent?.bus ?? 'other';
		const busNumber = parent?.busNumber ?? 0;
		const key = `${bus}${busNumber}`;
		const address = prop(item, 'AddressOnParent');
		const next = unitsUsed.get(key) ?? 0;
		const unitNumber = address !== undefined && /^[0-9]{1,4}$/.test(address) ? Number(address) : next;
		unitsUsed.set(key, Math.max(next, unitNumber + 1));
		out.push({ diskId, controller: `${bus}${busNumber}:${unitNumber}`, bus, busNumber, unitNumber });
	}
	return out;
}

/** `ovf:/disk/<id>`, `/disk/<id>` or OVF 0.9's `ovf://disk/<id>` → id. */
function diskIdOfHostResource(text: string): string | undefined {
	const m = /^(?:ovf:)?\/{1,2}disk\/(.+)$/.exec(text);
	return m?.[1];
}

function capacity(el: XmlElement, diskId: string, warnings: string[]): number | undefined {
	const text = attributeNamed(el, 'capacity');
	if (text === undefined) return undefined;
	const units = attributeNamed(el, 'capacityAllocationUnits');
	const multiplier = unitMultiplier(units);
	const value = /^[0-9]{1,20}$/.test(text.trim()) ? Number(text.trim()) : NaN;
	if (multiplier === undefined || !Number.isFinite(value)) {
		warnings.push(
			`disk ${diskId}: capacity "${text}"${units === undefined ? '' : ` (${units})`} is not a size we can read`,
		);
		return undefined;
	}
	const bytes = value * multiplier;
	if (!Number.isSafeInteger(bytes)) {
		warnings.push(`disk ${diskId}: capacity ${text} × ${multiplier} exceeds 2^53 bytes`);
		return undefined;
	}
	return bytes;
}

/** Bytes per unit of `capacityAllocationUnits` (DSP0004 programmatic units), or undefined. */
export function unitMultiplier(units: string | undefined): number | undefined {
	if (units === undefined || units.trim() === '') return 1;
	const u = units.trim();
	const m = /^byte(?:\s*\*\s*([0-9]{1,4})\s*\^\s*([0-9]{1,3}))?$/i.exec(u);
	if (m) {
		if (m[1] === undefined) return 1;
		const value = Number(m[1]) ** Number(m[2]);
		return Number.isSafeInteger(value) ? value : undefined;
	}
	// Older VMware and VirtualBox exports.
	const named: Record<string, number> = { kilobytes: 2 ** 10, megabytes: 2 ** 20, gigabytes: 2 ** 30 };
	return named[u.toLowerCase()];
}

function optionalBytes(text: string | undefined, what: string, warnings: string[]): number | undefined {
	if (text === undefined) return undefined;
	const n = /^[0-9]{1,16}$/.test(text.trim()) ? Number(text.trim()) : NaN;
	if (!Number.isSafeInteger(n)) {
		warnings.push(`${what} "${text}" is not a number of bytes`);
		return undefined;
	}
	return n;
}
