// SPDX-License-Identifier: MIT
/**
 * `vmdk-mounter convert [--json] [--force] [--ignore-cid] [--subformat S] [--adapter A] <in> <out.vmdk>`:
 * a raw image (holes stay holes), or any VMDK we read (a snapshot chain is flattened), written as
 * a new VMDK that VMware products accept (docs/vmdk-format.md). streamOptimized grains are
 * compressed on every core. Refuses to replace existing files without `--force` and never
 * writes onto a file of its input. A failure or Ctrl-C removes everything written.
 */
import { availableParallelism } from 'node:os';
import { open, stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import {
	DETECT_PREFIX_BYTES,
	VmdkError,
	describeNonVmdk,
	detectVmdkKind,
	type VirtualDisk,
} from '../../core/index.js';
import {
	ADAPTERS,
	WRITE_SUBFORMATS,
	plannedFileNames,
	writeVmdk,
	type Adapter,
	type WriteSource,
	type WriteSubformat,
	type WriteVmdkResult,
} from '../../core/write.js';
import { CodecPool, PARTIAL_SUFFIX, RawFileSource, VmdkOutput, VmdkOutputError } from '../../host/output.js';
import { AppError } from '../../shared/app-error.js';
import { flag, type CliCommand, type CliIo } from '../command.js';
import { openInputDisk } from '../disk-input.js';
import { formatBytes, formatDuration } from '../format.js';
import { writeJson } from '../output.js';
import { createTerminalProgress, NO_PROGRESS } from '../progress.js';

/** `convert --json` output. */
export interface ConvertJson {
	/** Absolute path of the descriptor (the file to open). */
	readonly output: string;
	/** Every file written, descriptor first (absolute paths). */
	readonly files: readonly string[];
	readonly subformat: WriteSubformat;
	readonly adapter: Adapter;
	/** What the input was: a raw image or a VMDK (chain flattened). */
	readonly inputKind: 'raw' | 'vmdk';
	/** Virtual size of the new disk in bytes (the input's size rounded up to a sector). */
	readonly capacityBytes: number;
	/** Bytes of data stored (whole grains for sparse subformats). */
	readonly dataBytes: number;
	/** The new disk's CID. */
	readonly cid: string;
}

/** Default subformat: what VMware Workstation and Fusion create. */
const DEFAULT_SUBFORMAT: WriteSubformat = 'monolithicSparse';
/** Default controller: what VMware suggests for most guests. */
const DEFAULT_ADAPTER: Adapter = 'lsilogic';

/** An opened input: a raw file or a VMDK, the files it is made of, and how to close it. */
interface OpenedInput {
	readonly kind: 'raw' | 'vmdk';
	readonly source: WriteSource;
	readonly files: readonly string[];
	readonly warnings: readonly string[];
	close(): Promise<void>;
}

/** Other image formats we do not read: converting their container bytes as "raw" would be wrong. */
const FOREIGN_IMAGE = /^a (QCOW|VHD|VirtualBox VDI|Parallels)|archive/;

async function openInput(path: string, ignoreCid: boolean): Promise<OpenedInput> {
	let prefix: Uint8Array;
	try {
		if ((await stat(path)).isDirectory()) {
			throw new AppError('USAGE', `${path}: is a folder; give a raw image or a .vmdk file`);
		}
		const handle = await open(path, 'r');
		try {
			const buf = new Uint8Array(DETECT_PREFIX_BYTES);
			const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
			prefix = buf.subarray(0, bytesRead);
		} finally {
			await handle.close();
		}
	} catch (cause) {
		if (cause instanceof AppError) throw cause;
		const code = (cause as NodeJS.ErrnoException | undefined)?.code;
		if (code === 'ENOENT' || code === 'ENOTDIR') {
			throw new AppError('INPUT_NOT_FOUND', `${path}: no such file or folder`, { cause });
		}
		throw new VmdkError(
			'VMDK_IO',
			cause instanceof Error ? cause.message : String(cause),
			{ file: path },
			{ cause },
		);
	}
	if (detectVmdkKind(prefix) !== undefined) {
		const { disk } = await openInputDisk(path, { ignoreCid });
		return {
			kind: 'vmdk',
			source: disk,
			files: diskFiles(disk),
			warnings: disk.warnings,
			close: () => disk.close(),
		};
	}
	const looks = describeNonVmdk(prefix);
	if (FOREIGN_IMAGE.test(looks)) {
		throw new VmdkError(
			'VMDK_UNSUPPORTED_TYPE',
			`this is ${looks}, not a raw image or a VMDK; convert it to raw first (qemu-img convert -O raw)`,
			{ file: path },
		);
	}
	const raw = await RawFileSource.open(path);
	return {
		kind: 'raw',
		source: raw,
		files: [path],
		warnings: raw.holeAware ? [] : ['holes are found by reading (the libdeflate addon is not built)'],
		close: () => raw.close(),
	};
}

/** Every file of a disk: each image's descriptor and its extent files. */
function diskFiles(disk: VirtualDisk): string[] {
	const files: string[] = [];
	for (const layer of disk.layers) {
		files.push(layer.link.path);
		for (const e of layer.descriptor?.extents ?? []) {
			if (e.fileName !== undefined)
				files.push(resolve(dirname(layer.link.path), e.fileName.replaceAll('\\', '/')));
		}
	}
	return files;
}

/** Refuses outputs (or their `.partial` files) that are the same file as any input file. */
async function checkNotInput(outputs: readonly string[], inputs: readonly string[]): Promise<void> {
	const ids = new Map<string, string>();
	for (const path of inputs) {
		const id = await fileId(path);
		if (id !== undefined) ids.set(id, path);
	}
	for (const out of outputs) {
		for (const candidate of [out, out + PARTIAL_SUFFIX]) {
			const id = await fileId(candidate);
			const input = id === undefined ? undefined : ids.get(id);
			if (input !== undefined) {
				throw new AppError('OUTPUT_IS_INPUT', `${candidate}: is ${input}, a file of the input`);
			}
		}
	}
}

/** device:inode of the file at `path` (following links), or undefined if there is none. */
async function fileId(path: string): Promise<string | undefined> {
	try {
		const st = await stat(path, { bigint: true });
		return `${st.dev}:${st.ino}`;
	} catch {
		return undefined;
	}
}

function parseChoice<T extends string>(
	value: unknown,
	choices: readonly T[],
	fallback: T,
	option: string,
): T {
	if (value === undefined) return fallback;
	if (typeof value !== 'string') throw new AppError('USAGE', `${option} needs a value`);
	const found = choices.find((c) => c.toLowerCase() === value.toLowerCase());
	if (found === undefined) {
		throw new AppError('USAGE', `${option} must be one of ${choices.join(', ')} (got "${value}")`);
	}
	return found;
}

/** Writes the disk, mapping output failures to CLI errors; everything partial is removed on failure. */
async function runConvert(
	input: OpenedInput,
	outputPath: string,
	subformat: WriteSubformat,
	adapter: Adapter,
	force: boolean,
	json: boolean,
	io: CliIo,
): Promise<WriteVmdkResult> {
	const codec = subformat === 'streamOptimized' ? CodecPool.create(availableParallelism()) : undefined;
	const output = VmdkOutput.create(dirname(outputPath), { overwrite: force, codec });
	const abort = new AbortController();
	const unlisten = io.onInterrupt?.(() => abort.abort());
	const progress =
		io.stderrIsTTY && !json
			? await createTerminalProgress('Converting', input.source.sizeBytes)
			: NO_PROGRESS;
	let done = false;
	try {
		const result = await writeVmdk(input.source, output.platform, {
			subformat,
			adapter,
			baseName: basename(outputPath).replace(/\.vmdk$/i, ''),
			onProgress: (bytes) => progress.update(bytes),
			signal: abort.signal,
		});
		await output.commit(result.files[0] ?? '');
		done = true;
		return result;
	} catch (error) {
		if (error instanceof VmdkOutputError) {
			const code =
				error.reason === 'exists'
					? 'OUTPUT_EXISTS'
					: error.reason === 'no-space'
						? 'OUTPUT_NO_SPACE'
						: 'OUTPUT_WRITE';
			throw new AppError(code, error.message, { cause: error });
		}
		throw error;
	} finally {
		progress.stop();
		unlisten?.();
		if (!done) await output.abort();
		await codec?.close();
	}
}

/** The `convert` command. */
export const convertCommand: CliCommand = {
	command: 'convert',
	description: 'Write a raw image or a VMDK (chain flattened) as a new VMDK that VMware accepts',
	args: [
		{ name: 'input', description: 'a raw disk image (.img, .raw, a Xen disk) or a .vmdk' },
		{ name: 'output', description: 'the .vmdk to create' },
	],
	options: [
		{
			flags: '--subformat <type>',
			description: `${WRITE_SUBFORMATS.join(' | ')} (default ${DEFAULT_SUBFORMAT})`,
		},
		{ flags: '--adapter <type>', description: `${ADAPTERS.join(' | ')} (default ${DEFAULT_ADAPTER})` },
		{
			flags: '--ignore-cid',
			description: 'read a snapshot input even if its parent has changed (CID mismatch)',
		},
		{ flags: '-f, --force', description: 'replace the output files if they exist' },
	],
	async handler({ args, options, io }) {
		const json = flag(options, 'json');
		const force = flag(options, 'force');
		const subformat = parseChoice(options.subformat, WRITE_SUBFORMATS, DEFAULT_SUBFORMAT, '--subformat');
		const adapter = parseChoice(options.adapter, ADAPTERS, DEFAULT_ADAPTER, '--adapter');
		const inputPath = resolve(args[0] ?? '');
		const outputPath = resolve(args[1] ?? '');
		if (!/\.vmdk$/i.test(outputPath) || basename(outputPath).length <= '.vmdk'.length) {
			throw new AppError('USAGE', `${outputPath}: the output must be a file name ending in .vmdk`);
		}
		const started = Date.now();
		const input = await openInput(inputPath, flag(options, 'ignoreCid'));
		let result: WriteVmdkResult;
		try {
			const base = basename(outputPath).replace(/\.vmdk$/i, '');
			const planned = plannedFileNames(subformat, base, input.source.sizeBytes).map((n) =>
				resolve(dirname(outputPath), n),
			);
			await checkNotInput(planned, input.files);
			for (const w of input.warnings) io.stderr.write(`vmdk-mounter: warning: ${w}\n`);
			result = await runConvert(input, outputPath, subformat, adapter, force, json, io);
		} finally {
			await input.close();
		}
		const files = result.files.map((n) => resolve(dirname(outputPath), n));
		if (json) {
			const out: ConvertJson = {
				output: files[0] ?? outputPath,
				files,
				subformat,
				adapter,
				inputKind: input.kind,
				capacityBytes: result.capacityBytes,
				dataBytes: result.dataBytes,
				cid: result.cid,
			};
			writeJson(io, out);
		} else {
			io.stdout.write(
				`Converted ${formatBytes(result.capacityBytes)} (${formatBytes(result.dataBytes)} of data) to ${files[0] ?? outputPath} (${subformat}, ${adapter}${files.length > 1 ? `, ${files.length} files` : ''}) in ${formatDuration(Date.now() - started)}\n`,
			);
		}
	},
};
