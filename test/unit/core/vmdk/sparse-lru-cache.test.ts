// SPDX-License-Identifier: MIT
import { describe, expect, it } from 'vitest';
import { LoadingCache, LruCache } from '../../../../src/core/vmdk/lru-cache.js';

describe('LruCache', () => {
	it('evicts the least recently used entry beyond maxEntries', () => {
		const c = new LruCache<number, string>({ maxEntries: 3 });
		c.set(1, 'a');
		c.set(2, 'b');
		c.set(3, 'c');
		expect(c.get(1)).toBe('a'); // 1 is now the most recent
		c.set(4, 'd');
		expect(c.has(2)).toBe(false);
		expect([1, 3, 4].map((k) => c.get(k))).toEqual(['a', 'c', 'd']);
		expect(c.size).toBe(3);
	});

	it('bounds the total weight and skips values heavier than the bound', () => {
		const c = new LruCache<string, Uint8Array>({ maxEntries: 100, maxWeight: 10, weigh: (v) => v.length });
		c.set('a', new Uint8Array(4));
		c.set('b', new Uint8Array(4));
		c.set('c', new Uint8Array(4));
		expect(c.has('a')).toBe(false);
		expect(c.weight).toBe(8);
		c.set('huge', new Uint8Array(11));
		expect(c.has('huge')).toBe(false);
		expect(c.weight).toBe(8);
	});

	it('replaces a value and keeps the weight right', () => {
		const c = new LruCache<string, Uint8Array>({ maxEntries: 5, maxWeight: 100, weigh: (v) => v.length });
		c.set('a', new Uint8Array(40));
		c.set('a', new Uint8Array(10));
		expect(c.weight).toBe(10);
		expect(c.size).toBe(1);
		expect(c.delete('a')).toBe(true);
		expect(c.delete('a')).toBe(false);
		expect(c.weight).toBe(0);
		c.set('b', new Uint8Array(1));
		c.clear();
		expect(c.size).toBe(0);
		expect(c.weight).toBe(0);
	});

	it('refuses a size below one entry', () => {
		expect(() => new LruCache({ maxEntries: 0 })).toThrow(RangeError);
	});

	it('stays bounded under a long stream of inserts', () => {
		const c = new LruCache<number, number>({ maxEntries: 64 });
		for (let i = 0; i < 100_000; i++) c.set(i, i);
		expect(c.size).toBe(64);
		expect(c.get(99_999)).toBe(99_999);
		expect(c.get(99_935)).toBeUndefined();
	});
});

describe('LoadingCache', () => {
	it('shares one load between concurrent callers and serves the value from memory after', async () => {
		const c = new LoadingCache<number, string>({ maxEntries: 4 });
		let loads = 0;
		const load = async () => {
			loads++;
			await Promise.resolve();
			return 'v';
		};
		expect(c.hasOrLoading(1)).toBe(false);
		const [a, b] = [c.get(1, load), c.get(1, load)];
		expect(c.hasOrLoading(1)).toBe(true);
		expect(c.has(1)).toBe(false);
		expect(await Promise.all([a, b])).toEqual(['v', 'v']);
		expect(loads).toBe(1);
		expect(c.peek(1)).toBe('v');
		expect(await c.get(1, load)).toBe('v');
		expect(loads).toBe(1);
	});

	it('forgets a load that rejects, so the next call tries again', async () => {
		const c = new LoadingCache<number, string>({ maxEntries: 4 });
		await expect(c.get(1, () => Promise.reject(new Error('disk error')))).rejects.toThrow('disk error');
		expect(c.hasOrLoading(1)).toBe(false);
		expect(await c.get(1, () => Promise.resolve('ok'))).toBe('ok');
	});

	it('tracks the other keys of a batch load, without unhandled rejections when it fails', async () => {
		const c = new LoadingCache<number, string>({ maxEntries: 4 });
		let release: (v: string) => void = () => undefined;
		const batch = new Promise<string>((resolve) => (release = resolve));
		void c.track(
			2,
			batch.then((v) => `${v}2`),
		);
		let loads = 0;
		const waiting = c.get(2, () => {
			loads++;
			return Promise.resolve('not this');
		});
		release('batch');
		expect(await waiting).toBe('batch2');
		expect(loads).toBe(0);
		void c.track(3, Promise.reject(new Error('nobody waits')));
		await new Promise((r) => setTimeout(r, 0));
		expect(c.hasOrLoading(3)).toBe(false);
	});

	it('stays bounded by weight, and clear drops the values', async () => {
		const c = new LoadingCache<number, Uint8Array>({ maxEntries: 10, maxWeight: 8, weigh: (v) => v.length });
		for (let i = 0; i < 5; i++) await c.get(i, () => Promise.resolve(new Uint8Array(4)));
		expect([0, 1, 2, 3, 4].filter((k) => c.has(k))).toEqual([3, 4]);
		c.clear();
		expect(c.peek(4)).toBeUndefined();
	});
});
