// SPDX-License-Identifier: MIT
// `convert` checked against peers, for real: every subformat × odd sizes, empty disks, a disk
// split across pieces, a 2 TiB sparse disk and a flattened snapshot chain. Each output must be
// clean for `qemu-img check`, equal to the input for `qemu-img compare`, open in libvmdk's
// `vmdkinfo`, and come back byte for byte through our own `export`.
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { open, readdir, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import type { ConvertJson } from '../../src/cli/commands/convert.js';
import { parseDescriptor } from '../../src/core/index.js';
import { WRITE_SUBFORMATS, type WriteSubformat } from '../../src/core/write.js';
import { runStatus } from '../helpers/run.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { CLI_BIN, ensureCliBuilt, runCli } from '../fixtures/reference-disk.js';

let dir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
	({ dir, cleanup } = await makeTempDir('convert-peers-'));
	await ensureCliBuilt();
});
afterAll(async () => cleanup());

const cli = (...args: string[]) => runCli(args, { timeoutMs: 240_000 });
const tool = (cmd: string, ...args: string[]) => runStatus(cmd, args, { timeoutMs: 240_000 });

/** A raw image of `size` bytes: random and patterned runs, holes, and zeros written as data. */
async function makeRaw(path: string, size: number): Promise<void> {
	await writeFile(path, '');
	await truncate(path, size);
	const fh = await open(path, 'r+');
	try {
		const put = async (at: number, bytes: Uint8Array) => {
			if (at >= size) return;
			await fh.write(bytes, 0, Math.min(bytes.length, size - at), at);
		};
		await put(0, randomBytes(Math.min(size, 1000)));
		await put(70_000, new Uint8Array(100_000).fill(0x5a));
		await put(300_000, new Uint8Array(200_000)); // zeros written as data
		await put(600_000, randomBytes(64 * 1024));
		await put(Math.max(0, size - 777), randomBytes(777));
	} finally {
		await fh.close();
	}
}

/** Asserts the peers' and our own verdicts on `vmdk` against `raw`. */
async function expectFaithful(raw: string, vmdk: string, options: { roundTrip: boolean }): Promise<void> {
	const check = await tool('qemu-img', 'check', vmdk);
	expect(check.status, `qemu-img check ${vmdk}: ${check.stdout} ${check.stderr}`).toBe(0);
	const compare = await tool('qemu-img', 'compare', '-f', 'raw', '-F', 'vmdk', raw, vmdk);
	expect(compare.status, `qemu-img compare: ${compare.stdout} ${compare.stderr}`).toBe(0);
	const info = await tool('vmdkinfo', vmdk);
	expect(info.status, `vmdkinfo: ${info.stdout} ${info.stderr}`).toBe(0);
	if (options.roundTrip) {
		const back = `${vmdk}.back.raw`;
		const exported = await cli('export', '--force', vmdk, back);
		expect(exported.status, exported.stderr).toBe(0);
		const original = await readFile(raw);
		const roundTrip = await readFile(back);
		// The capacity is the input rounded up to a sector; the padding reads as zeros.
		expect(roundTrip.length).toBe(Math.ceil(original.length / 512) * 512);
		expect(Buffer.compare(roundTrip.subarray(0, original.length), original)).toBe(0);
		expect(roundTrip.subarray(original.length).every((b) => b === 0)).toBe(true);
	}
}

const SIZES = [1, 1000, 3 * 65536 + 4096, 5 * 1024 * 1024 + 777];

describe('convert: every subformat × sizes that are not a multiple of a grain', () => {
	for (const subformat of WRITE_SUBFORMATS) {
		for (const size of SIZES) {
			it(`${subformat}, ${size} bytes`, async () => {
				const raw = join(dir, `in-${size}.raw`);
				await makeRaw(raw, size);
				const out = join(dir, `${subformat}-${size}.vmdk`);
				const r = await cli('convert', '--json', '--subformat', subformat, raw, out);
				expect(r.status, r.stderr).toBe(0);
				const json = JSON.parse(r.stdout) as ConvertJson;
				expect(json).toMatchObject({ output: out, subformat, adapter: 'lsilogic', inputKind: 'raw' });
				expect(json.capacityBytes).toBe(Math.ceil(size / 512) * 512);
				await expectFaithful(raw, out, { roundTrip: true });
			});
		}
	}
});

describe('convert: what the descriptor says', () => {
	it('CID, adapter, VMware geometry, hardware and tools versions; an empty disk stores no grains', async () => {
		const raw = join(dir, 'empty.raw');
		await writeFile(raw, '');
		await truncate(raw, 3 * 1024 ** 3);
		for (const [adapter, ddb, geometry, hw] of [
			['ide', 'ide', [6241, 16, 63], '4'],
			['lsilogic', 'lsilogic', [391, 255, 63], '4'],
			['sata', 'ide', [6241, 16, 63], '10'],
			['nvme', 'lsilogic', [391, 255, 63], '13'],
		] as const) {
			const out = join(dir, `empty-${adapter}.vmdk`);
			const r = await cli(
				'convert',
				'--json',
				'--adapter',
				adapter,
				'--subformat',
				'monolithicFlat',
				raw,
				out,
			);
			expect(r.status, r.stderr).toBe(0);
			const json = JSON.parse(r.stdout) as ConvertJson;
			expect(json.dataBytes).toBe(0);
			const d = parseDescriptor(await readFile(out));
			expect(d.cid).toBe(json.cid);
			expect(d.parentCid).toBe('ffffffff');
			expect(d.createType).toBe('monolithicFlat');
			expect(d.ddb.adapterType).toBe(ddb);
			expect(d.ddb.geometry).toEqual({ cylinders: geometry[0], heads: geometry[1], sectors: geometry[2] });
			expect(d.ddb.virtualHwVersion).toBe(hw);
			expect(d.ddb.toolsVersion).toBe('2147483647');
			expect(d.ddb.longContentId).toMatch(new RegExp(`^[0-9a-f]{24}${json.cid}$`));
			expect(d.ddb.uuid).toMatch(/^([0-9a-f]{2} ){7}[0-9a-f]{2}-([0-9a-f]{2} ){7}[0-9a-f]{2}$/);
		}
		for (const subformat of ['monolithicSparse', 'streamOptimized'] as const) {
			const out = join(dir, `empty-${subformat}.vmdk`);
			const r = await cli('convert', '--json', '--subformat', subformat, raw, out);
			expect(r.status, r.stderr).toBe(0);
			expect((JSON.parse(r.stdout) as ConvertJson).dataBytes).toBe(0);
			expect((await stat(out)).size).toBeLessThan(2 * 1024 * 1024);
			await expectFaithful(raw, out, { roundTrip: false });
		}
	});
});

describe('convert: big and split disks', () => {
	it('a 4.5 GiB sparse disk split into 2047 MiB pieces, with data across the cut', async () => {
		const raw = join(dir, 'big.raw');
		await writeFile(raw, '');
		await truncate(raw, 4.5 * 1024 ** 3);
		const fh = await open(raw, 'r+');
		await fh.write(randomBytes(1024 * 1024), 0, 1024 * 1024, 2047 * 1024 * 1024 - 512 * 1024);
		await fh.write(randomBytes(4096), 0, 4096, 4.5 * 1024 ** 3 - 4096);
		await fh.close();
		for (const subformat of ['twoGbMaxExtentSparse', 'twoGbMaxExtentFlat'] as const) {
			const out = join(dir, `big-${subformat}.vmdk`);
			const r = await cli('convert', '--json', '--subformat', subformat, raw, out);
			expect(r.status, r.stderr).toBe(0);
			const letter = subformat === 'twoGbMaxExtentSparse' ? 's' : 'f';
			expect((JSON.parse(r.stdout) as ConvertJson).files).toEqual([
				out,
				...[1, 2, 3].map((i) => join(dir, `big-${subformat}-${letter}00${i}.vmdk`)),
			]);
			expect(parseDescriptor(await readFile(out)).extents.map((e) => e.sizeSectors)).toEqual([
				4192256,
				4192256,
				9437184 - 2 * 4192256,
			]);
			await expectFaithful(raw, out, { roundTrip: false });
		}
	}, 240_000);

	it('a 2 TiB sparse raw disk (holes found, not read) as monolithicSparse and streamOptimized', async () => {
		const raw = join(dir, 'huge.raw');
		const size = 2 * 1024 ** 4;
		await writeFile(raw, '');
		await truncate(raw, size);
		// qemu-img compare reads 2 TiB here (minutes): patterns are checked with qemu-io instead.
		const writes = [
			{ at: 0, pattern: 0xa1 },
			{ at: 1024 ** 4 + 12345, pattern: 0xb2 },
			{ at: size - 65536, pattern: 0xc3 },
		];
		const fh = await open(raw, 'r+');
		for (const w of writes) await fh.write(new Uint8Array(65536).fill(w.pattern), 0, 65536, w.at);
		await fh.close();
		for (const subformat of ['monolithicSparse', 'streamOptimized'] as const) {
			const out = join(dir, `huge-${subformat}.vmdk`);
			const started = Date.now();
			const r = await cli('convert', '--json', '--subformat', subformat, raw, out);
			expect(r.status, r.stderr).toBe(0);
			expect(Date.now() - started, 'holes must not be read').toBeLessThan(30_000);
			expect((JSON.parse(r.stdout) as ConvertJson).capacityBytes).toBe(size);
			const check = await tool('qemu-img', 'check', out);
			expect(check.status, check.stdout + check.stderr).toBe(0);
			expect((await tool('vmdkinfo', out)).status).toBe(0);
			const reads = writes.flatMap((w) => ['-c', `read -P 0x${w.pattern.toString(16)} ${w.at} 65536`]);
			const io = await tool('qemu-io', '-r', '-f', 'vmdk', ...reads, '-c', `read -P 0 65536 1048576`, out);
			expect(io.status).toBe(0);
			expect(io.stdout + io.stderr).not.toMatch(/verification failed|error/i);
			const map = JSON.parse((await tool('qemu-img', 'map', '--output=json', '-f', 'vmdk', out)).stdout) as {
				start: number;
				length: number;
				data: boolean;
			}[];
			const dataBytes = map.filter((m) => m.data).reduce((n, m) => n + m.length, 0);
			expect(dataBytes).toBe(4 * 65536); // one grain, two grains (unaligned), one grain
		}
	}, 240_000);
});

describe('convert: VMDK inputs', () => {
	it('flattens a snapshot chain (qemu-made) into one disk equal to the chain', async () => {
		const base = join(dir, 'chain-base.vmdk');
		const snap = join(dir, 'chain-snap.vmdk');
		await tool('qemu-img', 'create', '-q', '-f', 'vmdk', base, '8M');
		await tool('qemu-io', '-f', 'vmdk', '-c', 'write -P 0x11 0 2M', '-c', 'write -P 0x22 6M 1M', base);
		await tool('qemu-img', 'create', '-q', '-f', 'vmdk', '-b', base, '-F', 'vmdk', snap);
		await tool('qemu-io', '-f', 'vmdk', '-c', 'write -P 0x33 1M 2M', '-c', 'write -z 6M 512k', snap);
		const expected = join(dir, 'chain.raw');
		expect((await tool('qemu-img', 'convert', '-O', 'raw', snap, expected)).status).toBe(0);
		for (const subformat of ['monolithicSparse', 'streamOptimized'] as WriteSubformat[]) {
			const out = join(dir, `flat-chain-${subformat}.vmdk`);
			const r = await cli('convert', '--json', '--subformat', subformat, snap, out);
			expect(r.status, r.stderr).toBe(0);
			expect((JSON.parse(r.stdout) as ConvertJson).inputKind).toBe('vmdk');
			await expectFaithful(expected, out, { roundTrip: true });
		}
	});
});

describe('convert: refusals', () => {
	it('will not replace a file without --force, nor write onto a file of its input', async () => {
		const raw = join(dir, 'r.raw');
		await makeRaw(raw, 1024 * 1024);
		const out = join(dir, 'r.vmdk');
		expect((await cli('convert', raw, out)).status).toBe(0);
		const again = await cli('convert', raw, out);
		expect(again.status).toBe(EXIT_CODES.OUTPUT);
		expect(again.stderr).toMatch(/already exists/);
		// The output's own descriptor as input, with --force: refused, and the file untouched.
		const before = await readFile(out);
		const self = await cli('convert', '--force', out, out);
		expect(self.status).toBe(EXIT_CODES.OUTPUT);
		expect(self.stderr).toMatch(/a file of the input/);
		expect(Buffer.compare(await readFile(out), before)).toBe(0);
		// A split input whose piece would be overwritten by the output's flat extent.
		const split = join(dir, 'p.vmdk');
		expect((await cli('convert', '--subformat', 'monolithicFlat', raw, split)).status).toBe(0);
		const clash = await cli('convert', '--force', '--subformat', 'monolithicFlat', split, split);
		expect(clash.status).toBe(EXIT_CODES.OUTPUT);
		const name = await cli('convert', raw, join(dir, 'r.img'));
		expect(name.status).toBe(EXIT_CODES.USAGE);
		const qcow = join(dir, 'q.qcow2');
		await tool('qemu-img', 'create', '-q', '-f', 'qcow2', qcow, '1M');
		const foreign = await cli('convert', qcow, join(dir, 'q.vmdk'));
		expect(foreign.status).toBe(EXIT_CODES.UNSUPPORTED);
		expect(foreign.stderr).toMatch(/QCOW2/);
		expect((await readdir(dir)).filter((n) => n.endsWith('.partial'))).toEqual([]);
	});

	it('Ctrl-C stops the conversion and removes everything it wrote', async () => {
		const raw = join(dir, 'slow.raw');
		const fh = await open(raw, 'w');
		for (let i = 0; i < 16; i++) await fh.write(randomBytes(32 * 1024 * 1024));
		await fh.close();
		const out = join(dir, 'slow.vmdk');
		const child = execa('node', [CLI_BIN, 'convert', '--subformat', 'streamOptimized', raw, out], {
			reject: false,
			env: { DEBUG: '' },
		});
		// Once the partial file exists, the write is under way.
		for (let i = 0; i < 200; i++) {
			if ((await readdir(dir)).includes('slow.vmdk.partial')) break;
			await new Promise((r) => setTimeout(r, 20));
		}
		child.kill('SIGINT');
		const r = await child;
		expect(r.exitCode, r.stderr).toBe(EXIT_CODES.INTERRUPTED);
		expect((await readdir(dir)).filter((n) => n.startsWith('slow.vmdk'))).toEqual([]);
	}, 120_000);
});
