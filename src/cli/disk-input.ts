// SPDX-License-Identifier: MIT
/**
 * Opening the disk a command was given, with the checks every command shares. The input may be
 * a `.vmdk`, a VM (bundle, folder, `.vmx`, `.vbox`), an appliance (`.ova`, `.ovf`) or a disk
 * inside an `.ova` (`app.ova/app-disk1.vmdk`); `--snapshot` picks a snapshot point of a VMware
 * VM and `--disk` one disk of a VM or appliance that has several.
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import {
	VmdkError,
	checkOpenedDisk,
	openDisk,
	resolveOpenTarget,
	targetDisks,
	withArchives,
	type OpenTarget,
	type TargetDisk,
	type VirtualDisk,
} from '../core/index.js';
import { nodePlatform } from '../host/index.js';
import { AppError } from '../shared/app-error.js';

/** Options common to commands that open a disk. */
export interface OpenInputOptions {
	/** `--ignore-cid`: open a snapshot whose parent's CID does not match (warns instead). */
	readonly ignoreCid: boolean;
	/** `--snapshot`: a snapshot of a VMware VM, by uid or name. */
	readonly snapshot?: string | undefined;
	/** `--disk`: which disk of a VM or appliance: its number (1-based), slot or file name. */
	readonly disk?: string | undefined;
}

/** An opened input disk and what it came from. */
export interface OpenedInput {
	readonly disk: VirtualDisk;
	/** The VM, appliance, folder or disk the path named. */
	readonly target: OpenTarget;
	/** What the disk contradicts in its VM or appliance. */
	readonly warnings: readonly string[];
}

/** The platform every command reads through: Node's, able to read inside `.ova` archives. */
export const inputPlatform = withArchives(nodePlatform);

/**
 * `path` made absolute, after checking that it exists (a file, a folder, or a member of an
 * `.ova`). A missing path is `INPUT_NOT_FOUND`, so the user is not told about a missing "extent".
 */
export async function existingInput(path: string): Promise<string> {
	const absolute = resolve(path);
	try {
		await stat(absolute);
		return absolute;
	} catch (cause) {
		const code = (cause as NodeJS.ErrnoException | undefined)?.code;
		if (code === 'ENOTDIR' && (await inputPlatform.fileExists(absolute).catch(() => false))) return absolute;
		if (code === 'ENOENT' || code === 'ENOTDIR') {
			throw new AppError('INPUT_NOT_FOUND', `${absolute}: no such file or folder`, { cause });
		}
		throw new VmdkError(
			'VMDK_IO',
			cause instanceof Error ? cause.message : String(cause),
			{ file: absolute },
			{ cause },
		);
	}
}

/** The disk of `target` that `selector` names, or its only disk. */
export function chooseDisk(
	target: OpenTarget,
	wanted: readonly TargetDisk[],
	selector: string | undefined,
): TargetDisk {
	const where =
		target.kind === 'vm' ? target.vmxPath : target.kind === 'vbox' ? target.vboxPath : target.path;
	const list = wanted
		.map((d, i) => `${i + 1} ${d.controller ?? ''} ${d.path}`.replace(/ {2,}/g, ' '))
		.join('; ');
	if (wanted.length === 0) throw new AppError('INPUT_NOT_FOUND', `${where}: has no disk`);
	if (selector === undefined) {
		if (wanted.length === 1) return wanted[0]!;
		throw new AppError('USAGE', `${where}: has ${wanted.length} disks; choose one with --disk N (${list})`);
	}
	const n = /^[0-9]{1,4}$/.test(selector) ? Number(selector) : NaN;
	const byNumber = Number.isInteger(n) ? wanted[n - 1] : undefined;
	const found =
		byNumber ??
		wanted.find((d) => d.controller === selector) ??
		wanted.find((d) => d.path === selector || d.path.endsWith(`/${selector}`));
	if (found === undefined) throw new AppError('USAGE', `${where}: no disk "${selector}" (disks: ${list})`);
	return found;
}

/** Opens the one disk `path` names (see the module comment). */
export async function openInputDisk(path: string, options: OpenInputOptions): Promise<OpenedInput> {
	const absolute = await existingInput(path);
	const target = await resolveOpenTarget(absolute, inputPlatform, { snapshot: options.snapshot });
	if (target.kind === 'disk' && options.disk !== undefined) {
		throw new AppError(
			'USAGE',
			`${absolute}: --disk chooses a disk of a VM or appliance; this is a single disk`,
		);
	}
	const chosen = chooseDisk(target, targetDisks(target), options.disk);
	if (chosen.problem !== undefined) throw chosen.problem;
	const disk = await openDisk(chosen.path, inputPlatform, { ignoreCid: options.ignoreCid });
	return { disk, target, warnings: checkOpenedDisk(disk, chosen) };
}

/** Runs `work` with the disk open and always closes it. */
export async function withInputDisk<T>(
	path: string,
	options: OpenInputOptions,
	work: (input: OpenedInput) => Promise<T>,
): Promise<T> {
	const input = await openInputDisk(path, options);
	try {
		return await work(input);
	} finally {
		await input.disk.close();
	}
}
