// SPDX-License-Identifier: MIT
// runCli in-process with small commands: how failures become one line, JSON errors and exit
// statuses, and that only unexpected errors ever show a stack (and only with DEBUG).
import { describe, expect, it } from 'vitest';
import { VmdkError } from '../../../src/core/index.js';
import type { CliCommand, CliIo } from '../../../src/cli/command.js';
import { AppError } from '../../../src/shared/app-error.js';
import { COMMAND_LOADERS, loadCommands } from '../../../src/cli/commands/index.js';
import { EXIT_CODES } from '../../../src/cli/exit-codes.js';
import { runCli, toCliFailure } from '../../../src/cli/run.js';

function captureIo(env: Record<string, string> = {}) {
	const out: string[] = [];
	const err: string[] = [];
	const io: CliIo = {
		stdout: { write: (t: string) => out.push(t) },
		stderr: { write: (t: string) => err.push(t) },
		stderrIsTTY: false,
		env,
	};
	return { io, stdout: () => out.join(''), stderr: () => err.join('') };
}

/** A command that throws what it is given, or prints its input. */
function throwing(error: Error | undefined): CliCommand {
	return {
		command: 'boom',
		description: 'test',
		args: [{ name: 'thing', description: 'anything' }],
		options: [{ flags: '--extra', description: 'a flag' }],
		async handler({ args, options, io }) {
			if (error !== undefined) throw error;
			io.stdout.write(JSON.stringify({ args, options }));
		},
	};
}

describe('runCli', () => {
	it('passes positional arguments and camel-cased options to the handler', async () => {
		const c = captureIo();
		expect(await runCli(['boom', '--extra', '--json', 'x y'], c.io, [throwing(undefined)])).toBe(0);
		expect(JSON.parse(c.stdout())).toEqual({ args: ['x y'], options: { extra: true, json: true } });
		expect(c.stderr()).toBe('');
	});

	it('prints an engine error as one line with its user title, exit status by code', async () => {
		const c = captureIo();
		const e = new VmdkError('VMDK_TRUNCATED', 'file ends at byte 5000', {
			file: '/d/x.vmdk',
			offsetBytes: 512,
		});
		expect(await runCli(['boom', 'a'], c.io, [throwing(e)])).toBe(EXIT_CODES.BAD_IMAGE);
		expect(c.stderr()).toBe(
			'vmdk-mounter: Incomplete disk file: /d/x.vmdk at byte 512: file ends at byte 5000\n',
		);
		expect(c.stdout()).toBe('');
	});

	it('with --json puts { error: { code, message } } on stdout and nothing on stderr', async () => {
		const c = captureIo();
		const e = new AppError('OUTPUT_EXISTS', '/o.raw: file already exists');
		expect(await runCli(['boom', '--json', 'a'], c.io, [throwing(e)])).toBe(EXIT_CODES.OUTPUT);
		expect(JSON.parse(c.stdout())).toEqual({
			error: { code: 'OUTPUT_EXISTS', message: '/o.raw: file already exists' },
		});
		expect(c.stderr()).toBe('');
	});

	it('keeps a multi-line technical message on one line', async () => {
		const c = captureIo();
		await runCli(['boom', 'a'], c.io, [throwing(new VmdkError('VMDK_IO', 'first\n  second'))]);
		expect(c.stderr()).toBe('vmdk-mounter: Cannot read the file: first second\n');
	});

	it('hides the stack of an unexpected error unless DEBUG is set', async () => {
		const bug = new TypeError('cannot read properties of undefined');
		const quiet = captureIo();
		expect(await runCli(['boom', 'a'], quiet.io, [throwing(bug)])).toBe(EXIT_CODES.FAILURE);
		expect(quiet.stderr()).toBe(
			'vmdk-mounter: Unexpected error: unexpected error: cannot read properties of undefined\n',
		);
		const loud = captureIo({ DEBUG: 'vmdk:*' });
		await runCli(['boom', 'a'], loud.io, [throwing(bug)]);
		expect(loud.stderr()).toMatch(/^vmdk-mounter: Unexpected error: .*\nTypeError: .*\n\s+at /);
	});

	it('never shows a stack for expected errors, even with DEBUG', async () => {
		const c = captureIo({ DEBUG: '1' });
		await runCli(['boom', 'a'], c.io, [throwing(new VmdkError('VMDK_NOT_VMDK', 'text file'))]);
		expect(c.stderr().trimEnd().split('\n')).toHaveLength(1);
	});

	it('reports usage errors as one line with exit 2, in JSON too', async () => {
		const c = captureIo();
		expect(await runCli(['boom'], c.io, [throwing(undefined)])).toBe(EXIT_CODES.USAGE);
		expect(c.stderr()).toMatch(/^vmdk-mounter: Invalid command line: missing required argument 'thing'\n$/);
		const j = captureIo();
		expect(await runCli(['boom', '--nope', '--json', 'a'], j.io, [throwing(undefined)])).toBe(
			EXIT_CODES.USAGE,
		);
		expect(JSON.parse(j.stdout())).toMatchObject({ error: { code: 'USAGE' } });
		expect(await runCli(['nosuchcommand'], captureIo().io, [throwing(undefined)])).toBe(EXIT_CODES.USAGE);
	});

	it('maps an abort to INTERRUPTED (exit 130)', () => {
		const abort = new AbortController();
		abort.abort();
		expect(toCliFailure(abort.signal.reason as Error)).toMatchObject({
			code: 'INTERRUPTED',
			unexpected: false,
		});
	});

	it('registers info and export with --json, and loads only the command asked for', async () => {
		const all = await loadCommands(['--help']);
		expect(all.map((c) => c.command)).toEqual(COMMAND_LOADERS.map((l) => l.command));
		expect(all.map((c) => c.command)).toEqual(expect.arrayContaining(['info', 'export']));
		expect((await loadCommands(['--json', 'info', 'x.vmdk'])).map((c) => c.command)).toEqual(['info']);
		expect((await loadCommands(['nosuch'])).length).toBe(COMMAND_LOADERS.length);
		const c = captureIo();
		expect(await runCli(['export', '--help'], c.io)).toBe(0);
		expect(c.stdout()).toMatch(/--json/);
		expect(c.stdout()).toMatch(/--force/);
		expect(c.stdout()).toMatch(/--ignore-cid/);
	});
});
