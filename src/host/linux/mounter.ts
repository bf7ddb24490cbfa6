// SPDX-License-Identifier: MIT
/**
 * Mounts one volume file (served by the daemon's FUSE export) with the helpers a plan lists,
 * in order; unmounts it again. A helper that fails gives the next its turn; the final error
 * names each helper tried and why it failed — for kernel mounts, the kernel's own reason from
 * its log when we can read it. Everything runs as child processes, so the daemon's event loop
 * stays free to serve the FUSE reads those children make.
 */
import type { MountAttempt } from '../../core/index.js';
import { AppError } from '../../shared/app-error.js';
import type { MountedVolumeHandle, MountHooks } from '../common/host.js';
import { ToolError } from '../common/tool-error.js';
import { runTool } from '../node/run-tool.js';
import { describeProcesses, processesUsing } from './busy.js';
import type { LinuxProbe } from './capabilities.js';
import { kernelMessagesSince, kernelUptimeSeconds } from './kernel-log.js';
import { attachLoop, detachLoop } from './loop.js';
import { isMounted } from './mountinfo.js';

/** Timeout for a helper to mount, in ms (it reads superblocks through our FUSE file). */
const MOUNT_TIMEOUT_MS = 60_000;
/** Timeout for an unmount, in ms. */
const UNMOUNT_TIMEOUT_MS = 30_000;
/** How long an unmount may take to leave the mount table, in ms (FUSE daemons exit lazily). */
const UNMOUNT_CONFIRM_MS = 5_000;

/** Tries `attempts` in order on `rawPath` at `mountpoint` (an existing empty folder). */
export async function mountWithAttempts(
	host: LinuxProbe,
	attempts: readonly MountAttempt[],
	rawPath: string,
	mountpoint: string,
	hooks: MountHooks = {},
): Promise<MountedVolumeHandle> {
	const failures: string[] = [];
	for (const attempt of attempts) {
		try {
			return await mountOne(host, attempt, rawPath, mountpoint, hooks);
		} catch (error) {
			failures.push(`${attempt.label}: ${describeFailure(error)}${setuidHint(host, attempt)}`);
		}
	}
	if (attempts.length === 0) throw new AppError('NO_HELPER', 'no helper to try');
	throw new AppError('MOUNT_FAILED', `could not mount (tried ${failures.join('; ')})`);
}

function describeFailure(error: unknown): string {
	if (error instanceof ToolError) return error.summary;
	return error instanceof Error ? error.message : String(error);
}

/**
 * Debian's ntfs-3g is setuid root; as such it may not read a user's own FUSE export unless the
 * export has allow_other, which a user may only ask for when fuse.conf allows it.
 */
function setuidHint(host: LinuxProbe, attempt: MountAttempt): string {
	const root = process.getuid?.() === 0;
	if (attempt.helper !== 'ntfs-3g' || root || host.userAllowOther) return '';
	return ' — as a user, ntfs-3g needs `user_allow_other` in /etc/fuse.conf';
}

function tool(host: LinuxProbe, id: string): string {
	const path = host.toolPaths.get(id);
	if (path === undefined) throw new AppError('NO_HELPER', `${id} is not installed`);
	return path;
}

async function mountOne(
	host: LinuxProbe,
	attempt: MountAttempt,
	rawPath: string,
	mountpoint: string,
	hooks: MountHooks,
): Promise<MountedVolumeHandle> {
	const opts = attempt.options.join(',');
	if (attempt.helper === 'kernel') {
		const losetup = tool(host, 'losetup');
		const device = await attachLoop(losetup, rawPath, { readOnly: attempt.options.includes('ro') });
		hooks.onAttached?.(device);
		const since = await kernelUptimeSeconds();
		try {
			await runTool(tool(host, 'mount'), ['-t', attempt.fsType, '-o', opts, device, mountpoint], {
				name: attempt.label,
				timeoutMs: MOUNT_TIMEOUT_MS,
			});
		} catch (error) {
			await detachLoop(losetup, device).catch(() => undefined);
			// mount(8) only says "wrong fs type, bad superblock…"; the kernel says what was wrong.
			const reason = await kernelMessagesSince(since, device).catch(() => []);
			if (reason.length > 0) throw new Error(reason.join('; '), { cause: error });
			throw error;
		}
		return { mountpoint, attempt, attachment: device, fuseHelper: false };
	}
	const program = tool(host, attempt.helper);
	let device: string | undefined;
	if (attempt.viaLoop === true) {
		device = await attachLoop(tool(host, 'losetup'), rawPath, { readOnly: attempt.options.includes('ro') });
		hooks.onAttached?.(device);
	}
	const source = device ?? rawPath;
	const args = helperArgs(attempt, source, mountpoint);
	try {
		await runTool(program, args, {
			name: attempt.label,
			timeoutMs: MOUNT_TIMEOUT_MS,
			ignoreStdout: true,
			closeInheritedFds: true,
		});
		// Some helpers exit 0 without mounting when the volume is not theirs: check.
		if (!(await isMounted(mountpoint))) {
			throw new ToolError({
				tool: program,
				args,
				exitCode: 0,
				stderr: 'exited without mounting',
				timedOut: false,
			});
		}
	} catch (error) {
		if (device !== undefined) await detachLoop(tool(host, 'losetup'), device).catch(() => undefined);
		throw error;
	}
	return { mountpoint, attempt, attachment: device, fuseHelper: true };
}

/** The helper's command line. Each names its mount after the file it reads, so crash recovery can prove the mount ours. */
function helperArgs(attempt: MountAttempt, source: string, mountpoint: string): string[] {
	const options = [...attempt.options];
	// fusefat shows "fusefat" as its source unless told; fuse2fs and ntfs-3g show the file.
	if (attempt.helper === 'fusefat' && !/[,\\]/.test(source)) options.push(`fsname=${source}`);
	const opts = options.join(',');
	return attempt.helper === 'fuse2fs' ? [source, mountpoint, '-o', opts] : ['-o', opts, source, mountpoint];
}

/**
 * Unmounts a volume. A busy volume is refused with the processes that hold it, unless
 * `force`, which detaches it lazily. Resolves once the mount table no longer shows it; its
 * loop device is detached afterwards.
 */
export async function unmountVolume(
	host: LinuxProbe,
	mountpoint: string,
	options: { force: boolean; loopDevice?: string | undefined; fuse: boolean },
): Promise<void> {
	if (await isMounted(mountpoint)) {
		const useFusermount = options.fuse && process.getuid?.() !== 0 && host.toolPaths.has('fusermount3');
		const program = useFusermount ? tool(host, 'fusermount3') : tool(host, 'umount');
		const args = useFusermount
			? [options.force ? '-uz' : '-u', mountpoint]
			: options.force
				? ['-l', mountpoint]
				: [mountpoint];
		try {
			await runTool(program, args, { name: `unmount ${mountpoint}`, timeoutMs: UNMOUNT_TIMEOUT_MS });
		} catch (error) {
			if (error instanceof ToolError && /busy/i.test(error.stderr)) {
				const holders = await processesUsing(mountpoint);
				const who = holders.length > 0 ? `: in use by ${describeProcesses(holders)}` : '';
				throw new AppError('VOLUME_BUSY', `${mountpoint} is busy${who}; close it or unmount with --force`, {
					cause: error,
				});
			}
			throw new AppError('TOOL_FAILED', `could not unmount ${mountpoint}: ${describeFailure(error)}`, {
				cause: error,
			});
		}
		await confirmUnmounted(mountpoint);
	}
	if (options.loopDevice !== undefined) await detachLoop(tool(host, 'losetup'), options.loopDevice);
}

/** Waits until `mountpoint` has left the mount table; a tool's success alone is not proof. */
async function confirmUnmounted(mountpoint: string): Promise<void> {
	const deadline = Date.now() + UNMOUNT_CONFIRM_MS;
	while (await isMounted(mountpoint)) {
		if (Date.now() > deadline) {
			throw new AppError('TOOL_FAILED', `${mountpoint} is still mounted after unmounting it`);
		}
		await new Promise((r) => setTimeout(r, 50));
	}
}

/** Lazily unmounts whatever is at `mountpoint` (crash clean-up); never throws. */
export async function forceUnmount(host: LinuxProbe, mountpoint: string): Promise<boolean> {
	if (!(await isMounted(mountpoint).catch(() => false))) return false;
	const umount = host.toolPaths.get('umount');
	const fusermount = host.toolPaths.get('fusermount3');
	for (const [program, args] of [
		[fusermount, ['-uz', mountpoint]],
		[umount, ['-l', mountpoint]],
	] as const) {
		if (program === undefined) continue;
		try {
			await runTool(program, args, { name: `clean up ${mountpoint}`, timeoutMs: UNMOUNT_TIMEOUT_MS });
			return true;
		} catch {
			// Try the next way.
		}
	}
	return !(await isMounted(mountpoint).catch(() => true));
}
