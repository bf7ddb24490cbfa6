// SPDX-License-Identifier: MIT
// Regression for the intermittent "exit 4" of descriptor-based disks (mount matrix, mutation
// test): on the first write after opening a disk, QEMU rewrites the descriptor's CID in place,
// unpadded ("CID=%x"). When the new CID has two or more hex digits fewer than the old one (about
// 1 image in 256 from `qemu-img convert`), the text gets shorter and the end of the old text
// stays after the NUL that ends the new one. QEMU reads the descriptor as a C string and opens
// such a disk; we refused it with VMDK_BAD_DESCRIPTOR ("contains a NUL byte").
//
// The test makes that case happen every time with the real tools: it lengthens the CID that
// `qemu-img create` wrote with leading zeros (QEMU reads it with %x), then writes with qemu-io,
// whose CID rewrite is then always shorter. No FUSE.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDisk, resolveOpenTarget } from '../../src/core/index.js';
import { nodePlatform } from '../../src/host/node/node-platform.js';
import { ensureCliBuilt, runCli } from '../fixtures/reference-disk.js';
import { run } from '../helpers/run.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const MiB = 1024 * 1024;
const DISK_SIZE_BYTES = 8 * MiB;
/** Subformats whose descriptor is a file of its own (the embedded ones were never affected). */
const SUBFORMATS = ['monolithicFlat', 'twoGbMaxExtentSparse', 'twoGbMaxExtentFlat'] as const;
/** Leading zeros added to the CID: QEMU's rewrite is then at least this many bytes shorter. */
const CID_PADDING = '0000000000000000';
const NUL = 0;

let dir = '';
let cleanup: () => Promise<void> = async () => {};
/** Per subformat: the descriptor path and the CID QEMU wrote last. */
const disks = new Map<string, { path: string; cid: string }>();

/** The value of the first `CID=` line of a descriptor's text (up to its first NUL). */
function cidOf(descriptor: Uint8Array): string {
	const end = descriptor.indexOf(NUL);
	const text = Buffer.from(descriptor.subarray(0, end < 0 ? descriptor.length : end)).toString('latin1');
	const match = /^CID=([0-9a-f]+)$/m.exec(text);
	if (match?.[1] === undefined) throw new Error(`no CID line in ${JSON.stringify(text)}`);
	return match[1];
}

beforeAll(async () => {
	({ dir, cleanup } = await makeTempDir('vmdk-cid-rewrite-'));
	await Promise.all(
		SUBFORMATS.map(async (sub) => {
			const path = join(dir, `${sub}.vmdk`);
			await run('qemu-img', [
				'create',
				'-q',
				'-f',
				'vmdk',
				'-o',
				`subformat=${sub}`,
				path,
				String(DISK_SIZE_BYTES),
			]);
			const original = await readFile(path, 'latin1');
			const longer = original.replace(/^CID=([0-9a-f]+)$/m, `CID=${CID_PADDING}$1`);
			expect(longer, `${sub}: CID line found`).not.toBe(original);
			await writeFile(path, longer, 'latin1');
			// Two patterns, one of them across the 1 MiB mark, so reads cover data and holes.
			await run('qemu-io', ['-f', 'vmdk', '-c', 'write -P 0x5a 0 64k', '-c', 'write -P 0xa5 1020k 8k', path]);
			const rewritten = new Uint8Array(await readFile(path));
			// The case under test: text, its NUL, then non-NUL leftovers of the older, longer text.
			const end = rewritten.indexOf(NUL);
			expect(end, `${sub}: qemu-io padded the descriptor`).toBeGreaterThan(0);
			expect(
				rewritten.subarray(end).some((b) => b !== NUL),
				`${sub}: stale text after the NUL`,
			).toBe(true);
			disks.set(sub, { path, cid: cidOf(rewritten) });
		}),
	);
}, 60_000);

afterAll(async () => {
	await cleanup();
});

describe('a descriptor whose CID QEMU rewrote shorter (stale text after its NUL)', () => {
	for (const sub of SUBFORMATS) {
		it(`${sub}: opens with QEMU's CID and reads exactly what qemu-img converts`, async () => {
			const { path, cid } = disks.get(sub)!;
			const raw = join(dir, `${sub}.raw`);
			await run('qemu-img', ['convert', '-f', 'vmdk', '-O', 'raw', path, raw]);
			const expected = new Uint8Array(await readFile(raw));
			expect(expected.length).toBe(DISK_SIZE_BYTES);
			const disk = await openDisk(path, nodePlatform);
			try {
				expect(disk.chain[0]?.cid).toBe(cid.padStart(8, '0'));
				expect(disk.sizeBytes).toBe(DISK_SIZE_BYTES);
				const actual = await disk.read(0, disk.sizeBytes);
				expect(Buffer.from(actual).equals(expected), 'bytes equal qemu-img convert').toBe(true);
				expect(actual[0]).toBe(0x5a);
			} finally {
				await disk.close();
			}
		});
	}

	it('a folder holding such disks lists each of them', async () => {
		const target = await resolveOpenTarget(dir, nodePlatform);
		expect(target.kind).toBe('folder');
		if (target.kind !== 'folder') return;
		expect([...target.disks].sort()).toEqual([...disks.values()].map((d) => d.path).sort());
	});

	it('`vmdk-mounter info --json` exits 0 (the mount matrix saw exit 4 here)', async () => {
		await ensureCliBuilt();
		for (const sub of SUBFORMATS) {
			const { path } = disks.get(sub)!;
			const r = await runCli(['info', '--json', path], { timeoutMs: 60_000 });
			expect(r.status, `${sub}: ${r.stdout}${r.stderr}`).toBe(0);
			const info = JSON.parse(r.stdout) as { disks: { createType: string; capacityBytes: number }[] };
			expect(info.disks[0]?.createType).toBe(sub);
			expect(info.disks[0]?.capacityBytes).toBe(DISK_SIZE_BYTES);
		}
	}, 240_000);
});
