// SPDX-License-Identifier: MIT
/**
 * User settings (`settings.json` in the config dir). Only two keys matter to mounting:
 *
 * ```json
 * { "mountRoot": "/home/me/VMDK Mounts", "unknownFilesystemOrder": ["ntfs", "msdos", "ntfs-3g", "hfs", "ext2", "ext3"] }
 * ```
 *
 * A missing file means defaults; an unreadable or invalid one is reported, never guessed at.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';

/** Largest settings file read, in bytes. */
const MAX_SETTINGS_BYTES = 64 * 1024;

const settingsSchema = z
	.object({
		mountRoot: z.string().min(1).optional(),
		unknownFilesystemOrder: z.array(z.string().min(1)).max(32).optional(),
	})
	.passthrough();

/** The settings the mount code reads. */
export interface MountSettings {
	/** Folder under which mountpoints are made. */
	readonly mountRoot?: string | undefined;
	/** Trial order for volumes whose type is unknown (legacy names or helper ids). */
	readonly unknownFilesystemOrder?: readonly string[] | undefined;
}

/** Reads settings; a missing file gives `{}`. Throws with the path when the file is invalid. */
export async function readSettings(path: string): Promise<MountSettings> {
	let text: string;
	try {
		const bytes = await readFile(path);
		if (bytes.length > MAX_SETTINGS_BYTES)
			throw new Error(`${path}: settings file is over ${MAX_SETTINGS_BYTES} bytes`);
		text = bytes.toString('utf8');
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
		throw error;
	}
	let json: unknown;
	try {
		json = JSON.parse(text);
	} catch (cause) {
		throw new Error(`${path}: settings are not valid JSON`, { cause });
	}
	const parsed = settingsSchema.safeParse(json);
	if (!parsed.success) throw new Error(`${path}: invalid settings: ${parsed.error.issues[0]?.message ?? ''}`);
	return parsed.data;
}
