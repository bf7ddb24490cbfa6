// SPDX-License-Identifier: MIT
/**
 * Mounts one volume (its export file) the way a Mac user expects: in /Volumes, visible in
 * Finder. Native types are attached as a raw disk image and mounted by the system's driver
 * (`diskutil mount`, which picks /Volumes/<label>); FUSE helpers run on the file itself with
 * the label as Finder's name and a free /Volumes/<name> as mountpoint (macFUSE makes the
 * folder and removes it again). The attempts of the plan are tried in order; the error names
 * each and why it failed. Unmounting is the reverse, detaching the image last.
 */
import type { MountAttempt } from '../../core/index.js';
import { AppError } from '../../shared/app-error.js';
import type { MountedVolumeHandle, MountHooks, VolumeTarget } from '../common/host.js';
import { ToolError } from '../common/tool-error.js';
import { describeProcesses, processesUsing } from './busy.js';
import {
	describeFailure,
	isMounted,
	QUERY_TIMEOUT_MS,
	readMounts,
	toolPath,
	waitFor,
	type DarwinContext,
} from './context.js';
import { attachImage, detachImage, volumeCandidates } from './disk-images.js';
import { DISK_IMAGE_HELPER } from './helper-table.js';
import { bsdName, parseDiskutilInfo, type DiskInfo } from './plist-output.js';

/** Timeout of a mount, in ms (the driver reads the volume through our FUSE export). */
const MOUNT_TIMEOUT_MS = 60_000;
/** Timeout of an unmount, in ms. */
const UNMOUNT_TIMEOUT_MS = 30_000;
/** How long a FUSE mount may take to show after its helper returned (macFUSE 5.3 returns early), in ms. */
const MOUNT_APPEAR_MS = 5_000;
/** How long an unmount may take to leave the mount table, in ms. */
const UNMOUNT_CONFIRM_MS = 5_000;
/** Where volumes appear. */
export const VOLUMES_DIR = '/Volumes';
/** Longest volume name passed to a FUSE helper (HFS+ names are at most 255 UTF-16 units; Finder truncates long ones). */
const MAX_VOLNAME_CHARS = 63;

/** Tries `attempts` in order. */
export async function mountWithAttempts(
	ctx: DarwinContext,
	attempts: readonly MountAttempt[],
	target: VolumeTarget,
	hooks: MountHooks = {},
): Promise<MountedVolumeHandle> {
	if (attempts.length === 0) throw new AppError('NO_HELPER', 'no helper to try');
	const failures: string[] = [];
	for (const attempt of attempts) {
		try {
			return attempt.helper === DISK_IMAGE_HELPER
				? await mountNative(ctx, attempt, target.rawPath, hooks)
				: await mountWithFuseHelper(ctx, attempt, target);
		} catch (error) {
			failures.push(`${attempt.label}: ${describeFailure(error)}`);
		}
	}
	throw new AppError('MOUNT_FAILED', `could not mount (tried ${failures.join('; ')})`);
}

/** Attach, then let the system's driver mount it where it likes (/Volumes/<label>). */
async function mountNative(
	ctx: DarwinContext,
	attempt: MountAttempt,
	rawPath: string,
	hooks: MountHooks,
): Promise<MountedVolumeHandle> {
	const readOnly = !attempt.options.includes('rw');
	const diskutil = toolPath(ctx, 'diskutil');
	const { device, entities } = await attachImage(ctx, rawPath, readOnly);
	hooks.onAttached?.(device);
	try {
		const failures: string[] = [];
		for (const dev of await volumeCandidates(ctx, entities)) {
			try {
				await ctx.system.run(diskutil, ['mount', ...(readOnly ? ['readOnly'] : []), dev], {
					name: `mount ${dev}`,
					timeoutMs: MOUNT_TIMEOUT_MS,
				});
			} catch (error) {
				failures.push(`${bsdName(dev)}: ${describeFailure(error)}`);
				continue;
			}
			// diskutil's own words are translated; the property list says where it went.
			const info = await diskInfo(ctx, dev);
			if (info.mountPoint === undefined) {
				failures.push(`${bsdName(dev)}: not mounted after diskutil mount`);
				continue;
			}
			if (!readOnly && info.writableVolume === false) {
				// The driver can only read this type (Apple's NTFS): give a writing helper its turn.
				await ctx.system
					.run(diskutil, ['unmount', 'force', info.mountPoint], {
						name: `unmount ${info.mountPoint}`,
						timeoutMs: UNMOUNT_TIMEOUT_MS,
					})
					.catch(() => undefined);
				failures.push(`the macOS ${info.filesystemType ?? ''} driver mounts it read-only`.replace('  ', ' '));
				break;
			}
			return {
				mountpoint: info.mountPoint,
				attempt: { ...attempt, label: `macOS ${info.filesystemType ?? 'native'} driver` },
				attachment: device,
				fuseHelper: false,
			};
		}
		throw new AppError('MOUNT_FAILED', failures.join('; ') || 'the attached image shows no volume');
	} catch (error) {
		await detachImage(ctx, device, { force: true }).catch(() => undefined);
		throw error;
	}
}

async function diskInfo(ctx: DarwinContext, dev: string): Promise<DiskInfo> {
	const out = await ctx.system.run(toolPath(ctx, 'diskutil'), ['info', '-plist', dev], {
		name: `describe ${dev}`,
		timeoutMs: QUERY_TIMEOUT_MS,
	});
	return parseDiskutilInfo(out.stdout);
}

/** A label made safe as a FUSE `volname=` value (no option separators) and as a folder name. */
export function safeVolumeName(label: string): string {
	const cleaned = [...label.normalize('NFC')]
		.map((ch) =>
			(ch.codePointAt(0) ?? 0) < 0x20 || ch === '\u007f' || ch === '/' || ch === ',' || ch === '\\'
				? '_'
				: ch,
		)
		.join('')
		.trim()
		.replace(/^\.+/, '')
		.trim();
	return [...cleaned].slice(0, MAX_VOLNAME_CHARS).join('') || 'Untitled';
}

/** `/Volumes/<name>`, or `<name> 1`, `<name> 2` … as macOS numbers duplicates. */
async function freeVolumePath(ctx: DarwinContext, name: string): Promise<string> {
	const taken = new Set((await readMounts(ctx)).map((m) => m.mountPoint));
	for (let i = 0; i < 100; i++) {
		const path = `${VOLUMES_DIR}/${i === 0 ? name : `${name} ${i}`}`;
		if (!taken.has(path) && !(await ctx.system.exists(path))) return path;
	}
	throw new AppError('MOUNT_FAILED', `no free folder for ${name} in ${VOLUMES_DIR}`);
}

/** The helper's command line (docs/macos.md, "FUSE helpers"). */
export function fuseHelperArgs(
	attempt: MountAttempt,
	rawPath: string,
	mountpoint: string,
	volname: string,
): string[] {
	const options = [...attempt.options];
	switch (attempt.helper) {
		case 'fuse-ext2':
			// It adds `local` and names the volume after the ext label itself (macFUSE builds).
			return [rawPath, mountpoint, '-o', options.join(',')];
		case 'ext4fuse':
			// fsname names the mount after the file, which crash clean-up looks for.
			options.push(`volname=${volname}`);
			if (!/[,\\]/.test(rawPath)) options.push(`fsname=${rawPath}`);
			return [rawPath, mountpoint, '-o', options.join(',')];
		default:
			// ntfs-3g names the mount after the file itself.
			options.push(`volname=${volname}`);
			return ['-o', options.join(','), rawPath, mountpoint];
	}
}

async function mountWithFuseHelper(
	ctx: DarwinContext,
	attempt: MountAttempt,
	target: VolumeTarget,
): Promise<MountedVolumeHandle> {
	const program = toolPath(ctx, attempt.helper);
	const volname = safeVolumeName(target.volumeName);
	const mountpoint = target.mountpoint ?? (await freeVolumePath(ctx, volname));
	const args = fuseHelperArgs(attempt, target.rawPath, mountpoint, volname);
	await ctx.system.run(program, args, {
		name: attempt.label,
		timeoutMs: MOUNT_TIMEOUT_MS,
		ignoreStdout: true,
		closeInheritedFds: true,
	});
	if (!(await waitFor(ctx, MOUNT_APPEAR_MS, () => isMounted(ctx, mountpoint)))) {
		throw new ToolError({
			tool: program,
			args,
			exitCode: 0,
			stderr: 'exited without mounting',
			timedOut: false,
		});
	}
	return { mountpoint, attempt, fuseHelper: true };
}

/**
 * Unmounts a volume (`diskutil unmount`, which Finder's eject also uses) and detaches its
 * image. A busy volume is refused with the processes holding it unless `force`.
 */
export async function unmountVolume(
	ctx: DarwinContext,
	volume: { readonly mountpoint: string; readonly attachment?: string | undefined },
	options: { readonly force: boolean },
): Promise<void> {
	const mp = volume.mountpoint;
	if (await isMounted(ctx, mp)) {
		const diskutil = toolPath(ctx, 'diskutil');
		try {
			await ctx.system.run(diskutil, ['unmount', ...(options.force ? ['force'] : []), mp], {
				name: `unmount ${mp}`,
				timeoutMs: UNMOUNT_TIMEOUT_MS,
			});
		} catch (error) {
			if (await isMounted(ctx, mp)) {
				if (!options.force) {
					const holders = await processesUsing(ctx.system, ctx.probe.toolPaths.get('lsof'), mp);
					const who = holders.length > 0 ? `: in use by ${describeProcesses(holders)}` : '';
					throw new AppError('VOLUME_BUSY', `${mp} is busy${who}; close it or unmount with --force`, {
						cause: error,
					});
				}
				await ctx.system
					.run(toolPath(ctx, 'umount'), ['-f', mp], {
						name: `unmount ${mp} by force`,
						timeoutMs: UNMOUNT_TIMEOUT_MS,
					})
					.catch((e: unknown) => {
						throw new AppError('TOOL_FAILED', `could not unmount ${mp}: ${describeFailure(e)}`, { cause: e });
					});
			}
		}
		if (!(await waitFor(ctx, UNMOUNT_CONFIRM_MS, async () => !(await isMounted(ctx, mp))))) {
			throw new AppError('TOOL_FAILED', `${mp} is still mounted after unmounting it`);
		}
	}
	if (volume.attachment !== undefined) await detachImage(ctx, volume.attachment, options);
}

/** Unmounts whatever is at `mountpoint` by force (crash clean-up); never throws. */
export async function forceUnmount(ctx: DarwinContext, mountpoint: string): Promise<boolean> {
	const steps: [string | undefined, string[]][] = [
		[ctx.probe.toolPaths.get('diskutil'), ['unmount', 'force', mountpoint]],
		[ctx.probe.toolPaths.get('umount'), ['-f', mountpoint]],
	];
	for (const [program, args] of steps) {
		if (program === undefined) continue;
		try {
			await ctx.system.run(program, args, { name: `clean up ${mountpoint}`, timeoutMs: UNMOUNT_TIMEOUT_MS });
			return true;
		} catch {
			// Try the next way.
		}
	}
	return !(await isMounted(ctx, mountpoint).catch(() => true));
}
