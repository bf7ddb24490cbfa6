// SPDX-License-Identifier: MIT
/**
 * Folders we trust, and the checks behind that trust. The runtime folder (control socket, FUSE
 * exports) and the state folder (registry, overlays, log) hold things another local user must
 * not replace: a socket bound by them would receive our requests, a registry written by them
 * would steer crash recovery. So each is made mode 0700 and, when it already exists, must be
 * owned by us and not writable by anyone else — a folder we own with a loose mode is repaired,
 * anything else is refused with the folder and the fix named. Its ancestors must not let
 * another user rename it away either (owned by us or root, and world-writable only with the
 * sticky bit, like /tmp).
 *
 * Files inside (socket, pid and lock files) are checked with {@link assertOwnedByUs} before
 * they are believed.
 */
/* eslint-disable no-bitwise -- mode bits */
import { lstat, mkdir, chmod, realpath, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AppError } from '../../shared/app-error.js';

/** The sticky bit: only an entry's owner may rename or delete it. */
const STICKY = 0o1000;

/** Our uid, or undefined where there are no uids (not a POSIX system). */
function ourUid(): number | undefined {
	return process.getuid?.();
}

/**
 * Makes sure `path` is a folder only we control (created with `mode` when missing) and returns
 * its real path. `mode` is 0700 for private folders, 0755 for the mount root (others may look,
 * not write).
 */
export async function ensureOwnedDir(path: string, mode: number, what: string): Promise<string> {
	await mkdir(path, { recursive: true, mode });
	const real = await realpath(path);
	const st = await stat(real);
	const uid = ourUid();
	if (!st.isDirectory()) throw unsafe(path, what, 'is not a folder', 'remove it');
	if (uid !== undefined && st.uid !== uid) {
		throw unsafe(
			path,
			what,
			`belongs to uid ${st.uid}, not to you (uid ${uid})`,
			'remove it (as its owner or root)',
		);
	}
	if ((st.mode & 0o777 & ~mode) !== 0) {
		// Ours, but looser than we want (e.g. 0777): tighten it rather than refuse.
		await chmod(real, mode);
	}
	await assertAncestorsSafe(real, path, what);
	return real;
}

/** Refuses when an ancestor of `real` lets another user rename or replace what is below it. */
async function assertAncestorsSafe(real: string, given: string, what: string): Promise<void> {
	const uid = ourUid();
	if (uid === undefined) return;
	for (let dir = dirname(real); ; dir = dirname(dir)) {
		const st = await stat(dir);
		const foreign = st.uid !== uid && st.uid !== 0;
		const openToAll = (st.mode & 0o002) !== 0 && (st.mode & STICKY) === 0;
		if (foreign || openToAll) {
			throw unsafe(
				given,
				what,
				`sits in ${dir}, which ${foreign ? `belongs to uid ${st.uid}` : 'anyone may write to'}`,
				'choose a folder inside your home or your runtime folder',
			);
		}
		if (dir === '/' || dirname(dir) === dir) return;
	}
}

/**
 * Refuses a file we are about to believe (control socket, pid or lock file) unless it is ours.
 * `kind` is what it must be. A missing file resolves with false.
 */
export async function assertOwnedByUs(path: string, kind: 'socket' | 'file'): Promise<boolean> {
	let st;
	try {
		st = await lstat(path);
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
		throw error;
	}
	const uid = ourUid();
	const rightKind = kind === 'socket' ? st.isSocket() : st.isFile();
	if (!rightKind || (uid !== undefined && st.uid !== uid)) {
		throw new AppError(
			'DAEMON_UNTRUSTED',
			`${path} is ${rightKind ? `owned by uid ${st.uid}, not by you (uid ${String(uid)})` : `not a ${kind}`}; ` +
				'nothing was sent to it. Remove it (as its owner or root) and try again',
		);
	}
	return true;
}

function unsafe(path: string, what: string, problem: string, fix: string): AppError {
	return new AppError(
		'UNSAFE_FOLDER',
		`the ${what} ${path} ${problem}: it is not used. Fix: ${fix}, or point the app at another folder (see \`vmdk-mounter doctor\`)`,
	);
}
