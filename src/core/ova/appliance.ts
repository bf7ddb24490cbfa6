// SPDX-License-Identifier: MIT
/**
 * An OVF appliance: an `.ova` archive, or an `.ovf` with its files in a folder. The descriptor
 * says which files are disks, in which order and how big; each disk is then an ordinary VMDK
 * path (for an `.ova`, a member path `app.ova/app-disk1.vmdk` that `withArchives` reads in
 * place), so opening, inspecting and mounting need nothing appliance-specific.
 *
 * Decisions:
 * - The OVF descriptor of an `.ova` is its first `.ovf` member (the standard puts it first; a
 *   warning says so when it is not); the manifest is the `.mf` with the descriptor's name.
 * - A disk whose file is unsafe (`..`, absolute, a URL), missing, gzip-compressed or named by an
 *   unknown `fileRef` keeps its slot with a `problem` (a typed error): the other disks still
 *   open, and mounting or exporting that disk fails with that error.
 * - Chunked files (`ovf:chunkSize`) are supported: `withArchives` joins the chunks.
 * - Disks with no file (empty disks made at deployment) are left out with a warning.
 * - Disk order: each virtual machine's disks in slot order (ide, scsi, sata, nvme), machines
 *   in document order, then disks no machine attaches, in DiskSection order.
 */
import { VmdkError, isVmdkError } from '../errors.js';
import { basename, dirname, extensionOf, joinPath, normalizePath } from '../io/paths.js';
import type { DiskPlatform } from '../platform.js';
import { compareDiskSlots, type AttachedDisk } from '../vmx/vmx-file.js';
import { archiveMemberPath, archiveMembers, splitArchivePath, withArchives } from './archive-platform.js';
import { MANIFEST_MAX_BYTES, parseManifest, type ManifestEntry } from './ova-manifest.js';
import {
	OVF_MAX_BYTES,
	parseOvf,
	type OvfDisk,
	type OvfDiskAttachment,
	type OvfEnvelope,
} from './ovf-descriptor.js';

/** A disk of an appliance. */
export interface ApplianceDisk extends AttachedDisk {
	/** The OVF `diskId`. */
	readonly diskId: string;
	/** Capacity the OVF declares, bytes, when readable. */
	readonly capacityBytes?: number | undefined;
	/** The OVF `format` URI, when given. */
	readonly format?: string | undefined;
	/** Why this disk cannot be opened, if it cannot. */
	readonly problem?: VmdkError | undefined;
}

/** One manifest line, with the path of the file it covers. */
export interface ApplianceManifestEntry extends ManifestEntry {
	/** The file's path (a member path for an `.ova`), or null if its name is unsafe. */
	readonly path: string | null;
}

/** The appliance's manifest. */
export interface ApplianceManifest {
	/** The `.mf` file. */
	readonly path: string;
	/** Its lines, or the error that made it unreadable. */
	readonly entries: readonly ApplianceManifestEntry[];
	readonly problem?: VmdkError | undefined;
}

/** What an appliance holds (the `ova` kind of `OpenTarget`). */
export interface Appliance {
	readonly kind: 'ova';
	/** What was opened: the `.ova`, or the `.ovf` of an unpacked appliance. */
	readonly path: string;
	/** The OVF descriptor (a member path for an `.ova`). */
	readonly ovfPath: string;
	/** The archive, for an `.ova`; null for a folder. */
	readonly archive: string | null;
	/** The first virtual machine's name and guest OS. */
	readonly vm: { readonly displayName: string | null; readonly guestOS: string | null };
	/** The disks, in the order above. */
	readonly disks: readonly ApplianceDisk[];
	/** The manifest, or null if there is none. */
	readonly manifest: ApplianceManifest | null;
	/** Things the user should know. */
	readonly warnings: readonly string[];
}

/** Opens an appliance: `path` is an `.ova` file or an `.ovf` (possibly inside an `.ova`). */
export async function openAppliance(path: string, rawPlatform: DiskPlatform): Promise<Appliance> {
	const platform = withArchives(rawPlatform);
	const warnings: string[] = [];
	const normal = normalizePath(path);
	let ovfPath = normal;
	let archive: string | null = splitArchivePath(normal)?.archive ?? null;
	if (extensionOf(normal) !== 'ovf') {
		archive = normal;
		ovfPath = await findDescriptor(archive, platform, warnings);
	}
	const envelope = parseOvf(await platform.readSmallFile(ovfPath, OVF_MAX_BYTES), { file: ovfPath });
	warnings.push(...envelope.warnings.map((w) => `${basename(ovfPath)}: ${w}`));
	const base = dirname(ovfPath);
	const disks: ApplianceDisk[] = [];
	for (const { disk, slot } of orderedDisks(envelope, warnings)) {
		const entry = await applianceDisk(disk, slot, envelope, base, archive, ovfPath, platform, warnings);
		if (entry !== undefined) disks.push(entry);
	}
	if (disks.length === 0) warnings.push(`${basename(ovfPath)} lists no disk with a file`);
	const system = envelope.systems[0];
	if (envelope.systems.length > 1) {
		warnings.push(
			`the appliance holds ${envelope.systems.length} virtual machines; their disks are listed together`,
		);
	}
	const stemOf = (p: string): string => basename(p).replace(/\.[^.]*$/, '');
	return {
		kind: 'ova',
		path: normal,
		ovfPath,
		archive,
		vm: {
			displayName: system?.name ?? system?.id ?? stemOf(archive ?? ovfPath),
			guestOS: system?.guestOS ?? null,
		},
		disks,
		manifest: await readManifest(joinPath(base, `${stemOf(ovfPath)}.mf`), base, platform),
		warnings,
	};
}

/** The first `.ovf` member of an archive. */
async function findDescriptor(archive: string, platform: DiskPlatform, warnings: string[]): Promise<string> {
	const index = await archiveMembers(platform, archive);
	if (index === undefined) throw new Error('openAppliance: the platform is not archive-aware');
	warnings.push(...index.warnings);
	const descriptors = index.members.filter(
		(m) => m.type === 'file' && !m.unsafe && extensionOf(m.path) === 'ovf',
	);
	const first = descriptors[0];
	if (first === undefined) {
		const names = index.members.slice(0, 5).map((m) => m.name);
		throw new VmdkError(
			'OVA_BAD_ARCHIVE',
			`the archive holds no OVF descriptor (.ovf), so it is not an OVA appliance (members: ${names.join(', ') || 'none'}${index.members.length > 5 ? ', …' : ''})`,
			{ file: archive },
		);
	}
	if (descriptors.length > 1)
		warnings.push(`the archive holds ${descriptors.length} .ovf files; using ${first.name}`);
	if (index.members[0] !== first) {
		warnings.push(`${first.name} is not the first member of the archive, as the OVF standard requires`);
	}
	return archiveMemberPath(archive, first.path);
}

/** Disks paired with their slots, in the order the module comment gives. */
function orderedDisks(
	envelope: OvfEnvelope,
	warnings: string[],
): { disk: OvfDisk; slot: Omit<OvfDiskAttachment, 'diskId'> }[] {
	const byId = new Map(envelope.disks.map((d) => [d.diskId, d]));
	const out: { disk: OvfDisk; slot: Omit<OvfDiskAttachment, 'diskId'> }[] = [];
	const placed = new Set<string>();
	const several = envelope.systems.length > 1;
	for (const system of envelope.systems) {
		for (const a of [...system.attachments].sort(compareDiskSlots)) {
			const disk = byId.get(a.diskId);
			if (disk === undefined) continue;
			if (placed.has(a.diskId)) {
				warnings.push(`disk ${a.diskId} is attached more than once; listed once`);
				continue;
			}
			placed.add(a.diskId);
			const controller = several ? `${system.name ?? system.id} ${a.controller}` : a.controller;
			out.push({ disk, slot: { ...a, controller } });
		}
	}
	let loose = 0;
	for (const disk of envelope.disks) {
		if (placed.has(disk.diskId)) continue;
		out.push({
			disk,
			slot: { controller: `disk:${disk.diskId}`, bus: 'other', busNumber: 0, unitNumber: loose++ },
		});
	}
	return out;
}

async function applianceDisk(
	disk: OvfDisk,
	slot: Omit<OvfDiskAttachment, 'diskId'>,
	envelope: OvfEnvelope,
	base: string,
	archive: string | null,
	ovfPath: string,
	platform: DiskPlatform,
	warnings: string[],
): Promise<ApplianceDisk | undefined> {
	if (disk.fileRef === undefined) {
		warnings.push(
			`disk ${disk.diskId} has no file (an empty disk created when the appliance is deployed); left out`,
		);
		return undefined;
	}
	if (disk.parentRef !== undefined) {
		warnings.push(
			`disk ${disk.diskId} is a delta of disk ${disk.parentRef} (ovf:parentRef); it is opened through its own VMDK parent hint`,
		);
	}
	const common = {
		...slot,
		mode: 'persistent',
		diskId: disk.diskId,
		capacityBytes: disk.capacityBytes,
		format: disk.format,
	};
	const file = envelope.files.get(disk.fileRef);
	if (file === undefined) {
		return {
			...common,
			fileName: disk.fileRef,
			path: joinPath(base, disk.fileRef),
			exists: false,
			problem: new VmdkError(
				'OVF_BAD_DESCRIPTOR',
				`disk ${disk.diskId} names file "${disk.fileRef}", which <References> does not list`,
				{ file: ovfPath },
			),
		};
	}
	let relative: string;
	try {
		relative = resolveHref(file.href, ovfPath);
	} catch (error) {
		if (!isVmdkError(error)) throw error;
		return {
			...common,
			fileName: file.href,
			path: joinPath(base, basename(file.href)),
			exists: false,
			problem: error,
		};
	}
	const path = joinPath(base, relative);
	const exists = await platform.fileExists(path);
	const where = archive === null ? `the folder ${base}` : `the archive ${archive}`;
	let problem: VmdkError | undefined;
	if (file.compression !== undefined && file.compression.toLowerCase() !== 'identity') {
		problem = new VmdkError(
			'OVF_UNSUPPORTED',
			`disk file "${file.href}" is ${file.compression}-compressed (ovf:compression), which cannot be read in place; unpack the appliance with ovftool first`,
			{ file: ovfPath },
		);
	} else if (!exists) {
		problem = new VmdkError(
			'OVF_MISSING_FILE',
			`the OVF lists "${file.href}" for disk ${disk.diskId}, but ${where} has no such file${file.chunkSizeBytes === undefined ? '' : ' (nor its chunks .000000000 …)'}`,
			{ file: ovfPath },
		);
	} else if (file.sizeBytes !== undefined) {
		const opened = await platform.openFile(path);
		const actual = opened.sizeBytes;
		await opened.close();
		if (actual !== file.sizeBytes) {
			warnings.push(`${file.href} has ${actual} bytes; the OVF says ${file.sizeBytes}`);
		}
	}
	return { ...common, fileName: file.href, path, exists, ...(problem === undefined ? {} : { problem }) };
}

/**
 * The path (relative to the descriptor's folder) an OVF `href` names. Throws
 * `OVF_UNSAFE_REFERENCE` for URLs, absolute paths, backslashes and any `..`, after decoding
 * percent escapes (hrefs are URIs: `disk%201.vmdk` is "disk 1.vmdk"; manifest names are plain
 * file names, `isUri: false`).
 */
export function resolveHref(href: string, ovfPath: string, isUri = true): string {
	const unsafe = (why: string): VmdkError =>
		new VmdkError(
			'OVF_UNSAFE_REFERENCE',
			`file reference "${href.slice(0, 200)}" ${why}; it was not opened`,
			{
				file: ovfPath,
			},
		);
	let decoded = href;
	try {
		if (isUri) decoded = decodeURIComponent(href);
	} catch {
		throw unsafe('is not a valid URI');
	}
	if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(decoded) || decoded.startsWith('/') || decoded.includes('\\')) {
		throw unsafe('is a URL or an absolute path, not a file of the appliance');
	}
	if (decoded.includes('\u0000')) throw unsafe('contains a NUL character');
	if (decoded.split('/').includes('..')) throw unsafe('points outside the appliance (..)');
	const relative = normalizePath(decoded);
	if (relative === '.' || relative === '') throw unsafe('names no file');
	return relative;
}

async function readManifest(
	path: string,
	base: string,
	platform: DiskPlatform,
): Promise<ApplianceManifest | null> {
	if (!(await platform.fileExists(path))) return null;
	try {
		const entries = parseManifest(await platform.readSmallFile(path, MANIFEST_MAX_BYTES), { file: path });
		return {
			path,
			entries: entries.map((e) => {
				let file: string | null;
				try {
					file = joinPath(base, resolveHref(e.fileName, path, false));
				} catch {
					file = null;
				}
				return { ...e, path: file };
			}),
		};
	} catch (error) {
		if (!isVmdkError(error)) throw error;
		return { path, entries: [], problem: error };
	}
}
