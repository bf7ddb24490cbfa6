// SPDX-License-Identifier: MIT
/**
 * The daemon's mount service. Mounting a disk is a pipeline of small steps —
 * open → export over FUSE → plan → mount each volume → (on failure) roll back — each returning
 * typed results; unmounting is the reverse. One operation runs at a time (mounts and unmounts
 * are serialised), while FUSE reads keep being served on the same event loop because every
 * step is asynchronous. Everything platform-specific goes through the `Host`.
 *
 * Mountpoints (where the host lets the daemon choose): `<mount root>/<disk name>/<volume label
 * or name>`, names made safe and unique; each folder is recorded before it is made and removed
 * (rmdir, never recursively) on unmount or by crash recovery.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, realpath, rmdir, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import {
	planVolume,
	splitArchivePath,
	type ChangedRange,
	type FilesystemInfo,
	type VolumePlan,
} from '../core/index.js';
import {
	attachSnapshotToVmx,
	inspectPath,
	keepChangesAsSnapshot,
	readSettings,
	resolveMountRoot,
	type AppPaths,
	type Host,
	type MountedVolumeHandle,
} from '../host/index.js';
import { AppError, isExpectedError } from '../shared/app-error.js';
import type {
	InspectRequest,
	MountRequest,
	ProgressEvent,
	UnmountRequest,
} from '../shared/daemon-contract.js';
import type { FilesystemSummary, InfoResult, KeptSnapshotInfo, MountListResult } from '../shared/models.js';
import type { DiskOpener, OpenedDisk, OpenedVolume } from './disk-opener.js';
import { DiskExport } from './fuse/disk-export.js';
import type { FuseBackend } from './fuse/fuse-backend.js';
import type { DaemonLog } from './log.js';
import { toMountedDisk, type DiskRecord, type MountRegistry, type VolumeRecord } from './mount-registry.js';

/** Longest folder name we create, in characters. */
const MAX_NAME_CHARS = 80;
/** Most " (n)" suffixes tried to make a folder name unique. */
const MAX_UNIQUE_TRIES = 100;
/** The FUSE source name of our exports (crash recovery recognises them by it). */
export const EXPORT_SOURCE_PREFIX = 'vmdk-mounter:';

/** What the service needs from the daemon. */
export interface MountServiceDeps {
	readonly paths: AppPaths;
	readonly registry: MountRegistry;
	readonly log: DaemonLog;
	readonly host: Host;
	readonly openDisk: DiskOpener;
	/** Expands a bundle or folder into its disks (a plain `.vmdk` gives itself). */
	readonly resolveDisks: (
		path: string,
		options?: { readonly snapshot?: string | undefined },
	) => Promise<{
		readonly disks: readonly string[];
		readonly vmLock?: string | undefined;
		/** Mount folder names parallel to `disks` (snapshot points), else the disk file's name. */
		readonly folderNames?: readonly string[] | undefined;
	}>;
	/** True when `path` names something to open (a file, a folder, or a member of an `.ova`). */
	readonly exists?: ((path: string) => Promise<boolean>) | undefined;
	/** The FUSE binding of exports (default: the host's choice). */
	readonly fuseBackend?: FuseBackend | undefined;
	/** Hears each step of long work. */
	readonly progress?: ((event: ProgressEvent) => void) | undefined;
}

interface LiveDisk {
	readonly opened: OpenedDisk;
	readonly exp: DiskExport;
}

/** How one volume fared. */
type VolumeOutcome =
	| { readonly kind: 'mounted'; readonly record: VolumeRecord }
	| { readonly kind: 'skipped'; readonly record: VolumeRecord; readonly reason: string }
	| { readonly kind: 'failed'; readonly record: VolumeRecord; readonly error: unknown };

/** Reports progress of one call. */
type Progress = (event: Omit<ProgressEvent, 'operationId'>) => void;

/** Turns a label into a safe folder name ("" when nothing is left). */
export function safeFolderName(name: string): string {
	let out = '';
	for (const ch of name.normalize('NFC')) {
		const code = ch.codePointAt(0) ?? 0;
		out += code < 0x20 || code === 0x7f || ch === '/' || ch === '\\' ? '_' : ch;
	}
	out = out.trim().replace(/^\.+/, '').trim();
	return [...out].slice(0, MAX_NAME_CHARS).join('');
}

/** A user-facing summary of a probe result. */
function summarize(fs: FilesystemInfo | null): FilesystemSummary | null {
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

/** The service. */
export class DaemonMountService {
	private readonly deps: MountServiceDeps;
	private readonly live = new Map<string, LiveDisk>();
	private queue: Promise<unknown> = Promise.resolve();
	private readonly readErrors: RateLimitedLog;

	constructor(deps: MountServiceDeps) {
		this.deps = deps;
		this.readErrors = new RateLimitedLog((line) => deps.log.info(line));
	}

	private serial<T>(fn: () => Promise<T>): Promise<T> {
		const next = this.queue.then(fn, fn);
		this.queue = next.catch(() => undefined);
		return next;
	}

	private progressOf(operationId: string | undefined, path: string): Progress {
		const id = operationId ?? randomBytes(4).toString('hex');
		const sink = this.deps.progress;
		return (event) => sink?.({ operationId: id, ...event, path: event.path || path });
	}

	list(): MountListResult {
		return { disks: this.deps.registry.list() };
	}

	/** What `info --json` prints for `path`. */
	async inspect(request: InspectRequest): Promise<InfoResult> {
		const progress = this.progressOf(request.operationId, request.path);
		progress({ path: request.path, phase: 'opening', message: `Opening ${basename(request.path)}` });
		try {
			const result = await inspectPath(request.path, {
				ignoreCid: request.ignoreCid,
				...(request.snapshot === undefined ? {} : { snapshot: request.snapshot }),
			});
			progress({ path: request.path, phase: 'done', message: 'Done' });
			return result;
		} catch (error) {
			progress({ path: request.path, phase: 'failed', message: errorText(error) });
			throw error;
		}
	}

	/** Mounts a disk or each disk of a bundle: all of them or none. */
	mount(request: MountRequest): Promise<MountListResult> {
		return this.serial(async () => {
			const progress = this.progressOf(request.operationId, request.path);
			try {
				const result = await this.mountAll(request, progress);
				progress({ path: request.path, phase: 'done', message: 'Mounted' });
				return result;
			} catch (error) {
				// The client gets the error; the log keeps it too, next to the steps that led to it.
				this.deps.log.info(`mounting ${request.path} failed: ${errorText(error)}`);
				progress({ path: request.path, phase: 'failed', message: errorText(error) });
				throw error;
			}
		});
	}

	private async mountAll(request: MountRequest, progress: Progress): Promise<MountListResult> {
		const exists =
			this.deps.exists ??
			((p: string) =>
				stat(p).then(
					() => true,
					() => false,
				));
		if (!(await exists(request.path))) {
			throw new AppError('INPUT_NOT_FOUND', `${request.path}: no such file or folder`);
		}
		if (!this.deps.host.probe.fuse.available) {
			throw new AppError(
				'FUSE_UNAVAILABLE',
				this.deps.host.probe.fuse.problem ?? 'FUSE is not available here',
			);
		}
		progress({ path: request.path, phase: 'resolving', message: `Reading ${basename(request.path)}` });
		const resolved = await this.deps.resolveDisks(request.path, { snapshot: request.snapshot });
		if (request.readWrite === true && request.force !== true && resolved.vmLock !== undefined) {
			throw new AppError(
				'DISK_LOCKED',
				`${request.path} is in use by VMware (${resolved.vmLock}); mount it read-only or use --force`,
			);
		}
		const mounted: DiskRecord[] = [];
		try {
			for (const [i, p] of resolved.disks.entries()) {
				mounted.push(await this.mountDisk(p, request, progress, resolved.folderNames?.[i]));
			}
		} catch (error) {
			// A bundle mounts all its disks or none.
			for (const d of mounted.reverse()) await this.unmountDisk(d, true).catch(() => undefined);
			throw error;
		}
		return { disks: mounted.map(toMountedDisk) };
	}

	private async mountDisk(
		diskPath: string,
		request: MountRequest,
		progress: Progress,
		folderName?: string,
	): Promise<DiskRecord> {
		const { log } = this.deps;
		const canonical = await realpath(diskPath).catch(() => diskPath);
		log.info(`mounting ${canonical}`);
		const readWrite = request.readWrite === true;
		this.checkNotMounted(canonical);
		if (readWrite && request.force !== true) await checkNoLock(canonical);

		progress({ path: canonical, phase: 'opening', message: `Opening ${basename(canonical)}` });
		const opened = await this.deps.openDisk(canonical, { ignoreCid: request.ignoreCid === true });
		const id = randomBytes(4).toString('hex');
		let base: DiskRecord | undefined;
		try {
			const wanted = selectVolumes(opened, request);
			base = this.newRecord(id, canonical, opened, readWrite);
			// Recorded before anything exists, so a crash mid-mount is cleaned up by the next daemon.
			await this.deps.registry.put(base);
			progress({ path: canonical, phase: 'exporting', message: 'Serving the disk' });
			await this.exportDisk(base, opened, wanted);
			const outcomes = await this.mountVolumes(base, wanted, readWrite, progress, folderName);
			const record: DiskRecord = { ...base, volumes: outcomes.map((o) => o.record), state: 'mounted' };
			if (!outcomes.some((o) => o.kind === 'mounted')) throw nothingMounted(canonical, outcomes);
			await this.deps.registry.put(record);
			return record;
		} catch (error) {
			await this.rollBack(id, base, opened);
			throw error;
		}
	}

	private checkNotMounted(canonical: string): void {
		const existing = this.deps.registry.all().find((d) => d.path === canonical);
		if (existing === undefined) return;
		const where = existing.volumes.find((v) => v.mountpoint !== null)?.mountpoint;
		throw new AppError(
			'ALREADY_MOUNTED',
			`${canonical} is already mounted${where === undefined ? '' : ` at ${where}`}; unmount it first`,
		);
	}

	private newRecord(id: string, canonical: string, opened: OpenedDisk, readWrite: boolean): DiskRecord {
		const exportDir = join(this.deps.paths.exportsDir, id);
		return {
			id,
			path: canonical,
			rawPath: join(exportDir, 'disk'),
			readWrite,
			volumes: [],
			exportDir,
			overlayDir: readWrite ? join(this.deps.paths.overlaysDir, id) : undefined,
			state: 'mounting',
			warnings: opened.warnings,
		};
	}

	/**
	 * Serves the disk and each volume as files in the record's export folder. In a writable
	 * mount only the volumes being mounted get an overlay (reserved in full up front).
	 */
	private async exportDisk(
		record: DiskRecord,
		opened: OpenedDisk,
		wanted: readonly OpenedVolume[],
	): Promise<void> {
		const files = [{ name: 'disk', target: opened.target }];
		for (const v of opened.volumes) if (v.name !== 'disk') files.push({ name: v.name, target: v.target });
		const { host } = this.deps;
		const exp = await DiskExport.mount(
			record.exportDir,
			files,
			{
				readWrite: record.readWrite,
				overlayDir: record.overlayDir,
				writableFiles: new Set(wanted.map((v) => v.name)),
				fsName: `${EXPORT_SOURCE_PREFIX}${record.id}`,
				allowOther: host.probe.fuse.exportAccess === 'allow_other',
				allowRoot: host.probe.fuse.exportAccess === 'allow_root',
				onIoError: (file, op, error) => this.ioError(record.id, file, op, error),
			},
			host,
			this.deps.fuseBackend,
		);
		this.live.set(record.id, { opened, exp });
		this.deps.log.info(
			`exported ${record.path} at ${record.exportDir} (FUSE binding ${exp.binding})${record.readWrite ? ' (copy-on-write)' : ''}`,
		);
	}

	/** Plans and mounts each volume, recording each before its helper runs. */
	private async mountVolumes(
		base: DiskRecord,
		wanted: readonly OpenedVolume[],
		readWrite: boolean,
		progress: Progress,
		folderName: string | undefined,
	): Promise<VolumeOutcome[]> {
		const { host, paths, registry } = this.deps;
		const settings = await readSettings(paths.settingsPath);
		const plans = wanted.map((v) =>
			planVolume(
				{ index: v.index, type: v.filesystem?.type ?? null, unsupported: v.unsupported },
				host.probe.helperTable,
				host.probe,
				{ readWrite, unknownOrder: settings.unknownFilesystemOrder },
			),
		);
		const folders = host.choosesMountpoints
			? undefined
			: new MountFolders(
					await resolveMountRoot(paths, settings.mountRoot),
					(folderName === undefined ? '' : safeFolderName(folderName)) || diskFolderName(base),
				);
		const outcomes: VolumeOutcome[] = [];
		const total = plans.filter((p) => p.kind === 'mount').length;
		for (const [i, v] of wanted.entries()) {
			const plan = plans[i] as VolumePlan;
			const common: VolumeRecord = {
				index: v.index,
				name: v.name,
				rawPath: join(base.exportDir, v.name),
				filesystem: summarize(v.filesystem),
				readOnly: !readWrite,
				mountpoint: null,
				helper: null,
			};
			if (plan.kind === 'skip') {
				outcomes.push({ kind: 'skipped', record: { ...common, problem: plan.reason }, reason: plan.reason });
				continue;
			}
			const done = outcomes.filter((o) => o.kind !== 'skipped').length;
			progress({
				path: base.path,
				phase: 'mounting-volume',
				volumeIndex: v.index,
				done,
				total,
				message: `Mounting volume ${done + 1} of ${total} (${v.filesystem?.type ?? 'unknown type'})`,
			});
			const record = (volumes: readonly VolumeRecord[]) =>
				registry.put({ ...base, volumes: [...outcomes.map((o) => o.record), ...volumes] });
			outcomes.push(await this.mountVolume(v, plan.attempts, common, folders, record));
		}
		return outcomes;
	}

	/** Mounts one volume; a failure is an outcome, not an exception. */
	private async mountVolume(
		v: OpenedVolume,
		attempts: Extract<VolumePlan, { kind: 'mount' }>['attempts'],
		common: VolumeRecord,
		folders: MountFolders | undefined,
		record: (volumes: readonly VolumeRecord[]) => Promise<void>,
	): Promise<VolumeOutcome> {
		const { host, log } = this.deps;
		const volumeName = safeFolderName(v.filesystem?.label ?? '') || v.name;
		let pending: VolumeRecord = common;
		let attached: string | undefined;
		let handle: MountedVolumeHandle | undefined;
		try {
			let mountpoint: string | null = null;
			if (folders !== undefined) {
				const made = await folders.make(volumeName, async (dirs) => {
					pending = { ...common, createdDirs: dirs };
					await record([pending]);
				});
				mountpoint = made.mountpoint;
				pending = { ...common, mountpoint, createdDirs: made.createdDirs };
				await record([pending]);
			}
			handle = await host.mountVolume(
				attempts,
				{ rawPath: common.rawPath, volumeName, mountpoint },
				{
					onAttached: (device) => {
						attached = device;
						void record([{ ...pending, attachment: device }]);
					},
				},
			);
			log.info(`mounted ${v.name} of ${common.rawPath} at ${handle.mountpoint} with ${handle.attempt.label}`);
			return {
				kind: 'mounted',
				record: {
					...pending,
					mountpoint: handle.mountpoint,
					helper: handle.attempt.label,
					attachment: handle.attachment,
					fuseHelper: handle.fuseHelper,
				},
			};
		} catch (error) {
			if (attached !== undefined && handle === undefined) {
				await host.releaseAttachment(attached).catch(() => undefined);
			}
			// Its own folder goes; the disk folder may hold the other volumes (it stays recorded).
			const [own, ...shared] = pending.createdDirs ?? [];
			if (own !== undefined && pending.mountpoint !== null) await rmdir(own).catch(() => undefined);
			log.info(`volume ${v.name}: ${errorText(error)}`);
			const left = pending.mountpoint === null ? (pending.createdDirs ?? []) : shared;
			return {
				kind: 'failed',
				record: { ...common, problem: errorText(error), ...(left.length > 0 ? { createdDirs: left } : {}) },
				error,
			};
		}
	}

	/** Undoes a mount that failed part-way: volumes, export, folders, registry entry. */
	private async rollBack(id: string, base: DiskRecord | undefined, opened: OpenedDisk): Promise<void> {
		const { log, registry } = this.deps;
		const current = registry.get(id);
		if (current !== undefined) {
			for (const v of current.volumes) {
				if (v.mountpoint !== null) {
					await this.deps.host
						.unmountVolume(
							{ mountpoint: v.mountpoint, attachment: v.attachment, fuseHelper: v.fuseHelper === true },
							{ force: true },
						)
						.catch((e: unknown) => log.info(`rolling back ${v.mountpoint}: ${errorText(e)}`));
				}
			}
			// Folders after all unmounts: a disk folder empties only when its last volume is gone.
			for (const dir of current.volumes.flatMap((v) => v.createdDirs ?? []))
				await rmdir(dir).catch(() => undefined);
		}
		const live = this.live.get(id);
		this.live.delete(id);
		if (base !== undefined) {
			await live?.exp
				.close()
				.catch((e: unknown) => log.info(`closing export ${base.exportDir} failed: ${String(e)}`));
			await rmdir(base.exportDir).catch(() => undefined);
			if (base.overlayDir !== undefined) await rmdir(base.overlayDir).catch(() => undefined);
		}
		await opened.close().catch(() => undefined);
		await registry.remove(id);
	}

	/**
	 * A read or write of an exported file failed. Reads are logged (at most one line per disk
	 * every few seconds, with a count of the rest); a failed overlay write makes the volume
	 * degraded: the writer got EIO, later writes are refused, and lists and events say why.
	 */
	private ioError(id: string, file: string, op: 'read' | 'write', error: unknown): void {
		const record = this.deps.registry.get(id);
		const what = `${op} of ${file} of ${record?.path ?? id} failed: ${errorText(error)}`;
		if (op === 'read') {
			this.readErrors.report(id, what);
			return;
		}
		this.deps.log.info(`${what}; the volume is now degraded and refuses writes`);
		if (record === undefined) return;
		const problem = `a write to its copy-on-write overlay failed (${errorText(error)}); later writes are refused — copy what you need and unmount`;
		void this.serial(async () => {
			const current = this.deps.registry.get(id);
			if (current === undefined) return;
			await this.deps.registry.put({
				...current,
				volumes: current.volumes.map((v) => (v.name === file ? { ...v, state: 'degraded', problem } : v)),
			});
		});
	}

	/** Unmounts what `request` names. */
	unmount(request: UnmountRequest): Promise<MountListResult> {
		return this.serial(async () => {
			const all = this.deps.registry.all().filter((d) => d.state === 'mounted');
			let targets: DiskRecord[];
			if (request.all === true) {
				targets = all;
			} else {
				const target = request.target ?? '';
				const canonical = await realpath(target).catch(() => target);
				const container = await containerOf(canonical);
				targets = all.filter(
					(d) =>
						matches(d, target) ||
						matches(d, canonical) ||
						(container !== undefined && d.path.startsWith(`${container}/`)),
				);
				if (targets.length === 0)
					throw new AppError('NOT_MOUNTED', `${target} is not mounted by vmdk-mounter`);
			}
			const done: DiskRecord[] = [];
			const kept: KeptSnapshotInfo[] = [];
			const errors: unknown[] = [];
			const keep = request.keep === true ? { attach: request.attach === true } : undefined;
			for (const d of targets) {
				try {
					// With --all, read-only disks have nothing to keep and are simply unmounted.
					const keepThis = keep !== undefined && (d.readWrite || request.all !== true) ? keep : undefined;
					const k = await this.unmountDisk(d, request.force === true, keepThis);
					if (k !== undefined) kept.push(k);
					done.push(d);
				} catch (error) {
					errors.push(error);
				}
			}
			if (errors.length > 0) throw errors[0];
			return { disks: done.map(toMountedDisk), ...(keep === undefined ? {} : { kept }) };
		});
	}

	/**
	 * Unmounts one disk: volumes and their attachments, then the export; removes our folders.
	 * With `keep`, a `--rw` mount's changes are first written as a snapshot next to the disk;
	 * when that fails the disk stays listed (its volumes unmounted, its overlays kept), so the
	 * user can try again or unmount without `--keep` to discard them.
	 */
	private async unmountDisk(
		record: DiskRecord,
		force: boolean,
		keep?: { readonly attach: boolean },
	): Promise<KeptSnapshotInfo | undefined> {
		if (keep !== undefined) this.checkKeepable(record);
		const { registry, log, host } = this.deps;
		let remaining = [...record.volumes];
		for (const v of record.volumes) {
			if (v.mountpoint !== null) {
				try {
					await host.unmountVolume(
						{ mountpoint: v.mountpoint, attachment: v.attachment, fuseHelper: v.fuseHelper === true },
						{ force },
					);
				} catch (error) {
					await registry.put({ ...record, volumes: remaining });
					throw error;
				}
				log.info(`unmounted ${v.mountpoint}`);
				for (const dir of v.createdDirs ?? []) await rmdir(dir).catch(() => undefined);
			}
			remaining = remaining.filter((r) => r !== v);
		}
		let kept: KeptSnapshotInfo | undefined;
		if (keep !== undefined) {
			try {
				kept = await this.keepChanges(record, keep.attach);
			} catch (error) {
				await registry.put({ ...record, volumes: [] });
				throw error;
			}
		}
		await this.releaseDisk(record);
		return kept;
	}

	/** Refuses `--keep` early, before anything is unmounted, where it cannot work. */
	private checkKeepable(record: DiskRecord): void {
		if (!record.readWrite) {
			throw new AppError(
				'USAGE',
				`${record.path} was mounted read-only: it has no changes to keep (mount with --rw)`,
			);
		}
		if (splitArchivePath(record.path) !== undefined) {
			throw new AppError(
				'USAGE',
				`${record.path} is inside an appliance: a snapshot cannot be written next to it`,
			);
		}
		const lvm = this.live.get(record.id)?.opened.volumes.find((v) => v.kind === 'lvm');
		if (lvm !== undefined) {
			throw new AppError(
				'USAGE',
				`${record.path} has LVM volumes (${lvm.name}): changes inside LVM cannot be kept yet`,
			);
		}
	}

	/** Writes the overlays' changes as a snapshot of the disk (and points the `.vmx` at it). */
	private async keepChanges(record: DiskRecord, attach: boolean): Promise<KeptSnapshotInfo | undefined> {
		const live = this.live.get(record.id);
		const disk = live?.opened.disk;
		if (live === undefined || disk === undefined) {
			throw new AppError('INTERNAL', `${record.path}: its export is gone; the changes cannot be kept`);
		}
		const changes: ChangedRange[] = [];
		for (const [name, overlay] of live.exp.overlays()) {
			const start =
				name === 'disk' ? 0 : (live.opened.volumes.find((v) => v.name === name)?.startBytes ?? -1);
			if (start < 0) throw new AppError('INTERNAL', `${record.path}: no volume ${name} for its overlay`);
			for (const r of await overlay.writtenRanges()) {
				changes.push({
					offsetBytes: start + r.offsetBytes,
					lengthBytes: r.lengthBytes,
					source: overlay,
					sourceOffsetBytes: r.offsetBytes,
				});
			}
		}
		if (changes.length === 0) {
			this.deps.log.info(`${record.path}: no changes were written; nothing to keep`);
			return undefined;
		}
		const progress = this.progressOf(undefined, record.path);
		const kept = await keepChangesAsSnapshot(disk, changes, {
			onProgress: (done, total) =>
				progress({
					path: record.path,
					phase: 'keeping',
					done,
					total,
					message: `Keeping changes (${done} of ${total} grains)`,
				}),
		});
		this.deps.log.info(`kept the changes to ${record.path} as ${kept.childPath} (${kept.grains} grains)`);
		const info: KeptSnapshotInfo = {
			diskPath: record.path,
			childPath: kept.childPath,
			cid: kept.cid,
			parentCid: kept.parentCid,
			grains: kept.grains,
		};
		if (!attach) return info;
		try {
			const attached = await attachSnapshotToVmx(await vmxNextTo(record.path), record.path, kept.childPath);
			return { ...info, attached };
		} catch (error) {
			// The snapshot is written and safe; only the .vmx is unchanged.
			return { ...info, attachProblem: errorText(error) };
		}
	}

	/** Closes the export of a disk whose volumes are all unmounted, and forgets it. */
	private async releaseDisk(record: DiskRecord): Promise<void> {
		const live = this.live.get(record.id);
		if (live !== undefined) {
			// Forgotten only once its export is gone: a failed unmount can then be retried.
			await live.exp.close();
			this.live.delete(record.id);
			await live.opened.close().catch(() => undefined);
		}
		await rmdir(record.exportDir).catch(() => undefined);
		if (record.overlayDir !== undefined) await rmdir(record.overlayDir).catch(() => undefined);
		await this.deps.registry.remove(record.id);
		this.readErrors.forget(record.id);
		this.deps.log.info(`unmounted disk ${record.path}`);
	}

	/** Mountpoints of every mounted volume (for the host's unmount watcher). */
	mountpoints(): string[] {
		return this.deps.registry
			.all()
			.filter((d) => d.state === 'mounted')
			.flatMap((d) => d.volumes.flatMap((v) => (v.mountpoint === null ? [] : [v.mountpoint])));
	}

	/**
	 * Volumes unmounted behind our back (Finder eject, a user's `umount`): their attachments are
	 * released and their folders removed; a disk with nothing left mounted is released whole, so
	 * nothing stays exported for nobody.
	 */
	volumesGone(gone: readonly string[]): Promise<void> {
		return this.serial(async () => {
			const { registry, host, log } = this.deps;
			for (const record of registry.all().filter((d) => d.state === 'mounted')) {
				const lost = record.volumes.filter((v) => v.mountpoint !== null && gone.includes(v.mountpoint));
				if (lost.length === 0) continue;
				// Confirm against the mount table at the time of acting: it may have come back.
				const reallyGone: VolumeRecord[] = [];
				for (const v of lost) if (!(await host.isMounted(v.mountpoint ?? ''))) reallyGone.push(v);
				if (reallyGone.length === 0) continue;
				for (const v of reallyGone) {
					log.info(`${v.mountpoint ?? '?'} was unmounted outside vmdk-mounter`);
					if (v.attachment !== undefined) await host.releaseAttachment(v.attachment).catch(() => undefined);
					for (const dir of v.createdDirs ?? []) await rmdir(dir).catch(() => undefined);
				}
				const volumes = record.volumes.map((v) =>
					reallyGone.includes(v)
						? { ...v, mountpoint: null, attachment: undefined, problem: 'unmounted outside vmdk-mounter' }
						: v,
				);
				if (volumes.some((v) => v.mountpoint !== null)) await registry.put({ ...record, volumes });
				else
					await this.releaseDisk(record).catch((e: unknown) =>
						log.info(`releasing ${record.path}: ${errorText(e)}`),
					);
			}
		});
	}

	/** Unmounts everything (daemon shutdown); lazily if needed. */
	async unmountAll(): Promise<void> {
		await this.serial(async () => {
			for (const d of this.deps.registry.all()) {
				await this.unmountDisk(d, false).catch(() => this.unmountDisk(d, true).catch(() => undefined));
			}
		});
	}
}

/** The volumes a request asks for. */
function selectVolumes(opened: OpenedDisk, request: MountRequest): OpenedVolume[] {
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
function nothingMounted(path: string, outcomes: readonly VolumeOutcome[]): AppError {
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

function diskFolderName(record: DiskRecord): string {
	return safeFolderName(basename(record.path, extname(record.path))) || record.id;
}

/** The folders of one disk's mountpoints: `<root>/<disk>/<volume>`, made on first use. */
class MountFolders {
	private diskDir: string | undefined;
	private readonly root: string;
	private readonly diskName: string;

	constructor(root: string, diskName: string) {
		this.root = root;
		this.diskName = diskName;
	}

	/**
	 * Makes a unique folder for a volume. `record` is called with the folders about to be made
	 * before each is made, so a crash in between leaves nothing unrecorded.
	 */
	async make(
		volumeName: string,
		record: (dirs: readonly string[]) => Promise<void>,
	): Promise<{ mountpoint: string; createdDirs: readonly string[] }> {
		if (this.diskDir === undefined) {
			this.diskDir = await makeUniqueDir(this.root, this.diskName, (p) => record([p]));
		}
		const diskDir = this.diskDir;
		const mountpoint = await makeUniqueDir(diskDir, volumeName, (p) => record([p, diskDir]));
		// The disk folder is removed after the last of its volumes (rmdir fails while others remain).
		return { mountpoint, createdDirs: [mountpoint, diskDir] };
	}
}

/** Creates `<parent>/<name>`, or `<name> (2)` … if taken; returns its path. */
async function makeUniqueDir(
	parent: string,
	name: string,
	before: (path: string) => Promise<void>,
): Promise<string> {
	for (let i = 1; i <= MAX_UNIQUE_TRIES; i++) {
		const path = join(parent, i === 1 ? name : `${name} (${i})`);
		await before(path);
		try {
			await mkdir(path, { mode: 0o755 });
			return path;
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
		}
	}
	throw new AppError('INTERNAL', `could not make a unique folder for ${name} in ${parent}`);
}

/** Names of what holds disks: an appliance, a VM's configuration, a VM bundle or folder. */
const CONTAINER_FILE = /\.(ova|ovf|vmx|vbox)$/i;

/**
 * The folder whose disks `target` stands for, when it names a VM or appliance rather than one
 * disk: an `.ova` (its members are `<file>.ova/<member>`), the folder of a `.vmx`, `.vbox` or
 * `.ovf`, or a VM folder (one holding a `.vmx`, `.vbox` or `.ovf`). Otherwise undefined.
 */
async function containerOf(target: string): Promise<string | undefined> {
	const info = await stat(target).catch(() => undefined);
	if (info === undefined) return undefined;
	if (info.isFile()) {
		if (/\.ova$/i.test(target)) return target;
		return CONTAINER_FILE.test(target) ? dirname(target) : undefined;
	}
	if (!info.isDirectory()) return undefined;
	const entries = await readdir(target).catch(() => [] as string[]);
	return entries.some((e) => CONTAINER_FILE.test(e)) ? target : undefined;
}

function matches(d: DiskRecord, target: string): boolean {
	if (d.id === target || d.path === target || d.rawPath === target || d.exportDir === target) return true;
	return d.volumes.some(
		(v) =>
			v.rawPath === target ||
			(v.mountpoint !== null && (target === v.mountpoint || target.startsWith(`${v.mountpoint}/`))) ||
			(v.createdDirs ?? []).slice(1).includes(target),
	);
}

/** The `.vmx` next to a disk (for `--attach`): the only one in its folder. */
async function vmxNextTo(diskPath: string): Promise<string> {
	const folder = dirname(diskPath);
	const vmx = (await readdir(folder).catch(() => [] as string[])).filter((e) => /\.vmx$/i.test(e));
	if (vmx.length !== 1) {
		throw new AppError(
			'USAGE',
			vmx.length === 0
				? `no .vmx next to ${diskPath}: there is no VM to attach the snapshot to`
				: `${folder} holds ${vmx.length} .vmx files; attach the snapshot in the right one by hand`,
		);
	}
	return join(folder, vmx[0] ?? '');
}

/** Refuses `--rw` when a VMware lock (`*.lck` file or folder) sits next to the disk. */
async function checkNoLock(diskPath: string): Promise<void> {
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

/** Read errors come in floods (a damaged grain read by every retry): one line per key per interval. */
const READ_ERROR_LOG_INTERVAL_MS = 10_000;

class RateLimitedLog {
	private readonly last = new Map<string, { at: number; suppressed: number }>();
	private readonly write: (line: string) => void;
	constructor(write: (line: string) => void) {
		this.write = write;
	}
	forget(key: string): void {
		this.last.delete(key);
	}
	report(key: string, line: string): void {
		const now = Date.now();
		const seen = this.last.get(key);
		if (seen !== undefined && now - seen.at < READ_ERROR_LOG_INTERVAL_MS) {
			seen.suppressed++;
			return;
		}
		const more =
			seen !== undefined && seen.suppressed > 0
				? ` (${seen.suppressed} more read errors since the last line)`
				: '';
		this.last.set(key, { at: now, suppressed: 0 });
		this.write(`${line}${more}`);
	}
}

function errorText(error: unknown): string {
	return error instanceof Error ? error.message : String(error);
}
