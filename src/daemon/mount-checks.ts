// SPDX-License-Identifier: MIT
/**
 * The mount service's judgements about a disk before and after mounting it: which volumes a
 * request wants, whether a writable mount is safe (no VMware lock, no filesystem that needs
 * recovery, is hibernated or dirty), what users see of a filesystem, and — when nothing of a
 * disk could be mounted — which error says why, chosen from the typed outcomes.
 */
import { readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { FilesystemInfo } from '../core/index.js';
import { AppError, isExpectedError } from '../shared/app-error.js';
import type { MountRequest } from '../shared/daemon-contract.js';
import type { FilesystemSummary } from '../shared/models.js';
import type { OpenedDisk, OpenedVolume } from './disk-opener.js';
import type { VolumeRecord } from './mount-registry.js';

/** How one volume fared. */
export type VolumeOutcome =
	| { readonly kind: 'mounted'; readonly record: VolumeRecord }
	| { readonly kind: 'skipped'; readonly record: VolumeRecord; readonly reason: string }
	| { readonly kind: 'failed'; readonly record: VolumeRecord; readonly error: unknown };

/** A user-facing summary of a probe result. */
export function summarize(fs: FilesystemInfo | null): FilesystemSummary | null {
	if (fs === null) return null;
	return {
		type: fs.type,
		label: fs.label,
		uuid: fs.uuid,
		...(fs.version === undefined ? {} : { version: fs.version }),
		...(fs.sizeBytes === undefined ? {} : { sizeBytes: fs.sizeBytes }),
		...(fs.health === undefined ? {} : { health: fs.health }),
		...(fs.problem === undefined ? {} : { problem: fs.problem }),
	};
}

/** Why a read-write mount of this filesystem is unsafe, or undefined. */
function unsafeForWrite(fs: FilesystemInfo | null): string | undefined {
	const h = fs?.health;
	if (h === undefined) return undefined;
	if (h.hibernated === true) return 'is hibernated (Windows fast start-up)';
	if (h.needsRecovery === true) return 'has a journal that needs recovery';
	if (h.journalDirty === true) return 'has an unreplayed journal';
	if (h.dirty === true) return 'was not unmounted cleanly (dirty)';
	return undefined;
}

/** The volumes a request asks for. */
export function selectVolumes(opened: OpenedDisk, request: MountRequest): OpenedVolume[] {
	const wanted = opened.volumes.filter(
		(v) => request.partition === undefined || v.index === request.partition,
	);
	if (request.partition !== undefined && wanted.length === 0) {
		throw new AppError(
			'USAGE',
			`${opened.path} has no volume ${request.partition} (volumes: ${opened.volumes.map((v) => v.index).join(', ') || 'none'})`,
		);
	}
	if (request.readWrite === true && request.force !== true) {
		for (const v of wanted) {
			const why = unsafeForWrite(v.filesystem);
			if (why !== undefined) {
				throw new AppError(
					'FS_UNSAFE_FOR_WRITE',
					`volume ${v.index} (${v.filesystem?.type ?? '?'}) of ${opened.path} ${why}; mount it read-only or use --force`,
				);
			}
		}
	}
	return wanted;
}

/** The error for a disk of which nothing could be mounted, chosen from the typed outcomes. */
export function nothingMounted(path: string, outcomes: readonly VolumeOutcome[]): AppError {
	if (outcomes.length === 0 || outcomes.every((o) => o.record.filesystem === null)) {
		// Trial mounts of unrecognised volumes all failed: the helpers' complaints add nothing.
		return new AppError(
			'NO_FILESYSTEM',
			`no filesystem found in ${path}: ${outcomes.length === 0 ? 'it has no volumes' : `none of its ${outcomes.length} volume(s) holds a filesystem this app recognises or its fallback helpers can mount`}`,
		);
	}
	const reasons = outcomes.map(
		(o) => `volume ${o.record.index} (${o.record.filesystem?.type ?? 'unknown'}): ${o.record.problem ?? '?'}`,
	);
	const failed = outcomes.find((o) => o.kind === 'failed');
	const code =
		failed === undefined ? 'NO_HELPER' : isExpectedError(failed.error) ? failed.error.code : 'MOUNT_FAILED';
	return new AppError(
		code === 'NO_HELPER' || code === 'FUSE_UNAVAILABLE' ? code : 'MOUNT_FAILED',
		`nothing in ${path} could be mounted: ${reasons.join('; ')}`,
	);
}

/** Refuses `--rw` when a VMware lock (`*.lck` file or folder) sits next to the disk. */
export async function checkNoLock(diskPath: string): Promise<void> {
	const folder = dirname(diskPath);
	const entries = await readdir(folder).catch(() => [] as string[]);
	const lock = entries.find((e) => e.toLowerCase().endsWith('.lck'));
	if (lock !== undefined) {
		throw new AppError(
			'DISK_LOCKED',
			`${diskPath} is locked by VMware (${join(folder, lock)}); mount it read-only or use --force`,
		);
	}
}
