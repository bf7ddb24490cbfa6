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
import { realpath, rmdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { planVolume, type VolumePlan } from '../core/index.js';
import {
	inspectPath,
	readSettings,
	resolveMountRoot,
	type AppPaths,
	type Host,
	type MountedVolumeHandle,
} from '../host/index.js';
import { AppError } from '../shared/app-error.js';
import type {
	InspectRequest,
	MountRequest,
	ProgressEvent,
	UnmountRequest,
} from '../shared/daemon-contract.js';
import type { InfoResult, KeptSnapshotInfo, MountListResult } from '../shared/models.js';
import type { DiskOpener, OpenedDisk, OpenedVolume } from './disk-opener.js';
import { DiskExport } from './fuse/disk-export.js';
import type { FuseBackend } from './fuse/fuse-backend.js';
import type { DaemonLog } from './log.js';
import { checkKeepable, keepChanges, type KeepContext } from './keep-changes.js';
import { checkNoLock, nothingMounted, selectVolumes, summarize, type VolumeOutcome } from './mount-checks.js';
import { diskFolderName, MountFolders, safeFolderName } from './mount-folders.js';
import { toMountedDisk, type DiskRecord, type MountRegistry, type VolumeRecord } from './mount-registry.js';
import { RateLimitedLog } from './rate-limited-log.js';
import { containerOf, matches, volumeNamed } from './unmount-targets.js';

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

/** Reports progress of one call. */
type Progress = (event: Omit<ProgressEvent, 'operationId'>) => void;

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
		const before = new Set(this.deps.registry.all().map((d) => d.id));
		try {
			for (const [i, p] of resolved.disks.entries()) {
				mounted.push(await this.mountDisk(p, request, progress, resolved.folderNames?.[i]));
			}
		} catch (error) {
			// A bundle mounts all its disks or none (disks that were mounted before stay as they were).
			for (const d of mounted.reverse()) {
				if (!before.has(d.id)) await this.unmountDisk(d, true).catch(() => undefined);
			}
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
		const existing = this.deps.registry.all().find((d) => d.path === canonical && d.state === 'mounted');
		if (existing !== undefined && request.partition !== undefined) {
			return this.mountAnotherVolume(existing, request.partition, readWrite, progress);
		}
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

	/**
	 * Mounts volume `index` of a disk that is mounted already (its export serves every volume):
	 * a volume unmounted on its own, or one left out by `--partition`. The mode must match the
	 * disk's; in a writable mount only volumes that have an overlay can be mounted.
	 */
	private async mountAnotherVolume(
		record: DiskRecord,
		index: number,
		readWrite: boolean,
		progress: Progress,
	): Promise<DiskRecord> {
		const live = this.live.get(record.id);
		const opened = live?.opened.volumes.find((v) => v.index === index);
		const recorded = record.volumes.find((v) => v.index === index);
		if (live === undefined || opened === undefined) {
			throw new AppError('USAGE', `${record.path} has no volume ${index}`);
		}
		if (recorded?.mountpoint != null) {
			throw new AppError(
				'ALREADY_MOUNTED',
				`volume ${index} of ${record.path} is already mounted at ${recorded.mountpoint}`,
			);
		}
		if (readWrite !== record.readWrite) {
			throw new AppError(
				'ALREADY_MOUNTED',
				`${record.path} is mounted ${record.readWrite ? 'with copy-on-write' : 'read-only'}; unmount it to mount volume ${index} ${readWrite ? 'writable' : 'read-only'}`,
			);
		}
		if (readWrite && !live.exp.overlays().has(opened.name)) {
			throw new AppError(
				'USAGE',
				`volume ${index} of ${record.path} was not part of its writable mount; unmount the disk and mount it again with that volume`,
			);
		}
		const { host, paths, registry } = this.deps;
		const settings = await readSettings(paths.settingsPath);
		const plan = planVolume(
			{ index, type: opened.filesystem?.type ?? null, unsupported: opened.unsupported },
			host.probe.helperTable,
			host.probe,
			{ readWrite, unknownOrder: settings.unknownFilesystemOrder },
		);
		if (plan.kind === 'skip')
			throw new AppError('NO_HELPER', `volume ${index} of ${record.path}: ${plan.reason}`);
		const diskDir = record.volumes.flatMap((v) =>
			v.mountpoint !== null ? (v.createdDirs?.slice(1, 2) ?? []) : [],
		)[0];
		const folders = host.choosesMountpoints
			? undefined
			: new MountFolders(
					await resolveMountRoot(paths, settings.mountRoot),
					diskFolderName(record.path, record.id),
					diskDir,
				);
		const common: VolumeRecord = {
			index,
			name: opened.name,
			rawPath: join(record.exportDir, opened.name),
			filesystem: summarize(opened.filesystem),
			readOnly: !readWrite,
			mountpoint: null,
			helper: null,
		};
		const others = record.volumes.filter((v) => v.index !== index);
		const put = (volumes: readonly VolumeRecord[]) =>
			registry.put({ ...record, volumes: [...others, ...volumes].sort((a, b) => a.index - b.index) });
		progress({
			path: record.path,
			phase: 'mounting-volume',
			volumeIndex: index,
			done: 0,
			total: 1,
			message: `Mounting volume ${index}`,
		});
		const outcome = await this.mountVolume(opened, plan.attempts, common, folders, put);
		await put([outcome.record]);
		if (outcome.kind !== 'mounted') {
			throw new AppError(
				'MOUNT_FAILED',
				`volume ${index} of ${record.path}: ${outcome.record.problem ?? 'could not be mounted'}`,
			);
		}
		return registry.get(record.id) ?? record;
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
					(folderName === undefined ? '' : safeFolderName(folderName)) || diskFolderName(base.path, base.id),
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
				// A volume's mountpoint (or a folder in it) unmounts that volume alone while others
				// of its disk stay mounted; the disk's last volume takes the disk with it.
				const one = request.keep === true ? undefined : volumeNamed(all, [target, canonical]);
				if (one !== undefined && one.record.volumes.some((v) => v !== one.volume && v.mountpoint !== null)) {
					const updated = await this.unmountOneVolume(one.record, one.volume, request.force === true);
					return { disks: [toMountedDisk(updated)], unmountedVolume: one.volume.mountpoint ?? undefined };
				}
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
		if (keep !== undefined) checkKeepable(record, this.live.get(record.id)?.opened);
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
				kept = await keepChanges(record, this.keepContext(record), keep.attach);
			} catch (error) {
				await registry.put({ ...record, volumes: [] });
				throw error;
			}
		}
		await this.releaseDisk(record);
		return kept;
	}

	private keepContext(record: DiskRecord): KeepContext | undefined {
		const live = this.live.get(record.id);
		if (live === undefined) return undefined;
		const progress = this.progressOf(undefined, record.path);
		return {
			...live,
			log: this.deps.log,
			onProgress: (done, total) =>
				progress({
					path: record.path,
					phase: 'keeping',
					done,
					total,
					message: `Keeping changes (${done} of ${total} grains)`,
				}),
		};
	}

	/** Unmounts one volume of a disk whose other volumes stay mounted. */
	private async unmountOneVolume(
		record: DiskRecord,
		volume: VolumeRecord,
		force: boolean,
	): Promise<DiskRecord> {
		const { host, log, registry } = this.deps;
		const mountpoint = volume.mountpoint ?? '';
		await host.unmountVolume(
			{ mountpoint, attachment: volume.attachment, fuseHelper: volume.fuseHelper === true },
			{ force },
		);
		log.info(`unmounted ${mountpoint} (the other volumes of ${record.path} stay mounted)`);
		const [own, ...rest] = volume.createdDirs ?? [];
		if (own !== undefined) await rmdir(own).catch(() => undefined);
		const updated: DiskRecord = {
			...record,
			volumes: record.volumes.map((v) =>
				v === volume
					? {
							index: v.index,
							name: v.name,
							rawPath: v.rawPath,
							filesystem: v.filesystem,
							readOnly: v.readOnly,
							mountpoint: null,
							helper: null,
							...(rest.length > 0 ? { createdDirs: rest } : {}),
						}
					: v,
			),
		};
		await registry.put(updated);
		return updated;
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

function errorText(error: unknown): string {
	return error instanceof Error ? error.message : String(error);
}
