// SPDX-License-Identifier: MIT
/**
 * Locating our libdeflate addon (`native/codec`, built by `npm run build:native`). Workers load
 * it by path; where it is not built (no libdeflate on this host) they use Node's zlib.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The addon's surface (native/codec/vmdk_codec.c). */
export interface CodecAddon {
	/** libdeflate's version, e.g. `1.14`. */
	readonly libdeflateVersion: string;
	/** A zlib stream of `src` at `level` into `dst`; its length, or 0 if it does not fit. */
	zlibCompress(src: Uint8Array, level: number, dst: Uint8Array): number;
	/** Inflates a zlib (or raw, when `raw`) stream into `dst`; the bytes produced. Throws on bad data. */
	zlibDecompress(src: Uint8Array, dst: Uint8Array, raw: boolean): number;
	/** lseek(SEEK_DATA): the next data offset at or after `offset`, or -1 past the last data. */
	seekData(fd: number, offset: number): number;
	/** lseek(SEEK_HOLE): the next hole offset at or after `offset` (end of file counts as a hole). */
	seekHole(fd: number, offset: number): number;
}

/** Where the build puts the addon, from `dist/host/node` or `src/host/node`. */
export const CODEC_ADDON_PATH = join(
	dirname(fileURLToPath(import.meta.url)),
	'..',
	'..',
	'..',
	'native',
	'codec',
	'build',
	'Release',
	'vmdk_codec.node',
);

/** The addon's path if it is built, else undefined. `VMDK_NO_LIBDEFLATE=1` forces Node's zlib (tests, benchmarks). */
export function codecAddonPath(): string | undefined {
	if (process.env.VMDK_NO_LIBDEFLATE === '1') return undefined;
	return existsSync(CODEC_ADDON_PATH) ? CODEC_ADDON_PATH : undefined;
}
