// SPDX-License-Identifier: MIT
// Golden differential suite: every VMDK variant qemu-img writes, and a three-level
// snapshot chain, must export byte-identical to `qemu-img convert -O raw` of the same file,
// through the real CLI; the export must be sparse; and random reads through openDisk must
// match qemu's raw image. No FUSE needed.
import { open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDisk } from '../../src/core/index.js';
import { nodePlatform } from '../../src/host/node/node-platform.js';
import { run, sha256File } from '../helpers/run.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import {
	CHAIN_LEAF,
	CLI_BIN,
	ensureCliBuilt,
	makeReferenceDisk,
	REFERENCE_SIZE_BYTES,
	REFERENCE_VARIANTS,
	runCli,
} from '../fixtures/reference-disk.js';
import { prng } from '../helpers/prng.js';

let dir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
	({ dir, cleanup } = await makeTempDir('golden-'));
	await Promise.all([ensureCliBuilt(), makeReferenceDisk(dir)]);
});
afterAll(async () => cleanup());

/** qemu's raw conversion of `name`.vmdk, made once per variant. */
const qemuRaw = new Map<string, Promise<string>>();
function qemuRawOf(name: string): Promise<string> {
	let p = qemuRaw.get(name);
	if (p === undefined) {
		const out = join(dir, `${name}.qemu.raw`);
		p = run('qemu-img', ['convert', '-f', 'vmdk', '-O', 'raw', join(dir, `${name}.vmdk`), out]).then(
			() => out,
		);
		qemuRaw.set(name, p);
	}
	return p;
}

const ALL = [...REFERENCE_VARIANTS, CHAIN_LEAF];

describe.each(ALL)('%s', (name) => {
	it('exports through the CLI byte-identical to qemu-img convert -O raw, and sparse', async () => {
		const out = join(dir, `${name}.ours.raw`);
		const r = await runCli(['export', '--json', join(dir, `${name}.vmdk`), out]);
		if (r.status !== 0) throw new Error(`export failed (${r.status}): ${r.stdout} ${r.stderr}`);
		const json = JSON.parse(r.stdout) as { output: string; bytes: number; dataBytes: number };
		expect(json).toMatchObject({ output: out, bytes: REFERENCE_SIZE_BYTES });

		const qemu = await qemuRawOf(name);
		expect(await sha256File(out)).toBe(await sha256File(qemu));
		if (name !== CHAIN_LEAF) expect(await sha256File(out)).toBe(await sha256File(join(dir, 'reference.raw')));

		const st = await stat(out);
		expect(st.size).toBe(REFERENCE_SIZE_BYTES);
		// The reference disk is mostly empty: the export must keep that as holes.
		expect(st.blocks * 512).toBeLessThan(REFERENCE_SIZE_BYTES / 2);
		expect(json.dataBytes).toBeLessThanOrEqual(st.blocks * 512);
		// Not much more allocated than qemu's own sparse output (which skips 4 KiB zero blocks).
		expect(st.blocks).toBeLessThanOrEqual((await stat(qemu)).blocks + 64);
	});

	it('serves random ranges through openDisk equal to the qemu raw image', async () => {
		const qemu = await readFile(await qemuRawOf(name));
		const disk = await openDisk(join(dir, `${name}.vmdk`), nodePlatform);
		try {
			expect(disk.sizeBytes).toBe(qemu.length);
			const rand = prng(name.length * 7919);
			// Interesting spots (partition starts, grain and window edges, the written islands) plus random ones.
			const MiB = 1024 * 1024;
			const spots = [
				0,
				511,
				1 * MiB - 1,
				17 * MiB,
				52 * MiB - 3,
				53 * MiB + 65535,
				56 * MiB + 65530,
				63 * MiB,
			];
			const ranges: [number, number][] = spots.map((o) => [o, 70_000]);
			ranges.push([qemu.length - 4096, 4096]);
			for (let i = 0; i < 150; i++) {
				const length = 1 + Math.floor(rand() * (rand() < 0.2 ? 400_000 : 9000));
				ranges.push([Math.floor(rand() * (qemu.length - length)), length]);
			}
			for (const [offset, length] of ranges) {
				const got = await disk.read(offset, length);
				const want = qemu.subarray(offset, offset + length);
				if (Buffer.compare(Buffer.from(got.buffer, got.byteOffset, got.byteLength), want) !== 0) {
					throw new Error(`${name}: bytes differ in read of ${length} at ${offset}`);
				}
			}
			// Concurrent reads (what export and FUSE do) give the same answers.
			const parallel = await Promise.all(ranges.slice(0, 40).map(([o, n]) => disk.read(o, n)));
			parallel.forEach((got, i) => {
				const [o, n] = ranges[i]!;
				expect(Buffer.compare(Buffer.from(got), qemu.subarray(o, o + n))).toBe(0);
			});
		} finally {
			await disk.close();
		}
	});
});

describe('export of a disk with the progress path', () => {
	it('writes the same bytes with one window in flight and with many', async () => {
		// The CLI's pipeline with a small window and different concurrency, in-process.
		const { exportRaw } = await import('../../src/host/node/export-raw.js');
		const disk = await openDisk(join(dir, 'streamOptimized.vmdk'), nodePlatform);
		try {
			const want = await sha256File(join(dir, 'reference.raw'));
			for (const [windowBytes, windowsInFlight] of [
				[64 * 1024, 1],
				[1024 * 1024, 16],
			] as const) {
				const out = join(dir, `so-${windowBytes}-${windowsInFlight}.raw`);
				await exportRaw(disk, out, { windowBytes, windowsInFlight });
				expect(await sha256File(out)).toBe(want);
			}
		} finally {
			await disk.close();
		}
	});

	it('leaves the input files unchanged', async () => {
		const before = await sha256File(join(dir, 'streamOptimized.vmdk'));
		const h = await open(join(dir, 'streamOptimized.vmdk'), 'r');
		const mtime = (await h.stat()).mtimeMs;
		await h.close();
		await run(process.execPath, [
			CLI_BIN,
			'export',
			join(dir, 'streamOptimized.vmdk'),
			join(dir, 'so-again.raw'),
		]);
		expect(await sha256File(join(dir, 'streamOptimized.vmdk'))).toBe(before);
		expect((await stat(join(dir, 'streamOptimized.vmdk'))).mtimeMs).toBe(mtime);
	});
});
