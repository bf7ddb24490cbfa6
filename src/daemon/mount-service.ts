// SPDX-License-Identifier: MIT
/**
 * The daemon's mount service: open → export over FUSE → plan → mount each volume; and the
 * reverse. One operation runs at a time (mounts and unmounts are serialised), while FUSE reads
 * keep being served on the same event loop because every step is asynchronous.
 *
 * Mountpoints: `<mount root>/<disk name>/<volume label or name>`, names made safe and unique;
 * the folders we create are removed (rmdir, never recursively) on unmount.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, realpath, rmdir, stat } from 'node:fs/promises';
import { basename, dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { isVmdkError, planVolume, type FilesystemInfo } from '../core/index.js';
import { MountError } from '../host/common/mount-error.js';
import { readSettings } from '../host/common/settings.js';
import type { LinuxHost } from '../host/linux/capabilities.js';
import { detachLoop } from '../host/linux/loop.js';
import { mountWithAttempts, unmountVolume } from '../host/linux/mounter.js';
import type { AppPaths } from '../host/node/paths.js';
import type { MountRequest, UnmountRequest } from '../shared/daemon-contract.js';
import type { FilesystemSummary, MountListResult } from '../shared/models.js';
import type { DiskOpener, OpenedDisk } from './disk-opener.js';
import { DiskExport } from './fuse/disk-export.js';
import type { DaemonLog } from './log.js';
import { toMountedDisk, type DiskRecord, type MountRegistry, type VolumeRecord } from './mount-registry.js';

/** Longest folder name we create, in characters. */
const MAX_NAME_CHARS = 80;
/** Most " (n)" suffixes tried to make a folder name unique. */
const MAX_UNIQUE_TRIES = 100;

/** What the service needs from the daemon. */
export interface MountServiceDeps {
	readonly paths: AppPaths;
	readonly registry: MountRegistry;
	readonly log: DaemonLog;
	readonly probeHost: () => Promise<LinuxHost>;
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
}

interface LiveDisk {
	readonly opened: OpenedDisk;
	readonly exp: DiskExport;
}

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

	constructor(deps: MountServiceDeps) {
		this.deps = deps;
	}

	private serial<T>(fn: () => Promise<T>): Promise<T> {
		const next = this.queue.then(fn, fn);
		this.queue = next.catch(() => undefined);
		return next;
	}

	list(): MountListResult {
		return { disks: this.deps.registry.list() };
	}

	/** Mounts a disk or each disk of a bundle. */
	mount(request: MountRequest): Promise<MountListResult> {
		return this.serial(async () => {
			if (!isAbsolute(request.path)) throw new MountError('USAGE', `path must be absolute: ${request.path}`);
			try {
				await stat(request.path);
			} catch (cause) {
				throw new MountError('INPUT_NOT_FOUND', `${request.path}: no such file or folder`, { cause });
			}
			const resolved = await this.deps.resolveDisks(request.path, { snapshot: request.snapshot });
			if (request.readWrite === true && request.force !== true && resolved.vmLock !== undefined) {
				throw new MountError(
					'DISK_LOCKED',
					`${request.path} is in use by VMware (${resolved.vmLock}); mount it read-only or use --force`,
				);
			}
			const mounted: DiskRecord[] = [];
			try {
				for (const [i, p] of resolved.disks.entries())
					mounted.push(await this.mountDisk(p, request, resolved.folderNames?.[i]));
			} catch (error) {
				// The client gets the error; the log keeps it too, next to the steps that led to it.
				this.deps.log.info(
					`mounting ${request.path} failed: ${error instanceof Error ? error.message : String(error)}`,
				);
				// A bundle mounts all its disks or none.
				for (const d of mounted.reverse()) await this.unmountDisk(d, true).catch(() => undefined);
				throw error;
			}
			return { disks: mounted.map(toMountedDisk) };
		});
	}

	private async mountDisk(diskPath: string, request: MountRequest, folderName?: string): Promise<DiskRecord> {
		const { registry, paths, log } = this.deps;
		const canonical = await realpath(diskPath).catch(() => resolve(diskPath));
		log.info(`mounting ${canonical}`);
		const existing = registry.all().find((d) => d.path === canonical);
		if (existing !== undefined) {
			const where = existing.volumes.find((v) => v.mountpoint !== null)?.mountpoint;
			throw new MountError(
				'ALREADY_MOUNTED',
				`${canonical} is already mounted${where === undefined ? '' : ` at ${where}`}; unmount it first`,
			);
		}
		const readWrite = request.readWrite === true;
		if (readWrite && request.force !== true) {
			const lock = await findLock(canonical);
			if (lock !== undefined) {
				throw new MountError(
					'DISK_LOCKED',
					`${canonical} is locked by VMware (${lock}); mount it read-only or use --force`,
				);
			}
		}
		const opened = await this.deps.openDisk(canonical, { ignoreCid: request.ignoreCid === true });
		let exp: DiskExport | undefined;
		const id = randomBytes(4).toString('hex');
		const exportDir = join(paths.exportsDir, id);
		const overlayDir = readWrite ? join(paths.overlaysDir, id) : undefined;
		try {
			const wanted = opened.volumes.filter(
				(v) => request.partition === undefined || v.index === request.partition,
			);
			if (request.partition !== undefined && wanted.length === 0) {
				throw new MountError(
					'USAGE',
					`${canonical} has no volume ${request.partition} (volumes: ${opened.volumes.map((v) => v.index).join(', ') || 'none'})`,
				);
			}
			if (readWrite && request.force !== true) {
				for (const v of wanted) {
					const why = unsafeForWrite(v.filesystem);
					if (why !== undefined) {
						throw new MountError(
							'FS_UNSAFE_FOR_WRITE',
							`volume ${v.index} (${v.filesystem?.type ?? '?'}) of ${canonical} ${why}; mount it read-only or use --force`,
						);
					}
				}
			}
			const fileSpecs = [{ name: 'disk', target: opened.target }];
			for (const v of opened.volumes)
				if (v.name !== 'disk') fileSpecs.push({ name: v.name, target: v.target });
			const base: DiskRecord = {
				id,
				path: canonical,
				rawPath: join(exportDir, 'disk'),
				readWrite,
				volumes: [],
				exportDir,
				overlayDir,
				state: 'mounting',
				warnings: opened.warnings,
			};
			// Recorded before anything exists, so a crash mid-mount is cleaned up by the next daemon.
			await registry.put(base);
			const exportHost = await this.deps.probeHost();
			exp = await DiskExport.mount(exportDir, fileSpecs, {
				readWrite,
				overlayDir,
				fsName: `vmdk-mounter:${id}`,
				// A user's export is reachable only by that user's own processes; Debian's ntfs-3g is
				// setuid root and so is not one of them. Where fuse.conf allows, open it to other
				// credentials; the files are then owner-only (mode 0400), so other users stay out.
				allowOther: process.getuid?.() !== 0 && exportHost.userAllowOther,
			});
			this.live.set(id, { opened, exp });
			log.info(
				`exported ${canonical} at ${exportDir} (FUSE binding ${exp.binding})${readWrite ? ' (copy-on-write)' : ''}`,
			);
			const host = await this.deps.probeHost();
			const settings = await readSettings(paths.settingsPath);
			const mountRoot = paths.mountRootOverride ?? settings.mountRoot ?? paths.defaultMountRoot;
			const diskFolderName = safeFolderName(folderName ?? basename(canonical, extname(canonical))) || id;
			const volumes: VolumeRecord[] = [];
			let diskDir: string | undefined;
			for (const v of wanted) {
				const rawPath = join(exportDir, v.name);
				const plan = planVolume(
					{ index: v.index, type: v.filesystem?.type ?? null, unsupported: v.unsupported },
					host,
					{ readWrite, unknownOrder: settings.unknownFilesystemOrder },
				);
				const common = {
					index: v.index,
					name: v.name,
					rawPath,
					filesystem: summarize(v.filesystem),
					readOnly: !readWrite,
				};
				if (plan.kind === 'skip') {
					volumes.push({ ...common, mountpoint: null, helper: null, problem: plan.reason });
					continue;
				}
				if (diskDir === undefined) {
					await mkdir(mountRoot, { recursive: true, mode: 0o755 });
					diskDir = await makeUniqueDir(mountRoot, diskFolderName);
				}
				const label = v.filesystem?.label ?? null;
				const mountpoint = await makeUniqueDir(diskDir, safeFolderName(label ?? '') || v.name);
				let loopSeen: string | undefined;
				// Record the mountpoint (and any loop device) before the helper runs: crash clean-up needs it.
				const pending: VolumeRecord = { ...common, mountpoint, helper: null, createdDirs: [mountpoint] };
				await registry.put({ ...base, volumes: [...volumes, pending] });
				try {
					const handle = await mountWithAttempts(host, plan.attempts, rawPath, mountpoint, (device) => {
						loopSeen = device;
						void registry.put({ ...base, volumes: [...volumes, { ...pending, loopDevice: device }] });
					});
					volumes.push({
						...common,
						mountpoint,
						helper: handle.attempt.label,
						loopDevice: handle.loopDevice,
						fuseHelper: handle.attempt.helper !== 'kernel',
						createdDirs: [mountpoint],
					});
					log.info(`mounted ${v.name} of ${canonical} at ${mountpoint} with ${handle.attempt.label}`);
				} catch (error) {
					await rmdir(mountpoint).catch(() => undefined);
					if (loopSeen !== undefined && host.toolPaths.has('losetup')) {
						await detachLoop(host.toolPaths.get('losetup') ?? '', loopSeen).catch(() => undefined);
					}
					const message = error instanceof Error ? error.message : String(error);
					log.info(`volume ${v.name} of ${canonical}: ${message}`);
					volumes.push({ ...common, mountpoint: null, helper: null, problem: message });
				}
			}
			if (!volumes.some((v) => v.mountpoint !== null)) {
				if (diskDir !== undefined) await rmdir(diskDir).catch(() => undefined);
				const reasons = volumes.map(
					(v) => `volume ${v.index} (${v.filesystem?.type ?? 'unknown'}): ${v.problem ?? '?'}`,
				);
				const anyTried = volumes.some((v) => /could not mount/.test(v.problem ?? ''));
				throw new MountError(
					anyTried ? 'MOUNT_FAILED' : 'NO_HELPER',
					`nothing in ${canonical} could be mounted: ${reasons.join('; ') || 'no volumes found'}`,
				);
			}
			const record: DiskRecord = {
				...base,
				volumes: volumes.map((v) =>
					diskDir !== undefined && v.mountpoint !== null ? { ...v, createdDirs: [v.mountpoint, diskDir] } : v,
				),
				state: 'mounted',
			};
			await registry.put(record);
			return record;
		} catch (error) {
			this.live.delete(id);
			await exp?.close().catch((e: unknown) => log.info(`closing export ${exportDir} failed: ${String(e)}`));
			await rmdir(exportDir).catch(() => undefined);
			if (overlayDir !== undefined) await rmdir(overlayDir).catch(() => undefined);
			await opened.close().catch(() => undefined);
			await registry.remove(id);
			throw error;
		}
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
				if (!isAbsolute(target) && !/^[0-9a-f]{8}$/.test(target)) {
					throw new MountError(
						'USAGE',
						`give an absolute mountpoint or disk path, or --all (got "${target}")`,
					);
				}
				const canonical = await realpath(target).catch(() => target);
				targets = all.filter((d) => matches(d, target) || matches(d, canonical));
				if (targets.length === 0)
					throw new MountError('NOT_MOUNTED', `${target} is not mounted by vmdk-mounter`);
			}
			const done: DiskRecord[] = [];
			const errors: Error[] = [];
			for (const d of targets) {
				try {
					await this.unmountDisk(d, request.force === true);
					done.push(d);
				} catch (error) {
					errors.push(error instanceof Error ? error : new Error(String(error)));
				}
			}
			const first = errors[0];
			if (first !== undefined) throw first;
			return { disks: done.map(toMountedDisk) };
		});
	}

	/** Unmounts one disk: volumes, their loop devices, then the export; removes our folders. */
	private async unmountDisk(record: DiskRecord, force: boolean): Promise<void> {
		const { registry, log } = this.deps;
		const host = await this.deps.probeHost();
		let remaining = [...record.volumes];
		for (const v of record.volumes) {
			if (v.mountpoint !== null) {
				try {
					await unmountVolume(host, v.mountpoint, {
						force,
						loopDevice: v.loopDevice,
						fuse: v.fuseHelper === true,
					});
				} catch (error) {
					await registry.put({ ...record, volumes: remaining });
					throw error;
				}
				log.info(`unmounted ${v.mountpoint}`);
				for (const dir of v.createdDirs ?? []) await rmdir(dir).catch(() => undefined);
			}
			remaining = remaining.filter((r) => r !== v);
		}
		const live = this.live.get(record.id);
		if (live !== undefined) {
			// Forgotten only once its export is gone: a failed unmount can then be retried.
			await live.exp.close();
			this.live.delete(record.id);
			await live.opened.close().catch(() => undefined);
		}
		await rmdir(record.exportDir).catch(() => undefined);
		if (record.overlayDir !== undefined) await rmdir(record.overlayDir).catch(() => undefined);
		await registry.remove(record.id);
		log.info(`unmounted disk ${record.path}`);
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

function matches(d: DiskRecord, target: string): boolean {
	if (d.id === target || d.path === target || d.rawPath === target || d.exportDir === target) return true;
	return d.volumes.some(
		(v) =>
			v.rawPath === target ||
			(v.mountpoint !== null && (target === v.mountpoint || target.startsWith(`${v.mountpoint}/`))) ||
			(v.createdDirs ?? []).slice(1).includes(target),
	);
}

/** Creates `<parent>/<name>`, or `<name> (2)` … if taken; returns its path. */
async function makeUniqueDir(parent: string, name: string): Promise<string> {
	for (let i = 1; i <= MAX_UNIQUE_TRIES; i++) {
		const path = join(parent, i === 1 ? name : `${name} (${i})`);
		try {
			await mkdir(path, { mode: 0o755 });
			return path;
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
		}
	}
	throw new MountError('INTERNAL', `could not make a unique folder for ${name} in ${parent}`);
}

/** A VMware lock next to the disk (`*.lck` file or folder), or undefined. */
async function findLock(diskPath: string): Promise<string | undefined> {
	const folder = dirname(diskPath);
	const entries = await readdir(folder).catch(() => [] as string[]);
	const lock = entries.find((e) => e.toLowerCase().endsWith('.lck'));
	return lock === undefined ? undefined : join(folder, lock);
}

/** True for errors that are the user's to fix (not bugs). */
export function isExpectedError(error: unknown): boolean {
	return error instanceof MountError || isVmdkError(error);
}
