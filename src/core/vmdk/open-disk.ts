// SPDX-License-Identifier: MIT
/**
 * `openDisk`: a `.vmdk` path → a VirtualDisk (descriptor → extents → parent chain).
 *
 * Decisions:
 * - Every extent file is opened (and checked) up front, so a missing or short file fails the
 *   open, not a read in the middle of a mount; on any failure everything opened is closed.
 *   A FilePool then keeps at most `maxOpenFiles` of them open, reopening on demand, so a disk
 *   split into hundreds of 2 GB extents stays under the process's file limit.
 * - An extent path under `/dev/`, or one that is not a regular file (a device, a FIFO, a
 *   folder, or a symlink to one), is refused unless `allowRawDevices`: a crafted descriptor must
 *   not make us read a host disk, and opening a FIFO would hang.
 * - A hosted sparse file with an embedded descriptor whose only extent is SPARSE is that file
 *   itself, whatever name the extent line gives (renamed monolithicSparse / streamOptimized).
 * - A sparse extent whose capacity exceeds its extent line is read up to the line's size; one
 *   smaller than its line is corrupt.
 * - A layer has a parent when its descriptor has `parentFileNameHint`.
 * - Paths through an `.ova` (`app.ova/disk1.vmdk`) are read in place (`ova/archive-platform.ts`).
 *   A disk inside an archive may only use files of that archive: an extent or parent outside it
 *   is refused (`OVF_UNSAFE_REFERENCE`), since an appliance is meant to be self-contained and
 *   its descriptors come from whoever made the download.
 * - The `.ova` or `.ovf` itself opens its one disk; with several disks the error lists them.
 */
import { ConcatExtents } from '../disk/concat-extents.js';
import { ZeroExtentReader, type ExtentReader } from '../disk/extent-reader.js';
import { VirtualDisk, type LiveWarnings, type DiskLayer } from '../disk/virtual-disk.js';
import { VmdkError, isVmdkError, type ErrorLocation } from '../errors.js';
import { Limits, checkLimit } from '../io/limits.js';
import {
	basename,
	dirname,
	extensionOf,
	isAbsolutePath,
	isWindowsAbsolute,
	joinPath,
	normalizePath,
} from '../io/paths.js';
import { SECTOR_SIZE_BYTES, sectorsToBytes } from '../io/safe-number.js';
import { openAppliance } from '../ova/appliance.js';
import { ARCHIVE_EXTENSIONS, splitArchivePath, withArchives } from '../ova/archive-platform.js';
import type { DirEntry, DiskPlatform, RandomAccessFile } from '../platform.js';
import { openCowdExtent } from './cowd-extent.js';
import { canonicalCreateType, isRawDeviceCreateType } from './create-types.js';
import {
	NO_PARENT_CID,
	parseDescriptor,
	trimDescriptorPadding,
	type Descriptor,
	type DescriptorExtent,
} from './descriptor.js';
import { DETECT_PREFIX_BYTES, describeNonVmdk, detectVmdkKind } from './detect.js';
import { FilePool } from './file-pool.js';
import { FlatExtentReader, NoAccessExtentReader, WindowExtentReader } from './flat-extent.js';
import { openHostedSparseExtent } from './hosted-sparse-extent.js';
import { cidMismatch, resolveParent } from './parent-chain.js';
import { openSeSparseExtent } from './sesparse-extent.js';
import { readEmbeddedDescriptor, readSparseHeader } from './sparse-header.js';

/** How `openDisk` treats snapshot chains and raw devices. */
export interface OpenDiskOptions {
	/** Open a chain whose child parentCID differs from its parent's CID (adds a warning). */
	readonly ignoreCid?: boolean;
	/** Read raw-device disks (fullDevice, partitionedDevice, VMFSRAW/VMFSRDM extents) as flat files. */
	readonly allowRawDevices?: boolean;
	/** More folders to look for a parent in, by its file name, after the child's own folder. */
	readonly parentSearchDirs?: readonly string[];
	/** Most extent files kept open while idle (default DEFAULT_MAX_OPEN_FILES); others reopen on demand. */
	readonly maxOpenFiles?: number;
}

/** What every step of one `openDisk` call shares. */
interface OpenContext {
	/** Warning lists of extents that may still grow after the open. */
	readonly liveWarnings: LiveWarnings[];
	readonly platform: DiskPlatform;
	readonly options: OpenDiskOptions;
	/** Bounds the open extent files of the whole chain. */
	readonly pool: FilePool;
	/** The archive the disk is in, whose files alone it may use; undefined outside archives. */
	readonly archive: string | undefined;
}

/** One opened image of the chain, before it becomes a DiskLayer. */
interface OpenedImage {
	readonly path: string;
	readonly descriptor: Descriptor;
	readonly reader: ExtentReader;
	readonly warnings: readonly string[];
}

/**
 * Opens a VMDK (text descriptor or monolithic sparse file) and its parents, leaf first. Throws
 * a VmdkError naming the file at fault; nothing stays open when it throws.
 */
export async function openDisk(
	path: string,
	rawPlatform: DiskPlatform,
	options: OpenDiskOptions = {},
): Promise<VirtualDisk> {
	const platform = withArchives(rawPlatform);
	const ext = extensionOf(path);
	if (ext === 'ovf' || (ARCHIVE_EXTENSIONS.includes(ext) && (await platform.fileExists(path)))) {
		return openDisk(await onlyApplianceDisk(path, platform), platform, options);
	}
	const split = splitArchivePath(path);
	const archive =
		split !== undefined && (await platform.fileExists(split.archive)) ? split.archive : undefined;
	const ctx: OpenContext = {
		platform,
		options,
		pool: new FilePool(platform, options.maxOpenFiles),
		liveWarnings: [],
		archive,
	};
	const layers: DiskLayer[] = [];
	const warnings: string[] = [];
	const seen = new Set<string>();
	try {
		let current = normalizePath(path);
		let child: OpenedImage | undefined;
		for (;;) {
			if (seen.has(current)) {
				throw new VmdkError(
					'VMDK_PARENT_CYCLE',
					`the snapshot chain loops: ${[...seen, current].join(' → ')}`,
					{ file: child?.path ?? current },
				);
			}
			if (layers.length >= Limits.CHAIN_MAX_DEPTH) {
				throw new VmdkError(
					'VMDK_CHAIN_TOO_DEEP',
					`the snapshot chain is deeper than ${Limits.CHAIN_MAX_DEPTH} images`,
					{ file: current },
				);
			}
			seen.add(current);
			const image = await openImage(current, ctx);
			layers.push({
				reader: image.reader,
				descriptor: image.descriptor,
				link: {
					path: image.path,
					createType: image.descriptor.createType,
					cid: image.descriptor.cid ?? NO_PARENT_CID,
					parentCid: image.descriptor.parentCid ?? NO_PARENT_CID,
				},
			});
			warnings.push(...image.warnings);
			if (child !== undefined) {
				const mismatch = cidMismatch(child.path, child.descriptor, image.path, image.descriptor);
				if (mismatch !== undefined) {
					if (options.ignoreCid !== true) {
						throw new VmdkError(
							'VMDK_CID_MISMATCH',
							`${mismatch} (open with --ignore-cid to read it anyway)`,
							{ file: child.path },
						);
					}
					warnings.push(`CID mismatch ignored: ${mismatch}`);
				}
			}
			const hint = image.descriptor.parentFileNameHint;
			if (hint === undefined) {
				const parentCid = image.descriptor.parentCid;
				if (parentCid !== undefined && parentCid !== NO_PARENT_CID) {
					throw new VmdkError(
						'VMDK_MISSING_PARENT',
						`the descriptor has parentCID ${parentCid} (a snapshot) but no parentFileNameHint naming its parent`,
						{ file: image.path },
					);
				}
				break;
			}
			current = await resolveParent(image.path, hint, platform, options.parentSearchDirs);
			child = image;
		}
	} catch (error) {
		await closeQuietly(layers.map((l) => l.reader));
		throw error;
	}
	return new VirtualDisk(layers, warnings, ctx.liveWarnings);
}

/** The path of an appliance's only disk; throws its problem, or the list when it has several. */
async function onlyApplianceDisk(path: string, platform: DiskPlatform): Promise<string> {
	const appliance = await openAppliance(path, platform);
	const [only, ...others] = appliance.disks;
	if (only === undefined) {
		throw new VmdkError('OVF_MISSING_FILE', 'the appliance has no disk with a file', {
			file: appliance.ovfPath,
		});
	}
	if (others.length > 0) {
		throw new VmdkError(
			'VMDK_NOT_VMDK',
			`the appliance has ${appliance.disks.length} disks; open one of them: ${appliance.disks.map((d) => d.path).join(', ')}`,
			{ file: path },
		);
	}
	if (only.problem !== undefined) throw only.problem;
	return only.path;
}

/** Opens one image: its descriptor (text or embedded) and its extents. */
async function openImage(path: string, ctx: OpenContext): Promise<OpenedImage> {
	const file = await openCheckedFile(path, ctx, 'disk');
	/** Set once an extent reader owns `file` (the embedded-descriptor case). */
	const self = { file, owned: false };
	try {
		return await readImage(path, self, ctx);
	} finally {
		if (!self.owned) await file.close();
	}
}

/** Detects what `self.file` is and opens it as an image. */
async function readImage(
	path: string,
	self: { file: RandomAccessFile; owned: boolean },
	ctx: OpenContext,
): Promise<OpenedImage> {
	const { file } = self;
	const prefix = new Uint8Array(Math.min(file.sizeBytes, DETECT_PREFIX_BYTES));
	await file.readInto(0, prefix, 0, prefix.length);
	const kind = detectVmdkKind(prefix);
	if (kind === undefined) {
		throw new VmdkError('VMDK_NOT_VMDK', `not a VMDK disk: it looks like ${describeNonVmdk(prefix)}`, {
			file: path,
		});
	}
	switch (kind) {
		case 'cowd':
			throw new VmdkError(
				'VMDK_NOT_VMDK',
				'this is the data file (a COWD/vmfsSparse extent) of an ESX snapshot, not a disk by itself; open the descriptor .vmdk that names it (usually the same name without "-delta")',
				{ file: path },
			);
		case 'sesparse':
			throw new VmdkError(
				'VMDK_NOT_VMDK',
				'this is the data file (a seSparse extent) of an ESXi snapshot, not a disk by itself; open the descriptor .vmdk that names it (usually the same name without "-sesparse")',
				{ file: path },
			);
		case 'descriptor': {
			checkLimit('descriptor file', file.sizeBytes, Limits.DESCRIPTOR_MAX_BYTES, { file: path });
			let text = prefix;
			if (file.sizeBytes > prefix.length) {
				text = new Uint8Array(file.sizeBytes);
				await file.readInto(0, text, 0, text.length);
			}
			const descriptor = parseDescriptor(text, { file: path });
			return await openLayer(path, descriptor, ctx, undefined);
		}
		case 'hosted-sparse': {
			const header = await readSparseHeader(file);
			const area = await readEmbeddedDescriptor(file, header);
			const text = area === null ? null : trimDescriptorPadding(area);
			// qemu-img gives split extents a descriptor area but leaves it zero-filled.
			if (text === null || text.every((b) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09)) {
				throw new VmdkError(
					'VMDK_NOT_VMDK',
					'this sparse extent has no embedded descriptor: it is one piece of a split disk or snapshot; open the descriptor .vmdk that lists it',
					{ file: path },
				);
			}
			const descriptor = parseDescriptor(text, {
				file: path,
				offsetBytes: header.descriptorOffsetSectors * SECTOR_SIZE_BYTES,
			});
			return await openLayer(path, descriptor, ctx, self);
		}
	}
}

/** Checks the createType, opens every extent and joins them into one layer reader. */
async function openLayer(
	path: string,
	descriptor: Descriptor,
	ctx: OpenContext,
	self: { file: RandomAccessFile; owned: boolean } | undefined,
): Promise<OpenedImage> {
	const createType = canonicalCreateType(descriptor.createType);
	if (createType === undefined) {
		throw new VmdkError('VMDK_UNSUPPORTED_TYPE', `createType "${descriptor.createType}" is not one we read`, {
			file: path,
		});
	}
	if (isRawDeviceCreateType(createType) && ctx.options.allowRawDevices !== true) {
		throw new VmdkError(
			'VMDK_RAW_DEVICE_REFUSED',
			`createType "${descriptor.createType}" maps a raw host device; refusing to read it unless raw devices are allowed`,
			{ file: path },
		);
	}
	const warnings = descriptor.warnings.map((w) => `${path}: ${w}`);
	// The one SPARSE extent of an embedded descriptor is the file itself, even if renamed.
	const selfExtent =
		self !== undefined && descriptor.extents.length === 1 && descriptor.extents[0]?.type === 'SPARSE'
			? descriptor.extents[0]
			: undefined;
	const readers: ExtentReader[] = [];
	try {
		for (const extent of descriptor.extents) {
			const own = extent === selfExtent ? self : undefined;
			readers.push(await openExtent(path, extent, ctx, own));
		}
	} catch (error) {
		await closeQuietly(readers);
		throw error;
	}
	return { path, descriptor, reader: new ConcatExtents(readers), warnings };
}

/** Opens one extent line's reader. `self` is the already open file the extent lives in, if any. */
async function openExtent(
	descriptorPath: string,
	extent: DescriptorExtent,
	ctx: OpenContext,
	self: { file: RandomAccessFile; owned: boolean } | undefined,
): Promise<ExtentReader> {
	const lineLocation: ErrorLocation = { file: descriptorPath };
	const sizeBytes = sectorsToBytes(extent.sizeSectors, 'extent size', lineLocation);
	if (extent.access === 'NOACCESS') {
		return new NoAccessExtentReader(sizeBytes, descriptorPath, extent.lineNumber);
	}
	if (extent.type === 'ZERO') return new ZeroExtentReader(sizeBytes);
	if ((extent.type === 'VMFSRAW' || extent.type === 'VMFSRDM') && ctx.options.allowRawDevices !== true) {
		throw new VmdkError(
			'VMDK_RAW_DEVICE_REFUSED',
			`descriptor line ${extent.lineNumber}: ${extent.type} extent "${extent.fileName ?? ''}" maps a raw host device; refusing to read it unless raw devices are allowed`,
			lineLocation,
		);
	}
	let file: RandomAccessFile;
	if (self !== undefined) {
		file = self.file;
	} else {
		const extentPath = resolveExtentPath(descriptorPath, extent.fileName ?? '');
		file = await openCheckedFile(extentPath, ctx, 'extent', descriptorPath, extent.lineNumber);
	}
	try {
		const reader = await openExtentReader(extent, sizeBytes, file, ctx);
		if (self !== undefined) self.owned = true;
		return reader;
	} catch (error) {
		if (self === undefined) await file.close();
		throw error;
	}
}

/** Builds the reader for an open extent file and checks it against its extent line. */
async function openExtentReader(
	extent: DescriptorExtent,
	sizeBytes: number,
	file: RandomAccessFile,
	ctx: OpenContext,
): Promise<ExtentReader> {
	switch (extent.type) {
		case 'FLAT':
		case 'VMFS':
		case 'VMFSRAW':
		case 'VMFSRDM':
			return new FlatExtentReader(
				file,
				sectorsToBytes(extent.offsetSectors, 'extent offset', { file: file.path }),
				sizeBytes,
				// A block device stats as 0 bytes; when devices are allowed, reads past its end fail instead.
				!(ctx.options.allowRawDevices === true && file.sizeBytes === 0),
			);
		case 'SPARSE': {
			const sparse = await openHostedSparseExtent(file, ctx.platform);
			// Its list grows while reading (a redundant table used later): the disk shows it live.
			ctx.liveWarnings.push({ file: file.path, list: sparse.warnings });
			return fitToLine(sparse, sizeBytes, extent, file.path);
		}
		case 'VMFSSPARSE':
			return fitToLine(await openCowdExtent(file), sizeBytes, extent, file.path);
		case 'SESPARSE':
			return fitToLine(await openSeSparseExtent(file), sizeBytes, extent, file.path);
		case 'ZERO':
			// Handled before any file is opened; kept for exhaustiveness.
			return new ZeroExtentReader(sizeBytes);
	}
}

/** A sparse reader trimmed to its extent line; VMDK_CORRUPT if it holds less than the line says. */
function fitToLine(
	reader: ExtentReader,
	sizeBytes: number,
	extent: DescriptorExtent,
	filePath: string,
): ExtentReader {
	if (reader.sizeBytes === sizeBytes) return reader;
	if (reader.sizeBytes > sizeBytes) return new WindowExtentReader(reader, sizeBytes);
	// The caller closes the file, which is all the reader holds.
	throw new VmdkError(
		'VMDK_CORRUPT',
		`the extent's capacity (${reader.sizeBytes / SECTOR_SIZE_BYTES} sectors) is smaller than the ${extent.sizeSectors} sectors its descriptor line ${extent.lineNumber} declares`,
		{ file: filePath },
	);
}

/**
 * An extent's path: absolute as written, else relative to the descriptor's folder. A Windows
 * absolute path cannot be opened here, so its file name is looked up next to the descriptor.
 */
function resolveExtentPath(descriptorPath: string, fileName: string): string {
	const dir = dirname(descriptorPath);
	if (isWindowsAbsolute(fileName)) return joinPath(dir, basename(fileName));
	if (isAbsolutePath(fileName)) return normalizePath(fileName);
	return joinPath(dir, fileName.replaceAll('\\', '/'));
}

/**
 * Opens a file the chain needs, refusing devices and other non-regular files unless raw
 * devices are allowed (see the module comment). Missing files are VMDK_MISSING_EXTENT naming
 * the descriptor line that wants them.
 */
async function openCheckedFile(
	path: string,
	ctx: OpenContext,
	role: 'disk' | 'extent',
	descriptorPath?: string,
	lineNumber?: number,
): Promise<RandomAccessFile> {
	const wanted =
		descriptorPath === undefined ? '' : ` (extent on line ${lineNumber ?? 0} of ${descriptorPath})`;
	if (ctx.archive !== undefined && !path.startsWith(`${ctx.archive}/`)) {
		throw new VmdkError(
			'OVF_UNSAFE_REFERENCE',
			`a disk inside ${ctx.archive} names ${role === 'disk' ? 'a parent' : 'an extent'} outside the archive${wanted}; it was not opened`,
			{ file: path },
		);
	}
	if (ctx.options.allowRawDevices !== true) {
		const special = path.startsWith('/dev/') ? 'device' : await nonRegularKind(path, ctx.platform);
		if (special === 'folder') {
			throw new VmdkError(
				role === 'disk' ? 'VMDK_NOT_VMDK' : 'VMDK_MISSING_EXTENT',
				`is a folder, not ${role === 'disk' ? 'a .vmdk file' : 'an extent file'}${wanted}`,
				{ file: path },
			);
		}
		if (special === 'device') {
			throw new VmdkError(
				'VMDK_RAW_DEVICE_REFUSED',
				`${role === 'disk' ? 'the disk' : 'the extent'} is not a regular file (a device, FIFO or socket)${wanted}; refusing to read it unless raw devices are allowed`,
				{ file: path },
			);
		}
	}
	try {
		return await ctx.pool.open(path);
	} catch (error) {
		if (isVmdkError(error, 'VMDK_MISSING_EXTENT') && role === 'extent') {
			throw new VmdkError(
				'VMDK_MISSING_EXTENT',
				`extent file not found${wanted}`,
				{ file: path },
				{ cause: error },
			);
		}
		throw error;
	}
}

/**
 * What `path` is when it exists but is not a regular file, found without opening it: a
 * `folder`, or a `device` (block/character device, FIFO, socket). Undefined for a regular or
 * missing file.
 */
async function nonRegularKind(
	path: string,
	platform: DiskPlatform,
): Promise<'folder' | 'device' | undefined> {
	if (await platform.fileExists(path)) return undefined;
	let entries: readonly DirEntry[];
	try {
		entries = await platform.listDir(dirname(path));
	} catch {
		return undefined;
	}
	const name = basename(path);
	const entry = entries.find((e) => e.name === name);
	if (entry === undefined) return undefined;
	return entry.isDirectory ? 'folder' : 'device';
}

/** Closes readers, ignoring close errors (we are already failing with a better one). */
async function closeQuietly(readers: readonly ExtentReader[]): Promise<void> {
	await Promise.allSettled(readers.map((r) => r.close()));
}
