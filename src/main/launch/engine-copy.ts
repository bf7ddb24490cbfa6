// SPDX-License-Identifier: MIT
/**
 * The daemon outlives the app, so it must not run from a place that disappears when the app
 * quits: an AppImage's own mount (unmounted when the app exits), a disk image the app was
 * started from (`/Volumes/…`, ejected later), or a Gatekeeper App Translocation mount (a
 * read-only copy macOS removes after the app quits). From there, main first copies the engine
 * (`Resources/engine`) to a per-version folder in the user's cache and starts the daemon from
 * the copy (`app.getPath('userData')/engine/<version>`). Tested for real on temporary folders.
 */
import { cp, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Why the engine must be copied before the daemon starts, or undefined when it need not be. */
export function transientLocation(
	resourcesPath: string,
	env: Readonly<Record<string, string | undefined>>,
): string | undefined {
	if (env.APPIMAGE !== undefined && env.APPIMAGE !== '') return 'the app runs from an AppImage';
	if (resourcesPath.includes('/AppTranslocation/')) return 'macOS runs the app from a translocated copy';
	if (resourcesPath.startsWith('/Volumes/')) return 'the app runs from a disk image or external volume';
	return undefined;
}

/**
 * The folder a version's engine is copied to, under the app's data folder. Versions are kept
 * apart: a daemon started by an older version may still be running from its copy.
 */
export function engineCopyDir(dataRoot: string, version: string): string {
	return join(dataRoot, 'engine', version.replace(/[^0-9A-Za-z.+-]/g, '_'));
}

/**
 * Copies `engine` to {@link engineCopyDir} unless a complete copy is there (a marker file is
 * written last), and returns the copy. A half-done copy from a crash is replaced; two app
 * launches racing each other each copy into their own folder and the rename decides.
 */
export async function copyEngine(engine: string, dataRoot: string, version: string): Promise<string> {
	const dest = engineCopyDir(dataRoot, version);
	const marker = join(dest, '.complete');
	if (
		await stat(marker).then(
			() => true,
			() => false,
		)
	)
		return dest;
	const staging = `${dest}.partial-${process.pid}`;
	await rm(staging, { recursive: true, force: true });
	await mkdir(staging, { recursive: true, mode: 0o700 });
	// File modes come along (libuv's copyfile keeps them), so the runtime stays executable.
	await cp(engine, staging, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
	await writeFile(join(staging, '.complete'), `${version}\n`);
	await rm(dest, { recursive: true, force: true });
	try {
		await rename(staging, dest);
	} catch (error) {
		// Another launch finished first: use its copy.
		await rm(staging, { recursive: true, force: true });
		if (
			!(await stat(marker).then(
				() => true,
				() => false,
			))
		)
			throw error;
	}
	return dest;
}
