// SPDX-License-Identifier: MIT
// The sparse raw writer against an in-memory disk whose run map is known: byte-exact output,
// holes where the map says zero and where data blocks are all zeros, and clean failures.
import { mkdtemp, readFile, readdir, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
	exportRaw,
	isZeroRange,
	RawExportError,
	wordView,
	type RawExportSource,
} from '../../../../src/host/node/export-raw.js';
import { makeTempDir } from '../../../helpers/temp-dir.js';

/** A disk of `runs` (kind, length, fill byte or a generator); reads come from `content`. */
class MapSource implements RawExportSource {
	readonly sizeBytes: number;
	readonly content: Uint8Array;
	readonly runs: { kind: 'data' | 'zero'; start: number; end: number }[] = [];
	readsOfZeroRuns = 0;
	failAt: number | undefined;
	constructor(spec: readonly [kind: 'data' | 'zero', lengthBytes: number, fill: (i: number) => number][]) {
		this.sizeBytes = spec.reduce((a, [, n]) => a + n, 0);
		this.content = new Uint8Array(this.sizeBytes);
		let at = 0;
		for (const [kind, n, fill] of spec) {
			if (kind === 'data') for (let i = 0; i < n; i++) this.content[at + i] = fill(at + i);
			this.runs.push({ kind, start: at, end: at + n });
			at += n;
		}
	}
	async mapRun(offsetBytes: number, maxBytes: number) {
		const run = this.runs.find((r) => offsetBytes >= r.start && offsetBytes < r.end)!;
		return { kind: run.kind, lengthBytes: Math.min(maxBytes, run.end - offsetBytes) };
	}
	async readInto(offsetBytes: number, dest: Uint8Array, destOffset: number, length: number) {
		if (this.failAt !== undefined && offsetBytes + length > this.failAt) throw new Error('read failed here');
		for (const r of this.runs) {
			if (r.kind === 'zero' && offsetBytes < r.end && offsetBytes + length > r.start) this.readsOfZeroRuns++;
		}
		dest.set(this.content.subarray(offsetBytes, offsetBytes + length), destOffset);
	}
}

const KiB = 1024;
const MiB = 1024 * KiB;
const pseudo = (i: number) => (Math.imul(i + 1, 2654435761) >>> 24) | 1;

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
	({ dir, cleanup } = await makeTempDir('export-raw-'));
});
afterEach(async () => cleanup());

describe('exportRaw', () => {
	it('writes the exact bytes, leaves holes, and never reads zero runs', async () => {
		const src = new MapSource([
			['data', 3 * MiB + 512, pseudo], // crosses a window boundary with a small window
			['zero', 5 * MiB, () => 0],
			['data', 2 * MiB, (i) => (i % 7 === 0 ? 0 : 0)], // data that is all zeros → hole
			['data', 4096 + 100, (i) => (i % 4096 === 5 ? 9 : 0)], // sparse non-zero bytes
			['zero', 1 * MiB + 512, () => 0],
			['data', 1000, pseudo], // odd tail
		]);
		const out = join(dir, 'out.raw');
		const progress: number[] = [];
		const result = await exportRaw(src, out, {
			windowBytes: 1 * MiB,
			windowsInFlight: 3,
			onProgress: (p) => progress.push(p.doneBytes),
		});
		expect(result.bytes).toBe(src.sizeBytes);
		const bytes = await readFile(out);
		expect(bytes.length).toBe(src.sizeBytes);
		expect(Buffer.compare(bytes, src.content)).toBe(0);
		expect(src.readsOfZeroRuns).toBe(0);
		// Written: the random run (rounded out to 4 KiB blocks) + two 4 KiB blocks with a 9 + the tail.
		expect(result.dataBytes).toBeLessThanOrEqual(3 * MiB + 512 + 3 * 4096 + 1000);
		expect(result.dataBytes).toBeGreaterThanOrEqual(3 * MiB + 512 + 1000);
		const st = await stat(out);
		expect(st.blocks * 512).toBeLessThan(src.sizeBytes / 2);
		expect(progress.at(-1)).toBe(src.sizeBytes);
		expect(await readdir(dir)).toEqual(['out.raw']);
	});

	it('refuses an existing output unless overwrite is set, and never touches it', async () => {
		const src = new MapSource([['data', 8192, pseudo]]);
		const out = join(dir, 'exists.raw');
		await writeFile(out, 'keep me');
		await expect(exportRaw(src, out)).rejects.toMatchObject({ reason: 'exists', path: out });
		expect(await readFile(out, 'utf8')).toBe('keep me');
		await exportRaw(src, out, { overwrite: true });
		expect(Buffer.compare(await readFile(out), src.content)).toBe(0);
	});

	it('refuses to reuse a stale .partial without overwrite', async () => {
		const src = new MapSource([['data', 8192, pseudo]]);
		const out = join(dir, 'x.raw');
		await writeFile(out + '.partial', 'someone else');
		const error = await exportRaw(src, out).catch((e: unknown) => e);
		expect(error).toBeInstanceOf(RawExportError);
		expect(await readFile(out + '.partial', 'utf8')).toBe('someone else');
	});

	it('removes the .partial and leaves no output when a read fails', async () => {
		const src = new MapSource([['data', 4 * MiB, pseudo]]);
		src.failAt = 3 * MiB;
		const out = join(dir, 'fail.raw');
		await expect(exportRaw(src, out, { windowBytes: 1 * MiB })).rejects.toThrow('read failed here');
		expect(await readdir(dir)).toEqual([]);
	});

	it('stops on abort and cleans up', async () => {
		const src = new MapSource([['data', 4 * MiB, pseudo]]);
		const abort = new AbortController();
		const out = join(dir, 'abort.raw');
		const p = exportRaw(src, out, {
			windowBytes: 1 * MiB,
			windowsInFlight: 1,
			signal: abort.signal,
			onProgress: () => abort.abort(),
		});
		await expect(p).rejects.toMatchObject({ name: 'AbortError' });
		expect(await readdir(dir)).toEqual([]);
	});

	it('reports a missing destination folder as a write error', async () => {
		const src = new MapSource([['data', 4096, pseudo]]);
		await expect(exportRaw(src, join(dir, 'no', 'such', 'out.raw'))).rejects.toMatchObject({
			reason: 'write',
		});
	});

	it('refuses to replace a folder, even with overwrite', async () => {
		const src = new MapSource([['data', 4096, pseudo]]);
		await expect(exportRaw(src, dir, { overwrite: true })).rejects.toMatchObject({ reason: 'write' });
		await expect(exportRaw(src, dir)).rejects.toThrow('not a regular file');
	});

	it('writes around the page cache on a local block filesystem, with the same bytes as cached writes', async () => {
		// Unaligned stretches, all-zero blocks inside data and an odd tail: direct and cached
		// pieces mix inside one window.
		const src = new MapSource([
			['data', 2 * MiB + 512, pseudo],
			['zero', 1 * MiB, () => 0],
			['data', 64 * KiB, (i) => (i % 8192 < 4096 ? 0 : pseudo(i))],
			['data', 3 * MiB + 4096, pseudo],
			['data', 777, pseudo],
		]);
		const direct = await exportRaw(src, join(dir, 'direct.raw'), { windowBytes: 1 * MiB });
		const cached = await exportRaw(src, join(dir, 'cached.raw'), { windowBytes: 1 * MiB, directIo: false });
		expect(Buffer.compare(await readFile(join(dir, 'direct.raw')), src.content)).toBe(0);
		expect(Buffer.compare(await readFile(join(dir, 'cached.raw')), src.content)).toBe(0);
		expect(cached.directIo).toBe(false);
		expect(direct.dataBytes).toBe(cached.dataBytes);
		// ext4, xfs, btrfs, f2fs (the magic numbers direct-writes.ts allows): direct must be used.
		const local = [0xef53, 0x58465342, 0x9123683e, 0xf2f52010].includes((await statfs(dir)).type);
		expect(direct.directIo).toBe(local && process.platform === 'linux');
	});

	it('writes through the cache on a filesystem without a disk behind it (tmpfs)', async () => {
		const shm = await mkdtemp('/dev/shm/export-raw-');
		try {
			expect((await statfs(shm)).type).toBe(0x01021994); // tmpfs
			const src = new MapSource([['data', 1 * MiB + 12345, pseudo]]);
			const result = await exportRaw(src, join(shm, 'out.raw'));
			expect(result.directIo).toBe(false);
			expect(Buffer.compare(await readFile(join(shm, 'out.raw')), src.content)).toBe(0);
		} finally {
			await rm(shm, { recursive: true, force: true });
		}
	});

	it('handles an empty disk', async () => {
		const src = new MapSource([]);
		const out = join(dir, 'empty.raw');
		expect(await exportRaw(src, out)).toMatchObject({ bytes: 0, dataBytes: 0 });
		expect((await stat(out)).size).toBe(0);
	});
});

describe('isZeroRange', () => {
	it('finds a single non-zero byte at every position and alignment', () => {
		const buf = new Uint8Array(64);
		const words = wordView(buf);
		for (let start = 0; start < 8; start++) {
			for (let end = start; end <= 64; end += 3) {
				expect(isZeroRange(buf, words, start, end)).toBe(true);
				for (let k = start; k < end; k++) {
					buf[k] = 1;
					expect(isZeroRange(buf, words, start, end)).toBe(false);
					buf[k] = 0;
				}
				// Bytes just outside the range do not count.
				if (start > 0) buf[start - 1] = 1;
				if (end < 64) buf[end] = 1;
				expect(isZeroRange(buf, words, start, end)).toBe(true);
				buf.fill(0);
			}
		}
	});
});
