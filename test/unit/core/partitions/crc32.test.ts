// SPDX-License-Identifier: MIT
import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32, crc32Update } from '../../../../src/core/partitions/crc32.js';
import { ascii } from '../../../helpers/bytes.js';
import { prng, randomBytes } from '../../../helpers/prng.js';

describe('crc32', () => {
	it('matches the published check value and the empty input', () => {
		expect(crc32(ascii('123456789'))).toBe(0xcbf43926);
		expect(crc32(new Uint8Array(0))).toBe(0);
	});

	it('agrees with zlib on random buffers', () => {
		const zcrc = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;
		const random = prng(7);
		for (let n = 1; n < 2000; n += 97) {
			const data = randomBytes(n, random);
			// zlib.crc32 exists from Node 20.15/22.2; where it is missing, the check value above still holds.
			if (zcrc !== undefined) expect(crc32(data)).toBe(zcrc(data));
			// Split updates compose (LVM2 checksums wrapped metadata text in two parts).
			const half = n >> 1;
			expect(crc32Update(crc32Update(0x1234, data.subarray(0, half)), data.subarray(half))).toBe(
				crc32Update(0x1234, data),
			);
		}
	});
});
