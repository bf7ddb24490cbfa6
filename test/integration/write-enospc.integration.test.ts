// SPDX-License-Identifier: MIT
// A full disk while writing (issue 12 §4): `convert` and keeping a snapshot on a small tmpfs
// must fail with OUTPUT_NO_SPACE, remove everything they wrote and leave the input untouched.
// Needs root to mount the tmpfs.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { openDisk } from '../../src/core/index.js';
import type { ChangeSource } from '../../src/core/write.js';
import { keepChangesAsSnapshot } from '../../src/host/node/keep-snapshot.js';
import { AppError } from '../../src/shared/app-error.js';
import { nodePlatform } from '../../src/host/node/node-platform.js';
import { describeNeeding, rootMissing } from '../helpers/capability.js';
import { run, runStatus, sha256File } from '../helpers/run.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { ensureCliBuilt, runCli } from '../fixtures/reference-disk.js';

describeNeeding(rootMissing(), 'writing onto a full disk', () => {
	let dir = '';
	let cleanup: () => Promise<void> = async () => {};
	let small = '';

	beforeAll(async () => {
		({ dir, cleanup } = await makeTempDir('write-enospc-'));
		small = join(dir, 'small');
		await mkdir(small);
		await run('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', small]);
		await ensureCliBuilt();
	});
	afterAll(async () => {
		await runStatus('umount', [small]);
		await cleanup();
	});

	it('convert: OUTPUT_NO_SPACE, nothing left on the full disk, input unchanged', async () => {
		const raw = join(dir, 'in.raw');
		await writeFile(raw, randomBytes(16 * 1024 * 1024));
		const before = await sha256File(raw);
		for (const subformat of ['monolithicSparse', 'streamOptimized', 'twoGbMaxExtentFlat']) {
			const r = await runCli(['convert', '--json', '--subformat', subformat, raw, join(small, 'out.vmdk')]);
			expect(r.status, r.stdout + r.stderr).toBe(EXIT_CODES.OUTPUT);
			expect((JSON.parse(r.stdout) as { error: { code: string } }).error.code).toBe('OUTPUT_NO_SPACE');
			expect(await readdir(small)).toEqual([]);
		}
		expect(await sha256File(raw)).toBe(before);
	});

	it('keeping a snapshot: OUTPUT_NO_SPACE, no child left, the parent unchanged', async () => {
		const parent = join(small, 'p.vmdk');
		await run('qemu-img', ['create', '-q', '-f', 'vmdk', parent, '64M']);
		const before = await sha256File(parent);
		const overlay = await open(join(dir, 'overlay'), 'w+');
		await overlay.write(randomBytes(8 * 1024 * 1024), 0, 8 * 1024 * 1024, 0);
		const source: ChangeSource = {
			readInto: async (o, dest, d, n) => void (await overlay.read(dest, d, n, o)),
		};
		const disk = await openDisk(parent, nodePlatform);
		const failure = await keepChangesAsSnapshot(disk, [
			{ offsetBytes: 0, lengthBytes: 8 * 1024 * 1024, source, sourceOffsetBytes: 0 },
		]).then(
			() => undefined,
			(e: unknown) => e,
		);
		await disk.close();
		await overlay.close();
		expect(failure).toBeInstanceOf(AppError);
		expect((failure as AppError).code).toBe('OUTPUT_NO_SPACE');
		expect(await readdir(small)).toEqual(['p.vmdk']);
		expect(await sha256File(parent)).toBe(before);
	});
});
