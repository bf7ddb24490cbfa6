// SPDX-License-Identifier: MIT
/** Opening the disk a command was given, with the checks every command shares. */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { VmdkError, isVmdkError, openDisk, type VirtualDisk } from '../core/index.js';
import { nodePlatform } from '../host/index.js';
import { AppError } from '../shared/app-error.js';

/** Options common to commands that open a disk. */
export interface OpenInputOptions {
	/** `--ignore-cid`: open a snapshot whose parent's CID does not match (warns instead). */
	readonly ignoreCid: boolean;
}

/**
 * Opens the disk at `path` (resolved against the working directory). A path that does not
 * exist is `INPUT_NOT_FOUND` here, so the user is not told about a missing "extent".
 */
export async function openInputDisk(path: string, options: OpenInputOptions): Promise<VirtualDisk> {
	const absolute = resolve(path);
	try {
		if ((await stat(absolute)).isDirectory()) {
			throw new VmdkError('VMDK_NOT_VMDK', 'is a folder; give the path of a .vmdk file', { file: absolute });
		}
	} catch (cause) {
		if (isVmdkError(cause)) throw cause;
		const code = (cause as NodeJS.ErrnoException | undefined)?.code;
		if (code === 'ENOENT' || code === 'ENOTDIR') {
			throw new AppError('INPUT_NOT_FOUND', `${absolute}: no such file or folder`, { cause });
		}
		throw new VmdkError(
			'VMDK_IO',
			cause instanceof Error ? cause.message : String(cause),
			{ file: absolute },
			{ cause },
		);
	}
	return openDisk(absolute, nodePlatform, { ignoreCid: options.ignoreCid });
}

/** Runs `work` with the disk open and always closes it. */
export async function withInputDisk<T>(
	path: string,
	options: OpenInputOptions,
	work: (disk: VirtualDisk) => Promise<T>,
): Promise<T> {
	const disk = await openInputDisk(path, options);
	try {
		return await work(disk);
	} finally {
		await disk.close();
	}
}
