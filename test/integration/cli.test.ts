// SPDX-License-Identifier: MIT
// The `vmdk-mounter` command line as scripts see it: the real bin, real qemu-made disks.
// Checks the `info --json` contract, the human output, and that every failure is one line on
// stderr (or a JSON error on stdout) with the documented exit status and no stack trace.
import { copyFile, mkdir, readdir, readFile, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import type { InfoResult } from '../../src/shared/models.js';
import { run, runStatus } from '../helpers/run.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import {
	CHAIN_LEAF,
	CLI_BIN,
	ensureCliBuilt,
	makeReferenceDisk,
	REFERENCE_SIZE_BYTES,
	runCli,
} from '../fixtures/reference-disk.js';

let dir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
	({ dir, cleanup } = await makeTempDir('cli-test-'));
	await Promise.all([ensureCliBuilt(), makeReferenceDisk(dir)]);
});
afterAll(async () => cleanup());

/** Runs the CLI; never throws on a non-zero exit. DEBUG is cleared so no stack is expected. */
const cli = (...args: string[]) => runCli(args, { timeoutMs: 60_000 });

/** The CID and parentCID written in a descriptor (embedded or separate). */
async function descriptorCids(path: string): Promise<{ cid: string; parentCid: string }> {
	const text = (await readFile(path)).subarray(0, 64 * 1024).toString('latin1');
	// qemu writes CIDs without leading zeros (`CID=a973390`); `info` always prints 8 digits.
	const cid = /^CID=([0-9a-f]{1,8})\s/im.exec(text)?.[1];
	const parentCid = /^parentCID=([0-9a-f]{1,8})\s/im.exec(text)?.[1];
	if (cid === undefined || parentCid === undefined) throw new Error(`no CIDs in ${path}`);
	return { cid: cid.toLowerCase().padStart(8, '0'), parentCid: parentCid.toLowerCase().padStart(8, '0') };
}

/** Asserts a one-line error with the user-message title and no stack trace. */
function expectOneLineError(stderr: string, title: string, mentions: string): void {
	const lines = stderr.trimEnd().split('\n');
	expect(lines).toHaveLength(1);
	expect(lines[0]).toMatch(new RegExp(`^vmdk-mounter: ${title}: `));
	expect(lines[0]).toContain(mentions);
	expect(stderr).not.toMatch(/^\s+at /m);
}

describe('info', () => {
	it('prints the DiskInfo contract for a snapshot chain, leaf first, with the real CIDs', async () => {
		const leaf = join(dir, `${CHAIN_LEAF}.vmdk`);
		const r = await cli('info', '--json', leaf);
		expect(r.stderr).toBe('');
		expect(r.status).toBe(0);
		const result = JSON.parse(r.stdout) as InfoResult;
		expect(result.vm).toBeNull();
		expect(result.disks).toHaveLength(1);
		const disk = result.disks[0]!;
		expect(disk).toMatchObject({
			path: leaf,
			createType: 'monolithicSparse',
			capacityBytes: REFERENCE_SIZE_BYTES,
		});
		expect(['mbr', 'gpt', 'apm', 'none']).toContain(disk.partitionTable.scheme);
		expect(Array.isArray(disk.volumes)).toBe(true);
		for (const v of disk.volumes) {
			expect(typeof v.index).toBe('number');
			expect(v.startBytes + v.sizeBytes).toBeLessThanOrEqual(REFERENCE_SIZE_BYTES);
			if (v.filesystem !== null) expect(typeof v.filesystem.type).toBe('string');
		}
		expect(Array.isArray(disk.warnings)).toBe(true);
		const names = ['chain-snap2', 'chain-snap1', 'chain-base'];
		expect(disk.chain.map((l) => l.path)).toEqual(names.map((n) => join(dir, `${n}.vmdk`)));
		for (const [i, link] of disk.chain.entries()) {
			expect(await descriptorCids(link.path)).toEqual({ cid: link.cid, parentCid: link.parentCid });
			// Each parentCID names the next image's CID; the base has none.
			expect(link.parentCid).toBe(disk.chain[i + 1]?.cid ?? 'ffffffff');
		}
	});

	it('reports the capacity qemu-img reports for every variant', async () => {
		for (const variant of ['monolithicSparse', 'streamOptimized', 'monolithicFlat']) {
			const path = join(dir, `${variant}.vmdk`);
			const q = JSON.parse(await run('qemu-img', ['info', '--output=json', path])) as {
				'virtual-size': number;
			};
			const r = await cli('info', '--json', path);
			if (r.status !== 0) throw new Error(`${variant}: ${r.stdout}${r.stderr}`);
			const disk = (JSON.parse(r.stdout) as InfoResult).disks[0]!;
			expect(disk.capacityBytes).toBe(q['virtual-size']);
			expect(disk.createType).toBe(variant);
		}
	});

	it('prints a readable summary: path, type, size in both units, chain with CIDs', async () => {
		const leaf = join(dir, `${CHAIN_LEAF}.vmdk`);
		const r = await cli('info', leaf);
		expect(r.status).toBe(0);
		const json = (JSON.parse((await cli('info', '--json', leaf)).stdout) as InfoResult).disks[0]!;
		expect(r.stdout).toContain(leaf);
		expect(r.stdout).toMatch(/Type:\s+monolithicSparse/);
		expect(r.stdout).toContain('64.0 MiB (67,108,864 bytes)');
		for (const link of json.chain) {
			expect(r.stdout).toMatch(new RegExp(`${link.cid}\\s+${link.parentCid}\\s+\\S+\\s+${link.path}`));
		}
		expect(r.stdout).not.toContain('{');
	});
});

describe('export progress', () => {
	it('draws a progress bar on a terminal only, never with --json', async () => {
		const src = join(dir, 'streamOptimized.vmdk');
		const plain = await cli('export', src, join(dir, 'plain.raw'));
		expect(plain.status).toBe(0);
		expect(plain.stderr).toBe('');
		expect(plain.stdout).toMatch(/^Exported 64\.0 MiB \(.* of data\) to .*plain\.raw in /);
		// `script` gives the CLI a pseudo-terminal, as a user's shell would.
		const tty = await runStatus(
			'script',
			['-qec', `node ${CLI_BIN} export ${src} ${join(dir, 'tty.raw')}`, '/dev/null'],
			{ env: { DEBUG: '' } },
		);
		expect(tty.status, tty.stderr).toBe(0);
		expect(tty.stdout).toContain('Exporting [');
		const ttyJson = await runStatus(
			'script',
			['-qec', `node ${CLI_BIN} export --json ${src} ${join(dir, 'tty-json.raw')}`, '/dev/null'],
			{ env: { DEBUG: '' } },
		);
		expect(ttyJson.stdout).not.toContain('Exporting [');
		expect(JSON.parse(ttyJson.stdout.replace(/\r/g, ''))).toMatchObject({ bytes: REFERENCE_SIZE_BYTES });
	});
});

describe('CID mismatch', () => {
	it('refuses a chain whose parent changed, and opens it with --ignore-cid and a warning', async () => {
		// A copy of the chain whose base has a different CID than snap1 recorded.
		const sub = join(dir, 'cid');
		await mkdir(sub);
		for (const n of ['chain-base', 'chain-snap1', 'chain-snap2']) {
			await copyFile(join(dir, `${n}.vmdk`), join(sub, `${n}.vmdk`));
		}
		const base = join(sub, 'chain-base.vmdk');
		const bytes = await readFile(base);
		const text = bytes.toString('latin1');
		// Overwrite the CID's digits in place with another value of the same width.
		const match = /^CID=([0-9a-f]{1,8})\s/m.exec(text);
		expect(match).not.toBeNull();
		const digits = match![1]!;
		const replacement = digits.startsWith('1') ? '2' + digits.slice(1) : '1' + digits.slice(1);
		bytes.write(replacement, match!.index + 4, 'latin1');
		const newCid = replacement.padStart(8, '0');
		await writeFile(base, bytes);

		const leaf = join(sub, `${CHAIN_LEAF}.vmdk`);
		const refused = await cli('info', leaf);
		expect(refused.status).toBe(EXIT_CODES.BAD_IMAGE);
		expectOneLineError(refused.stderr, 'Snapshot does not match its parent', 'chain-');

		const human = await cli('info', '--ignore-cid', leaf);
		expect(human.status).toBe(0);
		expect(human.stdout).toMatch(/Warnings:\n {2}! .*CID/);
		const json = JSON.parse((await cli('info', '--json', '--ignore-cid', leaf)).stdout) as InfoResult;
		expect(json.disks[0]!.warnings.length).toBeGreaterThan(0);
		expect(json.disks[0]!.chain[2]!.cid).toBe(newCid);

		const out = join(sub, 'ignored.raw');
		const exported = await cli('export', '--ignore-cid', leaf, out);
		expect(exported.status).toBe(0);
		expect(exported.stderr).toMatch(/^vmdk-mounter: warning: .*CID/m);
		expect((await stat(out)).size).toBe(REFERENCE_SIZE_BYTES);
	});
});

describe('failures', () => {
	it('a missing file: exit 3, one line, JSON error with --json', async () => {
		const missing = join(dir, 'nope.vmdk');
		const r = await cli('info', missing);
		expect(r.status).toBe(EXIT_CODES.NOT_FOUND);
		expect(r.stdout).toBe('');
		expectOneLineError(r.stderr, 'File not found', missing);
		const j = await cli('info', '--json', missing);
		expect(j.status).toBe(EXIT_CODES.NOT_FOUND);
		const parsed = JSON.parse(j.stdout) as { error: { code: string; message: string } };
		expect(Object.keys(parsed)).toEqual(['error']);
		expect(parsed.error.code).toBe('INPUT_NOT_FOUND');
		expect(parsed.error.message).toContain(missing);
	});

	it('a file that is not a VMDK: exit 4', async () => {
		const text = join(dir, 'notes.vmdk');
		await writeFile(text, 'just some notes, not a disk\n'.repeat(100));
		const bin = join(dir, 'random.vmdk');
		await writeFile(
			bin,
			(await readFile(join(dir, 'reference.raw'))).subarray(52 * 1024 * 1024, 53 * 1024 * 1024),
		);
		for (const path of [text, bin]) {
			const r = await cli('info', path);
			expect(r.status).toBe(EXIT_CODES.BAD_IMAGE);
			expectOneLineError(r.stderr, '(Not a VMDK file|Invalid disk descriptor)', path);
			const j = JSON.parse((await cli('export', '--json', path, join(dir, 'x.raw'))).stdout) as {
				error: { code: string };
			};
			expect(['VMDK_NOT_VMDK', 'VMDK_BAD_DESCRIPTOR']).toContain(j.error.code);
		}
		expect(await readdir(dir)).not.toContain('x.raw');
	});

	it('a truncated VMDK: exit 4 with the file and offset, no partial output left', async () => {
		for (const [variant, keepBytes] of [
			['monolithicSparse', 200_000],
			['monolithicSparse', 3000],
			['streamOptimized', 2_000_000],
		] as const) {
			const cut = join(dir, `cut-${variant}-${keepBytes}.vmdk`);
			await copyFile(join(dir, `${variant}.vmdk`), cut);
			await truncate(cut, keepBytes);
			const out = join(dir, `cut-${keepBytes}.raw`);
			const r = await cli('export', cut, out);
			expect(r.status).toBe(EXIT_CODES.BAD_IMAGE);
			expectOneLineError(r.stderr, '(Incomplete disk file|Damaged disk)', cut);
			expect(r.stderr).toMatch(/at byte \d+/);
			expect((await readdir(dir)).filter((n) => n.startsWith(`cut-${keepBytes}.raw`))).toEqual([]);
		}
	});

	it('an existing output: exit 7 and the file is untouched; --force replaces it', async () => {
		const src = join(dir, 'monolithicSparse.vmdk');
		const out = join(dir, 'existing.raw');
		await writeFile(out, 'precious');
		const r = await cli('export', src, out);
		expect(r.status).toBe(EXIT_CODES.OUTPUT);
		expectOneLineError(r.stderr, 'Output file already exists', out);
		expect(await readFile(out, 'utf8')).toBe('precious');
		const j = await cli('export', '--json', src, out);
		expect(JSON.parse(j.stdout)).toMatchObject({ error: { code: 'OUTPUT_EXISTS' } });
		const f = await cli('export', '--json', '--force', src, out);
		expect(f.status).toBe(0);
		const done = JSON.parse(f.stdout) as Record<string, unknown>;
		expect(Object.keys(done).sort()).toEqual(['bytes', 'dataBytes', 'output']);
		expect(done).toMatchObject({ output: out, bytes: REFERENCE_SIZE_BYTES });
		expect(typeof done.dataBytes).toBe('number');
		expect((await stat(out)).size).toBe(REFERENCE_SIZE_BYTES);
	});

	it('never writes onto the disk it reads or any .vmdk, even with --force', async () => {
		const src = join(dir, 'monolithicSparse.vmdk');
		const before = await readFile(src);
		const flatBefore = await readFile(join(dir, 'monolithicFlat-flat.vmdk'));
		for (const out of [src, join(dir, 'monolithicFlat-flat.vmdk'), join(dir, 'new.VMDK')]) {
			const r = await cli('export', '--force', src, out);
			expect(r.status).toBe(EXIT_CODES.OUTPUT);
			expectOneLineError(r.stderr, 'Output would overwrite a disk file', out);
		}
		// A symlink with an innocent name that resolves to a file of the chain.
		const alias = join(dir, 'alias.raw');
		await symlink(join(dir, 'chain-base.vmdk'), alias);
		const chainBefore = await readFile(join(dir, 'chain-base.vmdk'));
		const a = await cli('export', '--force', join(dir, `${CHAIN_LEAF}.vmdk`), alias);
		expect(a.status).toBe(EXIT_CODES.OUTPUT);
		expectOneLineError(a.stderr, 'Output would overwrite a disk file', 'chain-base.vmdk');
		expect(Buffer.compare(await readFile(join(dir, 'chain-base.vmdk')), chainBefore)).toBe(0);
		// A symlink to an extent file (not a descriptor) of the disk being exported.
		const flatAlias = join(dir, 'flat-alias.raw');
		await symlink(join(dir, 'monolithicFlat-flat.vmdk'), flatAlias);
		const f = await cli('export', '--force', join(dir, 'monolithicFlat.vmdk'), flatAlias);
		expect(f.status).toBe(EXIT_CODES.OUTPUT);
		expectOneLineError(f.stderr, 'Output would overwrite a disk file', 'monolithicFlat-flat.vmdk');
		expect(Buffer.compare(await readFile(src), before)).toBe(0);
		expect(Buffer.compare(await readFile(join(dir, 'monolithicFlat-flat.vmdk')), flatBefore)).toBe(0);
		// A name that merely starts like a chain file is fine.
		const ok = await cli('export', join(dir, `${CHAIN_LEAF}.vmdk`), join(dir, 'chain-base.vmdk.raw'));
		expect(ok.status).toBe(0);
	});

	it('usage errors: exit 2, one line', async () => {
		const r = await cli('info', '--no-such-option', 'x.vmdk');
		expect(r.status).toBe(EXIT_CODES.USAGE);
		expectOneLineError(r.stderr, 'Invalid command line', '--no-such-option');
		const m = await cli('export', join(dir, 'monolithicSparse.vmdk'));
		expect(m.status).toBe(EXIT_CODES.USAGE);
		expectOneLineError(m.stderr, 'Invalid command line', 'output');
		const u = await cli('frobnicate');
		expect(u.status).toBe(EXIT_CODES.USAGE);
		const j = await cli('info', '--json');
		expect(j.status).toBe(EXIT_CODES.USAGE);
		expect(JSON.parse(j.stdout)).toMatchObject({ error: { code: 'USAGE' } });
	});

	it('--help and --version succeed', async () => {
		const h = await cli('--help');
		expect(h.status).toBe(0);
		expect(h.stdout).toContain('info');
		expect(h.stdout).toContain('export');
		const v = await cli('--version');
		expect(v.status).toBe(0);
		expect(v.stdout).toMatch(/^\d+\.\d+\.\d+/);
	});
});
