// SPDX-License-Identifier: MIT
import { deflateRawSync, deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { VmdkError } from '../../../../src/core/index.js';
import { nodePlatform } from '../../../../src/host/node/node-platform.js';
import { prng, randomInt } from '../../../helpers/prng.js';

const GRAIN_BYTES = 64 * 1024;

/** A grain of varied text (compressible, and different per seed). */
function grain(seed: number): Uint8Array {
	const out = new Uint8Array(GRAIN_BYTES);
	const random = prng(seed);
	for (let i = 0; i < out.length; i++) out[i] = 97 + randomInt(random, 7);
	return out;
}

describe('nodePlatform.inflate (worker pool)', () => {
	it('inflates zlib and raw deflate streams, many at once, each to its own bytes', async () => {
		const originals = Array.from({ length: 40 }, (_, i) => grain(i));
		const compressed = originals.map((g, i) => (i % 2 === 0 ? deflateSync(g) : deflateRawSync(g)));
		// A view into a larger buffer, as a grain inside a group read is.
		const big = new Uint8Array(compressed.reduce((n, c) => n + c.length + 7, 0));
		let at = 0;
		const views = compressed.map((c) => {
			big.set(c, at + 7);
			const view = big.subarray(at + 7, at + 7 + c.length);
			at += c.length + 7;
			return view;
		});
		const results = await Promise.all(views.map((v) => nodePlatform.inflate(v, GRAIN_BYTES)));
		results.forEach((r, i) =>
			expect(Buffer.from(r).equals(Buffer.from(originals[i] as Uint8Array))).toBe(true),
		);
		// The caller's bytes are left as they were.
		expect(Buffer.from(views[0] as Uint8Array).equals(compressed[0] as Uint8Array)).toBe(true);
	});

	it('rejects bad data and output past the limit with VMDK_DECOMPRESS, and keeps working', async () => {
		const bad = nodePlatform.inflate(Uint8Array.from([0x78, 0x9c, 1, 2, 3, 4, 5, 6]), GRAIN_BYTES);
		await expect(bad).rejects.toBeInstanceOf(VmdkError);
		await expect(bad).rejects.toMatchObject({ code: 'VMDK_DECOMPRESS' });
		const tooBig = nodePlatform.inflate(deflateSync(grain(1)), GRAIN_BYTES / 2);
		await expect(tooBig).rejects.toMatchObject({ code: 'VMDK_DECOMPRESS' });
		const ok = await nodePlatform.inflate(deflateSync(grain(2)), GRAIN_BYTES);
		expect(Buffer.from(ok).equals(Buffer.from(grain(2)))).toBe(true);
	});
});
