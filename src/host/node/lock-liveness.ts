// SPDX-License-Identifier: MIT
/**
 * Is a VMware lock stale? VMware's own rule (Workstation docs, "Using Lock Files"): a lock is
 * stale when it was created on this host and the process that created it is gone. Core reads
 * the lock files (`src/core/vmx/lock-info.ts`); only the host can ask about processes.
 *
 * Caveat, stated in lock-info.ts too: genuine VMware locks record a machine id (`uuid=…` or a
 * base64 hash), not the host name, so they never match `os.hostname()` here and are never
 * called stale — the safe answer for a tool that must not write to a disk a running VM owns.
 */
import { hostname } from 'node:os';
import type { LockState } from '../../core/index.js';

/** What "here" is: this host's name and a way to ask whether a process exists. */
export interface LockHost {
	/** The host name compared with each lock holder's host. */
	readonly hostname: string;
	/** True if process `pid` exists on this host. */
	readonly isPidAlive: (pid: number) => boolean;
}

/**
 * True if process `pid` exists. `kill(pid, 0)` sends nothing; EPERM means it exists but belongs
 * to someone else. Non-positive or non-integer pids are never probed (0 and negative numbers
 * address process groups) and count as alive, so they never make a lock stale.
 */
export function isPidAlive(pid: number): boolean {
	if (!Number.isSafeInteger(pid) || pid <= 0) return true;
	try {
		process.kill(pid, 0);
		return true;
	} catch (error) {
		return (error as NodeJS.ErrnoException).code === 'EPERM';
	}
}

/** The current host. */
function currentLockHost(): LockHost {
	return { hostname: hostname(), isPidAlive };
}

/**
 * True when `lock` is held and every holder is a process of this host that no longer exists.
 * A lock whose holders cannot be read, or any holder on another host, is not stale.
 */
export function isLockStale(lock: LockState, here: LockHost = currentLockHost()): boolean {
	if (!lock.locked || lock.members.length === 0) return false;
	const host = here.hostname.toLowerCase();
	return lock.members.every(
		(m) =>
			m.host !== undefined && m.host.toLowerCase() === host && m.pid !== undefined && !here.isPidAlive(m.pid),
	);
}
