// SPDX-License-Identifier: MIT
/**
 * Mounts one volume file (served by the daemon's FUSE export) with the helpers a plan lists,
 * in order; unmounts it again. A helper that fails gives the next its turn; the final error
 * names each helper tried and its stderr line. Everything runs as child processes, so the
 * daemon's event loop stays free to serve the FUSE reads those children make.
 */
import type { MountAttempt } from '../../core/index.js';
import { MountError } from '../common/mount-error.js';
import { ToolError } from '../common/tool-error.js';
import { runTool } from '../node/run-tool.js';
import { describeProcesses, processesUsing } from './busy.js';
import type { LinuxHost } from './capabilities.js';
import { attachLoop, detachLoop } from './loop.js';
import { isMounted } from './mountinfo.js';

/** Timeout for a helper to mount, in ms (it reads superblocks through our FUSE file). */
const MOUNT_TIMEOUT_MS = 60_000;
/** Timeout for an unmount, in ms. */
const UNMOUNT_TIMEOUT_MS = 30_000;

/** What was mounted and how to undo it. */
export interface MountedVolumeHandle {
	readonly mountpoint: string;
	/** The attempt that worked (its `label` is what lists show). */
	readonly attempt: MountAttempt;
	/** The loop device of a kernel mount. */
	readonly loopDevice?: string | undefined;
}

/** Tries `attempts` in order on `rawPath` at `mountpoint` (an existing empty folder). */
export async function mountWithAttempts(
	host: LinuxHost,
	attempts: readonly MountAttempt[],
	rawPath: string,
	mountpoint: string,
	onLoop?: (device: string) => void,
): Promise<MountedVolumeHandle> {
	const failures: string[] = [];
	for (const attempt of attempts) {
		try {
			return await mountOne(host, attempt, rawPath, mountpoint, onLoop);
		} catch (error) {
			failures.push(
				`${attempt.label}: ${error instanceof ToolError ? error.summary : String(error)}${setuidHint(host, attempt)}`,
			);
		}
	}
	throw new MountError(
		attempts.length === 0 ? 'NO_HELPER' : 'MOUNT_FAILED',
		attempts.length === 0 ? 'no helper to try' : `could not mount (tried ${failures.join('; ')})`,
	);
}

/**
 * Debian's ntfs-3g is setuid root; as such it may not read a user's own FUSE export unless the
 * export has allow_other, which a user may only ask for when fuse.conf allows it.
 */
function setuidHint(host: LinuxHost, attempt: MountAttempt): string {
	const root = typeof process.getuid === 'function' && process.getuid() === 0;
	if (attempt.helper !== 'ntfs-3g' || root || host.userAllowOther) return '';
	return ' — as a user, ntfs-3g needs `user_allow_other` in /etc/fuse.conf';
}

function tool(host: LinuxHost, id: string): string {
	const path = host.toolPaths.get(id);
	if (path === undefined) throw new MountError('NO_HELPER', `${id} is not installed`);
	return path;
}

async function mountOne(
	host: LinuxHost,
	attempt: MountAttempt,
	rawPath: string,
	mountpoint: string,
	onLoop?: (device: string) => void,
): Promise<MountedVolumeHandle> {
	const opts = attempt.options.join(',');
	if (attempt.helper === 'kernel') {
		const losetup = tool(host, 'losetup');
		const device = await attachLoop(losetup, rawPath, { readOnly: attempt.options.includes('ro') });
		onLoop?.(device);
		try {
			await runTool(tool(host, 'mount'), ['-t', attempt.fsType, '-o', opts, device, mountpoint], {
				name: attempt.label,
				timeoutMs: MOUNT_TIMEOUT_MS,
			});
		} catch (error) {
			await detachLoop(losetup, device).catch(() => undefined);
			throw error;
		}
		return { mountpoint, attempt, loopDevice: device };
	}
	const program = tool(host, attempt.helper);
	let device: string | undefined;
	if (attempt.viaLoop === true) {
		device = await attachLoop(tool(host, 'losetup'), rawPath, { readOnly: attempt.options.includes('ro') });
		onLoop?.(device);
	}
	const source = device ?? rawPath;
	const args =
		attempt.helper === 'fuse2fs' ? [source, mountpoint, '-o', opts] : ['-o', opts, source, mountpoint];
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
	return { mountpoint, attempt, loopDevice: device };
}

/**
 * Unmounts a volume. A busy volume is refused with the processes that hold it, unless
 * `force`, which detaches it lazily. Loop devices are detached afterwards.
 */
export async function unmountVolume(
	host: LinuxHost,
	mountpoint: string,
	options: { force: boolean; loopDevice?: string | undefined; fuse: boolean },
): Promise<void> {
	if (await isMounted(mountpoint)) {
		const useFusermount = options.fuse && !host.isRoot && host.toolPaths.has('fusermount3');
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
				throw new MountError('VOLUME_BUSY', `${mountpoint} is busy${who}; close it or unmount with --force`, {
					cause: error,
				});
			}
			throw new MountError('TOOL_FAILED', `could not unmount ${mountpoint}: ${String(error)}`, {
				cause: error,
			});
		}
	}
	if (options.loopDevice !== undefined) await detachLoop(tool(host, 'losetup'), options.loopDevice);
}

/** Lazily unmounts whatever is at `mountpoint` (crash clean-up); never throws. */
export async function forceUnmount(host: LinuxHost, mountpoint: string): Promise<boolean> {
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
