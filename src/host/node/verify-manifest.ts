// SPDX-License-Identifier: MIT
/**
 * Checks an appliance against its manifest (`.mf`): every file the manifest lists is hashed
 * with the algorithm it names — for an `.ova`, straight from the member's byte range of the
 * archive, so nothing is extracted — and compared. Reads stream in 1 MiB pieces (memory stays
 * flat whatever the size) and report progress after each piece.
 */
import { createReadStream } from 'node:fs';
import {
	VmdkError,
	locateBytes,
	withArchives,
	type Appliance,
	type ByteLocation,
	type ManifestAlgorithm,
} from '../../core/index.js';
import { nodePlatform } from './node-platform.js';

/** Progress of a manifest check. */
export interface ManifestProgress {
	/** Bytes hashed so far, over all files. */
	readonly doneBytes: number;
	/** Bytes to hash in all. */
	readonly totalBytes: number;
	/** The file being hashed. */
	readonly fileName: string;
}

/** The outcome for one manifest line. */
export interface ManifestFileCheck {
	readonly fileName: string;
	readonly algorithm: ManifestAlgorithm;
	readonly expected: string;
	/** The digest computed, or null when the file is missing or its name unsafe. */
	readonly actual: string | null;
	readonly ok: boolean;
}

/** What a manifest check found. */
export interface ManifestCheckResult {
	/** The `.mf` checked against. */
	readonly manifestPath: string;
	/** True when every listed file is present and matches. */
	readonly ok: boolean;
	/** One entry per manifest line. */
	readonly files: readonly ManifestFileCheck[];
	/** Disk files of the appliance the manifest does not list (not checked). */
	readonly notListed: readonly string[];
}

const READ_CHUNK_BYTES = 1024 * 1024;

const NODE_ALGORITHMS: Record<ManifestAlgorithm, string> = {
	SHA1: 'sha1',
	SHA256: 'sha256',
	SHA512: 'sha512',
};

/**
 * Hashes every file the appliance's manifest lists. Rejects with `OVA_BAD_MANIFEST` when there
 * is no usable manifest; a digest that differs is reported in the result (`ok: false`), for the
 * caller to turn into `OVA_MANIFEST_MISMATCH` (see {@link manifestMismatchError}).
 */
export async function verifyManifest(
	appliance: Appliance,
	options: { readonly onProgress?: (p: ManifestProgress) => void; readonly signal?: AbortSignal } = {},
): Promise<ManifestCheckResult> {
	const manifest = appliance.manifest;
	if (manifest === null) {
		throw new VmdkError(
			'OVA_BAD_MANIFEST',
			'the appliance has no manifest (.mf), so there is nothing to verify it against',
			{ file: appliance.path },
		);
	}
	if (manifest.problem !== undefined) throw manifest.problem;
	const platform = withArchives(nodePlatform);
	const located: (ByteLocation | undefined)[] = [];
	for (const e of manifest.entries)
		located.push(e.path === null ? undefined : await locateBytes(platform, e.path));
	const totalBytes = located.reduce((sum, l) => sum + (l?.sizeBytes ?? 0), 0);
	let doneBytes = 0;
	const files: ManifestFileCheck[] = [];
	for (const [i, entry] of manifest.entries.entries()) {
		const where = located[i];
		let actual: string | null = null;
		if (where !== undefined) {
			actual = await hashRange(where, NODE_ALGORITHMS[entry.algorithm], options.signal, (n) => {
				doneBytes += n;
				options.onProgress?.({ doneBytes, totalBytes, fileName: entry.fileName });
			});
		}
		files.push({
			fileName: entry.fileName,
			algorithm: entry.algorithm,
			expected: entry.digest,
			actual,
			ok: actual === entry.digest,
		});
	}
	const listed = new Set(manifest.entries.flatMap((e) => (e.path === null ? [] : [e.path])));
	const notListed = appliance.disks
		.filter((d) => d.exists && !listed.has(d.path) && !listed.has(`${d.path}.000000000`))
		.map((d) => d.fileName);
	return { manifestPath: manifest.path, ok: files.every((f) => f.ok), files, notListed };
}

/** The typed error for a failed check, naming every file that differs or is missing. */
export function manifestMismatchError(result: ManifestCheckResult): VmdkError {
	const bad = result.files
		.filter((f) => !f.ok)
		.map((f) =>
			f.actual === null
				? `${f.fileName} is missing`
				: `${f.fileName} has ${f.algorithm} ${f.actual}, the manifest says ${f.expected}`,
		);
	return new VmdkError('OVA_MANIFEST_MISMATCH', bad.join('; '), { file: result.manifestPath });
}

/** Hashes `where`, reporting each piece's length. */
async function hashRange(
	where: ByteLocation,
	algorithm: string,
	signal: AbortSignal | undefined,
	onBytes: (n: number) => void,
): Promise<string> {
	// Loaded on first use: `info` and `mount` load this module, and only `--verify` hashes.
	const { createHash } = await import('node:crypto');
	const hash = createHash(algorithm);
	if (where.sizeBytes > 0) {
		const stream = createReadStream(where.file, {
			start: where.offsetBytes,
			end: where.offsetBytes + where.sizeBytes - 1,
			highWaterMark: READ_CHUNK_BYTES,
			signal,
		});
		let seen = 0;
		try {
			for await (const chunk of stream as AsyncIterable<Buffer>) {
				hash.update(chunk);
				seen += chunk.length;
				onBytes(chunk.length);
			}
		} catch (cause) {
			if (signal?.aborted === true) throw cause;
			throw new VmdkError(
				'VMDK_IO',
				`read failed: ${cause instanceof Error ? cause.message : String(cause)}`,
				{
					file: where.file,
				},
				{ cause },
			);
		}
		if (seen !== where.sizeBytes) {
			throw new VmdkError('VMDK_TRUNCATED', `file ended after ${seen} of ${where.sizeBytes} bytes`, {
				file: where.file,
				offsetBytes: where.offsetBytes + seen,
			});
		}
	}
	return hash.digest('hex');
}
