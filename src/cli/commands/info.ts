// SPDX-License-Identifier: MIT
/**
 * `vmdk-mounter info [--json] [--ignore-cid] <disk>`: what a disk is (type, capacity, snapshot
 * chain with CIDs, partition table, volumes, warnings). `buildDiskInfo` is the one place that
 * turns an open disk into the `DiskInfo` contract; partition and volume detection plug in there.
 */
import { resolve } from 'node:path';
import { inspectPath } from '../../host/index.js';
import type { DiskInfo, InfoResult, VmInfo, VolumeInfo } from '../../shared/models.js';
import { flag, type CliCommand, type CliIo } from '../command.js';
import { formatSize, renderTable } from '../format.js';
import { writeJson } from '../output.js';

/** Inspects `path` (a disk, a .vmx/.vbox, a bundle or a folder) into the `info` contract. */
export function runInfo(path: string, ignoreCid: boolean): Promise<InfoResult> {
	return inspectPath(resolve(path), { ignoreCid });
}

/** Human rendering of the VM around the disks. */
export function renderVmInfo(vm: VmInfo): string {
	const lines: string[] = [];
	const what = { vmware: 'VMware VM', virtualbox: 'VirtualBox VM', folder: 'Folder' }[vm.kind];
	const lock = vm.locked
		? vm.staleLock === true
			? 'locked (stale lock: its process is gone)'
			: 'LOCKED — the VM looks like it is running'
		: 'not locked';
	lines.push(
		renderTable([
			[`${what}:`, vm.vmxPath],
			...(vm.displayName === null ? [] : [['Name:', vm.displayName]]),
			...(vm.guestOS === undefined || vm.guestOS === null ? [] : [['Guest OS:', vm.guestOS]]),
			...(vm.kind === 'folder' ? [] : [['State:', lock]]),
		]),
	);
	const snapshots = vm.snapshots ?? [];
	if (snapshots.length > 0) {
		lines.push('', 'Snapshots:');
		lines.push(
			renderTable(
				[
					['UID', 'Parent', 'Name', 'Created (UTC)', ''],
					...snapshots.map((s) => [
						s.uid,
						s.parentUid ?? '-',
						s.displayName ?? '',
						s.createTimeUtc ?? '',
						s.current ? '<- current' : '',
					]),
				],
				'  ',
			),
		);
	}
	if ((vm.warnings ?? []).length > 0)
		lines.push('', 'Warnings:', ...(vm.warnings ?? []).map((w) => `  ! ${w}`));
	return lines.join('\n') + '\n';
}

/** Health flags and problems of a volume, in words. */
function volumeNotes(v: VolumeInfo): string[] {
	const fs = v.filesystem;
	const notes: string[] = [];
	if (fs?.health?.needsRecovery === true) notes.push('journal needs recovery (mount read-only)');
	if (fs?.health?.hibernated === true) notes.push('Windows is hibernated / fast start-up (mount read-only)');
	if (fs?.health?.dirty === true) notes.push('not cleanly unmounted');
	if (fs?.health?.journalDirty === true) notes.push('journal has unreplayed transactions');
	if (fs?.problem !== undefined) notes.push(`unreadable: ${fs.problem}`);
	if (fs?.volumeNames !== undefined && fs.volumeNames.length > 0)
		notes.push(`APFS volumes: ${fs.volumeNames.join(', ')}`);
	return notes;
}

/** Human rendering of one disk, as `info` prints it. */
export function renderDiskInfo(info: DiskInfo): string {
	const lines: string[] = [];
	if (info.error !== undefined) {
		return `Disk: ${info.path}${info.controller === undefined ? '' : ` (${info.controller})`}\n  ! cannot open: ${info.error.message}\n`;
	}
	lines.push(
		renderTable([
			['Disk:', info.path],
			...(info.controller === undefined ? [] : [['Slot:', info.controller]]),
			['Type:', info.createType],
			['Capacity:', formatSize(info.capacityBytes)],
			['Partition table:', info.partitionTable.scheme],
		]),
	);
	lines.push(
		'',
		`Snapshot chain (${info.chain.length} ${info.chain.length === 1 ? 'image' : 'images'}, leaf first):`,
	);
	lines.push(
		renderTable(
			[
				['#', 'CID', 'Parent CID', 'Type', 'Path'],
				...info.chain.map((l, i) => [String(i), l.cid, l.parentCid, l.createType, l.path]),
			],
			'  ',
		),
	);
	lines.push('', 'Volumes:');
	if (info.volumes.length === 0) {
		lines.push('  (none detected)');
	} else {
		lines.push(
			renderTable(
				[
					['#', 'Name', 'Start', 'Size', 'Type', 'Filesystem', 'Label', 'UUID'],
					...info.volumes.map((v) => [
						String(v.index),
						v.lvmName ?? v.name,
						String(v.startBytes),
						formatSize(v.sizeBytes),
						v.partitionType?.name ?? (v.kind === 'lvm' ? 'LVM logical volume' : ''),
						v.filesystem?.type ?? (v.unsupported !== undefined ? `(${v.unsupported})` : '-'),
						v.filesystem?.label ?? '',
						v.filesystem?.uuid ?? '',
					]),
				],
				'  ',
			),
		);
	}
	const notes = info.volumes.flatMap((v) => volumeNotes(v).map((n) => `  ${v.lvmName ?? v.name}: ${n}`));
	if (notes.length > 0) lines.push('', 'Notes:', ...notes);
	if (info.warnings.length > 0) {
		lines.push('', 'Warnings:', ...info.warnings.map((w) => `  ! ${w}`));
	}
	return lines.join('\n') + '\n';
}

/** Prints an `InfoResult` as JSON or text. */
export function printInfo(io: CliIo, result: InfoResult, json: boolean): void {
	if (json) {
		writeJson(io, result);
		return;
	}
	const parts = result.vm === null ? [] : [renderVmInfo(result.vm)];
	io.stdout.write([...parts, ...result.disks.map(renderDiskInfo)].join('\n'));
}

/** The `info` command. */
export const infoCommand: CliCommand = {
	command: 'info',
	description: 'Show a disk or VM: disks, snapshot chains, partitions, volumes and filesystems',
	args: [{ name: 'disk', description: 'a .vmdk file, a .vmx or .vbox, a .vmwarevm bundle or a VM folder' }],
	options: [
		{ flags: '--ignore-cid', description: 'open a snapshot even if its parent has changed (CID mismatch)' },
	],
	async handler({ args, options, io }) {
		const path = args[0] ?? '';
		printInfo(io, await runInfo(path, flag(options, 'ignoreCid')), flag(options, 'json'));
	},
};
