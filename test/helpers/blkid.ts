// SPDX-License-Identifier: MIT
// Our filesystem probes next to util-linux blkid: blkid's answer for a file, the fields both
// report, and the checks the fuzz rounds make (a time limit, no internal error, patched bytes).
import { expect } from 'vitest';
import { probeFilesystem, type ByteSource, type FilesystemInfo } from '../../src/core/index.js';
import { PROBE_INTERNAL_ERROR } from '../../src/core/filesystems/probe.js';
import { runSync, type RunOptions } from './run.js';

/** Labels here are UTF-8 (blkid prints them, mkfs.* convert them): the tools run in a UTF-8 locale. */
export const UTF8: RunOptions = { locale: 'C.UTF-8' };

/** A source that returns `inner`'s bytes with some bytes replaced. */
export class PatchedSource implements ByteSource {
	readonly sizeBytes: number;
	private readonly inner: ByteSource;
	private readonly patches: ReadonlyMap<number, number>;
	constructor(inner: ByteSource, patches: ReadonlyMap<number, number>) {
		this.inner = inner;
		this.sizeBytes = inner.sizeBytes;
		this.patches = patches;
	}
	async read(offsetBytes: number, length: number): Promise<Uint8Array> {
		const bytes = (await this.inner.read(offsetBytes, length)).slice();
		for (const [at, value] of this.patches) {
			if (at >= offsetBytes && at < offsetBytes + length) bytes[at - offsetBytes] = value;
		}
		return bytes;
	}
	async readInto(offsetBytes: number, dest: Uint8Array, destOffset: number, length: number): Promise<void> {
		dest.set(await this.read(offsetBytes, length), destOffset);
	}
}

/**
 * Undoes blkid's export escaping: a backslash before shell-special characters, and bytes ≥ 0x80
 * or control bytes in `cat -v` notation (`M-x`, `M-^x`, `^x`). The bytes are then UTF-8.
 */
function unescapeBlkid(text: string): string {
	const out: number[] = [];
	let i = 0;
	const literal = (): number => {
		if (text[i] === '\\') i++;
		return text.charCodeAt(i++);
	};
	while (i < text.length) {
		let high = 0;
		if (text.startsWith('M-', i)) {
			high = 0x80;
			i += 2;
		}
		let byte: number;
		if (text[i] === '^' && i + 1 < text.length) {
			// After '^' the character is taken as is: `M-^` and a backslash is 0x9c, not an escape.
			const c = text.charCodeAt(i + 1);
			i += 2;
			byte = c === 0x3f ? 0x7f : c ^ 0x40;
		} else {
			byte = literal();
		}
		out.push(high | byte);
	}
	return Buffer.from(out).toString('utf8');
}

/** `blkid -p -o export` as a map (values unescaped); empty when blkid finds nothing. */
export function blkid(path: string): Record<string, string> {
	let out: string;
	try {
		out = runSync('blkid', ['-p', '-o', 'export', path], UTF8);
	} catch {
		return {};
	}
	const result: Record<string, string> = {};
	for (const line of out.split('\n')) {
		const eq = line.indexOf('=');
		if (eq <= 0) continue;
		const key = line.slice(0, eq);
		const value = line.slice(eq + 1);
		// `M-` is ambiguous (an LVM UUID may contain it): only labels get the cat -v decoding.
		result[key] = key === 'LABEL' ? unescapeBlkid(value) : value.replace(/\\(.)/gu, '$1');
	}
	return result;
}

/** The fields blkid and we both report. */
export function comparable(info: FilesystemInfo | null): Record<string, string | undefined> {
	return {
		TYPE: info?.type,
		LABEL: info?.label ?? undefined,
		UUID: info?.uuid ?? undefined,
		VERSION: info?.version,
	};
}

/** Probes with a time limit: a hang is a failure, not a stuck suite. */
export async function probeWithin(src: ByteSource, ms: number): Promise<FilesystemInfo | null> {
	let timer: NodeJS.Timeout | undefined;
	const timeout = new Promise<never>((_, reject) => {
		timer = setTimeout(() => reject(new Error(`probe did not finish within ${ms} ms`)), ms);
	});
	try {
		return await Promise.race([probeFilesystem(src), timeout]);
	} finally {
		clearTimeout(timer);
	}
}

/** A probe that gave up must say why, and never because of a bug of ours. */
export function expectNoInternalError(info: FilesystemInfo | null, context: string): void {
	if (info?.type === 'unknown') {
		expect(info.problem, context).toBeTruthy();
		expect(info.problem, context).not.toContain(PROBE_INTERNAL_ERROR);
	}
}
