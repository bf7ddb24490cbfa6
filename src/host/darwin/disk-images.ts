// SPDX-License-Identifier: MIT
/**
 * A volume's export file as a disk device: attached as a raw image with `diskutil image
 * attach` (macOS 13+) or `hdiutil attach -imagekey diskimage-class=CRawDiskImage`, never
 * mounted by the attach itself, read-only unless asked otherwise; found again in
 * `hdiutil info -plist`; detached with `hdiutil detach` or, from macOS 27 where that is
 * deprecated, `diskutil eject`. Every decision is taken on exit codes and plist fields.
 */
import { resolve } from 'node:path';
import { AppError } from '../../shared/app-error.js';
import { ToolError } from '../common/tool-error.js';
import { describeFailure, QUERY_TIMEOUT_MS, toolPath, waitFor, type DarwinContext } from './context.js';
import {
	APFS_CONTAINER_HINTS,
	bsdName,
	compareDevices,
	imageDiskOf,
	isApfsVolume,
	parseApfsContainers,
	parseAttachOutput,
	parseHdiutilInfo,
	wholeDiskOf,
	type AttachedImage,
	type ImageEntity,
} from './plist-output.js';

/** Attaching reads the image through our FUSE export: allow for a slow first read, in ms. */
const ATTACH_TIMEOUT_MS = 60_000;
/** Detaching or ejecting, in ms. */
const DETACH_TIMEOUT_MS = 30_000;
/** `hdiutil detach` exits with EBUSY (16) while something still holds the disk. */
export const EXIT_BUSY = 16;
/** Waits between detach attempts of a busy disk (Spotlight and XProtect let go after a while), in ms. */
const BUSY_BACKOFF_MS = [500, 1_000, 2_000];
/** How long a synthesized APFS container may take to appear, in ms. */
const APFS_APPEAR_MS = 5_000;

/** An attached image: its whole disk and every entity that appeared. */
export interface AttachedDisk {
	/** `/dev/disk4`. */
	readonly device: string;
	readonly entities: readonly ImageEntity[];
}

/** Why attaching may have been refused, for the error message. */
function attachHint(ctx: DarwinContext): string {
	if (ctx.probe.exportFuse === 'fuse-t') {
		return ' — FUSE-T serves the disk over a local network mount: allow access to Network Volumes (System Settings → Privacy & Security → Files & Folders) and try again';
	}
	if (ctx.probe.exportFuse === 'macfuse' && ctx.probe.fuse.exportAccess !== 'allow_root') {
		return " — the system's disk-image helper cannot read the disk: macFUSE lets only administrators open it to the system (allow_root)";
	}
	return '';
}

/** Attaches `rawPath` as a raw disk image without mounting anything. */
export async function attachImage(
	ctx: DarwinContext,
	rawPath: string,
	readOnly: boolean,
): Promise<AttachedDisk> {
	const failures: string[] = [];
	if (ctx.probe.attachWith.length === 0) {
		throw new AppError('NO_HELPER', 'neither `diskutil image` nor hdiutil is here to attach disk images');
	}
	for (const method of ctx.probe.attachWith) {
		const program = toolPath(ctx, method);
		let args =
			method === 'diskutil'
				? ['image', 'attach', '--noMount', '--plist', ...(readOnly ? ['--readOnly'] : []), rawPath]
				: [
						'attach',
						'-plist',
						'-nomount',
						'-noverify',
						'-noautofsck',
						...(readOnly ? ['-readonly'] : []),
						'-imagekey',
						'diskimage-class=CRawDiskImage',
						rawPath,
					];
		let stdout: string;
		try {
			try {
				stdout = (
					await ctx.system.run(program, args, { name: `attach ${rawPath}`, timeoutMs: ATTACH_TIMEOUT_MS })
				).stdout;
			} catch (error) {
				// Some hdiutil versions reject -noautofsck; their message names the option (names are not translated).
				if (
					!(error instanceof ToolError) ||
					!args.includes('-noautofsck') ||
					!error.stderr.includes('noautofsck')
				)
					throw error;
				args = args.filter((a) => a !== '-noautofsck');
				stdout = (
					await ctx.system.run(program, args, { name: `attach ${rawPath}`, timeoutMs: ATTACH_TIMEOUT_MS })
				).stdout;
			}
		} catch (error) {
			failures.push(
				`${method === 'diskutil' ? 'diskutil image attach' : 'hdiutil attach'}: ${describeFailure(error)}`,
			);
			continue;
		}
		let entities: ImageEntity[];
		try {
			entities = parseAttachOutput(stdout);
		} catch (error) {
			// Attached, but the answer is unreadable: find the device by its image file, so it is not left behind.
			const found = await imageOfFile(ctx, rawPath);
			if (found === undefined || found.entities.length === 0) throw error;
			entities = [...found.entities];
		}
		const device = imageDiskOf(entities);
		ctx.attached.set(device, rawPath);
		return { device, entities };
	}
	throw new AppError(
		'MOUNT_FAILED',
		`could not attach ${rawPath} as a disk image (${failures.join('; ')})${attachHint(ctx)}`,
	);
}

/** Every attached image (`hdiutil info -plist`), or undefined when hdiutil is not here to ask. */
export async function listImages(ctx: DarwinContext): Promise<AttachedImage[] | undefined> {
	const hdiutil = ctx.probe.toolPaths.get('hdiutil');
	if (hdiutil === undefined) return undefined;
	const out = await ctx.system.run(hdiutil, ['info', '-plist'], {
		name: 'list attached disk images',
		timeoutMs: QUERY_TIMEOUT_MS,
	});
	return parseHdiutilInfo(out.stdout);
}

function samePath(a: string, b: string): boolean {
	return a === b || resolve(a) === resolve(b);
}

/** The attached image of file `path`, if any. */
async function imageOfFile(ctx: DarwinContext, path: string): Promise<AttachedImage | undefined> {
	const images = await listImages(ctx).catch(() => undefined);
	return images?.find((i) => samePath(i.imagePath, path));
}

/** Whether `device` is still the image of `file`: gone, ours, someone else's, or unknown (no hdiutil). */
async function imageState(
	ctx: DarwinContext,
	device: string,
	file: string,
): Promise<'gone' | 'ours' | 'other' | 'unknown'> {
	let images: AttachedImage[] | undefined;
	try {
		images = await listImages(ctx);
	} catch {
		return 'unknown';
	}
	if (images === undefined) return 'unknown';
	const image = images.find((i) => i.entities.some((e) => wholeDiskOf(e.devEntry) === device));
	if (image === undefined) return 'gone';
	return samePath(image.imagePath, file) ? 'ours' : 'other';
}

/**
 * Detaches an image this host attached. A device already gone is fine; a device that is no
 * longer our file's image (macOS reuses numbers) is left alone. A busy disk is retried a few
 * times; then `force` detaches it anyway, else it is a VOLUME_BUSY error.
 */
export async function detachImage(
	ctx: DarwinContext,
	device: string,
	options: { force: boolean },
): Promise<void> {
	const file = ctx.attached.get(device);
	if (file === undefined) return;
	const state = await imageState(ctx, device, file);
	if (state === 'gone' || state === 'other') {
		ctx.attached.delete(device);
		return;
	}
	const stillThere = async (): Promise<boolean> => (await imageState(ctx, device, file)) !== 'gone';
	if (ctx.probe.detachWith === 'hdiutil') await detachWithHdiutil(ctx, device, options.force, stillThere);
	else await ejectWithDiskutil(ctx, device, options.force, stillThere);
	ctx.attached.delete(device);
}

async function detachWithHdiutil(
	ctx: DarwinContext,
	device: string,
	force: boolean,
	stillThere: () => Promise<boolean>,
): Promise<void> {
	const hdiutil = toolPath(ctx, 'hdiutil');
	for (let attempt = 0; ; attempt++) {
		try {
			await ctx.system.run(hdiutil, ['detach', device], {
				name: `detach ${device}`,
				timeoutMs: DETACH_TIMEOUT_MS,
			});
			return;
		} catch (error) {
			const busy = error instanceof ToolError && error.exitCode === EXIT_BUSY;
			const wait = BUSY_BACKOFF_MS[attempt];
			if (busy && wait !== undefined) {
				await ctx.system.sleep(wait);
				continue;
			}
			if (!(await stillThere())) return;
			if (force) {
				await ctx.system
					.run(hdiutil, ['detach', '-force', device], {
						name: `detach ${device} by force`,
						timeoutMs: DETACH_TIMEOUT_MS,
					})
					.catch((e: unknown) => {
						throw new AppError('TOOL_FAILED', `could not detach ${device}: ${describeFailure(e)}`, {
							cause: e,
						});
					});
				return;
			}
			if (busy) {
				throw new AppError(
					'VOLUME_BUSY',
					`${device} is still in use; close what uses it or unmount with --force`,
					{
						cause: error,
					},
				);
			}
			throw new AppError('TOOL_FAILED', `could not detach ${device}: ${describeFailure(error)}`, {
				cause: error,
			});
		}
	}
}

async function ejectWithDiskutil(
	ctx: DarwinContext,
	device: string,
	force: boolean,
	stillThere: () => Promise<boolean>,
): Promise<void> {
	const diskutil = toolPath(ctx, 'diskutil');
	let last: unknown;
	// diskutil's exit status does not say "busy": a disk that is still there after a failed
	// eject is taken as busy and retried.
	for (const wait of [0, ...BUSY_BACKOFF_MS]) {
		if (wait > 0) await ctx.system.sleep(wait);
		try {
			await ctx.system.run(diskutil, ['eject', device], {
				name: `eject ${device}`,
				timeoutMs: DETACH_TIMEOUT_MS,
			});
			return;
		} catch (error) {
			last = error;
			if (!(await stillThere())) return;
		}
	}
	if (force) {
		try {
			await ctx.system.run(diskutil, ['unmountDisk', 'force', device], {
				name: `unmount ${device} by force`,
				timeoutMs: DETACH_TIMEOUT_MS,
			});
			await ctx.system.run(diskutil, ['eject', device], {
				name: `eject ${device}`,
				timeoutMs: DETACH_TIMEOUT_MS,
			});
			return;
		} catch (error) {
			last = error;
		}
	}
	throw new AppError(
		'VOLUME_BUSY',
		`could not eject ${device}: ${describeFailure(last)}; close what uses it or unmount with --force`,
		{
			cause: last,
		},
	);
}

/**
 * Detaches any attached disk by force (crash clean-up, after proving it ours); never throws.
 * Returns whether it is gone.
 */
export async function forceDetach(ctx: DarwinContext, device: string): Promise<boolean> {
	const hdiutil = ctx.probe.toolPaths.get('hdiutil');
	const diskutil = ctx.probe.toolPaths.get('diskutil');
	const steps: [string | undefined, string[]][] = [
		[hdiutil, ['detach', '-force', device]],
		[diskutil, ['unmountDisk', 'force', device]],
		[diskutil, ['eject', device]],
	];
	for (const [program, args] of steps) {
		if (program === undefined) continue;
		try {
			await ctx.system.run(program, args, { name: `clean up ${device}`, timeoutMs: DETACH_TIMEOUT_MS });
			if (args[0] !== 'unmountDisk') return true;
		} catch {
			// Try the next way.
		}
	}
	return false;
}

/**
 * The devices to mount from an attached image, best first. APFS volumes live on a second,
 * synthesized disk: taken from the attach output when it lists them, else found through
 * `diskutil list` (the container whose physical store is ours). Otherwise the whole disk (a
 * bare filesystem, which is what a volume file holds) and then any slice macOS found in it.
 */
export async function volumeCandidates(
	ctx: DarwinContext,
	entities: readonly ImageEntity[],
): Promise<string[]> {
	const apfsVolumes = entities
		.filter(isApfsVolume)
		.map((e) => e.devEntry)
		.sort(compareDevices);
	if (apfsVolumes[0] !== undefined) return [apfsVolumes[0]];
	const container = entities.some(
		(e) => APFS_CONTAINER_HINTS.has(e.contentHint) || APFS_CONTAINER_HINTS.has(e.unmappedContentHint ?? ''),
	);
	if (container) {
		const volume = await synthesizedApfsVolume(ctx, new Set(entities.map((e) => bsdName(e.devEntry))));
		if (volume !== undefined) return [volume];
	}
	const disk = imageDiskOf(entities);
	const whole = entities.find((e) => e.devEntry === disk);
	const slices = entities
		.filter((e) => e.devEntry !== disk && wholeDiskOf(e.devEntry) === disk && e.potentiallyMountable === true)
		.map((e) => e.devEntry)
		.sort(compareDevices);
	if (whole?.potentiallyMountable === false && slices.length > 0) return slices;
	return [disk, ...slices];
}

/** The first volume of the APFS container stored on one of `stores`, once it has appeared. */
async function synthesizedApfsVolume(
	ctx: DarwinContext,
	stores: ReadonlySet<string>,
): Promise<string | undefined> {
	const diskutil = toolPath(ctx, 'diskutil');
	let volume: string | undefined;
	await waitFor(ctx, APFS_APPEAR_MS, async () => {
		const out = await ctx.system
			.run(diskutil, ['list', '-plist'], { name: 'list disks', timeoutMs: QUERY_TIMEOUT_MS })
			.catch(() => undefined);
		if (out === undefined) return false;
		const container = parseApfsContainers(out.stdout).find((c) =>
			c.physicalStores.some((s) => stores.has(s)),
		);
		const first = container?.volumes[0];
		if (first !== undefined) volume = `/dev/${first}`;
		return volume !== undefined;
	});
	return volume;
}
