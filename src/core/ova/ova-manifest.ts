// SPDX-License-Identifier: MIT
/**
 * OVF manifests (`<name>.mf`, DSP0243 §5.1): one line per file of the appliance,
 * `SHA256(app-disk1.vmdk)= 5c3b…` (SHA1 in OVF 1.x, SHA256 in 2.x, SHA512 allowed; ovftool
 * writes exactly one space after `=`, others none). Hashing happens in the host (it reads the
 * bytes); this only parses and checks the syntax.
 */
import { VmdkError, type ErrorLocation } from '../errors.js';

/** Largest manifest we read (one short line per file). */
export const MANIFEST_MAX_BYTES = 1024 * 1024;

/** Digest algorithms a manifest may name, with their digest length in hex digits. */
export const MANIFEST_ALGORITHMS = { SHA1: 40, SHA256: 64, SHA512: 128 } as const;

/** A digest algorithm of a manifest. */
export type ManifestAlgorithm = keyof typeof MANIFEST_ALGORITHMS;

/** One line of a manifest. */
export interface ManifestEntry {
	readonly algorithm: ManifestAlgorithm;
	/** The file name as written (relative to the manifest). */
	readonly fileName: string;
	/** The expected digest, lower-case hex. */
	readonly digest: string;
	/** 1-based line number, for messages. */
	readonly lineNumber: number;
}

const LINE = /^(SHA1|SHA256|SHA512)\s*\((.+)\)\s*=\s*([0-9A-Fa-f]+)$/;

/** Parses a manifest. Throws `OVA_BAD_MANIFEST` naming the first bad line. */
export function parseManifest(input: Uint8Array | string, location: ErrorLocation = {}): ManifestEntry[] {
	if (input.length > MANIFEST_MAX_BYTES) {
		throw new VmdkError(
			'VMDK_LIMIT',
			`manifest has invalid size ${input.length} (maximum ${MANIFEST_MAX_BYTES})`,
			location,
		);
	}
	let text: string;
	try {
		text = typeof input === 'string' ? input : new TextDecoder('utf-8', { fatal: true }).decode(input);
	} catch {
		throw new VmdkError('OVA_BAD_MANIFEST', 'the manifest is not UTF-8 text', location);
	}
	const entries: ManifestEntry[] = [];
	const lines = text.replace(/^\ufeff/, '').split(/\r?\n/);
	lines.forEach((raw, i) => {
		const line = raw.trim();
		if (line === '') return;
		const m = LINE.exec(line);
		const algorithm = m?.[1] as ManifestAlgorithm | undefined;
		if (!m || algorithm === undefined || m[3]!.length !== MANIFEST_ALGORITHMS[algorithm]) {
			throw new VmdkError(
				'OVA_BAD_MANIFEST',
				`manifest line ${i + 1} is not "SHA256(file)= digest": ${JSON.stringify(line.slice(0, 80))}`,
				location,
			);
		}
		entries.push({ algorithm, fileName: m[2]!, digest: m[3]!.toLowerCase(), lineNumber: i + 1 });
	});
	if (entries.length === 0) throw new VmdkError('OVA_BAD_MANIFEST', 'the manifest lists no files', location);
	return entries;
}
