// SPDX-License-Identifier: MIT
/**
 * User settings (`settings.json` in the config dir). Only two keys matter to mounting:
 *
 * ```json
 * { "mountRoot": "/home/me/VMDK Mounts", "unknownFilesystemOrder": ["ntfs", "msdos", "ntfs-3g", "hfs", "ext2", "ext3"] }
 * ```
 *
 * A missing file means defaults; an unreadable or invalid one is reported (`SETTINGS_INVALID`,
 * naming the file and the field), never guessed at. Paths must be absolute: a relative one
 * would resolve against whichever shell happened to start the daemon.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import type { z } from 'zod';
import { AppError } from '../../shared/app-error.js';

/** Largest settings file read, in bytes. */
const MAX_SETTINGS_BYTES = 64 * 1024;

/** The schema, built on first use: zod takes ~70 ms to import, which `info` should not pay. */
let schema: Promise<z.ZodType<MountSettings>> | undefined;
function settingsSchema(): Promise<z.ZodType<MountSettings>> {
	schema ??= import('zod').then(({ z }) =>
		z
			.object({
				mountRoot: z
					.string()
					.min(1)
					.max(4096)
					.refine((p) => isAbsolute(p), { message: 'must be an absolute path (it starts with /)' })
					.optional(),
				unknownFilesystemOrder: z.array(z.string().min(1)).max(32).optional(),
			})
			.passthrough(),
	);
	return schema;
}

/** The settings the mount code reads. */
export interface MountSettings {
	/** Folder under which mountpoints are made. */
	readonly mountRoot?: string | undefined;
	/** Trial order for volumes whose type is unknown (legacy names or helper ids). */
	readonly unknownFilesystemOrder?: readonly string[] | undefined;
}

/** Reads settings; a missing file gives `{}`. Throws `SETTINGS_INVALID` naming the file and field. */
export async function readSettings(path: string): Promise<MountSettings> {
	let text: string;
	try {
		const bytes = await readFile(path);
		if (bytes.length > MAX_SETTINGS_BYTES)
			throw invalid(path, `the file is over ${MAX_SETTINGS_BYTES} bytes`);
		text = bytes.toString('utf8');
	} catch (error) {
		if (error instanceof AppError) throw error;
		const code = (error as NodeJS.ErrnoException).code;
		if (code === 'ENOENT') return {};
		throw invalid(
			path,
			code === 'EISDIR' ? 'it is a folder, not a file' : `cannot be read (${String(code ?? error)})`,
		);
	}
	let json: unknown;
	try {
		json = JSON.parse(text);
	} catch (cause) {
		throw invalid(path, `not valid JSON (${cause instanceof Error ? cause.message : String(cause)})`);
	}
	const parsed = (await settingsSchema()).safeParse(json);
	if (!parsed.success) {
		const issue = parsed.error.issues[0];
		const field = issue === undefined || issue.path.length === 0 ? 'the file' : `"${issue.path.join('.')}"`;
		throw invalid(path, `${field}: ${issue?.message ?? 'invalid'}`);
	}
	return parsed.data;
}

function invalid(path: string, what: string): AppError {
	return new AppError('SETTINGS_INVALID', `${path}: ${what}`);
}
