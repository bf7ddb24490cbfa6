// SPDX-License-Identifier: MIT
/**
 * The single record of what is mounted. Every change is persisted atomically (write a
 * temporary file, then rename) so that after a crash or `kill -9` the next daemon knows which
 * mounts, attached devices, exports and overlays to clean up. Listeners hear the whole list
 * after each change.
 *
 * The persisted file is input like any other: it is read through a schema, a file or record
 * that does not fit is set aside (renamed next to it, reported once) and never stops the
 * daemon, and even a valid record only tells recovery where to look — what it then touches
 * must still prove to be ours (see `recovery.ts`).
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import type { MountedDisk, MountedVolume } from '../shared/models.js';

/** What the registry keeps about one volume, beyond what clients see. */
export interface VolumeRecord extends MountedVolume {
	/** A device attached for it (loop device, macOS disk image), released on unmount. */
	readonly attachment?: string | undefined;
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

/** Largest registry file read, in bytes (a few hundred disks). */
const MAX_REGISTRY_BYTES = 4 * 1024 * 1024;
/** Disk ids: 8 hex digits (also the export folder's name). */
export const DISK_ID = /^[0-9a-f]{8}$/;

const path = z.string().min(1).max(4096).startsWith('/');
const filesystemSchema = z
	.object({
		type: z.string().max(64),
		label: z.string().max(1024).nullable(),
		uuid: z.string().max(128).nullable(),
	})
	.passthrough();
const volumeSchema = z.object({
	index: z.number().int().min(0),
	name: z.string().min(1).max(256),
	mountpoint: path.nullable(),
	rawPath: path,
	filesystem: filesystemSchema.nullable(),
	helper: z.string().max(256).nullable(),
	readOnly: z.boolean(),
	problem: z.string().max(4096).optional(),
	state: z.enum(['mounted', 'degraded']).optional(),
	attachment: z.string().max(4096).optional(),
	/** Version 1 of the file called it so. */
	loopDevice: z.string().max(4096).optional(),
	fuseHelper: z.boolean().optional(),
	createdDirs: z.array(path).max(4).optional(),
});
const diskSchema = z.object({
	id: z.string().regex(DISK_ID),
	path,
	rawPath: path,
	readWrite: z.boolean(),
	volumes: z.array(volumeSchema).max(4096),
	warnings: z.array(z.string().max(4096)).max(1024).optional(),
	exportDir: path,
	overlayDir: path.optional(),
	state: z.enum(['mounting', 'mounted']),
});
const fileSchema = z.object({
	version: z.union([z.literal(1), z.literal(2)]),
	daemonPid: z.number().int(),
	disks: z.array(z.unknown()).max(4096),
});

/** What was read back from a previous daemon. */
export interface PersistedRegistry {
	readonly disks: readonly DiskRecord[];
	/** Sentences about what was set aside (for the user, once). */
	readonly problems: readonly string[];
}

/**
 * Reads a registry left by a previous daemon. A missing file gives nothing; a file that is not
 * a registry is renamed to `<file>.bad-<time>` and reported; records that do not fit the
 * schema are written to `<file>.rejected-<time>` and reported, the others are used.
 */
export async function readPersistedRegistry(registryPath: string): Promise<PersistedRegistry> {
	let text: string;
	try {
		const bytes = await readFile(registryPath);
		if (bytes.length > MAX_REGISTRY_BYTES)
			return await setAside(registryPath, `it is over ${MAX_REGISTRY_BYTES} bytes`);
		text = bytes.toString('utf8');
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { disks: [], problems: [] };
		return await setAside(
			registryPath,
			`it cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
		);
	}
	let file: z.infer<typeof fileSchema>;
	try {
		file = fileSchema.parse(JSON.parse(text));
	} catch {
		return await setAside(registryPath, 'it is not a valid mount registry');
	}
	const disks: DiskRecord[] = [];
	const rejected: unknown[] = [];
	for (const raw of file.disks) {
		const parsed = diskSchema.safeParse(raw);
		if (parsed.success) disks.push(toRecord(parsed.data));
		else rejected.push(raw);
	}
	if (rejected.length === 0) return { disks, problems: [] };
	const aside = `${registryPath}.rejected-${stamp()}`;
	await writeFile(aside, JSON.stringify(rejected, null, 2), { mode: 0o600 }).catch(() => undefined);
	return {
		disks,
		problems: [
			`${rejected.length} unreadable record(s) in ${registryPath} were set aside in ${aside} and not acted on`,
		],
	};
}

function toRecord(d: z.infer<typeof diskSchema>): DiskRecord {
	return {
		...d,
		volumes: d.volumes.map(({ loopDevice, attachment, ...v }) => ({
			...v,
			filesystem: v.filesystem,
			attachment: attachment ?? loopDevice,
		})),
	};
}

async function setAside(registryPath: string, why: string): Promise<PersistedRegistry> {
	const aside = `${registryPath}.bad-${stamp()}`;
	await rename(registryPath, aside).catch(() => undefined);
	return { disks: [], problems: [`${registryPath} was set aside as ${aside}: ${why}`] };
}

function stamp(): string {
	return new Date().toISOString().replace(/[:.]/g, '-');
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
			...(v.state === undefined ? {} : { state: v.state }),
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

	constructor(registryPath: string) {
		this.path = registryPath;
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
		const file = { version: 2, daemonPid: process.pid, disks: this.all() };
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
