// SPDX-License-Identifier: MIT
// The pieces of direct writes: which writes qualify, memory that is aligned for them, and which
// filesystems get a direct handle at all.
import { mkdtemp, rm, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
	DIRECT_ALIGN_BYTES,
	isDirectAligned,
	openDirect,
	pageAlignedBuffer,
} from '../../../../src/host/node/direct-writes.js';
import { makeTempDir } from '../../../helpers/temp-dir.js';

describe('isDirectAligned', () => {
	it('wants buffer offset, length and file position all on 4 KiB', () => {
		expect(isDirectAligned(0, DIRECT_ALIGN_BYTES, 0)).toBe(true);
		expect(isDirectAligned(8192, 1024 * 1024, 4096)).toBe(true);
		expect(isDirectAligned(512, 4096, 0)).toBe(false);
		expect(isDirectAligned(0, 4096 + 512, 0)).toBe(false);
		expect(isDirectAligned(0, 4096, 512)).toBe(false);
		expect(isDirectAligned(0, 0, 0)).toBe(false);
	});
});

describe('pageAlignedBuffer', () => {
	it('gives zeroed memory of the size asked, at offset 0 of its own buffer', () => {
		for (const n of [1, 4096, 65536, 65537, 4 * 1024 * 1024]) {
			const b = pageAlignedBuffer(n);
			expect(b.byteLength).toBe(n);
			expect(b.byteOffset).toBe(0);
			expect(b.every((x) => x === 0)).toBe(true);
		}
	});
});

describe('openDirect', () => {
	it('opens a direct handle on ext4/xfs/btrfs/f2fs and none on tmpfs', async () => {
		const { dir, cleanup } = await makeTempDir('direct-');
		const shm = await mkdtemp('/dev/shm/direct-');
		try {
			const local = join(dir, 'f');
			const memory = join(shm, 'f');
			await writeFile(local, '');
			await writeFile(memory, '');
			expect(await openDirect(memory)).toBeUndefined();
			const isBlockFs = [0xef53, 0x58465342, 0x9123683e, 0xf2f52010].includes((await statfs(dir)).type);
			const handle = await openDirect(local);
			expect(handle !== undefined).toBe(isBlockFs);
			await handle?.close();
			expect(await openDirect(join(dir, 'missing'))).toBeUndefined();
		} finally {
			await rm(shm, { recursive: true, force: true });
			await cleanup();
		}
	});
});
