// SPDX-License-Identifier: MIT
// The tests' tool runner: what a failure says is what a developer reads first when a peer tool
// breaks, so it must name the command and quote the tool's own words.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ToolFailed, commandLine, run, runStatus, runSync, sha256File } from '../../helpers/run.js';
import { makeTempDir } from '../../helpers/temp-dir.js';

const SH = '/bin/sh';

describe.each([
	['runSync', async (tool: string, args: string[], o = {}) => runSync(tool, args, o)],
	['run', run],
] as const)('%s', (_name, runIt) => {
	it('returns stdout without the final newline, feeds stdin and runs in cwd', async () => {
		expect(await runIt(SH, ['-c', 'cat; echo; pwd'], { input: 'in', cwd: '/tmp' })).toBe('in\n/tmp');
	});

	it('fixes the locale: C by default, C.UTF-8 when asked, over the caller environment', async () => {
		expect(await runIt(SH, ['-c', 'echo $LC_ALL'], { env: { LC_ALL: 'de_DE.UTF-8' } })).toBe('C');
		expect(await runIt(SH, ['-c', 'echo $LC_ALL $EXTRA'], { locale: 'C.UTF-8', env: { EXTRA: 'x' } })).toBe(
			'C.UTF-8 x',
		);
	});

	it('passes only the given environment when asked to', async () => {
		process.env.RUN_TEST_INHERITED = 'yes';
		try {
			expect(await runIt(SH, ['-c', 'echo ${RUN_TEST_INHERITED:-no} $ONLY'], { env: { ONLY: 'x' } })).toBe(
				'yes x',
			);
			expect(
				await runIt(SH, ['-c', 'echo ${RUN_TEST_INHERITED:-no} $ONLY'], {
					env: { ONLY: 'x' },
					inheritEnv: false,
				}),
			).toBe('no x');
		} finally {
			delete process.env.RUN_TEST_INHERITED;
		}
	});

	it('fails naming the command and its exit code, quoting stderr', async () => {
		const failure = await Promise.resolve()
			.then(() => runIt(SH, ['-c', 'echo "no such disk" >&2; echo line two >&2; exit 3', 'it is']))
			.catch((e: unknown) => e);
		expect(failure).toBeInstanceOf(ToolFailed);
		expect((failure as ToolFailed).status).toBe(3);
		expect((failure as Error).message).toBe(
			`/bin/sh -c 'echo "no such disk" >&2; echo line two >&2; exit 3' 'it is' failed with exit code 3; stderr:\n  no such disk\n  line two`,
		);
	});

	it('fails on a timeout and on a tool that does not exist', async () => {
		await expect(
			Promise.resolve().then(() => runIt('/bin/sleep', ['5'], { timeoutMs: 200 })),
		).rejects.toThrow('/bin/sleep 5 timed out after 200 ms (nothing on stderr)');
		await expect(Promise.resolve().then(() => runIt('/nonexistent/tool', ['x']))).rejects.toThrow(
			/^\/nonexistent\/tool x could not run \(ENOENT\)/,
		);
	});
});

describe('runStatus', () => {
	it('answers with the exit status instead of throwing', async () => {
		const r = await runStatus(SH, ['-c', 'echo out; echo err >&2; exit 2']);
		expect(r).toEqual({ status: 2, stdout: 'out', stderr: 'err', why: 'failed with exit code 2' });
		expect((await runStatus(SH, ['-c', 'true'])).why).toBeUndefined();
	});
});

describe('commandLine', () => {
	it('quotes what a shell would split or expand', () => {
		expect(commandLine('qemu-img', ['convert', '-O', 'raw', '/a b/c.vmdk', "it's", '$HOME'])).toBe(
			`qemu-img convert -O raw '/a b/c.vmdk' 'it'\\''s' '$HOME'`,
		);
	});
});

describe('sha256File', () => {
	let dir = '';
	let cleanup = async (): Promise<void> => {};
	beforeAll(async () => {
		({ dir, cleanup } = await makeTempDir('vmdk-run-helper-'));
	});
	afterAll(async () => cleanup());

	it('agrees with sha256sum', async () => {
		const file = join(dir, 'data.bin');
		await writeFile(
			file,
			new Uint8Array(3 * 1024 * 1024 + 17).map((_, i) => i % 251),
		);
		const peer = (await run('sha256sum', [file])).split(' ')[0];
		expect(await sha256File(file)).toBe(peer);
	});
});
