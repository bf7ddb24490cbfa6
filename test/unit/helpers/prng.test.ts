// SPDX-License-Identifier: MIT
// The seeded generator must never change its sequence: a seed printed by a failed run (the
// mutation suites print theirs) has to replay the same corruptions later and on other machines.
import { afterEach, describe, expect, it } from 'vitest';
import { prng, randomBytes, randomInt, seedFromEnv } from '../../helpers/prng.js';

describe('prng (mulberry32)', () => {
	it('gives the same sequence for a seed as it always has', () => {
		const random = prng(0x5eed1234);
		expect([random(), random(), random()].map((x) => x * 2 ** 32)).toEqual([
			1767722456, 3615587358, 928810891,
		]);
		expect(Buffer.from(randomBytes(6, 7)).toString('hex')).toBe('2c15ff02127f');
	});

	it('keeps integers in range and bytes running on from a shared generator', () => {
		const random = prng(1);
		for (let i = 0; i < 1000; i++) expect(randomInt(random, 5)).toBeLessThan(5);
		const shared = prng(9);
		const joined = [...randomBytes(5, shared), ...randomBytes(3, shared)];
		expect(joined).not.toEqual([...randomBytes(5, 9), ...randomBytes(3, 9)]);
	});
});

describe('seedFromEnv', () => {
	afterEach(() => {
		delete process.env.TEST_PRNG_SEED;
	});

	it('takes a decimal or hex seed from the environment, and refuses anything else', () => {
		process.env.TEST_PRNG_SEED = '12345';
		expect(seedFromEnv('TEST_PRNG_SEED')).toBe(12345);
		process.env.TEST_PRNG_SEED = '0x5eed1234';
		expect(seedFromEnv('TEST_PRNG_SEED')).toBe(0x5eed1234);
		process.env.TEST_PRNG_SEED = 'abc';
		expect(() => seedFromEnv('TEST_PRNG_SEED')).toThrow(/TEST_PRNG_SEED=abc is not an integer seed/);
	});

	it('makes up a seed when none is set', () => {
		const seed = seedFromEnv('TEST_PRNG_SEED');
		expect(Number.isSafeInteger(seed) && seed >= 0 && seed < 2 ** 31).toBe(true);
	});
});
