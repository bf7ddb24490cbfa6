// SPDX-License-Identifier: MIT
/** `--verify`: checks an appliance against its manifest before a command uses it. */
import { resolveOpenTarget, type Appliance } from '../core/index.js';
import { manifestMismatchError, verifyManifest } from '../host/index.js';
import type { ManifestCheckInfo } from '../shared/models.js';
import { AppError } from '../shared/app-error.js';
import type { CliIo } from './command.js';
import { existingInput, inputPlatform } from './disk-input.js';
import { createTerminalProgress, type ByteProgress } from './progress.js';

/**
 * Hashes every file the manifest of the appliance at `path` lists, with a progress bar on a
 * terminal (not with `--json`). Rejects with `OVA_MANIFEST_MISMATCH` naming the files that
 * differ, `OVA_BAD_MANIFEST` when there is no usable manifest, and `USAGE` for anything that
 * is not an appliance.
 */
export async function verifyInput(path: string, io: CliIo, json: boolean): Promise<ManifestCheckInfo> {
	const absolute = await existingInput(path);
	const target = await resolveOpenTarget(absolute, inputPlatform);
	if (target.kind !== 'ova') {
		throw new AppError(
			'USAGE',
			`${absolute}: --verify checks an appliance (.ova or .ovf) against its manifest`,
		);
	}
	return verifyAppliance(target, io, json);
}

/** {@link verifyInput} for an appliance already resolved. */
export async function verifyAppliance(
	appliance: Appliance,
	io: CliIo,
	json: boolean,
): Promise<ManifestCheckInfo> {
	const abort = new AbortController();
	const unlisten = io.onInterrupt?.(() => abort.abort());
	let bar: Promise<ByteProgress> | undefined;
	try {
		const result = await verifyManifest(appliance, {
			signal: abort.signal,
			onProgress: (p) => {
				if (!io.stderrIsTTY || json) return;
				bar ??= createTerminalProgress('Verifying', p.totalBytes);
				void bar.then((b) => b.update(p.doneBytes));
			},
		});
		if (!result.ok) throw manifestMismatchError(result);
		if (!json) {
			const algorithms = [...new Set(result.files.map((f) => f.algorithm))].join('/');
			io.stderr.write(`vmdk-mounter: ${result.files.length} files match the manifest (${algorithms})\n`);
			for (const name of result.notListed) {
				io.stderr.write(
					`vmdk-mounter: warning: ${name} is not listed in the manifest, so it was not checked\n`,
				);
			}
		}
		return {
			path: result.manifestPath,
			ok: result.ok,
			files: result.files.map((f) => ({ fileName: f.fileName, algorithm: f.algorithm, ok: f.ok })),
			notListed: result.notListed,
		};
	} catch (error) {
		if (abort.signal.aborted) throw new AppError('INTERRUPTED', 'verification interrupted', { cause: error });
		throw error;
	} finally {
		if (bar !== undefined) (await bar).stop();
		unlisten?.();
	}
}
