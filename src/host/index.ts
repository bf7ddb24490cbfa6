// SPDX-License-Identifier: MIT
/**
 * The host layer's front door. Outside `src/host`, code imports only this file and
 * `common/*` (the linter enforces it): {@link createHost} picks the platform's implementation
 * of the `Host` interface, and the platform-neutral Node pieces (paths, files, settings, the
 * FUSE addon loader) are re-exported here. The pieces that write disks and files (`export`,
 * `convert`, `unmount --keep`, `setup-links`) have a door of their own, `output.ts`, so that
 * the commands that only read or mount do not load them at start-up.
 */
import { assertNever } from '../core/index.js';
import { AppError } from '../shared/app-error.js';
import type { Host, HostPlatform } from './common/host.js';

export type * from './common/host.js';
export * from './common/tool-error.js';
export type { FuseBindingName } from './common/fuse-binding.js';
export * from './node/paths.js';
export * from './node/settings.js';
export { ensureOwnedDir, assertOwnedByUs } from './node/private-dir.js';
export { nodePlatform, setInflateWorkers } from './node/node-platform.js';
export { FileByteSource } from './node/file-byte-source.js';
export { inspectPath } from './node/inspect-report.js';
export { buildDoctorReport } from './doctor-report.js';
export {
	loadFuse3Addon,
	releaseFreedMemory,
	type Fuse3Addon,
	type Fuse3Session,
} from './node/fuse3-addon.js';
export { isLockStale } from './node/lock-liveness.js';

/** The platforms with a host implementation. */
function hostPlatformOf(platform: NodeJS.Platform): HostPlatform | undefined {
	return platform === 'linux' || platform === 'darwin' ? platform : undefined;
}

/** Probes this machine and returns its host (one per process is enough: it keeps its probe). */
export async function createHost(platform: NodeJS.Platform = process.platform): Promise<Host> {
	const which = hostPlatformOf(platform);
	if (which === undefined) {
		throw new AppError('FUSE_UNAVAILABLE', `mounting is not available on ${platform}; use info and export`);
	}
	switch (which) {
		case 'linux':
			return (await import('./linux/linux-host.js')).createLinuxHost();
		case 'darwin':
			return (await import('./darwin/darwin-host.js')).createDarwinHost();
		default:
			return assertNever(which, 'unknown platform');
	}
}
export * from './node/verify-manifest.js';
