// SPDX-License-Identifier: MIT
/**
 * `vmdk-mounter export [--json] [--ignore-cid] [--force] [--snapshot S] [--disk N] [--verify]
 * <disk | VM | appliance> <out.raw>`: the guest's disk as a sparse raw file. Refuses to replace
 * an existing output unless `--force`, and never writes onto the disk's own files (or the
 * `.ova` they are in) or any `.vmdk`/`.ova`. Progress is drawn on a terminal only.
 */
import { realpath } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { splitArchivePath, type VirtualDisk } from '../../core/index.js';
import { setInflateWorkers } from '../../host/index.js';
import { exportRaw, PARTIAL_SUFFIX, RawExportError, type RawExportResult } from '../../host/output.js';
import { AppError } from '../../shared/app-error.js';
import { flag, stringOption, type CliCommand, type CliIo } from '../command.js';
import { withInputDisk } from '../disk-input.js';
import { formatBytes, formatDuration } from '../format.js';
import { writeJson } from '../output.js';
import { verifyInput } from '../verify-input.js';
import { createTerminalProgress, NO_PROGRESS, type ByteProgress } from '../progress.js';

/** `export --json` output. */
interface ExportJson {
	/** Absolute path of the raw file written. */
	readonly output: string;
	/** Its size in bytes (the disk's capacity). */
	readonly bytes: number;
	/** Bytes of data actually written; the rest are holes. */
	readonly dataBytes: number;
}

/** Refuses `.vmdk`/`.ova` output names before anything is opened: a raw image never belongs there. */
function checkOutputName(outputPath: string): void {
	const m = /\.(vmdk|ova)$/i.exec(outputPath);
	if (m) {
		throw new AppError(
			'OUTPUT_IS_INPUT',
			`${outputPath}: refusing to write a raw image to a .${m[1]!.toLowerCase()} name`,
		);
	}
}

/**
 * Refuses outputs that resolve (through symlinks) to a file of the disk's chain, or to any
 * `.vmdk` (which covers extent files such as `-flat.vmdk` and `-s001.vmdk`).
 */
async function checkOutputNotInChain(outputPath: string, disk: VirtualDisk): Promise<void> {
	const targets = [await realpathOrSelf(outputPath), await realpathOrSelf(outputPath + PARTIAL_SUFFIX)];
	const vmdkTarget = targets.find((t) => /\.vmdk$/i.test(t));
	if (vmdkTarget !== undefined) {
		throw new AppError('OUTPUT_IS_INPUT', `${outputPath}: resolves to ${vmdkTarget}, a disk file`);
	}
	// A disk inside an .ova is read from the archive: that file must not be overwritten either.
	const files = disk.chain.flatMap((l) => {
		const archive = splitArchivePath(l.path)?.archive;
		return archive === undefined ? [l.path] : [l.path, archive];
	});
	for (const file of files) {
		if (targets.includes(await realpathOrSelf(file))) {
			throw new AppError('OUTPUT_IS_INPUT', `${outputPath}: is ${file}, a file of the disk being exported`);
		}
	}
}

async function realpathOrSelf(path: string): Promise<string> {
	try {
		return await realpath(path);
	} catch {
		return path;
	}
}

/** Exports with progress and maps writer failures to CLI error codes. */
async function runExport(
	disk: VirtualDisk,
	outputPath: string,
	force: boolean,
	progress: ByteProgress,
	io: CliIo,
): Promise<RawExportResult> {
	const abort = new AbortController();
	const unlisten = io.onInterrupt?.(() => abort.abort());
	try {
		return await exportRaw(disk, outputPath, {
			overwrite: force,
			onProgress: (p) => progress.update(p.doneBytes),
			signal: abort.signal,
		});
	} catch (error) {
		if (error instanceof RawExportError) {
			throw new AppError(error.reason === 'exists' ? 'OUTPUT_EXISTS' : 'OUTPUT_WRITE', error.message, {
				cause: error,
			});
		}
		throw error;
	} finally {
		progress.stop();
		unlisten?.();
	}
}

/** The `export` command. */
export const exportCommand: CliCommand = {
	command: 'export',
	description: 'Write the disk as a sparse raw image (holes where the disk is empty)',
	args: [
		{
			name: 'disk',
			description: 'a .vmdk file, a VM (bundle, folder, .vmx, .vbox) or an appliance (.ova, .ovf)',
		},
		{ name: 'output', description: 'the raw file to create' },
	],
	options: [
		{ flags: '--ignore-cid', description: 'open a snapshot even if its parent has changed (CID mismatch)' },
		{ flags: '-f, --force', description: 'replace the output file if it exists' },
		{ flags: '--snapshot <name|uid>', description: 'export the disk as this snapshot of the VM froze it' },
		{
			flags: '--disk <n>',
			description: 'which disk of a VM or appliance: its number (as info lists them) or slot',
		},
		{ flags: '--verify', description: 'first check the appliance against its manifest (.mf)' },
	],
	async handler({ args, options, io }) {
		const json = flag(options, 'json');
		const force = flag(options, 'force');
		const outputPath = resolve(args[1] ?? '');
		checkOutputName(outputPath);
		if (flag(options, 'verify')) await verifyInput(args[0] ?? '', io, json);
		// Nothing else runs in this process: compressed grains may inflate on every core.
		setInflateWorkers(availableParallelism());
		const started = Date.now();
		const result = await withInputDisk(
			args[0] ?? '',
			{
				ignoreCid: flag(options, 'ignoreCid'),
				snapshot: stringOption(options, 'snapshot'),
				disk: stringOption(options, 'disk'),
			},
			async ({ disk, warnings }) => {
				await checkOutputNotInChain(outputPath, disk);
				for (const w of [...disk.warnings, ...warnings]) io.stderr.write(`vmdk-mounter: warning: ${w}\n`);
				const progress =
					io.stderrIsTTY && !json ? await createTerminalProgress('Exporting', disk.sizeBytes) : NO_PROGRESS;
				return runExport(disk, outputPath, force, progress, io);
			},
		);
		if (json) {
			const out: ExportJson = { output: result.output, bytes: result.bytes, dataBytes: result.dataBytes };
			writeJson(io, out);
		} else {
			io.stdout.write(
				`Exported ${formatBytes(result.bytes)} (${formatBytes(result.dataBytes)} of data) to ${result.output} in ${formatDuration(Date.now() - started)}\n`,
			);
		}
	},
};
