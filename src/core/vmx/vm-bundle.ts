// SPDX-License-Identifier: MIT
/**
 * What did the user open? A `.vmdk` is a disk; a `.vmx`, or a folder / `.vmwarevm` bundle that
 * holds one, is a VMware VM whose attached hard disks we list; a `.vbox` (or a folder holding
 * one) is a VirtualBox VM; any other folder is a bag of VMDKs, of which we list the top-level
 * ones. Everything goes through `DiskPlatform` (`readSmallFile`, `listDir`, `fileExists`,
 * `openFile` for a few header bytes), so this stays pure and testable.
 *
 * Decisions:
 * - A folder with several `.vmx` files uses the one named like the folder (`x.vmwarevm/x.vmx`),
 *   else the first by name, with a warning. `.vmx` wins over `.vbox`.
 * - Anything that is neither a folder nor a `.vmx`/`.vbox` is returned as `disk`: opening it
 *   (or reporting that it is missing / not a VMDK) is `openDisk`'s job.
 * - Missing disks are listed (`exists: false`) with a warning, never thrown: the user should see
 *   the whole VM and what is wrong with it. A broken `.vmsd` is a warning too; a broken `.vmx`
 *   or `.vbox` is an error, since without it there is nothing to show.
 * - Locks: every `*.lck` in the `.vmx`'s folder counts (a bundle holds one VM), plus
 *   `<disk>.lck` next to disks stored elsewhere.
 * - Folder scan: a VMDK is top-level unless another descriptor names it as an extent or as its
 *   parent, or it is a binary extent without an embedded descriptor (split `-s001`, `-flat`,
 *   COWD `-delta`, `-sesparse`). Names are compared by file name, case-insensitively.
 * - An `.ova` file, an `.ovf`, or a folder holding an `.ovf` (and no `.vmx`/`.vbox`) is an OVF
 *   appliance (`ova/appliance.ts`); its disks are paths inside the archive.
 * - With a snapshot selector, a VMware VM's disks are those of that snapshot point
 *   (`vmx/snapshot-point.ts`): each slot the snapshot recorded, at the file it froze. Disks of
 *   the `.vmx` that the snapshot did not record (added later, or independent) are left out
 *   with a warning. Any other kind of target refuses a selector (`VMX_SNAPSHOT_NOT_FOUND`).
 */
import { VmdkError, isVmdkError } from '../errors.js';
import { Limits, checkLimit } from '../io/limits.js';
import { basename, dirname, extensionOf, isAbsolutePath, isWindowsAbsolute, joinPath } from '../io/paths.js';
import { openAppliance, type Appliance } from '../ova/appliance.js';
import { ARCHIVE_EXTENSIONS, withArchives } from '../ova/archive-platform.js';
import type { DirEntry, DiskPlatform } from '../platform.js';
import { parseDescriptor, trimDescriptorPadding } from '../vmdk/descriptor.js';
import { detectVmdkKind } from '../vmdk/detect.js';
import { SPARSE_HEADER_SIZE_BYTES, parseSparseHeader } from '../vmdk/sparse-header.js';
import { sectorsToBytes } from '../io/safe-number.js';
import { UNLOCKED, mergeLockStates, readLocks, type LockState } from './lock-info.js';
import { parseVbox, VBOX_MAX_BYTES, type VboxAttachment, type VboxFile } from './vbox-file.js';
import { describeSnapshot, findSnapshotPoint, parseDiskNode, type SnapshotPoint } from './snapshot-point.js';
import { parseVmsd, type SnapshotTree } from './vmsd-file.js';
import {
	VMX_MAX_BYTES,
	compareDiskSlots,
	describeVmx,
	listVmxDiskSlots,
	parseVmx,
	type AttachedDisk,
	type VmxDescription,
} from './vmx-file.js';

/** What a VirtualBox machine file says about the VM itself. */
export interface VboxDescription {
	/** `Machine name`, or null. */
	readonly displayName: string | null;
	/** `Machine OSType` (VirtualBox's guest identifier), or null. */
	readonly guestOS: string | null;
}

/** What a path opens: one disk, a VMware VM, a folder of VMDKs, or a VirtualBox VM. */
export type OpenTarget =
	| {
			readonly kind: 'disk';
			/** The path as given; `openDisk` opens it. */
			readonly path: string;
	  }
	| {
			readonly kind: 'vm';
			/** The `.vmx` that was read. */
			readonly vmxPath: string;
			/** Name, guest OS, hardware version, encoding. */
			readonly vm: VmxDescription;
			/** Attached hard disks (current snapshot leaves), ordered ide, scsi, sata, nvme. */
			readonly disks: readonly AttachedDisk[];
			/** The `.vmsd` snapshot tree, or null if there is none (or it is unreadable: see warnings). */
			readonly snapshots: SnapshotTree | null;
			/** The snapshot point `disks` show, or null for the current state. */
			readonly snapshot: SnapshotPoint | null;
			/** VMware's `.lck` state; `src/host/node/lock-liveness.ts` says whether it is stale. */
			readonly lock: LockState;
			/** Things the user should know (missing disks, skipped devices, fallbacks). */
			readonly warnings: readonly string[];
	  }
	| {
			readonly kind: 'folder';
			/** The folder. */
			readonly path: string;
			/** Top-level VMDKs (full paths), sorted by name. */
			readonly disks: readonly string[];
			/** Things skipped or unreadable. */
			readonly warnings: readonly string[];
	  }
	| {
			readonly kind: 'vbox';
			/** The `.vbox` that was read. */
			readonly vboxPath: string;
			/** Machine name and OS type. */
			readonly vm: VboxDescription;
			/** Attached VMDK hard disks (current leaves), ordered like VMware's. */
			readonly disks: readonly AttachedDisk[];
			/** Things skipped (non-VMDK media, unknown uuids) or missing. */
			readonly warnings: readonly string[];
	  }
	| Appliance;

/** What `resolveOpenTarget` should pick. */
export interface ResolveOptions {
	/** A snapshot of a VMware VM, by uid or name: its disks instead of the current state. */
	readonly snapshot?: string | undefined;
}

/** Most `.vmdk` files we examine in one folder. */
export const FOLDER_MAX_VMDKS = 4096;
/** Leading bytes read from each VMDK of a folder to tell descriptors from extents. */
const SNIFF_BYTES = 4096;

/**
 * Resolves what `path` opens. Throws when a named `.vmx` / `.vbox` / `.ovf` / `.ova` is missing
 * or malformed, and when a snapshot is asked for and cannot be found.
 */
export async function resolveOpenTarget(
	path: string,
	rawPlatform: DiskPlatform,
	options: ResolveOptions = {},
): Promise<OpenTarget> {
	const platform = withArchives(rawPlatform);
	const target = await resolveTarget(path, platform, options.snapshot);
	if (options.snapshot !== undefined && target.kind !== 'vm') {
		throw new VmdkError(
			'VMX_SNAPSHOT_NOT_FOUND',
			`is not a VMware VM, so it has no snapshots; --snapshot needs a .vmx, a .vmwarevm bundle or a VM folder`,
			{ file: path },
		);
	}
	return target;
}

async function resolveTarget(
	path: string,
	platform: DiskPlatform,
	snapshot: string | undefined,
): Promise<OpenTarget> {
	const ext = extensionOf(path);
	// .vmtx is a VM template: the same file format as .vmx.
	if (ext === 'vmx' || ext === 'vmtx') return openVmx(path, platform, [], snapshot);
	if (ext === 'vbox') return openVbox(path, platform, []);
	if (ext === 'ovf') return openAppliance(path, platform);
	// A folder that happens to be named x.ova is read as a folder.
	if (ARCHIVE_EXTENSIONS.includes(ext) && (await platform.fileExists(path)))
		return openAppliance(path, platform);
	let entries: readonly DirEntry[];
	try {
		entries = await platform.listDir(path);
	} catch {
		return { kind: 'disk', path };
	}
	const files = entries.filter((e) => !e.isDirectory).map((e) => e.name);
	const vmx = pickConfig(path, files, 'vmx');
	if (vmx) return openVmx(joinPath(path, vmx.name), platform, vmx.warnings, snapshot);
	const vbox = pickConfig(path, files, 'vbox');
	if (vbox) return openVbox(joinPath(path, vbox.name), platform, vbox.warnings);
	const ovf = pickConfig(path, files, 'ovf');
	if (ovf) {
		const appliance = await openAppliance(joinPath(path, ovf.name), platform);
		return { ...appliance, warnings: [...ovf.warnings, ...appliance.warnings] };
	}
	return scanFolder(path, entries, platform);
}

/** Chooses one configuration file of `ext` in a folder listing. */
function pickConfig(
	folder: string,
	files: readonly string[],
	ext: string,
): { name: string; warnings: string[] } | undefined {
	const candidates = files.filter((n) => extensionOf(n) === ext).sort();
	const first = candidates[0];
	if (first === undefined) return undefined;
	if (candidates.length === 1) return { name: first, warnings: [] };
	const folderStem = stem(basename(folder.replace(/\/+$/, '')));
	const name = candidates.find((n) => stem(n) === folderStem) ?? first;
	return { name, warnings: [`${candidates.length} .${ext} files in ${folder}; using ${name}`] };
}

function stem(name: string): string {
	const i = name.lastIndexOf('.');
	return i <= 0 ? name : name.slice(0, i);
}

// --- VMware ---------------------------------------------------------------------------------

async function openVmx(
	vmxPath: string,
	platform: DiskPlatform,
	warnings: string[],
	snapshotSelector: string | undefined,
): Promise<OpenTarget> {
	const vmx = parseVmx(await platform.readSmallFile(vmxPath, VMX_MAX_BYTES), { file: vmxPath });
	warnings.push(...vmx.warnings);
	const vm = describeVmx(vmx);
	if (vm.encrypted) warnings.push('the VM is encrypted; its disks cannot be read without VMware');
	const folder = dirname(vmxPath);
	const listed = listVmxDiskSlots(vmx);
	warnings.push(...listed.warnings);
	const disks: AttachedDisk[] = [];
	for (const slot of listed.slots) {
		const resolved = await resolveFile(slot.fileName, folder, [], platform);
		if (resolved.warning) warnings.push(`${slot.controller}: ${resolved.warning}`);
		disks.push({ ...slot, path: resolved.path, exists: resolved.exists });
	}
	const vmsdPath = joinPath(folder, `${stem(basename(vmxPath))}.vmsd`);
	const snapshots = await readSnapshots(vmsdPath, platform, warnings, snapshotSelector !== undefined);
	let snapshot: SnapshotPoint | null = null;
	let shown = disks;
	if (snapshotSelector !== undefined) {
		if (snapshots === null) {
			throw new VmdkError('VMX_SNAPSHOT_NOT_FOUND', `the VM has no snapshot tree (${basename(vmsdPath)})`, {
				file: vmxPath,
			});
		}
		snapshot = findSnapshotPoint(snapshots, snapshotSelector, { file: vmsdPath });
		shown = await snapshotDisks(snapshot, disks, folder, vmsdPath, platform, warnings);
	}
	const lock = await readVmLocks(folder, shown, platform, warnings);
	return { kind: 'vm', vmxPath, vm, disks: shown, snapshots, snapshot, lock, warnings };
}

/** The disks of a snapshot point: each slot it recorded, at the file it froze. */
async function snapshotDisks(
	point: SnapshotPoint,
	current: readonly AttachedDisk[],
	folder: string,
	vmsdPath: string,
	platform: DiskPlatform,
	warnings: string[],
): Promise<AttachedDisk[]> {
	const { snapshot } = point;
	const what = `snapshot ${describeSnapshot(snapshot)}`;
	if (snapshot.disks.length === 0) {
		throw new VmdkError('VMX_BAD_FILE', `${what} records no disks`, { file: vmsdPath });
	}
	const out: AttachedDisk[] = [];
	for (const [k, recorded] of snapshot.disks.entries()) {
		if (recorded.fileName === '') {
			throw new VmdkError(
				'VMX_BAD_FILE',
				`${what}: disk ${k} (${recorded.node || 'no node'}) has no fileName`,
				{
					file: vmsdPath,
				},
			);
		}
		const slot = parseDiskNode(recorded.node) ?? { bus: 'other' as const, busNumber: 0, unitNumber: k };
		const controller = parseDiskNode(recorded.node)
			? recorded.node.trim().toLowerCase()
			: recorded.node || `disk${k}`;
		if (out.some((d) => d.controller === controller)) {
			throw new VmdkError('VMX_BAD_FILE', `${what} records slot ${controller} twice`, { file: vmsdPath });
		}
		const resolved = await resolveFile(recorded.fileName, folder, [], platform);
		if (resolved.warning) warnings.push(`${controller} at ${what}: ${resolved.warning}`);
		const mode = current.find((d) => d.controller === controller)?.mode ?? 'persistent';
		out.push({
			controller,
			...slot,
			fileName: recorded.fileName,
			path: resolved.path,
			mode,
			exists: resolved.exists,
		});
	}
	for (const d of current) {
		if (!out.some((o) => o.controller === d.controller)) {
			const why = d.mode.startsWith('independent')
				? 'independent disks are not part of snapshots'
				: 'added after it';
			warnings.push(`${d.controller} (${d.fileName}) is not part of ${what} (${why}); left out`);
		}
	}
	return out.sort(compareDiskSlots);
}

/** The snapshot tree; a broken `.vmsd` is a warning, unless a snapshot of it was asked for. */
async function readSnapshots(
	vmsdPath: string,
	platform: DiskPlatform,
	warnings: string[],
	required: boolean,
): Promise<SnapshotTree | null> {
	if (!(await platform.fileExists(vmsdPath))) return null;
	try {
		const tree = parseVmsd(await platform.readSmallFile(vmsdPath, VMX_MAX_BYTES), { file: vmsdPath });
		warnings.push(...tree.warnings.map((w) => `${basename(vmsdPath)}: ${w}`));
		return tree;
	} catch (error) {
		if (!isVmdkError(error) || required) throw error;
		warnings.push(`snapshot tree not read: ${error.message}`);
		return null;
	}
}

async function readVmLocks(
	folder: string,
	disks: readonly AttachedDisk[],
	platform: DiskPlatform,
	warnings: string[],
): Promise<LockState> {
	const states: LockState[] = [];
	const byFolder = new Map<string, Set<string>>();
	for (const d of disks) {
		const diskFolder = dirname(d.path);
		if (diskFolder === folder) continue;
		const names = byFolder.get(diskFolder) ?? new Set<string>();
		names.add(basename(d.path));
		byFolder.set(diskFolder, names);
	}
	const places: { dir: string; isOurs: (lockedName: string) => boolean }[] = [
		{ dir: folder, isOurs: () => true },
	];
	for (const [dir, names] of byFolder) places.push({ dir, isOurs: (n) => names.has(n) });
	for (const { dir, isOurs } of places) {
		let entries: readonly DirEntry[];
		try {
			entries = await platform.listDir(dir);
		} catch (error) {
			if (!isVmdkError(error)) throw error;
			if (dir === folder) warnings.push(`cannot list ${dir} to look for locks: ${error.message}`);
			continue;
		}
		states.push(await readLocks(dir, entries, platform, isOurs));
	}
	return states.length === 0 ? UNLOCKED : mergeLockStates(states);
}

/**
 * Finds a file named in a configuration. Relative names are joined to `folder` (backslashes
 * read as separators); an absolute name that does not exist here — an ESXi `/vmfs/volumes/…`
 * path, a Windows `C:\…` path — falls back to the same file name in `folder`, then in each of
 * `alsoLookIn`.
 */
async function resolveFile(
	fileName: string,
	folder: string,
	alsoLookIn: readonly string[],
	platform: DiskPlatform,
): Promise<{ path: string; exists: boolean; warning?: string }> {
	if (!isAbsolutePath(fileName)) {
		const path = joinPath(folder, fileName.replace(/\\/g, '/'));
		if (await platform.fileExists(path)) return { path, exists: true };
		return { path, exists: false, warning: `disk file ${path} is missing` };
	}
	if (!isWindowsAbsolute(fileName) && (await platform.fileExists(fileName))) {
		return { path: fileName, exists: true };
	}
	for (const dir of [folder, ...alsoLookIn]) {
		const candidate = joinPath(dir, basename(fileName));
		if (await platform.fileExists(candidate)) {
			return { path: candidate, exists: true, warning: `${fileName} not found; using ${candidate}` };
		}
	}
	const path = isWindowsAbsolute(fileName) ? joinPath(folder, basename(fileName)) : fileName;
	return { path, exists: false, warning: `disk file ${fileName} is missing (also not found in ${folder})` };
}

// --- VirtualBox -----------------------------------------------------------------------------

async function openVbox(vboxPath: string, platform: DiskPlatform, warnings: string[]): Promise<OpenTarget> {
	const vbox = parseVbox(await platform.readSmallFile(vboxPath, VBOX_MAX_BYTES), { file: vboxPath });
	warnings.push(...vbox.warnings);
	const folder = dirname(vboxPath);
	const snapshotDirs = vbox.snapshotFolder ? [joinPath(folder, vbox.snapshotFolder.replace(/\\/g, '/'))] : [];
	const disks: AttachedDisk[] = [];
	for (const att of vbox.attachments) {
		const disk = await vboxDisk(att, vbox, folder, snapshotDirs, platform, warnings);
		if (disk) disks.push(disk);
	}
	disks.sort(compareDiskSlots);
	return {
		kind: 'vbox',
		vboxPath,
		vm: { displayName: vbox.name, guestOS: vbox.osType },
		disks,
		warnings,
	};
}

async function vboxDisk(
	att: VboxAttachment,
	vbox: VboxFile,
	folder: string,
	snapshotDirs: readonly string[],
	platform: DiskPlatform,
	warnings: string[],
): Promise<AttachedDisk | undefined> {
	const { bus, port, device, controllerIndex } = att;
	const slot =
		bus === 'ide'
			? { controller: `ide${port}:${device}`, busNumber: port, unitNumber: device }
			: bus === 'other'
				? {
						controller: `${att.controllerName}:${port}:${device}`,
						busNumber: controllerIndex,
						unitNumber: port,
					}
				: { controller: `${bus}${controllerIndex}:${port}`, busNumber: controllerIndex, unitNumber: port };
	const leaf = vbox.media.get(att.uuid);
	if (!leaf) {
		warnings.push(
			`${slot.controller}: medium ${att.uuid} is not in this machine's media registry (the global VirtualBox.xml is not read); skipped`,
		);
		return undefined;
	}
	if (leaf.format.toUpperCase() !== 'VMDK') {
		warnings.push(`${slot.controller}: ${leaf.location} is a ${leaf.format || 'non-VMDK'} image; skipped`);
		return undefined;
	}
	const chain: string[] = [];
	let exists = true;
	const seen = new Set<string>();
	for (
		let m: typeof leaf | undefined = leaf;
		m;
		m = m.parentUuid ? vbox.media.get(m.parentUuid) : undefined
	) {
		if (seen.has(m.uuid) || seen.size >= Limits.CHAIN_MAX_DEPTH) {
			warnings.push(
				`${slot.controller}: differencing chain loops or is too deep; cut at ${seen.size} images`,
			);
			break;
		}
		seen.add(m.uuid);
		const resolved = await resolveFile(m.location, folder, snapshotDirs, platform);
		if (resolved.warning) warnings.push(`${slot.controller}: ${resolved.warning}`);
		if (m.format.toUpperCase() !== 'VMDK')
			warnings.push(`${slot.controller}: ${m.location} is ${m.format}, not VMDK`);
		if (chain.length === 0) exists = resolved.exists;
		chain.push(resolved.path);
	}
	return {
		...slot,
		bus,
		fileName: leaf.location,
		path: chain[0]!,
		mode: (leaf.type ?? 'Normal').toLowerCase(),
		exists,
		controllerName: att.controllerName,
		format: leaf.format,
		chain,
	};
}

// --- a folder of VMDKs ----------------------------------------------------------------------

/** What the first bytes of a `.vmdk` in a folder say about it. */
interface VmdkSniff {
	/** `descriptor`: a text descriptor or a sparse extent with one embedded; `extent`: data only. */
	readonly kind: 'descriptor' | 'extent' | 'unreadable';
	/** Files it names as its extents and parent (file names only). */
	readonly references: readonly string[];
	/** Why it is unreadable. */
	readonly problem?: string;
}

async function scanFolder(
	folder: string,
	entries: readonly DirEntry[],
	platform: DiskPlatform,
): Promise<OpenTarget> {
	const warnings: string[] = [];
	const names = entries
		.filter((e) => !e.isDirectory && extensionOf(e.name) === 'vmdk')
		.map((e) => e.name)
		.sort();
	checkLimit(`.vmdk files in ${folder}`, names.length, FOLDER_MAX_VMDKS, { file: folder });
	if (names.length === 0) {
		return { kind: 'folder', path: folder, disks: [], warnings: [`no .vmdk files in ${folder}`] };
	}
	const sniffs = new Map<string, VmdkSniff>();
	const referenced = new Set<string>();
	for (const name of names) {
		const sniff = await sniffVmdk(joinPath(folder, name), platform);
		sniffs.set(name, sniff);
		for (const ref of sniff.references) {
			if (ref.toLowerCase() !== name.toLowerCase()) referenced.add(ref.toLowerCase());
		}
	}
	const disks: string[] = [];
	for (const name of names) {
		const sniff = sniffs.get(name)!;
		if (referenced.has(name.toLowerCase())) continue;
		if (sniff.kind === 'extent') {
			warnings.push(`${name} is an extent without a descriptor naming it; skipped`);
			continue;
		}
		if (sniff.kind === 'unreadable') warnings.push(`${name}: ${sniff.problem ?? 'unreadable'}`);
		disks.push(joinPath(folder, name));
	}
	return { kind: 'folder', path: folder, disks, warnings };
}

/** Reads just enough of a `.vmdk` to learn what it is and which files it names. */
async function sniffVmdk(path: string, platform: DiskPlatform): Promise<VmdkSniff> {
	let file;
	try {
		file = await platform.openFile(path);
	} catch (error) {
		if (!isVmdkError(error)) throw error;
		return { kind: 'unreadable', references: [], problem: error.message };
	}
	try {
		const first = new Uint8Array(Math.min(SNIFF_BYTES, file.sizeBytes));
		await file.readInto(0, first, 0, first.length);
		const kind = detectVmdkKind(first);
		let descriptorBytes: Uint8Array;
		let offsetBytes = 0;
		if (kind === 'descriptor') {
			checkLimit('descriptor file', file.sizeBytes, Limits.DESCRIPTOR_MAX_BYTES, { file: path });
			descriptorBytes = new Uint8Array(file.sizeBytes);
			await file.readInto(0, descriptorBytes, 0, descriptorBytes.length);
		} else if (kind === 'hosted-sparse') {
			const header = parseSparseHeader(first.subarray(0, SPARSE_HEADER_SIZE_BYTES), {
				file: path,
				offsetBytes: 0,
			});
			if (header.descriptorOffsetSectors === 0 || header.descriptorSizeSectors === 0) {
				return { kind: 'extent', references: [] };
			}
			offsetBytes = sectorsToBytes(header.descriptorOffsetSectors, 'descriptorOffset', { file: path });
			const sizeBytes = sectorsToBytes(header.descriptorSizeSectors, 'descriptorSize', { file: path });
			checkLimit('embedded descriptor', sizeBytes, Limits.DESCRIPTOR_MAX_BYTES, { file: path });
			const area = new Uint8Array(Math.max(0, Math.min(sizeBytes, file.sizeBytes - offsetBytes)));
			await file.readInto(offsetBytes, area, 0, area.length);
			descriptorBytes = trimDescriptorPadding(area);
		} else {
			// COWD, seSparse and raw flat data carry no descriptor: they are someone's extent.
			return { kind: 'extent', references: [] };
		}
		const descriptor = parseDescriptor(descriptorBytes, { file: path, offsetBytes });
		const references = descriptor.extents.flatMap((e) =>
			e.fileName === undefined ? [] : [basename(e.fileName)],
		);
		if (descriptor.parentFileNameHint) references.push(basename(descriptor.parentFileNameHint));
		return { kind: 'descriptor', references };
	} catch (error) {
		if (!isVmdkError(error)) throw error;
		return { kind: 'unreadable', references: [], problem: error.message };
	} finally {
		await file.close();
	}
}
