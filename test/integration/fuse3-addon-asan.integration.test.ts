// SPDX-License-Identifier: MIT
/**
 * Our libfuse 3 addon is C in the daemon's process: a memory error there would take every
 * mount down. This builds it again with AddressSanitizer and UBSan and drives it through
 * test/fixtures/fuse3-exercise.mjs under their runtime; any report fails the test.
 */
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeNeeding } from '../helpers/capability.js';
import { run, runStatus } from '../helpers/run.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const REPO = resolve(import.meta.dirname, '..', '..');
const EXERCISE = join(REPO, 'test', 'fixtures', 'fuse3-exercise.mjs');

function missing(): string | undefined {
	if (process.platform !== 'linux') return 'not Linux';
	if (process.getuid?.() !== 0) return 'needs root (FUSE mounts)';
	return undefined;
}

describeNeeding(missing(), 'libfuse 3 addon under AddressSanitizer and UBSan', () => {
	let tmp: { dir: string; cleanup: () => Promise<void> };
	let addon = '';
	let preload = '';

	beforeAll(async () => {
		tmp = await makeTempDir('vmdk-fuse3-asan-');
		const src = join(REPO, 'native', 'fuse3');
		await copyFile(join(src, 'vmdk_fuse3.c'), join(tmp.dir, 'vmdk_fuse3.c'));
		const gyp = (await readFile(join(src, 'binding.gyp'), 'utf8'))
			.replace('"-O2"', '"-O1", "-g", "-fno-omit-frame-pointer", "-fsanitize=address,undefined"')
			.replace('"libraries":', '"ldflags": ["-fsanitize=address,undefined"], "libraries":');
		expect(gyp).toContain('-fsanitize=address,undefined"], "libraries"');
		await writeFile(join(tmp.dir, 'binding.gyp'), gyp);
		// The project's own build script, pointed at the copy (node-gyp takes the last --directory).
		await run('npm', ['run', '--silent', 'build:native', '--', `--directory=${tmp.dir}`], {
			cwd: REPO,
			timeoutMs: 200_000,
		});
		addon = join(tmp.dir, 'build', 'Release', 'vmdk_fuse3.node');
		const lib = async (name: string): Promise<string> => run('gcc', [`-print-file-name=${name}`]);
		preload = `${await lib('libasan.so')}:${await lib('libubsan.so')}`;
	}, 240_000);

	afterAll(async () => {
		await runStatus('fusermount3', ['-u', '-z', join(tmp.dir, 'mnt')]);
		await tmp.cleanup();
	});

	it('serves 20 rounds of reads, writes, errors and an unmount under load with no sanitizer report', async () => {
		const mnt = join(tmp.dir, 'mnt');
		await mkdir(mnt, { recursive: true });
		const r = await runStatus(process.execPath, ['--expose-gc', EXERCISE, addon, mnt, '20'], {
			timeoutMs: 180_000,
			env: {
				LD_PRELOAD: preload,
				// Node itself leaks at exit by design; everything else aborts on the first report.
				ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=1',
				UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1',
			},
		});
		expect(r.stderr).not.toMatch(/AddressSanitizer|runtime error/);
		expect(r.status, r.stderr).toBe(0);
		expect(r.stdout.trim()).toBe('ok 20');
	}, 200_000);
});
