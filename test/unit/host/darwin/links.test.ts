// SPDX-License-Identifier: MIT
/**
 * The mount_ext2 compatibility links, made and removed for real in a temporary root laid out
 * like /Library/Filesystems: the same /bin/sh script the Mac runs, on paths with spaces,
 * quotes and `$`. The administrator prompt is the one step replaced: a stand-in for osascript
 * decodes the AppleScript string and runs the shell script in it, so quoting is checked
 * through both layers.
 */
import { lstat, mkdir, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../../../src/cli/run.js';
import { ToolError } from '../../../../src/host/common/tool-error.js';
import {
	appleScriptString,
	elevatedAppleScript,
	inspectLinks,
	linkScript,
	setupLinks,
	shellQuote,
	type LinkReport,
} from '../../../../src/host/darwin/links.js';
import { runTool, type ToolRunner } from '../../../../src/host/node/run-tool.js';
import { isAppError } from '../../../../src/shared/app-error.js';
import { makeTempDir } from '../../../helpers/temp-dir.js';

let base: string;
let cleanup: () => Promise<void>;
/** A root whose name needs every kind of quoting. */
let root: string;
let fs: string;
let resources: string;

beforeEach(async () => {
	({ dir: base, cleanup } = await makeTempDir('vmdk-links-'));
	root = join(base, `Mac "HD" it's $HOME \\ and $(touch pwned)`);
	fs = join(root, 'Library', 'Filesystems');
	resources = join(fs, 'fuse-ext2.fs', 'Contents', 'Resources');
	await mkdir(resources, { recursive: true });
	await writeFile(
		join(resources, 'mount_fuse-ext2'),
		'#!/bin/sh\n"/Library/Filesystems/fuse-ext2.fs/fuse-ext2.util" "-m" "$@"\n',
	);
});
afterEach(() => cleanup());

function byName(report: LinkReport): Record<string, string> {
	return Object.fromEntries(
		report.links.map((l) => [l.path.slice(fs.length + 1), `${l.before}→${l.after} ${l.action}`]),
	);
}

async function linkAt(path: string): Promise<string | undefined> {
	return readlink(path).catch(() => undefined);
}

describe('setup-links on a temporary root', () => {
	it('fresh: creates the six links, relative, and mount(8)’s path reaches mount_fuse-ext2', async () => {
		const report = await setupLinks({ root, undo: false, mayElevate: false });
		expect(report.complete).toBe(true);
		expect(report.elevated).toBe(false);
		expect(Object.values(byName(report))).toEqual(Array(6).fill('missing→correct created'));
		expect(await linkAt(join(fs, 'ext3.fs'))).toBe('fuse-ext2.fs');
		expect(await linkAt(join(resources, 'mount_ext4'))).toBe('mount_fuse-ext2');
		// What `mount -t ext2` executes resolves to fuse-ext2's helper.
		const viaMount = join(fs, 'ext2.fs', 'Contents', 'Resources', 'mount_ext2');
		expect((await lstat(viaMount)).isSymbolicLink()).toBe(true);
		expect(await import('node:fs/promises').then((m) => m.realpath(viaMount))).toBe(
			await import('node:fs/promises').then((m) => m.realpath(join(resources, 'mount_fuse-ext2'))),
		);
		// Nothing was run by the shell that should not have been.
		expect(await lstat(join(base, 'pwned')).catch(() => undefined)).toBeUndefined();
	});

	it('already done: idempotent, nothing is run', async () => {
		await setupLinks({ root, undo: false, mayElevate: false });
		const calls: string[] = [];
		const spy: ToolRunner = (tool, args, o) => {
			calls.push(tool);
			return runTool(tool, args, o);
		};
		const report = await setupLinks({ root, undo: false, mayElevate: false, run: spy });
		expect(calls).toEqual([]);
		expect(report.complete).toBe(true);
		expect(Object.values(byName(report))).toEqual(Array(6).fill('correct→correct already correct'));
	});

	it('a link to something else and a file or folder in the way are left alone and reported', async () => {
		await mkdir(join(fs, 'other.fs'));
		await symlink('other.fs', join(fs, 'ext2.fs'));
		await writeFile(join(resources, 'mount_ext3'), 'mine\n');
		await mkdir(join(fs, 'ext4.fs'));
		const report = await setupLinks({ root, undo: false, mayElevate: false });
		expect(report.complete).toBe(false);
		expect(byName(report)).toEqual({
			'fuse-ext2.fs/Contents/Resources/mount_ext2': 'missing→correct created',
			'fuse-ext2.fs/Contents/Resources/mount_ext3': 'in-the-way→in-the-way left alone',
			'fuse-ext2.fs/Contents/Resources/mount_ext4': 'missing→correct created',
			'ext2.fs': 'wrong-target→wrong-target left alone',
			'ext3.fs': 'missing→correct created',
			'ext4.fs': 'in-the-way→in-the-way left alone',
		});
		expect(report.links.map((l) => l.detail).filter(Boolean)).toEqual([
			'a file is in the way',
			'it points to other.fs',
			'a folder is in the way',
		]);
		expect(await linkAt(join(fs, 'ext2.fs'))).toBe('other.fs');
	});

	it('a dangling link is replaced (it pointed nowhere); an equivalent absolute link counts as correct', async () => {
		await symlink('/nowhere/fuse-ext2.fs', join(fs, 'ext2.fs'));
		await symlink(join(fs, 'fuse-ext2.fs'), join(fs, 'ext3.fs'));
		const report = await setupLinks({ root, undo: false, mayElevate: false });
		expect(report.complete).toBe(true);
		expect(byName(report)['ext2.fs']).toBe('dangling→correct replaced');
		expect(report.links.find((l) => l.path.endsWith('ext2.fs'))?.detail).toBe(
			'it pointed to /nowhere/fuse-ext2.fs, which does not exist',
		);
		expect(byName(report)['ext3.fs']).toBe('equivalent→equivalent already correct');
		expect(await linkAt(join(fs, 'ext2.fs'))).toBe('fuse-ext2.fs');
	});

	it('undo removes only the links it made', async () => {
		await setupLinks({ root, undo: false, mayElevate: false });
		await rm(join(fs, 'ext3.fs'));
		await symlink(join(fs, 'fuse-ext2.fs'), join(fs, 'ext3.fs')); // someone's own, absolute
		await rm(join(resources, 'mount_ext4'));
		await writeFile(join(resources, 'mount_ext4'), 'mine\n');
		const report = await setupLinks({ root, undo: true, mayElevate: false });
		expect(report.complete).toBe(true);
		expect(byName(report)).toEqual({
			'fuse-ext2.fs/Contents/Resources/mount_ext2': 'correct→missing removed',
			'fuse-ext2.fs/Contents/Resources/mount_ext3': 'correct→missing removed',
			'fuse-ext2.fs/Contents/Resources/mount_ext4': 'in-the-way→in-the-way left alone',
			'ext2.fs': 'correct→missing removed',
			'ext3.fs': 'equivalent→equivalent left alone',
			'ext4.fs': 'correct→missing removed',
		});
		expect(await linkAt(join(fs, 'ext3.fs'))).toBe(join(fs, 'fuse-ext2.fs'));
		// Undo again: nothing left to remove.
		const again = await setupLinks({ root, undo: true, mayElevate: false });
		expect(again.links.filter((l) => l.action === 'nothing to remove')).toHaveLength(4);
	});

	it('undo also removes our link left dangling after fuse-ext2 was uninstalled', async () => {
		await setupLinks({ root, undo: false, mayElevate: false });
		await rm(join(fs, 'fuse-ext2.fs'), { recursive: true });
		const report = await setupLinks({ root, undo: true, mayElevate: false });
		expect(report.complete).toBe(true);
		expect(byName(report)['ext2.fs']).toBe('dangling→missing removed');
	});

	it('without fuse-ext2 installed, setup is a NO_HELPER error naming the missing helper', async () => {
		await rm(join(fs, 'fuse-ext2.fs'), { recursive: true });
		const error = await setupLinks({ root, undo: false, mayElevate: false }).catch((e: unknown) => e);
		expect(isAppError(error, 'NO_HELPER')).toBe(true);
		expect((error as Error).message).toContain(join(resources, 'mount_fuse-ext2'));
	});
});

/** Decodes an AppleScript string literal (only \\ and \" are escapes). */
function decodeAppleScriptString(literal: string): string {
	expect(literal.startsWith('"') && literal.endsWith('"')).toBe(true);
	let out = '';
	for (let i = 1; i < literal.length - 1; i++) {
		const ch = literal[i] as string;
		if (ch === '\\') {
			out += literal[++i] ?? '';
			continue;
		}
		expect(ch).not.toBe('"'); // an unescaped quote would end the string early
		out += ch;
	}
	return out;
}

/** osascript, as far as this script goes: `do shell script "<sh>" with administrator privileges`. */
function fakeOsascript(log: string[], answer?: { exit: number; stderr: string }): ToolRunner {
	return async (tool, args, options) => {
		log.push(tool);
		expect(tool).toBe('/usr/bin/osascript');
		expect(args[0]).toBe('-e');
		const m = /^do shell script (".*") with administrator privileges$/s.exec(args[1] ?? '');
		expect(m).not.toBeNull();
		if (answer !== undefined) {
			throw new ToolError({ tool, args, exitCode: answer.exit, stderr: answer.stderr, timedOut: false });
		}
		return runTool('/bin/sh', ['-c', decodeAppleScriptString(m?.[1] ?? '""')], options);
	};
}

describe('the administrator prompt', () => {
	const notWritable = async (): Promise<boolean> => false;

	it('runs the same script through osascript, quoted for the shell and then for AppleScript', async () => {
		const log: string[] = [];
		const report = await setupLinks({
			root,
			undo: false,
			mayElevate: true,
			run: fakeOsascript(log),
			canWrite: notWritable,
		});
		expect(log).toEqual(['/usr/bin/osascript']);
		expect(report).toMatchObject({ complete: true, elevated: true });
		expect(await linkAt(join(fs, 'ext4.fs'))).toBe('fuse-ext2.fs');
		const undo = await setupLinks({
			root,
			undo: true,
			mayElevate: true,
			run: fakeOsascript(log),
			canWrite: notWritable,
		});
		expect(undo.complete).toBe(true);
		expect(await linkAt(join(fs, 'ext4.fs'))).toBeUndefined();
		expect(await lstat(join(base, 'pwned')).catch(() => undefined)).toBeUndefined();
	});

	it('a cancelled prompt (AppleScript error -128) changes nothing and says so', async () => {
		const error = await setupLinks({
			root,
			undo: false,
			mayElevate: true,
			run: fakeOsascript([], { exit: 1, stderr: '0:153: execution error: User canceled. (-128)' }),
			canWrite: notWritable,
		}).catch((e: unknown) => e);
		expect(isAppError(error, 'INTERRUPTED')).toBe(true);
		expect(await inspectLinks(root).then((s) => s.every((l) => l.state === 'missing'))).toBe(true);
	});

	it('folders we cannot write, without permission to prompt, are a clear error', async () => {
		const error = await setupLinks({ root, undo: false, mayElevate: false, canWrite: notWritable }).catch(
			(e: unknown) => e,
		);
		expect(isAppError(error, 'TOOL_FAILED')).toBe(true);
		expect((error as Error).message).toMatch(/^cannot write .* run this as an administrator$/);
	});

	it('quoting: a shell word and an AppleScript string survive every special character', async () => {
		const nasty = `a b'c"d$e\\f\`g$(h)\n!*?`;
		const out = await runTool('/bin/sh', ['-c', `printf %s ${shellQuote(nasty)}`]);
		expect(out.stdout).toBe(nasty);
		expect(decodeAppleScriptString(appleScriptString(nasty))).toBe(nasty);
		expect(elevatedAppleScript('echo "hi"')).toBe(
			'do shell script "echo \\"hi\\"" with administrator privileges',
		);
		expect(linkScript([{ op: 'create', path: "/L/it's", target: 'x' }])).toBe(`/bin/ln -s 'x' '/L/it'\\''s'`);
	});
});

describe('vmdk-mounter setup-links', () => {
	function io(env: Record<string, string | undefined>) {
		const out: string[] = [];
		const err: string[] = [];
		return {
			io: {
				stdout: { write: (t: string) => out.push(t) },
				stderr: { write: (t: string) => err.push(t) },
				stderrIsTTY: false,
				env,
			},
			out,
			err,
		};
	}

	it('on Linux without a test root it is macOS-only (PLATFORM_UNSUPPORTED, exit 10)', async () => {
		const t = io({});
		expect(await runCli(['setup-links', '--json'], t.io)).toBe(10);
		expect(JSON.parse(t.out.join(''))).toMatchObject({ error: { code: 'PLATFORM_UNSUPPORTED' } });
	});

	it('with VMDK_MOUNTER_TEST_LINKS_ROOT it works on that folder, --json and text, and --undo', async () => {
		const env = { VMDK_MOUNTER_TEST_LINKS_ROOT: root };
		const first = io(env);
		expect(await runCli(['setup-links', '--json'], first.io)).toBe(0);
		const report = JSON.parse(first.out.join('')) as LinkReport;
		expect(report).toMatchObject({ root, undo: false, complete: true, elevated: false });
		expect(report.note).toMatch(/read-only/);
		const text = io(env);
		expect(await runCli(['setup-links'], text.io)).toBe(0);
		expect(text.out.join('')).toContain(`${join(fs, 'ext2.fs')} → fuse-ext2.fs: already correct`);
		expect(text.out.join('')).toMatch(/read-only: fuse-ext2’s mount helper ignores every -o option/);
		const undo = io(env);
		expect(await runCli(['setup-links', '--undo'], undo.io)).toBe(0);
		expect(undo.out.join('')).toContain(`${join(fs, 'ext2.fs')} → fuse-ext2.fs: removed`);
	});
});
