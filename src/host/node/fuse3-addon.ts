// SPDX-License-Identifier: MIT
/**
 * Locating and loading our libfuse 3 addon (`native/fuse3`, built by `npm run build:native`).
 * The daemon's FUSE export drives it; `doctor` reports whether it is there.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** An opaque session of the addon. */
export type Fuse3Session = { readonly __session: unique symbol };

/** The addon's surface (native/fuse3/vmdk_fuse3.c). */
export interface Fuse3Addon {
	readonly EVENT: {
		readonly open: number;
		readonly read: number;
		readonly write: number;
		readonly release: number;
	};
	mount(
		mountpoint: string,
		options: {
			fsName: string;
			readWrite: boolean;
			allowOther: boolean;
			/** Adds `allow_root` (macFUSE); ignored when `allowOther` is set. */
			allowRoot?: boolean;
			uid: number;
			gid: number;
			mtimeMs: number;
			files: { name: string; size: number }[];
		},
		handler: (kind: number, id: number, file: number, handle: number, offset: number, arg: unknown) => void,
	): { session: Fuse3Session; closed: Promise<number> };
	replyError(session: Fuse3Session, id: number, errno: number): boolean;
	replyData(session: Fuse3Session, id: number, data: Uint8Array, length: number): boolean;
	replyWrite(session: Fuse3Session, id: number, count: number): boolean;
	pending(session: Fuse3Session): number;
	/** Returns freed heap memory to the system (glibc's malloc_trim); false where it cannot. */
	trimMemory?(): boolean;
}

/** Where the build puts the addon, from `dist/host/node` or `src/host/node`. */
const ADDON_PATH = join(
	dirname(fileURLToPath(import.meta.url)),
	'..',
	'..',
	'..',
	'native',
	'fuse3',
	'build',
	'Release',
	'vmdk_fuse3.node',
);

let addon: Fuse3Addon | null | undefined;

/** The addon, or null when it is not built or cannot load (no libfuse 3 on this host). */
export function loadFuse3Addon(): Fuse3Addon | null {
	if (addon !== undefined) return addon;
	addon = null;
	if (!existsSync(ADDON_PATH)) return addon;
	try {
		addon = createRequire(import.meta.url)(ADDON_PATH) as Fuse3Addon;
	} catch (error) {
		// `debug` is loaded only here: every command loads this module, few ever need the log.
		void import('debug').then(({ default: createDebug }) =>
			createDebug('vmdk:host:fuse3')('cannot load %s: %s', ADDON_PATH, String(error)),
		);
	}
	return addon;
}

/**
 * Gives memory back after a burst of work (the last disk unmounted): a full garbage collection
 * where the process was started with `--expose-gc`, then the C heap trimmed where the addon
 * offers it. Cheap enough for an idle moment, pointless on a hot path.
 */
export function releaseFreedMemory(): void {
	const gc = (globalThis as { gc?: () => void }).gc;
	if (typeof gc === 'function') gc();
	loadFuse3Addon()?.trimMemory?.();
}
