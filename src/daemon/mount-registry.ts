// SPDX-License-Identifier: MIT
/**
 * The single record of what is mounted (STYLE §5). Every change is persisted atomically
 * (write a temporary file, then rename) so that after a crash or `kill -9` the next daemon
 * knows which mounts, loop devices, exports and overlays to clean up. Listeners hear the whole
 * list after each change.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { MountedDisk, MountedVolume } from '../shared/models.js';

/** What the registry keeps about one volume, beyond what clients see. */
export interface VolumeRecord extends MountedVolume {
	/** Loop device of a kernel mount. */
	readonly loopDevice?: string | undefined;
	/** True when a FUSE helper (not the kernel) mounted it. */
	readonly fuseHelper?: boolean | undefined;
	/** Folders we created for it (removed on unmount: the mountpoint, then its disk folder). */
	readonly createdDirs?: readonly string[] | undefined;
}

/** What the registry keeps about one disk. */
export interface DiskRecord extends MountedDisk {
	readonly volumes: readonly VolumeRecord[];
	/** The FUSE export folder. */
	readonly exportDir: string;
	/** Overlay folder of a `--rw` mount. */
	readonly overlayDir?: string | undefined;
	/** `mounting` until every volume was tried. */
	readonly state: 'mounting' | 'mounted';
}

/** The persisted file's shape. */
interface RegistryFile {
	readonly version: 1;
	readonly daemonPid: number;
	readonly disks: readonly DiskRecord[];
}

/** Reads a registry left by a previous daemon; an absent or unreadable file gives []. */
export async function readPersistedRegistry(path: string): Promise<readonly DiskRecord[]> {
	try {
		const parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<RegistryFile>;
		return Array.isArray(parsed.disks) ? (parsed.disks as readonly DiskRecord[]) : [];
	} catch {
		return [];
	}
}

/** The public view of a record (what `list --json` prints). */
export function toMountedDisk(record: DiskRecord): MountedDisk {
	return {
		id: record.id,
		path: record.path,
		rawPath: record.rawPath,
		readWrite: record.readWrite,
		volumes: record.volumes.map((v) => ({
			index: v.index,
			name: v.name,
			mountpoint: v.mountpoint,
			rawPath: v.rawPath,
			filesystem: v.filesystem,
			helper: v.helper,
			readOnly: v.readOnly,
			...(v.problem === undefined ? {} : { problem: v.problem }),
		})),
		...(record.warnings === undefined || record.warnings.length === 0 ? {} : { warnings: record.warnings }),
	};
}

/** The in-memory registry with atomic persistence. */
export class MountRegistry {
	private readonly path: string;
	private readonly disks = new Map<string, DiskRecord>();
	private readonly listeners = new Set<(disks: readonly MountedDisk[]) => void>();
	private saving: Promise<void> = Promise.resolve();
	private saveCounter = 0;

	constructor(path: string) {
		this.path = path;
	}

	/** All records. */
	all(): readonly DiskRecord[] {
		return [...this.disks.values()];
	}

	/** The public list of fully mounted disks. */
	list(): readonly MountedDisk[] {
		return this.all()
			.filter((d) => d.state === 'mounted')
			.map(toMountedDisk);
	}

	get(id: string): DiskRecord | undefined {
		return this.disks.get(id);
	}

	get size(): number {
		return this.disks.size;
	}

	/** Adds or replaces a record and persists. */
	async put(record: DiskRecord): Promise<void> {
		this.disks.set(record.id, record);
		await this.changed();
	}

	/** Removes a record and persists. */
	async remove(id: string): Promise<void> {
		if (this.disks.delete(id)) await this.changed();
	}

	/** Listens to changes; returns the unsubscribe function. */
	onDidChange(listener: (disks: readonly MountedDisk[]) => void): () => void {
		this.listeners.add(listener);
		return () => this.listeners.delete(listener);
	}

	/** Writes the current state (also used once at start to clear a previous daemon's file). */
	save(): Promise<void> {
		const file: RegistryFile = { version: 1, daemonPid: process.pid, disks: this.all() };
		const text = JSON.stringify(file, null, 2);
		const tmp = `${this.path}.${process.pid}.${++this.saveCounter}.tmp`;
		// Saves are chained so an older state never lands after a newer one.
		const next = this.saving.then(async () => {
			await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
			await writeFile(tmp, text, { mode: 0o600 });
			await rename(tmp, this.path);
		});
		this.saving = next.catch(() => undefined);
		return next;
	}

	private async changed(): Promise<void> {
		await this.save();
		const list = this.list();
		for (const l of this.listeners) l(list);
	}
}
