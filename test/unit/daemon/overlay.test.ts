// SPDX-License-Identifier: MIT
import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { CowOverlay, OVERLAY_BLOCK_BYTES } from '../../../src/daemon/overlay.js';
import type { ReadTarget } from '../../../src/core/index.js';
import { makeTempDir } from '../../helpers/temp-dir.js';

function pattern(size: number): Uint8Array {
	const b = new Uint8Array(size);
	for (let i = 0; i < size; i++) b[i] = (i * 31 + 7) % 251;
	return b;
}

function memoryTarget(bytes: Uint8Array): ReadTarget & { reads: number } {
	return {
		sizeBytes: bytes.length,
		reads: 0,
		async readInto(offset, dest, destOffset, length) {
			this.reads++;
			dest.set(bytes.subarray(offset, offset + length), destOffset);
		},
	};
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
	for (const c of cleanups.splice(0)) await c();
});

async function overlayOver(base: Uint8Array): Promise<{ overlay: CowOverlay; path: string }> {
	const tmp = await makeTempDir('vmdk-overlay-');
	cleanups.push(tmp.cleanup);
	const path = `${tmp.dir}/o.overlay`;
	return { overlay: await CowOverlay.create(memoryTarget(base), path), path };
}

async function readAll(o: CowOverlay): Promise<Uint8Array> {
	const out = new Uint8Array(o.sizeBytes);
	await o.readInto(0, out, 0, out.length);
	return out;
}

describe('CowOverlay', () => {
	it('reads the base until written', async () => {
		const base = pattern(5 * OVERLAY_BLOCK_BYTES + 100);
		const { overlay } = await overlayOver(base);
		expect(await readAll(overlay)).toEqual(base);
		expect(overlay.writtenBlocks).toBe(0);
		await overlay.discard();
	});

	it.each([
		['inside one block', 10, 20],
		['across a block boundary', OVERLAY_BLOCK_BYTES - 5, 10],
		['whole blocks', OVERLAY_BLOCK_BYTES, 2 * OVERLAY_BLOCK_BYTES],
		['up to the unaligned end', 5 * OVERLAY_BLOCK_BYTES + 50, 50],
		['three blocks, partial edges', 100, 2 * OVERLAY_BLOCK_BYTES + 5],
	])('merges a write %s with the base', async (_name, offset, length) => {
		const base = pattern(5 * OVERLAY_BLOCK_BYTES + 100);
		const { overlay } = await overlayOver(base);
		const data = new Uint8Array(length).fill(0xee);
		await overlay.write(offset, data);
		const expected = base.slice();
		expected.set(data, offset);
		expect(await readAll(overlay)).toEqual(expected);
		// Reads that start mid-way and span written and unwritten blocks agree too.
		const part = new Uint8Array(3 * OVERLAY_BLOCK_BYTES);
		const from = Math.max(0, offset - OVERLAY_BLOCK_BYTES);
		const len = Math.min(part.length, base.length - from);
		await overlay.readInto(from, part, 0, len);
		expect(part.subarray(0, len)).toEqual(expected.subarray(from, from + len));
		await overlay.discard();
	});

	it('never changes the base and deletes its file on discard', async () => {
		const base = pattern(3 * OVERLAY_BLOCK_BYTES);
		const copy = base.slice();
		const { overlay, path } = await overlayOver(base);
		await Promise.all([
			overlay.write(0, new Uint8Array(7).fill(1)),
			overlay.write(5000, new Uint8Array(7000).fill(2)),
		]);
		expect(base).toEqual(copy);
		expect(overlay.writtenBlocks).toBe(3);
		expect((await readFile(path)).length).toBe(base.length);
		await expect(overlay.write(12000, new Uint8Array(500))).rejects.toThrow(RangeError);
		await overlay.discard();
		await expect(readFile(path)).rejects.toThrow(/ENOENT/);
	});
});
