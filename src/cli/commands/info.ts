// SPDX-License-Identifier: MIT
/**
 * `vmdk-mounter info [--json] [--ignore-cid] <disk>`: what a disk is (type, capacity, snapshot
 * chain with CIDs, partition table, volumes, warnings). `buildDiskInfo` is the one place that
 * turns an open disk into the `DiskInfo` contract; partition and volume detection plug in there.
 */
import type { VirtualDisk } from '../../core/index.js';
import type { DiskInfo, InfoResult } from '../../shared/models.js';
import { flag, type CliCommand, type CliIo } from '../command.js';
import { withInputDisk } from '../disk-input.js';
import { formatSize, renderTable } from '../format.js';
import { writeJson } from '../output.js';

/** The `DiskInfo` of an open disk (DESIGN.md, `info --json`). */
export async function buildDiskInfo(disk: VirtualDisk): Promise<DiskInfo> {
	const chain = disk.chain.map((l) => ({
		path: l.path,
		createType: l.createType,
		cid: l.cid,
		parentCid: l.parentCid,
	}));
	return {
		path: disk.path,
		createType: chain[0]?.createType ?? 'unknown',
		capacityBytes: disk.sizeBytes,
		chain,
		// Partition and volume detection are added by the inspection module.
		partitionTable: { scheme: 'none' },
		volumes: [],
		warnings: [...disk.warnings],
	};
}

/** Human rendering of one disk, as `info` prints it. */
export function renderDiskInfo(info: DiskInfo): string {
	const lines: string[] = [];
	lines.push(
		renderTable([
			['Disk:', info.path],
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
					['#', 'Start', 'Size', 'Filesystem', 'Label', 'UUID'],
					...info.volumes.map((v) => [
						String(v.index),
						String(v.startBytes),
						formatSize(v.sizeBytes),
						v.filesystem?.type ?? (v.unsupported !== undefined ? `(${v.unsupported})` : '-'),
						v.filesystem?.label ?? '',
						v.filesystem?.uuid ?? '',
					]),
				],
				'  ',
			),
		);
	}
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
	io.stdout.write(result.disks.map(renderDiskInfo).join('\n'));
}

/** The `info` command. */
export const infoCommand: CliCommand = {
	command: 'info',
	description: 'Show a disk: type, capacity, snapshot chain, partitions and volumes',
	args: [{ name: 'disk', description: 'a .vmdk file' }],
	options: [
		{ flags: '--ignore-cid', description: 'open a snapshot even if its parent has changed (CID mismatch)' },
	],
	async handler({ args, options, io }) {
		const path = args[0] ?? '';
		const info = await withInputDisk(path, { ignoreCid: flag(options, 'ignoreCid') }, buildDiskInfo);
		printInfo(io, { disks: [info], vm: null }, flag(options, 'json'));
	},
};
