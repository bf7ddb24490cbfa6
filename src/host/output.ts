// SPDX-License-Identifier: MIT
/**
 * The host layer's second front door: writing disks and files — the raw export, VMDK output and
 * its compressor pool, keeping copy-on-write changes as a snapshot, and the macOS `mount_ext2`
 * links. Apart from `index.ts` so that `info`, `list` and `mount` start without loading them
 * (and `node:crypto` and worker threads with them); the linter lets code outside `src/host`
 * import both.
 */
export * from './node/export-raw.js';
export {
	setupLinks,
	inspectLinks,
	LINKS_READ_ONLY_NOTE,
	type LinkReport,
	type LinkOutcome,
	type LinkState,
} from './darwin/links.js';
export { CodecPool } from './node/codec-pool.js';
export { RawFileSource } from './node/raw-file-source.js';
export { VmdkOutput, VmdkOutputError } from './node/vmdk-output.js';
export * from './node/keep-snapshot.js';
