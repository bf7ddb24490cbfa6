// SPDX-License-Identifier: MIT
// The codec workers with libdeflate (our addon, when built) and with Node's zlib (the fallback):
// both write zlib streams that zlib reads, read zlib and raw deflate, and turn bad data into
// VMDK_DECOMPRESS. The raw-file source finds holes with SEEK_DATA when the addon is there.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { deflateRawSync, deflateSync, inflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isVmdkError } from '../../../../src/core/index.js';
import { CODEC_ADDON_PATH } from '../../../../src/host/node/codec-addon.js';
import { CodecPool } from '../../../../src/host/node/codec-pool.js';
import { RawFileSource } from '../../../../src/host/node/raw-file-source.js';
import { makeTempDir } from '../../../helpers/temp-dir.js';

const grain = Buffer.concat([Buffer.alloc(20000, 0x41), randomBytes(20000), Buffer.from('x'.repeat(25536))]);
const backends = existsSync(CODEC_ADDON_PATH) ? (['libdeflate', 'zlib'] as const) : (['zlib'] as const);

for (const backend of backends) {
	describe(`CodecPool (${backend})`, () => {
		let pool: CodecPool;
		beforeAll(() => {
			const before = process.env.VMDK_NO_LIBDEFLATE;
			process.env.VMDK_NO_LIBDEFLATE = backend === 'zlib' ? '1' : '0';
			pool = CodecPool.create(2);
			process.env.VMDK_NO_LIBDEFLATE = before;
			expect(pool.backend).toBe(backend);
		});
		afterAll(async () => pool.close());

		it('deflates to zlib streams, in order, and inflates zlib and raw deflate', async () => {
			const inputs = [grain, Buffer.alloc(65536), grain.subarray(0, 1000)];
			const out = await pool.deflate(inputs);
			out.forEach((c, i) => expect(Buffer.compare(inflateSync(c), inputs[i]!)).toBe(0));
			expect(Buffer.compare(await pool.inflate(deflateSync(grain), 65536, true), grain)).toBe(0);
			expect(Buffer.compare(await pool.inflate(deflateRawSync(grain), 65536, false), grain)).toBe(0);
			// Bytes after the end of the stream (sector padding) are ignored.
			const padded = Buffer.concat([deflateSync(grain), Buffer.alloc(300)]);
			expect(Buffer.compare(await pool.inflate(padded, 65536, true), grain)).toBe(0);
		});

		it('bad data and output larger than allowed are VMDK_DECOMPRESS', async () => {
			const bad = deflateSync(grain);
			bad[10] = (bad[10] ?? 0) ^ 0xff;
			bad[11] = (bad[11] ?? 0) ^ 0xff;
			await expect(pool.inflate(bad, 65536, true)).rejects.toSatisfy((e) =>
				isVmdkError(e, 'VMDK_DECOMPRESS'),
			);
			await expect(pool.inflate(deflateSync(grain), 4096, true)).rejects.toSatisfy((e) =>
				isVmdkError(e, 'VMDK_DECOMPRESS'),
			);
		});
	});
}

describe('RawFileSource', () => {
	it('reports holes as zero runs and data as data (SEEK_DATA with the addon)', async () => {
		const { dir, cleanup } = await makeTempDir('raw-source-');
		try {
			const path = join(dir, 'sparse.raw');
			await writeFile(path, '');
			const fh = await open(path, 'r+');
			await fh.truncate(64 * 1024 * 1024);
			await fh.write(randomBytes(4096), 0, 4096, 32 * 1024 * 1024);
			await fh.close();
			const src = await RawFileSource.open(path);
			try {
				const first = await src.mapRun(0, src.sizeBytes);
				if (src.holeAware) {
					expect(first).toEqual({ kind: 'zero', lengthBytes: 32 * 1024 * 1024 });
					expect((await src.mapRun(32 * 1024 * 1024, 1 << 30)).kind).toBe('data');
				} else {
					expect(first.kind).toBe('data');
				}
				const bytes = new Uint8Array(16);
				await expect(src.readInto(src.sizeBytes - 8, bytes, 0, 16)).rejects.toSatisfy((e) =>
					isVmdkError(e, 'VMDK_TRUNCATED'),
				);
			} finally {
				await src.close();
			}
		} finally {
			await cleanup();
		}
	});
});
