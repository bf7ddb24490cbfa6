// SPDX-License-Identifier: MIT
/**
 * `vmdk-mounter info [--json] [--ignore-cid] [--snapshot S] [--verify] <path>`: what a disk, VM
 * or appliance is (type, capacity, snapshot chain with CIDs, partition table, volumes,
 * warnings; a VM's snapshot tree; an appliance's descriptor and manifest). `buildDiskInfo` is
 * the one place that turns an open disk into the `DiskInfo` contract.
 */
import { snapshotTreeRows } from '../../core/index.js';
import { inspectPath } from '../../host/index.js';
import type {
	DiskInfo,
	InfoResult,
	ManifestCheckInfo,
	SnapshotInfo,
	VmInfo,
	VolumeInfo,
} from '../../shared/models.js';
import { flag, stringOption, type CliCommand, type CliIo } from '../command.js';
import { existingInput } from '../disk-input.js';
import { formatSize, renderTable } from '../format.js';
import { writeJson } from '../output.js';
import { verifyInput } from '../verify-input.js';

/** What `runInfo` does besides inspecting. */
export interface InfoOptions {
	/** Show a VMware VM at this snapshot point (uid or name). */
	readonly snapshot?: string | undefined;
	/** Check an appliance against its manifest first (needs `io`). */
	readonly verify?: { readonly io: CliIo; readonly json: boolean } | undefined;
}

/** Inspects `path` (a disk, a VM, an appliance, a bundle or a folder) into the `info` contract. */
export async function runInfo(
	path: string,
	ignoreCid: boolean,
	options: InfoOptions = {},
): Promise<InfoResult> {
	const absolute = await existingInput(path);
	let manifestCheck: ManifestCheckInfo | undefined;
	if (options.verify !== undefined)
		manifestCheck = await verifyInput(absolute, options.verify.io, options.verify.json);
	return inspectPath(absolute, { ignoreCid, snapshot: options.snapshot, manifestCheck });
}

/** The snapshot tree, drawn with indentation: one row per snapshot, with the disks it froze. */
function renderSnapshots(vm: VmInfo, snapshots: readonly SnapshotInfo[]): string[] {
	const rows = snapshotTreeRows(snapshots);
	const marks = (s: SnapshotInfo, inLoop: boolean): string =>
		[
			s.current ? '<- current' : '',
			vm.snapshot?.uid === s.uid ? '<- shown' : '',
			inLoop ? '(its parents loop)' : '',
		]
			.filter((m) => m !== '')
			.join(' ');
	return [
		'',
		'Snapshots:',
		renderTable(
			[
				['UID', 'Parent', 'Name', 'Created (UTC)', 'Disks', ''],
				...rows.map(({ snapshot: s, depth, inLoop }) => [
					s.uid,
					s.parentUid ?? '-',
					`${'  '.repeat(Math.max(0, depth - 1))}${depth > 0 ? '└ ' : ''}${s.displayName ?? ''}`,
					s.createTimeUtc ?? '',
					s.disks.map((d) => `${d.node} ${d.fileName}`).join(', '),
					marks(s, inLoop),
				]),
			],
			'  ',
		),
	];
}

/** Human rendering of the VM or appliance around the disks. */
export function renderVmInfo(vm: VmInfo): string {
	const lines: string[] = [];
	const what = { vmware: 'VMware VM', virtualbox: 'VirtualBox VM', folder: 'Folder', ova: 'Appliance' }[
		vm.kind
	];
	const lock = vm.locked
		? vm.staleLock === true
			? 'locked (stale lock: its process is gone)'
			: 'LOCKED — the VM looks like it is running'
		: 'not locked';
	const manifest =
		vm.manifestPath === null
			? 'none'
			: vm.manifestCheck !== undefined
				? `${vm.manifestCheck.path} (verified: ${vm.manifestCheck.files.length} files match)`
				: `${vm.manifestPath ?? ''} (not checked; use --verify)`;
	lines.push(
		renderTable([
			[`${what}:`, vm.vmxPath],
			...(vm.displayName === null ? [] : [['Name:', vm.displayName]]),
			...(vm.guestOS === undefined || vm.guestOS === null ? [] : [['Guest OS:', vm.guestOS]]),
			...(vm.kind === 'folder' || vm.kind === 'ova' ? [] : [['State:', lock]]),
			...(vm.ovfPath === undefined ? [] : [['Descriptor:', vm.ovfPath]]),
			...(vm.kind === 'ova' ? [['Manifest:', manifest]] : []),
			...(vm.snapshot === undefined
				? []
				: [
						[
							'Showing:',
							`snapshot ${vm.snapshot.displayName ?? ''} (uid ${vm.snapshot.uid}), not the current state`,
						],
					]),
		]),
	);
	const snapshots = vm.snapshots ?? [];
	if (snapshots.length > 0) lines.push(...renderSnapshots(vm, snapshots));
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
	args: [
		{
			name: 'disk',
			description:
				'a .vmdk file, a .vmx or .vbox, a .vmwarevm bundle, a VM folder, or an .ova/.ovf appliance',
		},
	],
	options: [
		{ flags: '--ignore-cid', description: 'open a snapshot even if its parent has changed (CID mismatch)' },
		{ flags: '--snapshot <name|uid>', description: "show the VM's disks as this snapshot froze them" },
		{ flags: '--verify', description: 'check an appliance against its manifest (.mf) first' },
	],
	async handler({ args, options, io }) {
		const path = args[0] ?? '';
		const json = flag(options, 'json');
		const result = await runInfo(path, flag(options, 'ignoreCid'), {
			snapshot: stringOption(options, 'snapshot'),
			verify: flag(options, 'verify') ? { io, json } : undefined,
		});
		printInfo(io, result, json);
	},
};
