// SPDX-License-Identifier: MIT
// Appliances in memory: tar archives built field by field holding an OVF descriptor, a manifest
// and stream-optimized disks, opened through the archive-aware platform, the appliance resolver,
// resolveOpenTarget, inspect and openDisk. Real OVAs (GNU tar, qemu-img) are in
// test/integration/ova.test.ts.
import { describe, expect, it } from 'vitest';
import {
	VmdkError,
	chunkPath,
	closeInspection,
	inspect,
	locateBytes,
	openAppliance,
	openDisk,
	parseManifest,
	resolveHref,
	resolveOpenTarget,
	splitArchivePath,
	targetDisks,
	withArchives,
	type Appliance,
} from '../../../../src/core/index.js';
import { buildOvf, type OvfDiskSpec } from '../../../helpers/build-ovf.js';
import { buildTar, type TarEntry } from '../../../helpers/build-tar.js';
import { MemoryPlatform } from '../../../helpers/memory-platform.js';
import { buildStreamOptimized, expectSameBytes, pattern } from '../vmdk/sparse-fixtures.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const CAPACITY_SECTORS = 2048;
const GRAIN_SECTORS = 128;

/** A stream-optimized VMDK of 1 MiB whose grains hold `pattern(…, seed)`; and its raw bytes. */
function streamDisk(name: string, seed: number): { vmdk: Uint8Array; raw: Uint8Array } {
	const raw = new Uint8Array(CAPACITY_SECTORS * 512);
	const grains = new Map<number, Uint8Array>();
	for (const g of [0, 3, 15]) {
		const data = pattern(GRAIN_SECTORS * 512, seed + g);
		grains.set(g, data);
		raw.set(data, g * GRAIN_SECTORS * 512);
	}
	const descriptor = `# Disk DescriptorFile\nversion=1\nCID=0000${seed}abc\nparentCID=ffffffff\ncreateType="streamOptimized"\n\nRW ${CAPACITY_SECTORS} SPARSE "${name}"\n`;
	return {
		vmdk: buildStreamOptimized({
			capacitySectors: CAPACITY_SECTORS,
			grainSizeSectors: GRAIN_SECTORS,
			grains,
			descriptor,
		}).bytes,
		raw,
	};
}

function disk(href: string, extra: Partial<OvfDiskSpec> = {}): OvfDiskSpec {
	return { href, capacityBytes: CAPACITY_SECTORS * 512, ...extra };
}

/** An OVA in a MemoryPlatform at /v/app.ova. */
function ova(entries: TarEntry[]): MemoryPlatform {
	return new MemoryPlatform({ '/v/app.ova': buildTar(entries).bytes });
}

const d1 = streamDisk('app-disk1.vmdk', 1);
const d2 = streamDisk('app-disk2.vmdk', 2);
const OVF = buildOvf({
	name: 'My App',
	disks: [disk('app-disk1.vmdk', { unit: 0 }), disk('app-disk2.vmdk', { controller: 'sata', unit: 1 })],
});
const STANDARD: TarEntry[] = [
	{ name: 'app.ovf', data: enc(OVF) },
	{
		name: 'app.mf',
		data: enc('SHA256(app.ovf)= ' + '0'.repeat(64) + '\nSHA1(app-disk1.vmdk)=' + 'a'.repeat(40) + '\n'),
	},
	{ name: 'app-disk1.vmdk', data: d1.vmdk },
	{ name: 'app-disk2.vmdk', data: d2.vmdk },
];

async function rejection(p: Promise<unknown>): Promise<VmdkError> {
	try {
		await p;
	} catch (error) {
		expect(error).toBeInstanceOf(VmdkError);
		return error as VmdkError;
	}
	throw new Error('did not reject');
}

describe('splitArchivePath', () => {
	it('splits at the first .ova component that has something after it', () => {
		expect(splitArchivePath('/v/app.ova/disk.vmdk')).toEqual({ archive: '/v/app.ova', member: 'disk.vmdk' });
		expect(splitArchivePath('/v/APP.OVA/sub/./d.vmdk')).toEqual({
			archive: '/v/APP.OVA',
			member: 'sub/d.vmdk',
		});
		expect(splitArchivePath('/v/app.ova')).toBeUndefined();
		expect(splitArchivePath('/v/disk.vmdk')).toBeUndefined();
		// `..` is resolved first: it cannot climb out of the archive into a sibling.
		expect(splitArchivePath('/v/app.ova/../etc/passwd')).toBeUndefined();
	});
});

describe('withArchives', () => {
	it('reads members in place, bounded to the member', async () => {
		const platform = withArchives(ova(STANDARD));
		expect(await platform.fileExists('/v/app.ova/app-disk1.vmdk')).toBe(true);
		expect(await platform.fileExists('/v/app.ova/nope.vmdk')).toBe(false);
		const f = await platform.openFile('/v/app.ova/app-disk1.vmdk');
		expect(f.sizeBytes).toBe(d1.vmdk.length);
		const head = new Uint8Array(4);
		await f.readInto(0, head, 0, 4);
		expect(new TextDecoder().decode(head)).toBe('KDMV');
		const e = await rejection(f.readInto(d1.vmdk.length - 2, new Uint8Array(4), 0, 4));
		expect(e.code).toBe('VMDK_TRUNCATED');
		expect(e.file).toBe('/v/app.ova/app-disk1.vmdk');
		await f.close();
		expect((await platform.listDir('/v/app.ova')).map((x) => x.name).sort()).toEqual([
			'app-disk1.vmdk',
			'app-disk2.vmdk',
			'app.mf',
			'app.ovf',
		]);
		expect((await rejection(platform.openFile('/v/app.ova/nope.vmdk'))).code).toBe('VMDK_MISSING_EXTENT');
		expect(await platform.readSmallFile('/v/app.ova/app.ovf', 1 << 20)).toEqual(enc(OVF));
		expect((await rejection(platform.readSmallFile('/v/app.ova/app.ovf', 10))).code).toBe('VMDK_LIMIT');
		expect(await locateBytes(platform, '/v/app.ova/app-disk2.vmdk')).toEqual({
			file: '/v/app.ova',
			offsetBytes: buildTar(STANDARD).dataOffsets[3],
			sizeBytes: d2.vmdk.length,
		});
	});

	it('refuses links, folders and unsafe names, and notices an archive that changed', async () => {
		const memory = ova([
			{ name: 'dir/', typeFlag: '5' },
			{ name: 'link.vmdk', typeFlag: '2', linkName: '/etc/passwd' },
			{ name: '../up.vmdk', data: enc('x') },
			{ name: 'ok.vmdk', data: enc('x') },
		]);
		const platform = withArchives(memory);
		expect((await rejection(platform.openFile('/v/app.ova/link.vmdk'))).code).toBe('OVA_BAD_ARCHIVE');
		expect((await rejection(platform.openFile('/v/app.ova/dir'))).code).toBe('VMDK_NOT_VMDK');
		expect(await platform.fileExists('/v/up.vmdk')).toBe(false);
		expect(await platform.fileExists('/v/app.ova/ok.vmdk')).toBe(true);
		memory.files.set('/v/app.ova', new Uint8Array(memory.files.get('/v/app.ova')!.length + 512));
		expect((await rejection(platform.openFile('/v/app.ova/ok.vmdk'))).message).toMatch(/changed size/);
	});

	it('joins OVF chunks, in an archive and in a folder, and checks their sizes', async () => {
		const whole = d1.vmdk;
		const size = 4096;
		const chunks: TarEntry[] = [];
		for (let i = 0; i * size < whole.length; i++) {
			chunks.push({ name: chunkPath('big.vmdk', i), data: whole.subarray(i * size, (i + 1) * size) });
		}
		const inArchive = withArchives(ova(chunks));
		const folder = new MemoryPlatform();
		for (const c of chunks) folder.files.set(`/f/${c.name}`, c.data!);
		for (const [platform, path] of [
			[inArchive, '/v/app.ova/big.vmdk'],
			[withArchives(folder), '/f/big.vmdk'],
		] as const) {
			expect(await platform.fileExists(path)).toBe(true);
			const disk = await openDisk(path, platform);
			try {
				expectSameBytes(await disk.read(0, disk.sizeBytes), d1.raw);
			} finally {
				await disk.close();
			}
		}
		folder.files.set(`/f/${chunkPath('big.vmdk', 1)}`, new Uint8Array(100));
		expect((await rejection(openDisk('/f/big.vmdk', folder))).message).toMatch(
			/chunk big\.vmdk\.000000001 has 100 bytes/,
		);
	});

	it('leaves a folder named x.ova alone', async () => {
		const platform = new MemoryPlatform({ '/v/odd.ova/disk.vmdk': d1.vmdk });
		expect(await withArchives(platform).fileExists('/v/odd.ova/disk.vmdk')).toBe(true);
		const target = await resolveOpenTarget('/v/odd.ova', platform);
		expect(target).toMatchObject({ kind: 'folder', disks: ['/v/odd.ova/disk.vmdk'] });
	});
});

describe('openAppliance', () => {
	it('lists the disks in slot order with capacities, the VM and the manifest', async () => {
		const a = await openAppliance('/v/app.ova', ova(STANDARD));
		expect(a).toMatchObject({
			kind: 'ova',
			path: '/v/app.ova',
			ovfPath: '/v/app.ova/app.ovf',
			archive: '/v/app.ova',
			vm: { displayName: 'My App', guestOS: 'debian10_64Guest' },
			warnings: [],
		});
		expect(a.disks.map((d) => [d.controller, d.path, d.capacityBytes, d.exists, d.problem])).toEqual([
			['scsi0:0', '/v/app.ova/app-disk1.vmdk', 1 << 20, true, undefined],
			['sata0:1', '/v/app.ova/app-disk2.vmdk', 1 << 20, true, undefined],
		]);
		expect(a.manifest?.entries.map((e) => [e.algorithm, e.fileName, e.path])).toEqual([
			['SHA256', 'app.ovf', '/v/app.ova/app.ovf'],
			['SHA1', 'app-disk1.vmdk', '/v/app.ova/app-disk1.vmdk'],
		]);
	});

	it('reads each disk in place through openDisk and inspect', async () => {
		const platform = ova(STANDARD);
		const inspection = await inspect('/v/app.ova', platform);
		try {
			expect(inspection.target.kind).toBe('ova');
			expect(inspection.disks.map((d) => [d.controller, d.error?.code, d.warnings])).toEqual([
				['scsi0:0', undefined, []],
				['sata0:1', undefined, []],
			]);
			expectSameBytes(await inspection.disks[1]!.disk!.read(0, 1 << 20), d2.raw);
		} finally {
			await closeInspection(inspection);
		}
		const e = await rejection(openDisk('/v/app.ova', platform));
		expect(e.message).toMatch(
			/the appliance has 2 disks; open one of them: \/v\/app\.ova\/app-disk1\.vmdk, \/v\/app\.ova\/app-disk2\.vmdk/,
		);
		const single = ova([
			{ name: 'one.ovf', data: enc(buildOvf({ name: 'one', disks: [disk('app-disk1.vmdk')] })) },
			{ name: 'app-disk1.vmdk', data: d1.vmdk },
		]);
		const opened = await openDisk('/v/app.ova', single);
		try {
			expect(opened.path).toBe('/v/app.ova/app-disk1.vmdk');
			expectSameBytes(await opened.read(0, opened.sizeBytes), d1.raw);
		} finally {
			await opened.close();
		}
	});

	it('keeps unsafe, missing and compressed disk files as per-disk errors', async () => {
		const ovf = buildOvf({
			name: 'bad',
			disks: [
				disk('../outside.vmdk'),
				disk('/etc/passwd'),
				disk('http://example.com/d.vmdk'),
				disk('%2e%2e/encoded.vmdk'),
				disk('missing.vmdk'),
				disk('app-disk1.vmdk', { compression: 'gzip' }),
				disk('app-disk2.vmdk', { sizeBytes: 5 }),
			],
		});
		const platform = ova([
			{ name: 'bad.ovf', data: enc(ovf) },
			{ name: 'app-disk1.vmdk', data: d1.vmdk },
			{ name: 'app-disk2.vmdk', data: d2.vmdk },
		]);
		const a = await openAppliance('/v/app.ova', platform);
		expect(a.disks.map((d) => d.problem?.code)).toEqual([
			'OVF_UNSAFE_REFERENCE',
			'OVF_UNSAFE_REFERENCE',
			'OVF_UNSAFE_REFERENCE',
			'OVF_UNSAFE_REFERENCE',
			'OVF_MISSING_FILE',
			'OVF_UNSUPPORTED',
			undefined,
		]);
		expect(a.disks[0]?.problem?.message).toMatch(/"\.\.\/outside\.vmdk" points outside the appliance/);
		expect(a.disks[5]?.problem?.message).toMatch(/gzip-compressed/);
		expect(a.warnings).toContain(`app-disk2.vmdk has ${d2.vmdk.length} bytes; the OVF says 5`);
		// inspect shows every disk, with the errors in place.
		const inspection = await inspect('/v/app.ova', platform);
		expect(inspection.disks.map((d) => d.error?.code ?? 'ok')).toEqual([
			'OVF_UNSAFE_REFERENCE',
			'OVF_UNSAFE_REFERENCE',
			'OVF_UNSAFE_REFERENCE',
			'OVF_UNSAFE_REFERENCE',
			'OVF_MISSING_FILE',
			'OVF_UNSUPPORTED',
			'ok',
		]);
		await closeInspection(inspection);
		expect(targetDisks(a)[5]?.problem?.code).toBe('OVF_UNSUPPORTED');
	});

	it('refuses a disk inside the archive whose descriptor names files outside it', async () => {
		const text = `# Disk DescriptorFile\nversion=1\nCID=1\nparentCID=ffffffff\ncreateType="monolithicFlat"\nRW 2048 FLAT "../../outside-flat.vmdk" 0\n`;
		const platform = ova([
			{ name: 'x.ovf', data: enc(buildOvf({ name: 'x', disks: [disk('x.vmdk')] })) },
			{ name: 'x.vmdk', data: enc(text) },
		]);
		platform.files.set('/outside-flat.vmdk', new Uint8Array(1 << 20));
		const e = await rejection(openDisk('/v/app.ova/x.vmdk', platform));
		expect(e.code).toBe('OVF_UNSAFE_REFERENCE');
		expect(e.file).toBe('/outside-flat.vmdk');
	});

	it('finds the descriptor even when it is not first (with a warning), and refuses archives without one', async () => {
		const late = await openAppliance('/v/app.ova', ova([STANDARD[2]!, STANDARD[0]!, STANDARD[3]!]));
		expect(late.warnings).toContain(
			'app.ovf is not the first member of the archive, as the OVF standard requires',
		);
		expect(late.manifest).toBeNull();
		const e = await rejection(openAppliance('/v/app.ova', ova([STANDARD[2]!])));
		expect(e.code).toBe('OVA_BAD_ARCHIVE');
		expect(e.message).toMatch(/no OVF descriptor \(\.ovf\).*members: app-disk1\.vmdk/);
	});

	it('opens an unpacked appliance from its .ovf or its folder', async () => {
		const platform = new MemoryPlatform({
			'/f/app.ovf': enc(OVF),
			'/f/app-disk1.vmdk': d1.vmdk,
			'/f/app-disk2.vmdk': d2.vmdk,
		});
		for (const path of ['/f/app.ovf', '/f']) {
			const target = (await resolveOpenTarget(path, platform)) as Appliance;
			expect(target).toMatchObject({ kind: 'ova', archive: null, ovfPath: '/f/app.ovf' });
			expect(target.disks.map((d) => d.path)).toEqual(['/f/app-disk1.vmdk', '/f/app-disk2.vmdk']);
		}
	});

	it('refuses a huge or malformed descriptor with a typed error', async () => {
		const huge = enc(`<Envelope>${' '.repeat(4 * 1024 * 1024)}</Envelope>`);
		expect((await rejection(openAppliance('/v/app.ova', ova([{ name: 'a.ovf', data: huge }])))).code).toBe(
			'VMDK_LIMIT',
		);
		const bad = enc('<Envelope><References><File ovf:id="a"/></References></Envelope>');
		const e = await rejection(openAppliance('/v/app.ova', ova([{ name: 'a.ovf', data: bad }])));
		expect(e.code).toBe('OVF_BAD_DESCRIPTOR');
		expect(e.file).toBe('/v/app.ova/a.ovf');
	});

	it('reports a malformed manifest without failing the appliance', async () => {
		const a = await openAppliance(
			'/v/app.ova',
			ova([
				STANDARD[0]!,
				{ name: 'app.mf', data: enc('SHA256(app.ovf)= 1234\n') },
				STANDARD[2]!,
				STANDARD[3]!,
			]),
		);
		expect(a.manifest?.problem?.code).toBe('OVA_BAD_MANIFEST');
		expect(a.disks).toHaveLength(2);
	});
});

describe('resolveHref', () => {
	it('decodes URIs and refuses anything that leaves the appliance', () => {
		expect(resolveHref('disk%201.vmdk', '/x.ovf')).toBe('disk 1.vmdk');
		expect(resolveHref('sub/./d.vmdk', '/x.ovf')).toBe('sub/d.vmdk');
		for (const bad of [
			'../d.vmdk',
			'a/../../d',
			'/abs',
			'C:/x',
			'c:\\x',
			'file:///etc/passwd',
			'a\\b',
			'%zz',
			'.',
			'x%00y',
		]) {
			expect(() => resolveHref(bad, '/x.ovf'), bad).toThrow(VmdkError);
		}
		// Manifest names are plain file names: % is a character.
		expect(resolveHref('100%25.vmdk', '/x.mf', false)).toBe('100%25.vmdk');
	});
});

describe('parseManifest', () => {
	it('reads ovftool and other spellings, and names bad lines', () => {
		expect(
			parseManifest(
				'SHA1(a.ovf)= ' +
					'A'.repeat(40) +
					'\r\nSHA256(b c.vmdk)=' +
					'b'.repeat(64) +
					'\n\nSHA512 (d) = ' +
					'c'.repeat(128),
			),
		).toEqual([
			{ algorithm: 'SHA1', fileName: 'a.ovf', digest: 'a'.repeat(40), lineNumber: 1 },
			{ algorithm: 'SHA256', fileName: 'b c.vmdk', digest: 'b'.repeat(64), lineNumber: 2 },
			{ algorithm: 'SHA512', fileName: 'd', digest: 'c'.repeat(128), lineNumber: 4 },
		]);
		for (const bad of ['MD5(a)= ' + 'a'.repeat(32), 'SHA1(a)= ' + 'a'.repeat(39), 'hello', '']) {
			expect(() => parseManifest(bad), bad).toThrow(VmdkError);
		}
		expect(() => parseManifest(new Uint8Array([0xff, 0xfe]))).toThrow(/not UTF-8/);
	});
});
