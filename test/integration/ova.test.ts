// SPDX-License-Identifier: MIT
// OVA appliances made with real tools (test/helpers/build-ova.ts: mkfs, qemu-img
// streamOptimized, an ovftool-style OVF, GNU tar in ustar, pax and gnu formats), read in place
// through the real CLI. Peers: GNU tar (`tar -tvf`) and Python's tarfile for member names,
// sizes and data offsets; qemu-img for the disk bytes; sha256sum-style digests for the manifest.
import { copyFile, mkdir, open, readFile, rename, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTarIndex, withArchives } from '../../src/core/index.js';
import { nodePlatform } from '../../src/host/node/node-platform.js';
import type { InfoResult } from '../../src/shared/models.js';
import {
	copyPieces,
	makeOvaPieces,
	sha256File,
	sizeOf,
	tarUp,
	writeManifest,
	writeOvf,
	type OvaPieces,
} from '../helpers/build-ova.js';
import { CLI_BIN, ensureCliBuilt } from '../fixtures/reference-disk.js';
import { makeTempDir } from '../helpers/temp-dir.js';

let root = '';
let cleanup: () => Promise<void> = async () => {};
let pieces: OvaPieces;
/** The standard appliance (ustar). */
let ova = '';

async function cli(
	...args: string[]
): Promise<{ status: number | undefined; stdout: string; stderr: string }> {
	const r = await execa(process.execPath, [CLI_BIN, ...args], { reject: false, timeout: 120_000 });
	return { status: r.exitCode, stdout: r.stdout, stderr: r.stderr };
}

async function infoJson(...args: string[]): Promise<InfoResult> {
	const r = await cli('info', '--json', ...args);
	expect(r.status, r.stdout + r.stderr).toBe(0);
	return JSON.parse(r.stdout) as InfoResult;
}

async function sameFile(a: string, b: string): Promise<boolean> {
	return (await execa('cmp', ['-s', a, b], { reject: false })).exitCode === 0;
}

const STANDARD_MEMBERS = ['app.ovf', 'app.mf', 'app-disk1.vmdk', 'app-disk2.vmdk'];

/** A variant appliance: the standard pieces in `name/`, changed by `change`, packed into `name.ova`. */
async function variant(
	name: string,
	change: (dir: string) => Promise<readonly string[] | void>,
	format: 'ustar' | 'pax' | 'gnu' = 'ustar',
): Promise<string> {
	const dir = join(root, name);
	await copyPieces(pieces.dir, dir, Object.fromEntries(STANDARD_MEMBERS.map((m) => [m, m])));
	const members = (await change(dir)) ?? STANDARD_MEMBERS;
	return tarUp(dir, members, join(root, `${name}.ova`), format);
}

/** Python's view of an archive: name, size, data offset, type of every member. */
async function pythonMembers(
	path: string,
): Promise<{ name: string; size: number; offset: number; file: boolean }[]> {
	const script =
		'import json,sys,tarfile\n' +
		'with tarfile.open(sys.argv[1]) as t:\n' +
		'  print(json.dumps([{"name":m.name,"size":m.size,"header":m.offset,"offset":m.offset_data,"file":m.isfile()} for m in t.getmembers()]))';
	const { stdout } = await execa('python3', ['-c', script, path]);
	return JSON.parse(stdout) as {
		name: string;
		size: number;
		header: number;
		offset: number;
		file: boolean;
	}[];
}

/** GNU tar's view: size and name of every member (`tar -tvf`). */
async function gnuTarMembers(path: string): Promise<{ name: string; size: number }[]> {
	const { stdout } = await execa('tar', ['--numeric-owner', '-tvf', path], { env: { LC_ALL: 'C' } });
	return stdout
		.split('\n')
		.filter((l) => l !== '')
		.map((line) => {
			const m = /^\S+ \S+ +(\d+) \d{4}-\d\d-\d\d \d\d:\d\d (.+)$/.exec(line);
			if (!m) throw new Error(`cannot parse tar -tv line ${line}`);
			return { size: Number(m[1]), name: m[2]! };
		});
}

beforeAll(async () => {
	({ dir: root, cleanup } = await makeTempDir('vmdk-ova-'));
	await ensureCliBuilt();
	pieces = await makeOvaPieces(join(root, 'pieces'));
	ova = await tarUp(pieces.dir, STANDARD_MEMBERS, join(root, 'app.ova'));
}, 180_000);

afterAll(async () => {
	await cleanup();
});

describe('OVA archives: our member index against GNU tar and Python', () => {
	// Long names exercise the ustar prefix field, pax `path` records and GNU long-name members;
	// ustar can only split a long path at a "/", so its file name part stays short.
	for (const format of ['ustar', 'pax', 'gnu'] as const) {
		it(`${format}: names, sizes and data offsets agree, and member bytes read in place are the files`, async () => {
			const folder = `disks-${'in-a-deeply-named-folder-'.repeat(4)}`;
			const longName =
				format === 'ustar' ? 'disk1.vmdk' : `${'appliance-with-a-rather-long-name-'.repeat(3)}disk1.vmdk`;
			const archive = await variant(
				`tar-${format}`,
				async (dir) => {
					await mkdir(join(dir, folder));
					await rename(join(dir, 'app-disk1.vmdk'), join(dir, folder, longName));
					return ['app.ovf', 'app.mf', `${folder}/${longName}`, 'app-disk2.vmdk'];
				},
				format,
			);
			const file = await nodePlatform.openFile(archive);
			const index = await readTarIndex(file);
			await file.close();
			const ours = index.members.map((m) => ({
				name: m.name,
				size: m.sizeBytes,
				header: m.headerOffsetBytes,
				offset: m.dataOffsetBytes,
				file: m.type === 'file',
			}));
			expect(ours).toEqual(await pythonMembers(archive));
			expect(ours.map(({ name, size }) => ({ name, size }))).toEqual(await gnuTarMembers(archive));
			expect(index.warnings).toEqual([]);
			const platform = withArchives(nodePlatform);
			const member = await platform.openFile(join(archive, folder, longName));
			const bytes = new Uint8Array(member.sizeBytes);
			await member.readInto(0, bytes, 0, bytes.length);
			await member.close();
			expect(Buffer.compare(bytes, await readFile(pieces.disks[0]!.vmdk))).toBe(0);
		});
	}
});

describe('info, export and --verify on appliances', () => {
	it('info shows the appliance, its disks in slot order, their chains and volumes', async () => {
		const result = await infoJson(ova);
		expect(result.vm).toMatchObject({
			kind: 'ova',
			vmxPath: ova,
			displayName: 'My Appliance',
			guestOS: 'debian10_64Guest',
			ovfPath: join(ova, 'app.ovf'),
			manifestPath: join(ova, 'app.mf'),
			warnings: [],
		});
		expect(
			result.disks.map((d) => [d.controller, d.path, d.createType, d.capacityBytes, d.warnings]),
		).toEqual([
			['scsi0:0', join(ova, 'app-disk1.vmdk'), 'streamOptimized', 64 * 2 ** 20, []],
			['scsi0:1', join(ova, 'app-disk2.vmdk'), 'streamOptimized', 16 * 2 ** 20, []],
		]);
		expect(result.disks[0]?.volumes.map((v) => [v.name, v.filesystem?.type, v.filesystem?.label])).toEqual([
			['p1', 'ext4', 'APPDATA'],
		]);
		expect(result.disks[1]?.volumes.map((v) => [v.name, v.filesystem?.type, v.filesystem?.label])).toEqual([
			['disk', 'ext4', 'APPLOGS'],
		]);
		const text = await cli('info', ova);
		expect(text.stdout).toMatch(/Appliance: +.*app\.ova\nName: +My Appliance/);
		expect(text.stdout).toMatch(/Manifest: +.*app\.mf \(not checked; use --verify\)/);
	});

	it('export writes each disk exactly as qemu-img reads the member, with nothing extracted', async () => {
		const all = await cli('export', ova, join(root, 'x.raw'));
		expect(all.status).toBe(2);
		expect(all.stderr).toMatch(/has 2 disks; choose one with --disk N/);
		for (const [i, d] of pieces.disks.entries()) {
			const out = join(root, `ova-disk${i + 1}.raw`);
			const r = await cli('export', '--disk', String(i + 1), ova, out);
			expect(r.status, r.stderr).toBe(0);
			expect(await sameFile(out, d.raw)).toBe(true);
			const qemu = join(root, `qemu-disk${i + 1}.raw`);
			await execa('qemu-img', ['convert', '-O', 'raw', d.vmdk, qemu]);
			expect(await sameFile(out, qemu)).toBe(true);
			await rm(qemu);
		}
		// A member path works as a disk path too.
		const byMember = join(root, 'member.raw');
		expect((await cli('export', join(ova, 'app-disk2.vmdk'), byMember)).status).toBe(0);
		expect(await sameFile(byMember, pieces.disks[1]!.raw)).toBe(true);
		// Never onto the archive itself, by name or through a symlink.
		const onto = await cli('export', '--disk', '1', '--force', ova, ova);
		expect(onto.status).toBe(7);
		const link = join(root, 'looks-harmless.raw');
		await symlink(ova, link);
		const viaLink = await cli('export', '--disk', '1', '--force', ova, link);
		expect(viaLink.status).toBe(7);
		expect(viaLink.stderr).toMatch(/looks-harmless\.raw: is .*app\.ova, a file of the disk being exported/);
	});

	it('--verify hashes every manifest entry in place; a changed byte fails with the file named', async () => {
		const ok = await cli('info', '--verify', ova);
		expect(ok.status, ok.stderr).toBe(0);
		expect(ok.stderr).toContain('3 files match the manifest (SHA256)');
		expect((await infoJson('--verify', ova)).vm?.manifestCheck).toEqual({
			path: join(ova, 'app.mf'),
			ok: true,
			files: ['app.ovf', 'app-disk1.vmdk', 'app-disk2.vmdk'].map((fileName) => ({
				fileName,
				algorithm: 'SHA256',
				ok: true,
			})),
			notListed: [],
		});
		const tampered = join(root, 'tampered.ova');
		await copyFile(ova, tampered);
		const f = await nodeIndex(tampered);
		const disk2 = f.find((m) => m.name === 'app-disk2.vmdk')!;
		// A byte in the middle of disk 2's grains: the archive stays a valid tar.
		const handle = await open(tampered, 'r+');
		const at = disk2.dataOffsetBytes + Math.floor(disk2.sizeBytes / 2);
		const b = Buffer.alloc(1);
		await handle.read(b, 0, 1, at);
		b[0] = b[0]! ^ 0xff;
		await handle.write(b, 0, 1, at);
		await handle.close();
		const bad = await cli('export', '--verify', '--disk', '1', tampered, join(root, 'never.raw'));
		expect(bad.status).toBe(4);
		expect(bad.stderr).toMatch(
			/Appliance does not match its manifest: .*app\.mf: app-disk2\.vmdk has SHA256 [0-9a-f]{64}, the manifest says [0-9a-f]{64}/,
		);
		await expect(readFile(join(root, 'never.raw'))).rejects.toThrow();
		const noManifest = await variant('no-manifest', async () => [
			'app.ovf',
			'app-disk1.vmdk',
			'app-disk2.vmdk',
		]);
		const none = await cli('info', '--json', '--verify', noManifest);
		expect(none.status).toBe(4);
		expect(JSON.parse(none.stdout)).toMatchObject({ error: { code: 'OVA_BAD_MANIFEST' } });
		expect((await cli('info', '--verify', pieces.disks[0]!.vmdk)).status).toBe(2);
	});

	it('reads chunked disks (ovf:chunkSize), joined in place', async () => {
		const chunked = await variant('chunked', async (dir) => {
			const whole = await readFile(join(dir, 'app-disk1.vmdk'));
			const size = 64 * 1024;
			const names: string[] = [];
			for (let i = 0; i * size < whole.length; i++) {
				const name = `app-disk1.vmdk.${String(i).padStart(9, '0')}`;
				await writeFile(join(dir, name), whole.subarray(i * size, (i + 1) * size));
				names.push(name);
			}
			await rm(join(dir, 'app-disk1.vmdk'));
			expect(names.length).toBeGreaterThan(1);
			await writeOvf(join(dir, 'app.ovf'), 'Chunked', [
				{ href: 'app-disk1.vmdk', capacityBytes: 64 * 2 ** 20, chunkSize: size },
			]);
			await writeManifest(join(dir, 'app.mf'), dir, ['app.ovf', ...names]);
			return ['app.ovf', 'app.mf', ...names];
		});
		const out = join(root, 'chunked.raw');
		const r = await cli('export', '--verify', chunked, out);
		expect(r.status, r.stderr).toBe(0);
		expect(await sameFile(out, pieces.disks[0]!.raw)).toBe(true);
	});

	it('opens an unpacked appliance (an .ovf and its files in a folder) the same way', async () => {
		const folder = join(root, 'unpacked');
		await copyPieces(pieces.dir, folder, Object.fromEntries(STANDARD_MEMBERS.map((m) => [m, m])));
		for (const path of [folder, join(folder, 'app.ovf')]) {
			const result = await infoJson('--verify', path);
			expect(result.vm).toMatchObject({ kind: 'ova', ovfPath: join(folder, 'app.ovf') });
			expect(result.disks.map((d) => d.path)).toEqual([
				join(folder, 'app-disk1.vmdk'),
				join(folder, 'app-disk2.vmdk'),
			]);
		}
	});

	it('gzip-compressed disk files are unsupported, with the disk named', async () => {
		const gz = await variant('gzip', async (dir) => {
			await execa('gzip', ['-n', join(dir, 'app-disk1.vmdk')]);
			await rename(join(dir, 'app-disk1.vmdk.gz'), join(dir, 'app-disk1.vmdk'));
			await writeOvf(join(dir, 'app.ovf'), 'Zipped', [
				{ href: 'app-disk1.vmdk', capacityBytes: 64 * 2 ** 20, compression: 'gzip' },
				{ href: 'app-disk2.vmdk', capacityBytes: 16 * 2 ** 20 },
			]);
			return ['app.ovf', 'app-disk1.vmdk', 'app-disk2.vmdk'];
		});
		const result = await infoJson(gz);
		expect(result.disks[0]?.error).toMatchObject({ code: 'OVF_UNSUPPORTED' });
		expect(result.disks[1]?.volumes[0]?.filesystem?.label).toBe('APPLOGS');
		const r = await cli('export', '--disk', '1', gz, join(root, 'gz.raw'));
		expect(r.status).toBe(5);
		expect(r.stderr).toMatch(/Unsupported appliance format: .*"app-disk1\.vmdk" is gzip-compressed/);
	});

	it('an OVF pointing outside the archive is refused and nothing outside is read', async () => {
		await copyFile(pieces.disks[0]!.vmdk, join(root, 'secret.vmdk'));
		const escape = await variant('escape', async (dir) => {
			await writeOvf(join(dir, 'app.ovf'), 'Escape', [
				{ href: '../secret.vmdk', capacityBytes: 64 * 2 ** 20 },
				{ href: join(root, 'secret.vmdk'), capacityBytes: 64 * 2 ** 20 },
			]);
			return ['app.ovf'];
		});
		const result = await infoJson(escape);
		expect(result.disks.map((d) => d.error?.code)).toEqual(['OVF_UNSAFE_REFERENCE', 'OVF_UNSAFE_REFERENCE']);
		const r = await cli('export', '--disk', '1', escape, join(root, 'escape.raw'));
		expect(r.status).toBe(6);
		expect(r.stderr).toMatch(
			/Appliance points outside itself: .*"\.\.\/secret\.vmdk" points outside the appliance/,
		);
	});

	it('a truncated download, a member that lies about its size and a huge OVF give typed errors', async () => {
		const cut = join(root, 'cut.ova');
		await copyFile(ova, cut);
		await truncate(cut, (await sizeOf(ova)) - 100_000);
		const r = await cli('info', cut);
		expect(r.status).toBe(4);
		expect(r.stderr).toMatch(
			/Incomplete disk file: .*cut\.ova at byte \d+: tar member "app-disk2\.vmdk" says it holds \d+ bytes/,
		);

		const liar = join(root, 'liar.ova');
		await copyFile(ova, liar);
		const members = await nodeIndex(liar);
		const mf = members.find((m) => m.name === 'app.mf')!;
		await setTarSize(liar, mf.headerOffsetBytes, mf.sizeBytes + 700);
		const l = await cli('info', '--json', liar);
		expect(l.status).toBe(4);
		expect(JSON.parse(l.stdout)).toMatchObject({ error: { code: 'OVA_BAD_ARCHIVE' } });

		const huge = await variant('huge', async (dir) => {
			const ovf = await readFile(join(dir, 'app.ovf'), 'utf8');
			await writeFile(
				join(dir, 'app.ovf'),
				ovf.replace('<References>', `<!--${'x'.repeat(5 * 2 ** 20)}--><References>`),
			);
		});
		const h = await cli('info', '--json', huge);
		expect(h.status).toBe(4);
		expect(JSON.parse(h.stdout)).toMatchObject({ error: { code: 'VMDK_LIMIT' } });
	});

	it('never changed the archive', async () => {
		expect(await sha256File(ova)).toBe(
			await sha256File(await tarUp(pieces.dir, STANDARD_MEMBERS, join(root, 'again.ova'))),
		);
	});
});

async function nodeIndex(path: string): Promise<Awaited<ReturnType<typeof readTarIndex>>['members']> {
	const file = await nodePlatform.openFile(path);
	try {
		return (await readTarIndex(file)).members;
	} finally {
		await file.close();
	}
}

/** Rewrites the size field of the header at `at`, with a correct checksum (a lie tar accepts). */
async function setTarSize(path: string, at: number, size: number): Promise<void> {
	const handle = await open(path, 'r+');
	try {
		const h = Buffer.alloc(512);
		await handle.read(h, 0, 512, at);
		h.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
		h.fill(0x20, 148, 156);
		let sum = 0;
		for (const b of h) sum += b;
		h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
		await handle.write(h, 0, 512, at);
	} finally {
		await handle.close();
	}
}
