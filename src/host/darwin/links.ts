// SPDX-License-Identifier: MIT
/**
 * The `mount_ext2` compatibility links (`vmdk-mounter setup-links`). `mount -t X` runs
 * `/Library/Filesystems/X.fs/Contents/Resources/mount_X`, so for X in ext2, ext3, ext4:
 *
 *     /Library/Filesystems/X.fs → fuse-ext2.fs
 *     /Library/Filesystems/fuse-ext2.fs/Contents/Resources/mount_X → mount_fuse-ext2
 *
 * (the classic recipe put them in /System/Library/Filesystems, read-only on current macOS).
 * Both targets are relative, so the links work under any root — which is how they are tested
 * for real in a temporary folder on Linux. Mounts made through them are read-only: fuse-ext2's
 * mount helper drops every `-o` option. VMDK Mounter itself never needs them.
 *
 * Idempotent. Setup creates what is missing and replaces dangling links (they point nowhere);
 * a link to something else and a real file in the way are left alone and reported. A link is
 * ours when it holds exactly the target we write; undo removes only those. Changes run as one
 * `/bin/sh` script — through `osascript … with administrator privileges` when the folders are
 * not ours to write — with every path quoted for the shell and then for AppleScript.
 */
import { constants } from 'node:fs';
import { access, lstat, readlink, realpath, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { AppError } from '../../shared/app-error.js';
import { ToolError } from '../common/tool-error.js';
import { runTool, type ToolRunner } from '../node/run-tool.js';

/** The types that get links. */
export const LINKED_TYPES = ['ext2', 'ext3', 'ext4'] as const;
/** Where mount(8) looks for file-system bundles, relative to the root. */
export const FILESYSTEMS_DIR = 'Library/Filesystems';
const BUNDLE = 'fuse-ext2.fs';
const HELPER = 'mount_fuse-ext2';
const SH = '/bin/sh';
const OSASCRIPT = '/usr/bin/osascript';
/** AppleScript's "User canceled." error number, printed by osascript when the prompt is dismissed. */
const USER_CANCELED = '-128';
/** Said with every report. */
export const LINKS_READ_ONLY_NOTE =
	'Mounts made with `mount -t ext2|ext3|ext4` through these links are read-only: fuse-ext2’s mount helper ignores every -o option. VMDK Mounter does not need the links: it runs fuse-ext2 itself.';

/** One link: where it goes and the (relative) target we write. */
export interface LinkSpec {
	readonly path: string;
	readonly target: string;
}

/** What is at a link's path. */
export type LinkState =
	/** Nothing. */
	| 'missing'
	/** Our link, exactly. */
	| 'correct'
	/** A link written differently that leads to the same place (e.g. an absolute one). */
	| 'equivalent'
	/** A link to something else that exists. */
	| 'wrong-target'
	/** A link to something that does not exist. */
	| 'dangling'
	/** A file or folder, not a link. */
	| 'in-the-way';

/** A link as found. */
export interface LinkStatus extends LinkSpec {
	readonly state: LinkState;
	/** The link's own target text, when it is a link. */
	readonly actual?: string | undefined;
	/** For `in-the-way`: a folder rather than a file. */
	readonly isFolder?: boolean | undefined;
}

/** What was done to one link. */
export type LinkAction =
	'created' | 'replaced' | 'removed' | 'already correct' | 'left alone' | 'nothing to remove';

/** The outcome for one link. */
export interface LinkOutcome extends LinkSpec {
	readonly before: LinkState;
	readonly after: LinkState;
	readonly action: LinkAction;
	/** Why it was left alone, or what it pointed to. */
	readonly detail?: string | undefined;
}

/** What `setup-links` reports. */
export interface LinkReport {
	/** The root the paths are under (`/` on a Mac). */
	readonly root: string;
	readonly undo: boolean;
	/** True when every link is as asked (all in place, or none of ours left). */
	readonly complete: boolean;
	/** True when the change needed the administrator prompt. */
	readonly elevated: boolean;
	readonly links: readonly LinkOutcome[];
	readonly note: string;
}

/** The six links under `root`: the helpers inside the bundle first, then the bundles. */
export function compatibilityLinks(root: string): LinkSpec[] {
	const filesystems = join(root, FILESYSTEMS_DIR);
	return [
		...LINKED_TYPES.map((t) => ({
			path: join(filesystems, BUNDLE, 'Contents', 'Resources', `mount_${t}`),
			target: HELPER,
		})),
		...LINKED_TYPES.map((t) => ({ path: join(filesystems, `${t}.fs`), target: BUNDLE })),
	];
}

/** Looks at one link's path (never follows it into a change). */
export async function inspectLink(spec: LinkSpec): Promise<LinkStatus> {
	let info;
	try {
		info = await lstat(spec.path);
	} catch {
		return { ...spec, state: 'missing' };
	}
	if (!info.isSymbolicLink()) return { ...spec, state: 'in-the-way', isFolder: info.isDirectory() };
	const actual = await readlink(spec.path);
	const resolves = await stat(spec.path).then(
		() => true,
		() => false,
	);
	if (!resolves) return { ...spec, state: 'dangling', actual };
	if (actual === spec.target) return { ...spec, state: 'correct', actual };
	const [here, wanted] = await Promise.all([
		realpath(spec.path).catch(() => ''),
		realpath(join(dirname(spec.path), spec.target)).catch(() => undefined),
	]);
	return { ...spec, state: here === wanted ? 'equivalent' : 'wrong-target', actual };
}

/** Every link's status. */
export function inspectLinks(root: string): Promise<LinkStatus[]> {
	return Promise.all(compatibilityLinks(root).map(inspectLink));
}

/** A change to make. */
export interface LinkStep {
	readonly op: 'create' | 'replace' | 'remove';
	readonly path: string;
	readonly target: string;
}

/** True for a link we made (its target is exactly ours), live or dangling. */
function isOurs(s: LinkStatus): boolean {
	return (s.state === 'correct' || s.state === 'dangling') && s.actual === s.target;
}

/** The changes that setup (or undo) makes to links in these states. */
export function planLinkSteps(statuses: readonly LinkStatus[], undo: boolean): LinkStep[] {
	return statuses.flatMap((s): LinkStep[] => {
		if (undo) return isOurs(s) ? [{ op: 'remove', path: s.path, target: s.target }] : [];
		if (s.state === 'missing') return [{ op: 'create', path: s.path, target: s.target }];
		if (s.state === 'dangling') return [{ op: 'replace', path: s.path, target: s.target }];
		return [];
	});
}

/** Quotes `text` as one word for /bin/sh. */
export function shellQuote(text: string): string {
	return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** Quotes `text` as an AppleScript string literal. */
export function appleScriptString(text: string): string {
	return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * The /bin/sh script for `steps`. Each step stops the script if it fails; `ln -s` refuses to
 * overwrite and `rm` runs only on a link, so a path that changed meanwhile is never clobbered.
 */
export function linkScript(steps: readonly LinkStep[]): string {
	return steps
		.map((s) => {
			const path = shellQuote(s.path);
			const link = `/bin/ln -s ${shellQuote(s.target)} ${path}`;
			const unlink = `/bin/test -L ${path} && /bin/rm ${path}`;
			return s.op === 'create' ? link : s.op === 'replace' ? `${unlink} && ${link}` : unlink;
		})
		.join(' && ');
}

/** The AppleScript that runs `script` as an administrator (macOS asks for the password). */
export function elevatedAppleScript(script: string): string {
	return `do shell script ${appleScriptString(script)} with administrator privileges`;
}

/** Options of {@link setupLinks}. */
export interface SetupLinksOptions {
	/** Prefix of every path (`/` on a Mac; a temporary folder in tests). */
	readonly root: string;
	readonly undo: boolean;
	/** May ask for an administrator password (macOS) when the folders are not ours to write. */
	readonly mayElevate: boolean;
	/** The tool runner (default: the project's `runTool`). */
	readonly run?: ToolRunner | undefined;
	/** Whether we may write folder `dir` ourselves (default: access(2); tests stand in for a Mac's root-owned folders). */
	readonly canWrite?: ((dir: string) => Promise<boolean>) | undefined;
}

async function writable(dir: string): Promise<boolean> {
	try {
		await access(dir, constants.W_OK);
		return true;
	} catch {
		return false;
	}
}

/** Creates (or with `undo`, removes) the links and reports each. */
export async function setupLinks(options: SetupLinksOptions): Promise<LinkReport> {
	const run = options.run ?? runTool;
	const before = await inspectLinks(options.root);
	const helper = join(options.root, FILESYSTEMS_DIR, BUNDLE, 'Contents', 'Resources', HELPER);
	if (
		!options.undo &&
		!(await stat(helper).then(
			(s) => s.isFile(),
			() => false,
		))
	) {
		throw new AppError(
			'NO_HELPER',
			`fuse-ext2 is not installed: ${helper} is missing (build it from https://github.com/alperakcan/fuse-ext2, then run this again)`,
		);
	}
	const steps = planLinkSteps(before, options.undo);
	let elevated = false;
	if (steps.length > 0) {
		const dirs = [...new Set(steps.map((s) => dirname(s.path)))];
		const needsAdmin = !(await Promise.all(dirs.map(options.canWrite ?? writable))).every(Boolean);
		if (needsAdmin && !options.mayElevate) {
			throw new AppError('TOOL_FAILED', `cannot write ${dirs.join(' and ')}: run this as an administrator`);
		}
		const script = linkScript(steps);
		elevated = needsAdmin;
		try {
			await (needsAdmin
				? run(OSASCRIPT, ['-e', elevatedAppleScript(script)], {
						name: 'change the links as an administrator',
						timeoutMs: 300_000,
					})
				: run(SH, ['-c', script], { name: 'change the links', timeoutMs: 30_000 }));
		} catch (error) {
			if (needsAdmin && error instanceof ToolError && error.stderr.includes(USER_CANCELED)) {
				throw new AppError('INTERRUPTED', 'the administrator prompt was cancelled; nothing was changed', {
					cause: error,
				});
			}
			const after = await inspectLinks(options.root);
			const report = buildReport(options, before, after, elevated);
			if (!report.complete) {
				const left = after.filter((a) => !isDone(a, options.undo)).map((a) => `${a.path} (${a.state})`);
				throw new AppError(
					'TOOL_FAILED',
					`changing the links failed (${describe(error)}); not done: ${left.join(', ')}`,
					{
						cause: error,
					},
				);
			}
			return report;
		}
	}
	return buildReport(options, before, await inspectLinks(options.root), elevated);
}

function describe(error: unknown): string {
	if (error instanceof ToolError) return error.summary;
	return error instanceof Error ? error.message : String(error);
}

/** True when a link is as setup (in place) or undo (not ours any more) wants it. */
function isDone(a: LinkStatus, undo: boolean): boolean {
	return undo ? !isOurs(a) : a.state === 'correct' || a.state === 'equivalent';
}

function buildReport(
	options: SetupLinksOptions,
	before: readonly LinkStatus[],
	after: readonly LinkStatus[],
	elevated: boolean,
): LinkReport {
	const links = before.map((b, i): LinkOutcome => {
		const a = after[i] ?? b;
		return {
			path: b.path,
			target: b.target,
			before: b.state,
			after: a.state,
			action: actionOf(b, a, options.undo),
			detail: detailOf(b),
		};
	});
	const complete = after.every((a) => isDone(a, options.undo));
	return { root: options.root, undo: options.undo, complete, elevated, links, note: LINKS_READ_ONLY_NOTE };
}

function actionOf(b: LinkStatus, a: LinkStatus, undo: boolean): LinkAction {
	if (undo) {
		if (isOurs(b)) return a.state === 'missing' ? 'removed' : 'left alone';
		return b.state === 'missing' ? 'nothing to remove' : 'left alone';
	}
	if (b.state === 'correct' || b.state === 'equivalent') return 'already correct';
	if (a.state !== 'correct') return 'left alone';
	return b.state === 'dangling' ? 'replaced' : 'created';
}

function detailOf(b: LinkStatus): string | undefined {
	switch (b.state) {
		case 'in-the-way':
			return `a ${b.isFolder === true ? 'folder' : 'file'} is in the way`;
		case 'wrong-target':
			return `it points to ${b.actual ?? '?'}`;
		case 'dangling':
			return `it pointed to ${b.actual ?? '?'}, which does not exist`;
		case 'equivalent':
			return `it points to ${b.actual ?? '?'}`;
		default:
			return undefined;
	}
}
