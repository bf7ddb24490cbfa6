// SPDX-License-Identifier: MIT
// A full disk while writing (issue 12 §4): `convert` and keeping a snapshot on a small tmpfs
// must fail with OUTPUT_NO_SPACE, remove everything they wrote and leave the input untouched.
// Needs root to mount the tmpfs.
import { execa } from 'execa';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { openDisk, type ChangeSource } from '../../src/core/index.js';
import { keepChangesAsSnapshot } from '../../src/host/node/keep-snapshot.js';
import { AppError } from '../../src/shared/app-error.js';
import { nodePlatform } from '../../src/host/node/node-platform.js';
import { describeNeeding, rootMissing } from '../helpers/capability.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { CLI_BIN, ensureCliBuilt } from '../fixtures/reference-disk.js';

describeNeeding(rootMissing(), 'writing onto a full disk', () => {
	let dir = '';
	let cleanup: () => Promise<void> = async () => {};
	let small = '';

	beforeAll(async () => {
		({ dir, cleanup } = await makeTempDir('write-enospc-'));
		small = join(dir, 'small');
		await mkdir(small);
		await execa('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', small]);
		await ensureCliBuilt();
	});
	afterAll(async () => {
		await execa('umount', [small], { reject: false });
		await cleanup();
	});

	const sha256 = async (path: string) =>
		createHash('sha256')
			.update(await readFile(path))
			.digest('hex');

	it('convert: OUTPUT_NO_SPACE, nothing left on the full disk, input unchanged', async () => {
		const raw = join(dir, 'in.raw');
		await writeFile(raw, randomBytes(16 * 1024 * 1024));
		const before = await sha256(raw);
		for (const subformat of ['monolithicSparse', 'streamOptimized', 'twoGbMaxExtentFlat']) {
			const r = await execa(
				'node',
				[CLI_BIN, 'convert', '--json', '--subformat', subformat, raw, join(small, 'out.vmdk')],
				{
					reject: false,
					env: { DEBUG: '' },
				},
			);
			expect(r.exitCode, r.stdout + r.stderr).toBe(EXIT_CODES.OUTPUT);
			expect((JSON.parse(r.stdout) as { error: { code: string } }).error.code).toBe('OUTPUT_NO_SPACE');
			expect(await readdir(small)).toEqual([]);
		}
		expect(await sha256(raw)).toBe(before);
	});

	it('keeping a snapshot: OUTPUT_NO_SPACE, no child left, the parent unchanged', async () => {
		const parent = join(small, 'p.vmdk');
		await execa('qemu-img', ['create', '-q', '-f', 'vmdk', parent, '64M']);
		const before = await sha256(parent);
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
		expect(await sha256(parent)).toBe(before);
	});
});
