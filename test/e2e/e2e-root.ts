// SPDX-License-Identifier: MIT
/**
 * The e2e run's folder. The screenshots in docs/screenshots show paths, so a run uses the same
 * folder every time (`<tmp>/vmdk-mounter-e2e`) and the pictures only change when the window
 * does. A second run at the same time gets a temporary folder instead (its pictures then show
 * that folder's random name; nothing else differs).
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MountEnv, isAlive } from '../helpers/mount-env.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/** A claimed folder; `release` gives it up (the folder itself is removed by its MountEnv). */
export interface E2eRoot {
	readonly dir: string;
	/** True when this is the fixed folder (paths in screenshots are the usual ones). */
	readonly fixed: boolean;
	release(): Promise<void>;
}

/** Claims the fixed folder, or a temporary one when another live run holds it. */
export async function claimE2eRoot(): Promise<E2eRoot> {
	const dir = join(tmpdir(), 'vmdk-mounter-e2e');
	const owner = `${dir}.owner`;
	for (let attempt = 0; attempt < 2; attempt++) {
		try {
			await writeFile(owner, String(process.pid), { flag: 'wx' });
			// Whatever an earlier, killed run left goes: its mounts first (rm would walk into them).
			await MountEnv.at(dir).safetyNet();
			await rm(dir, { recursive: true, force: true });
			await mkdir(dir, { mode: 0o700 });
			return { dir, fixed: true, release: () => rm(owner, { force: true }) };
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
			const pid = Number((await readFile(owner, 'utf8').catch(() => '')).trim());
			if (Number.isSafeInteger(pid) && pid > 0 && isAlive(pid)) break;
			await rm(owner, { force: true });
		}
	}
	const tmp = await makeTempDir('vmdk-mounter-e2e-');
	return { dir: tmp.dir, fixed: false, release: async () => undefined };
}
