// SPDX-License-Identifier: MIT
// The tests' one seeded random generator (mulberry32: small, fast, the same sequence on every
// machine), so a failure found with random offsets, bytes or corruptions replays from its seed.

/** Numbers in [0, 1), as `Math.random` gives them, from a seed. */
export type Random = () => number;

/** mulberry32 seeded with `seed` (any integer; only its low 32 bits count). */
export function prng(seed: number): Random {
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
	};
}

/** An integer in [0, n). */
export function randomInt(random: Random, n: number): number {
	return Math.floor(random() * n);
}

/** `length` pseudo-random bytes from a seed or a running generator (incompressible). */
export function randomBytes(length: number, seed: number | Random): Uint8Array {
	const random = typeof seed === 'number' ? prng(seed) : seed;
	const out = new Uint8Array(length);
	for (let i = 0; i < length; i += 4) {
		const word = random() * 2 ** 32;
		for (let k = 0; k < 4 && i + k < length; k++) out[i + k] = Math.floor(word / 2 ** (8 * k)) % 256;
	}
	return out;
}

/**
 * The seed of a randomised suite: the environment variable `name` when set (to replay a
 * failure), else a fresh one. Suites print it with every failure.
 */
export function seedFromEnv(name: string): number {
	const given = process.env[name];
	if (given === undefined || given === '') return Math.floor(Math.random() * 2 ** 31);
	const seed = Number(given);
	if (!Number.isSafeInteger(seed)) throw new Error(`${name}=${given} is not an integer seed`);
	return seed;
}
