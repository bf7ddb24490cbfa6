// SPDX-License-Identifier: MIT
import { describe, expect, it } from 'vitest';
import type { ReadTarget } from '../../../src/core/index.js';
import { ReadAhead } from '../../../src/daemon/fuse/read-ahead.js';

const WINDOW = 64 * 1024;

function target(size: number): ReadTarget & { calls: [number, number][]; failAt?: number } {
	const t = {
		sizeBytes: size,
		calls: [] as [number, number][],
		failAt: undefined as number | undefined,
		async readInto(offset: number, dest: Uint8Array, destOffset: number, length: number) {
			t.calls.push([offset, length]);
			if (t.failAt !== undefined && offset <= t.failAt && t.failAt < offset + length)
				throw new Error('bad sector');
			for (let i = 0; i < length; i++) dest[destOffset + i] = (offset + i) % 253;
		},
	};
	return t;
}

function expected(offset: number, length: number): Uint8Array {
	const b = new Uint8Array(length);
	for (let i = 0; i < length; i++) b[i] = (offset + i) % 253;
	return b;
}

describe('ReadAhead', () => {
	it('reads random access directly, without prefetching', async () => {
		const t = target(10 * WINDOW);
		const ra = new ReadAhead(t, WINDOW);
		for (const off of [5 * WINDOW, 100, 3 * WINDOW + 7]) {
			const buf = new Uint8Array(4096);
			await ra.read(off, buf, 4096);
			expect(buf).toEqual(expected(off, 4096));
		}
		expect(t.calls).toEqual([
			[5 * WINDOW, 4096],
			[100, 4096],
			[3 * WINDOW + 7, 4096],
		]);
	});

	it('serves a sequential reader from whole windows fetched ahead', async () => {
		const size = 8 * WINDOW + 1000;
		const t = target(size);
		const ra = new ReadAhead(t, WINDOW);
		const chunk = 16 * 1024;
		for (let off = 0; off < size; off += chunk) {
			const n = Math.min(chunk, size - off);
			const buf = new Uint8Array(n);
			await ra.read(off, buf, n);
			expect(Buffer.from(buf).equals(expected(off, n))).toBe(true);
		}
		const windowReads = t.calls.filter(([, len]) => len === WINDOW || len === 1000);
		// Two direct reads before the pattern is seen, then one read per window, never beyond the end.
		expect(t.calls.slice(0, 2)).toEqual([
			[0, chunk],
			[chunk, chunk],
		]);
		expect(windowReads.map(([o]) => o / WINDOW)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
		expect(t.calls.every(([o, len]) => o + len <= size)).toBe(true);
	});

	it('falls back to a direct read when a prefetch fails, and reports that range’s error', async () => {
		const t = target(4 * WINDOW);
		t.failAt = 2 * WINDOW + 10;
		const ra = new ReadAhead(t, WINDOW);
		const buf = new Uint8Array(WINDOW / 2);
		for (let off = 0; off < 2 * WINDOW; off += WINDOW / 2) await ra.read(off, buf, buf.length);
		await expect(ra.read(2 * WINDOW, buf, buf.length)).rejects.toThrow('bad sector');
		// The window after the bad one still reads.
		await ra.read(3 * WINDOW, buf, buf.length);
		expect(buf).toEqual(expected(3 * WINDOW, buf.length));
	});

	it('hands out views of loaded windows to a sequential reader, the same bytes as read', async () => {
		const size = 6 * WINDOW;
		const t = target(size);
		const ra = new ReadAhead(t, WINDOW);
		const chunk = WINDOW / 2;
		let views = 0;
		for (let off = 0; off < size; off += chunk) {
			let got = ra.view(off, chunk);
			if (got === null) {
				const buf = new Uint8Array(chunk);
				await ra.read(off, buf, chunk);
				got = buf;
			} else {
				views++;
			}
			expect(Buffer.from(got).equals(expected(off, chunk)), `at ${off}`).toBe(true);
		}
		expect(views).toBeGreaterThan(4);
		// Each window was fetched once: views keep the read-ahead going like reads do.
		const windowReads = t.calls.filter(([, len]) => len === WINDOW).map(([off]) => off);
		expect(new Set(windowReads).size).toBe(windowReads.length);
	});

	it('gives no view for random access, a range across two windows, or a window not yet in', async () => {
		const t = target(4 * WINDOW);
		const ra = new ReadAhead(t, WINDOW);
		expect(ra.view(0, 100)).toBeNull();
		const buf = new Uint8Array(100);
		await ra.read(2 * WINDOW, buf, 100);
		expect(ra.view(WINDOW - 50, 100)).toBeNull();
		expect(ra.view(3 * WINDOW, 100)).toBeNull();
	});
});
