// SPDX-License-Identifier: MIT
/**
 * `unmount --keep` on the file system: the changes of a `--rw` mount written next to the disk as
 * a new VMware snapshot (core's writeSnapshotDelta), and `--attach`: the VM's `.vmx` pointed at
 * it. The disk's own files are only read; the `.vmx` is rewritten (atomically) only on request
 * and never while VMware holds a lock on the VM or its disks.
 */
import { randomBytes } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { readdir, readFile, realpath, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { NO_PARENT_CID, readLocks, repointVmxDisks, type VirtualDisk } from '../../core/index.js';
import { nextSnapshotName, vmwareGeometry, writeSnapshotDelta, type ChangedRange } from '../../core/write.js';
import { AppError } from '../../shared/app-error.js';
import { isLockStale } from './lock-liveness.js';
import { nodePlatform } from './node-platform.js';
import { VmdkOutput, VmdkOutputError } from './vmdk-output.js';

/** What {@link keepChangesAsSnapshot} wrote. */
export interface KeptSnapshot {
	/** Absolute path of the new child (`<disk>-NNNNNN.vmdk`). */
	readonly childPath: string;
	/** Its CID. */
	readonly cid: string;
	/** The disk it is a snapshot of (the path the disk was opened with). */
	readonly parentPath: string;
	/** The parent's CID (the child's parentCID). */
	readonly parentCid: string;
	/** 64 KiB grains stored in the child. */
	readonly grains: number;
}

/** Options of {@link keepChangesAsSnapshot}. */
export interface KeepSnapshotOptions {
	readonly signal?: AbortSignal | undefined;
	readonly onProgress?: ((doneGrains: number, totalGrains: number) => void) | undefined;
}

/**
 * Writes `changes` (disk offsets; later entries win) over `disk` as a new snapshot next to the
 * disk's descriptor. `disk` stays open and unchanged. On any failure (disk full, I/O error,
 * abort) the partial child is removed and an AppError (or the source's VmdkError) is thrown.
 */
export async function keepChangesAsSnapshot(
	disk: VirtualDisk,
	changes: readonly ChangedRange[],
	options: KeepSnapshotOptions = {},
): Promise<KeptSnapshot> {
	const leaf = disk.layers[0];
	const descriptor = leaf?.descriptor;
	if (leaf === undefined || descriptor === undefined) {
		throw new AppError('INTERNAL', `${disk.path}: not a VMDK, cannot take a snapshot of it`);
	}
	const parentCid = descriptor.cid ?? NO_PARENT_CID;
	const dir = dirname(disk.path);
	const fileName = nextSnapshotName(basename(disk.path), await readdir(dir));
	const output = VmdkOutput.create(dir, { overwrite: false });
	const ddb = descriptor.ddb;
	const hw = Number(ddb.virtualHwVersion ?? '4');
	let done = false;
	try {
		const result = await writeSnapshotDelta(
			{
				disk,
				cid: parentCid,
				fileNameHint: basename(disk.path),
				adapterType: ddb.adapterType ?? 'lsilogic',
				geometry:
					ddb.geometry ??
					vmwareGeometry(disk.sizeBytes / 512, ddb.adapterType === 'ide' ? 'ide' : 'lsilogic'),
				virtualHwVersion: Number.isSafeInteger(hw) && hw > 0 ? hw : 4,
			},
			changes,
			output.platform,
			{ fileName, signal: options.signal, onProgress: options.onProgress },
		);
		await output.commit(fileName);
		done = true;
		return {
			childPath: join(dir, fileName),
			cid: result.cid,
			parentPath: disk.path,
			parentCid,
			grains: result.grains,
		};
	} catch (error) {
		if (error instanceof VmdkOutputError) {
			const code =
				error.reason === 'no-space'
					? 'OUTPUT_NO_SPACE'
					: error.reason === 'exists'
						? 'OUTPUT_EXISTS'
						: 'OUTPUT_WRITE';
			throw new AppError(code, error.message, { cause: error });
		}
		throw error;
	} finally {
		if (!done) await output.abort();
	}
}

/** What {@link attachSnapshotToVmx} changed. */
export interface AttachResult {
	readonly vmxPath: string;
	/** Disk slots that now use the child (`scsi0:0` …). */
	readonly slots: readonly string[];
}

/**
 * Points every disk slot of the VM at `vmxPath` that uses `parentPath` at `childPath` instead.
 * Refuses (DISK_LOCKED) while VMware holds a live lock in the VM's folder: a running VM rewrites
 * its .vmx and would undo or corrupt the change. The file is replaced atomically.
 */
export async function attachSnapshotToVmx(
	vmxPath: string,
	parentPath: string,
	childPath: string,
): Promise<AttachResult> {
	const dir = dirname(vmxPath);
	const locks = await readLocks(dir, await nodePlatform.listDir(dir), nodePlatform);
	if (locks.locked && !isLockStale(locks)) {
		throw new AppError(
			'DISK_LOCKED',
			`${vmxPath}: the VM is in use by VMware (${locks.lockPaths.join(', ')}); power it off before attaching the snapshot`,
		);
	}
	const parentReal = await realpath(parentPath);
	const bytes = await readFile(vmxPath);
	const childName = resolve(dirname(childPath)) === resolve(dir) ? basename(childPath) : resolve(childPath);
	const isParent = (fileName: string): boolean => {
		// A .vmx names disks relative to its folder, or absolutely; bytes are UTF-8 seen as latin1.
		const named = Buffer.from(fileName, 'latin1').toString('utf8');
		const path = isAbsolute(named) ? named : join(dir, named);
		return resolve(path) === resolve(parentPath) || realpathOrSelf(path) === parentReal;
	};
	const result = repointVmxDisks(
		bytes.toString('latin1'),
		isParent,
		Buffer.from(childName, 'utf8').toString('latin1'),
		vmxPath,
	);
	const mode = (await stat(vmxPath)).mode % 0o10000;
	const temp = `${vmxPath}.${randomBytes(4).toString('hex')}.partial`;
	try {
		await writeFile(temp, Buffer.from(result.text, 'latin1'), { mode });
		await rename(temp, vmxPath);
	} catch (cause) {
		await unlink(temp).catch(() => undefined);
		throw new AppError('OUTPUT_WRITE', `${vmxPath}: cannot rewrite: ${(cause as Error).message}`, {
			cause,
		});
	}
	return { vmxPath, slots: result.slots };
}

/** The real path of a .vmx entry, or the path itself if it does not exist. */
function realpathOrSelf(path: string): string {
	try {
		return realpathSync(path);
	} catch {
		return path;
	}
}
