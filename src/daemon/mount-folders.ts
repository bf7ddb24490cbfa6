// SPDX-License-Identifier: MIT
/**
 * The folders volumes are mounted on, where the daemon chooses them:
 * `<mount root>/<disk name>/<volume label or name>`, names made safe and unique (` (2)`, …).
 * Each folder is recorded before it is made, so that a crash in between leaves nothing that
 * crash recovery does not know; they are removed with rmdir (never recursively).
 */
import { mkdir } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { AppError } from '../shared/app-error.js';

/** Longest folder name we create, in characters. */
const MAX_NAME_CHARS = 80;
/** Most " (n)" suffixes tried to make a folder name unique. */
const MAX_UNIQUE_TRIES = 100;

/** Turns a label into a safe folder name ("" when nothing is left). */
export function safeFolderName(name: string): string {
	let out = '';
	for (const ch of name.normalize('NFC')) {
		const code = ch.codePointAt(0) ?? 0;
		out += code < 0x20 || code === 0x7f || ch === '/' || ch === '\\' ? '_' : ch;
	}
	out = out.trim().replace(/^\.+/, '').trim();
	return [...out].slice(0, MAX_NAME_CHARS).join('');
}

/** The folder name of a disk: its file name without the extension, made safe (else `fallback`). */
export function diskFolderName(diskPath: string, fallback: string): string {
	return safeFolderName(basename(diskPath, extname(diskPath))) || fallback;
}

/** The folders of one disk's mountpoints: `<root>/<disk>/<volume>`, made on first use. */
export class MountFolders {
	private diskDir: string | undefined;
	private readonly root: string;
	private readonly diskName: string;

	/** `diskDir`: the disk's folder when it exists already (a volume mounted later). */
	constructor(root: string, diskName: string, diskDir?: string) {
		this.root = root;
		this.diskName = diskName;
		this.diskDir = diskDir;
	}

	/**
	 * Makes a unique folder for a volume. `record` is called with the folders about to be made
	 * before each is made, so a crash in between leaves nothing unrecorded.
	 */
	async make(
		volumeName: string,
		record: (dirs: readonly string[]) => Promise<void>,
	): Promise<{ mountpoint: string; createdDirs: readonly string[] }> {
		if (this.diskDir === undefined) {
			this.diskDir = await makeUniqueDir(this.root, this.diskName, (p) => record([p]));
		}
		const diskDir = this.diskDir;
		const mountpoint = await makeUniqueDir(diskDir, volumeName, (p) => record([p, diskDir]));
		// The disk folder is removed after the last of its volumes (rmdir fails while others remain).
		return { mountpoint, createdDirs: [mountpoint, diskDir] };
	}
}

/** Creates `<parent>/<name>`, or `<name> (2)` … if taken; returns its path. */
async function makeUniqueDir(
	parent: string,
	name: string,
	before: (path: string) => Promise<void>,
): Promise<string> {
	for (let i = 1; i <= MAX_UNIQUE_TRIES; i++) {
		const path = join(parent, i === 1 ? name : `${name} (${i})`);
		await before(path);
		try {
			await mkdir(path, { mode: 0o755 });
			return path;
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
		}
	}
	throw new AppError('INTERNAL', `could not make a unique folder for ${name} in ${parent}`);
}
