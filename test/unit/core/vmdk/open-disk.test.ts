// SPDX-License-Identifier: MIT
// openDisk over byte-built descriptors and extents held in memory (MemoryPlatform).
import { describe, expect, it } from 'vitest';
import {
	Limits,
	VmdkError,
	openDisk,
	type OpenDiskOptions,
	type RandomAccessFile,
	type VirtualDisk,
	type VmdkErrorCode,
} from '../../../../src/core/index.js';
import { buildCowdExtent } from '../../../helpers/build-cowd.js';
import { buildSeSparseExtent } from '../../../helpers/build-sesparse.js';
import { ascii } from '../../../helpers/bytes.js';
import { MemoryPlatform } from '../../../helpers/memory-platform.js';
import { prng, randomInt } from '../../../helpers/prng.js';

const SECTOR = 512;

/** A MemoryPlatform that counts open files, to prove nothing leaks on failure. */
class CountingPlatform extends MemoryPlatform {
	openCount = 0;
	/** Most files open at once. */
	peakOpenCount = 0;
	readonly opened: string[] = [];
	override async openFile(path: string): Promise<RandomAccessFile> {
		const file = await super.openFile(path);
		this.openCount++;
		this.peakOpenCount = Math.max(this.peakOpenCount, this.openCount);
		this.opened.push(path);
		let closed = false;
		return {
			path: file.path,
			sizeBytes: file.sizeBytes,
			readInto: (p, d, o, n) => file.readInto(p, d, o, n),
			close: async () => {
				if (!closed) this.openCount--;
				closed = true;
				await file.close();
			},
		};
	}
}

/** `n` bytes where byte i is (i * 7 + seed) & 0xff: every offset distinguishable. */
function pattern(n: number, seed: number): Uint8Array {
	const out = new Uint8Array(n);
	for (let i = 0; i < n; i++) out[i] = (i * 7 + seed) & 0xff;
	return out;
}

interface DescriptorFields {
	createType: string;
	extents: string[];
	cid?: string;
	parentCid?: string;
	parentHint?: string;
	eol?: string;
}

function descriptor(f: DescriptorFields): Uint8Array {
	const lines = [
		'# Disk DescriptorFile',
		'version=1',
		`CID=${f.cid ?? '0000000a'}`,
		`parentCID=${f.parentCid ?? 'ffffffff'}`,
		`createType="${f.createType}"`,
		...(f.parentHint === undefined ? [] : [`parentFileNameHint="${f.parentHint}"`]),
		'',
		'# Extent description',
		...f.extents,
		'',
		'#DDB',
		'ddb.adapterType = "lsilogic"',
		'',
	];
	return ascii(lines.join(f.eol ?? '\n'));
}

async function openError(
	platform: MemoryPlatform,
	path: string,
	options?: OpenDiskOptions,
): Promise<VmdkError> {
	try {
		const disk = await openDisk(path, platform, options);
		await disk.close();
	} catch (e) {
		if (e instanceof VmdkError) return e;
		throw e;
	}
	throw new Error(`expected openDisk(${path}) to fail`);
}

async function expectCode(
	platform: CountingPlatform,
	path: string,
	code: VmdkErrorCode,
	options?: OpenDiskOptions,
): Promise<VmdkError> {
	const e = await openError(platform, path, options);
	expect(e.code, e.message).toBe(code);
	expect(platform.openCount, 'files left open').toBe(0);
	return e;
}

async function readAll(disk: VirtualDisk): Promise<Uint8Array> {
	return disk.read(0, disk.sizeBytes);
}

describe('openDisk: flat, zero and custom layouts', () => {
	it('reads a monolithicFlat disk and describes its chain', async () => {
		const data = pattern(8 * SECTOR, 1);
		const p = new CountingPlatform({
			'/vm/disk.vmdk': descriptor({
				createType: 'monolithicFlat',
				extents: ['RW 8 FLAT "disk-flat.vmdk" 0'],
			}),
			'/vm/disk-flat.vmdk': data,
		});
		const disk = await openDisk('/vm/disk.vmdk', p);
		expect(disk.sizeBytes).toBe(data.length);
		expect(await readAll(disk)).toEqual(data);
		expect(disk.chain).toEqual([
			{ path: '/vm/disk.vmdk', createType: 'monolithicFlat', cid: '0000000a', parentCid: 'ffffffff' },
		]);
		expect(disk.layers[0]?.descriptor?.ddb.adapterType).toBe('lsilogic');
		expect(disk.warnings).toEqual([]);
		expect(await disk.mapRun(0, 1 << 20)).toEqual({ kind: 'data', lengthBytes: data.length });
		await disk.close();
		expect(p.openCount).toBe(0);
	});

	it('joins a custom layout of FLAT extents with offsets, ZERO and RDONLY extents, with CRLF lines', async () => {
		const a = pattern(10 * SECTOR, 2);
		const b = pattern(6 * SECTOR, 3);
		const p = new CountingPlatform({
			'/vm/c.vmdk': descriptor({
				createType: 'custom',
				eol: '\r\n',
				extents: ['RW 4 FLAT "a.bin" 6', 'RW 3 ZERO', 'RDONLY 6 FLAT "sub/b.bin"', 'RW 2 FLAT "a.bin" 0'],
			}),
			'/vm/a.bin': a,
			'/vm/sub/b.bin': b,
		});
		const disk = await openDisk('/vm/c.vmdk', p);
		expect(disk.sizeBytes).toBe(15 * SECTOR);
		const all = await readAll(disk);
		expect(all.subarray(0, 4 * SECTOR)).toEqual(a.subarray(6 * SECTOR, 10 * SECTOR));
		expect(all.subarray(4 * SECTOR, 7 * SECTOR)).toEqual(new Uint8Array(3 * SECTOR));
		expect(all.subarray(7 * SECTOR, 13 * SECTOR)).toEqual(b);
		expect(all.subarray(13 * SECTOR)).toEqual(a.subarray(0, 2 * SECTOR));
		expect(await disk.mapRun(4 * SECTOR, 1 << 20)).toEqual({ kind: 'zero', lengthBytes: 3 * SECTOR });
		// A read across extent boundaries.
		expect(await disk.read(4 * SECTOR - 3, 3 * SECTOR + 6)).toEqual(
			all.subarray(4 * SECTOR - 3, 7 * SECTOR + 3),
		);
		await disk.close();
		expect(p.openCount).toBe(0);
	});

	it.each(['vmfs', 'vmfsPreallocated', 'vmfsEagerZeroedThick', 'vmfsThin', '2GbMaxExtentFlat'])(
		'reads createType %s',
		async (createType) => {
			const data = pattern(4 * SECTOR, 9);
			const type = createType.startsWith('vmfs') ? 'VMFS' : 'FLAT';
			const p = new CountingPlatform({
				'/esx/d.vmdk': descriptor({ createType, extents: [`RW 4 ${type} "d-flat.vmdk"`] }),
				'/esx/d-flat.vmdk': data,
			});
			const disk = await openDisk('/esx/d.vmdk', p);
			expect(await readAll(disk)).toEqual(data);
			expect(disk.chain[0]?.createType).toBe(createType);
			await disk.close();
		},
	);

	it('fails reads that touch a NOACCESS extent with VMDK_NOACCESS, and reads the rest', async () => {
		const data = pattern(4 * SECTOR, 5);
		const p = new CountingPlatform({
			'/vm/n.vmdk': descriptor({
				createType: 'custom',
				extents: ['RW 4 FLAT "n.bin"', 'NOACCESS 4 FLAT "secret.bin"'],
			}),
			'/vm/n.bin': data,
		});
		const disk = await openDisk('/vm/n.vmdk', p);
		expect(await disk.read(0, 4 * SECTOR)).toEqual(data);
		await expect(disk.read(3 * SECTOR, 2 * SECTOR)).rejects.toMatchObject({
			code: 'VMDK_NOACCESS',
			message: expect.stringMatching(/\/vm\/n\.vmdk: .*line 9 .*NOACCESS/) as unknown,
		});
		expect(p.opened).not.toContain('/vm/secret.bin');
		await disk.close();
	});

	it('resolves extent names: sub-folders, absolute paths and Windows paths', async () => {
		const data = pattern(2 * SECTOR, 4);
		const p = new CountingPlatform({
			'/vm/w.vmdk': descriptor({
				createType: 'custom',
				extents: [
					'RW 2 FLAT "C:\\Users\\me\\VMs\\w-flat.vmdk"',
					'RW 2 FLAT "/data/abs.bin"',
					'RW 2 FLAT "..\\up.bin"',
				],
			}),
			'/vm/w-flat.vmdk': data,
			'/data/abs.bin': data,
			'/up.bin': data,
		});
		const disk = await openDisk('/vm/w.vmdk', p);
		expect(disk.sizeBytes).toBe(6 * SECTOR);
		expect((await readAll(disk)).subarray(4 * SECTOR)).toEqual(data);
		await disk.close();
	});
});

describe('openDisk: refusing bad input with typed errors and no leaked files', () => {
	it('names a missing extent file and the descriptor line that wants it', async () => {
		const p = new CountingPlatform({
			'/vm/m.vmdk': descriptor({
				createType: 'twoGbMaxExtentFlat',
				extents: ['RW 2 FLAT "m-f001.vmdk" 0', 'RW 2 FLAT "m-f002.vmdk" 0'],
			}),
			'/vm/m-f001.vmdk': pattern(2 * SECTOR, 1),
		});
		const e = await expectCode(p, '/vm/m.vmdk', 'VMDK_MISSING_EXTENT');
		expect(e.file).toBe('/vm/m-f002.vmdk');
		expect(e.message).toMatch(/line 9 of \/vm\/m\.vmdk/);
	});

	it('refuses a flat extent file shorter than its extent line', async () => {
		const p = new CountingPlatform({
			'/vm/s.vmdk': descriptor({ createType: 'monolithicFlat', extents: ['RW 8 FLAT "s-flat.vmdk" 1'] }),
			'/vm/s-flat.vmdk': pattern(8 * SECTOR, 1),
		});
		const e = await expectCode(p, '/vm/s.vmdk', 'VMDK_TRUNCATED');
		expect(e.file).toBe('/vm/s-flat.vmdk');
	});

	it('says what a non-VMDK file looks like', async () => {
		const mbr = new Uint8Array(4096);
		mbr[510] = 0x55;
		mbr[511] = 0xaa;
		const p = new CountingPlatform({ '/x/disk.img': mbr, '/x/empty.vmdk': new Uint8Array(0) });
		expect((await expectCode(p, '/x/disk.img', 'VMDK_NOT_VMDK')).message).toMatch(
			/raw disk image with an MBR/,
		);
		expect((await expectCode(p, '/x/empty.vmdk', 'VMDK_NOT_VMDK')).message).toMatch(/looks like empty/);
	});

	it('tells the user to open the descriptor when given a COWD or seSparse extent', async () => {
		const p = new CountingPlatform({
			'/esx/d-delta.vmdk': buildCowdExtent({ capacitySectors: 64, grainSizeSectors: 1, grains: new Map() }),
			'/esx/d-sesparse.vmdk': buildSeSparseExtent({ capacitySectors: 64 }),
		});
		expect((await expectCode(p, '/esx/d-delta.vmdk', 'VMDK_NOT_VMDK')).message).toMatch(
			/open the descriptor/,
		);
		expect((await expectCode(p, '/esx/d-sesparse.vmdk', 'VMDK_NOT_VMDK')).message).toMatch(
			/open the descriptor/,
		);
	});

	it('refuses an unknown createType and an oversized descriptor file', async () => {
		const big = new Uint8Array(Limits.DESCRIPTOR_MAX_BYTES + 1).fill(0x0a);
		big.set(ascii('# Disk DescriptorFile\n'));
		const p = new CountingPlatform({
			'/vm/u.vmdk': descriptor({ createType: 'vsanSparse', extents: ['RW 1 ZERO'] }),
			'/vm/big.vmdk': big,
		});
		expect((await expectCode(p, '/vm/u.vmdk', 'VMDK_UNSUPPORTED_TYPE')).message).toMatch(/vsanSparse/);
		await expectCode(p, '/vm/big.vmdk', 'VMDK_LIMIT');
	});

	it('reads a descriptor file longer than the detection prefix whole', async () => {
		const text = descriptor({ createType: 'monolithicFlat', extents: ['RW 2 FLAT "l-flat.vmdk"'] });
		const comment = ascii(`# ${'x'.repeat(100)}\n`.repeat(500));
		const long = new Uint8Array(text.length + comment.length);
		long.set(text);
		long.set(comment, text.length);
		const p = new CountingPlatform({ '/vm/l.vmdk': long, '/vm/l-flat.vmdk': pattern(2 * SECTOR, 6) });
		const disk = await openDisk('/vm/l.vmdk', p);
		expect(await readAll(disk)).toEqual(pattern(2 * SECTOR, 6));
		await disk.close();
	});

	it('closes every extent already opened when a later one fails', async () => {
		const p = new CountingPlatform({
			'/vm/l.vmdk': descriptor({
				createType: 'custom',
				extents: ['RW 2 FLAT "a.bin"', 'RW 2 FLAT "b.bin"', 'RW 2 FLAT "c.bin"'],
			}),
			'/vm/a.bin': pattern(2 * SECTOR, 1),
			'/vm/b.bin': pattern(2 * SECTOR, 1),
			'/vm/c.bin': pattern(SECTOR, 1),
		});
		await expectCode(p, '/vm/l.vmdk', 'VMDK_TRUNCATED');
		expect(p.opened).toEqual(['/vm/l.vmdk', '/vm/a.bin', '/vm/b.bin', '/vm/c.bin']);
	});
});

describe('openDisk: sparse extents behind a descriptor', () => {
	it.each([
		['SPARSE', 'hosted sparse'],
		['VMFSSPARSE', 'COWD'],
		['SESPARSE', 'seSparse'],
	])('closes every file when a %s extent is not what it claims (%s)', async (type) => {
		const p = new CountingPlatform({
			'/vm/g.vmdk': descriptor({
				createType: 'custom',
				extents: ['RW 4 FLAT "ok.bin"', `RW 64 ${type} "garbage.bin"`],
			}),
			'/vm/ok.bin': pattern(4 * SECTOR, 1),
			'/vm/garbage.bin': pattern(64 * SECTOR, 9),
		});
		const e = await openError(p, '/vm/g.vmdk');
		expect(e.file).toBe('/vm/garbage.bin');
		expect(['VMDK_BAD_MAGIC', 'VMDK_NOT_VMDK', 'VMDK_BAD_HEADER']).toContain(e.code);
		expect(p.openCount).toBe(0);
	});

	it('refuses a sparse extent whose capacity is smaller than its extent line, and trims a larger one', async () => {
		const cowd = buildCowdExtent({
			capacitySectors: 64,
			grainSizeSectors: 1,
			grains: new Map([[40, pattern(SECTOR, 4)]]),
		});
		const p = new CountingPlatform({
			'/esx/big.vmdk': descriptor({ createType: 'vmfsSparse', extents: ['RW 65 VMFSSPARSE "d-delta.vmdk"'] }),
			'/esx/small.vmdk': descriptor({
				createType: 'vmfsSparse',
				extents: ['RW 41 VMFSSPARSE "d-delta.vmdk"'],
			}),
			'/esx/d-delta.vmdk': cowd,
		});
		const e = await expectCode(p, '/esx/big.vmdk', 'VMDK_CORRUPT');
		expect(e.message).toMatch(/capacity \(64 sectors\) is smaller than the 65 sectors/);
		const disk = await openDisk('/esx/small.vmdk', p);
		expect(disk.sizeBytes).toBe(41 * SECTOR);
		expect(await disk.read(40 * SECTOR, SECTOR)).toEqual(pattern(SECTOR, 4));
		expect(await disk.mapRun(0, 1 << 20)).toEqual({ kind: 'zero', lengthBytes: 40 * SECTOR });
		await expect(disk.read(40 * SECTOR, SECTOR + 1)).rejects.toMatchObject({ code: 'VMDK_OUT_OF_RANGE' });
		await disk.close();
		expect(p.openCount).toBe(0);
	});
});

describe('openDisk on damaged descriptors', () => {
	it('only ever fails with a VmdkError and never leaks a file (1000 random mutations)', async () => {
		const base = descriptor({
			createType: 'custom',
			cid: '22222222',
			parentCid: '11111111',
			parentHint: 'p.vmdk',
			extents: ['RW 4 FLAT "a.bin" 2', 'RW 2 ZERO', 'RDONLY 2 VMFS "b.bin"', 'RW 8 VMFSSPARSE "s.bin"'],
		});
		const sparse = buildCowdExtent({ capacitySectors: 8, grainSizeSectors: 1, grains: new Map() });
		const random = prng(99);
		const next = (n: number): number => randomInt(random, n);
		const outcomes = new Map<string, number>();
		for (let i = 0; i < 1000; i++) {
			const damaged = base.slice();
			// Round 0 is the undamaged descriptor: it must open.
			if (i > 0) for (let c = 0; c < 1 + next(3); c++) damaged[next(damaged.length)] = 0x20 + next(95);
			const p = new CountingPlatform({
				'/vm/d.vmdk': damaged,
				'/vm/a.bin': pattern(6 * SECTOR, 1),
				'/vm/b.bin': pattern(2 * SECTOR, 2),
				'/vm/s.bin': sparse,
				'/vm/p.vmdk': descriptor({
					createType: 'monolithicFlat',
					cid: '11111111',
					extents: ['RW 16 FLAT "p.bin"'],
				}),
				'/vm/p.bin': pattern(16 * SECTOR, 3),
			});
			let key = 'ok';
			try {
				const disk = await openDisk('/vm/d.vmdk', p);
				await disk.read(0, disk.sizeBytes).catch((e: unknown) => {
					if (!(e instanceof VmdkError)) throw e;
				});
				await disk.close();
			} catch (e) {
				if (!(e instanceof VmdkError)) throw e;
				key = e.code;
			}
			if (i === 0) expect(key).toBe('ok');
			expect(p.openCount, `files left open after outcome ${key}`).toBe(0);
			outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
		}
		// Mutants in comments, the DDB or file-name characters still open; others fail in many ways.
		expect(outcomes.get('ok')).toBeGreaterThan(0);
		expect(outcomes.size).toBeGreaterThan(3);
	});
});

describe('openDisk: bounded open files', () => {
	function splitDisk(extentCount: number): Record<string, Uint8Array> {
		const files: Record<string, Uint8Array> = {
			'/vm/split.vmdk': descriptor({
				createType: 'twoGbMaxExtentFlat',
				extents: Array.from({ length: extentCount }, (_, i) => `RW 2 FLAT "split-f${i}.vmdk" 0`),
			}),
		};
		for (let i = 0; i < extentCount; i++) files[`/vm/split-f${i}.vmdk`] = pattern(2 * SECTOR, i);
		return files;
	}

	it('keeps at most maxOpenFiles extent files open and reopens them on demand', async () => {
		const p = new CountingPlatform(splitDisk(40));
		const disk = await openDisk('/vm/split.vmdk', p, { maxOpenFiles: 4 });
		expect(p.peakOpenCount).toBeLessThanOrEqual(5);
		const expected = new Uint8Array(80 * SECTOR);
		for (let i = 0; i < 40; i++) expected.set(pattern(2 * SECTOR, i), i * 2 * SECTOR);
		expect(await readAll(disk)).toEqual(expected);
		// Many concurrent reads across every extent, in a scrambled order.
		const offsets = Array.from({ length: 200 }, (_, i) => ((i * 7919) % 80) * SECTOR + (i % 5));
		const reads = await Promise.all(offsets.map((o) => disk.read(o, 300)));
		reads.forEach((r, i) => expect(r).toEqual(expected.subarray(offsets[i], (offsets[i] ?? 0) + 300)));
		expect(p.openCount).toBeLessThanOrEqual(5);
		await disk.close();
		expect(p.openCount).toBe(0);
		expect(p.opened.filter((f) => f === '/vm/split-f0.vmdk').length).toBeGreaterThan(1);
	});

	it('refuses to read through a file that changed size after the open', async () => {
		const p = new CountingPlatform(splitDisk(3));
		const disk = await openDisk('/vm/split.vmdk', p, { maxOpenFiles: 1 });
		p.files.set('/vm/split-f0.vmdk', pattern(4 * SECTOR, 0));
		await expect(disk.read(0, SECTOR)).rejects.toMatchObject({ code: 'VMDK_IO', file: '/vm/split-f0.vmdk' });
		await disk.close();
		expect(p.openCount).toBe(0);
	});
});

describe('openDisk: raw devices', () => {
	const rawCases: [string, string][] = [
		['fullDevice', 'RW 4 FLAT "dev.bin" 0'],
		['partitionedDevice', 'RW 4 FLAT "dev.bin" 0'],
		['vmfsRaw', 'RW 4 VMFSRAW "dev.bin" 0'],
		['vmfsRawDeviceMap', 'RW 4 VMFSRDM "dev.bin"'],
		['vmfsPassthroughRawDeviceMap', 'RW 4 VMFSRDM "dev.bin"'],
		['custom', 'RW 4 VMFSRAW "dev.bin" 0'],
		['vmfs', 'RW 4 VMFSRDM "dev.bin"'],
	];

	it.each(rawCases)('refuses %s (%s) unless raw devices are allowed', async (createType, extent) => {
		const data = pattern(4 * SECTOR, 8);
		const p = new CountingPlatform({
			'/vm/r.vmdk': descriptor({ createType, extents: [extent] }),
			'/vm/dev.bin': data,
		});
		await expectCode(p, '/vm/r.vmdk', 'VMDK_RAW_DEVICE_REFUSED');
		expect(p.opened).toEqual(['/vm/r.vmdk']);
		const disk = await openDisk('/vm/r.vmdk', p, { allowRawDevices: true });
		expect(await readAll(disk)).toEqual(data);
		await disk.close();
	});

	it('refuses a FLAT extent under /dev/ and a non-regular extent without opening it', async () => {
		const p = new CountingPlatform({
			'/vm/d.vmdk': descriptor({ createType: 'monolithicFlat', extents: ['RW 4 FLAT "/dev/sda" 0'] }),
		});
		const e = await expectCode(p, '/vm/d.vmdk', 'VMDK_RAW_DEVICE_REFUSED');
		expect(e.file).toBe('/dev/sda');
		// A name listed in its folder that is not a regular file (a device node, a FIFO).
		p.fileExists = async (path: string) => path !== '/vm/fifo' && p.files.has(path);
		p.files.set('/vm/f.vmdk', descriptor({ createType: 'monolithicFlat', extents: ['RW 4 FLAT "fifo" 0'] }));
		p.files.set('/vm/fifo', new Uint8Array(0));
		await expectCode(p, '/vm/f.vmdk', 'VMDK_RAW_DEVICE_REFUSED');
		expect(p.opened).not.toContain('/vm/fifo');
	});
});

describe('openDisk: snapshot chains', () => {
	/** A chain of flat descriptors; each layer is a ZERO+FLAT custom disk so reads tell layers apart. */
	function chainFiles(): Record<string, Uint8Array> {
		return {
			'/vm/base.vmdk': descriptor({
				createType: 'monolithicFlat',
				cid: '11111111',
				extents: ['RW 4 FLAT "base-flat.vmdk"'],
			}),
			'/vm/base-flat.vmdk': pattern(4 * SECTOR, 1),
			'/vm/snap/child.vmdk': descriptor({
				createType: 'monolithicFlat',
				cid: '22222222',
				parentCid: '11111111',
				parentHint: '../base.vmdk',
				extents: ['RW 4 FLAT "child-flat.vmdk"'],
			}),
			'/vm/snap/child-flat.vmdk': pattern(4 * SECTOR, 2),
		};
	}

	it('follows a relative parentFileNameHint and lists the chain leaf first', async () => {
		const p = new CountingPlatform(chainFiles());
		const disk = await openDisk('/vm/snap/child.vmdk', p);
		expect(disk.chain.map((l) => [l.path, l.cid, l.parentCid])).toEqual([
			['/vm/snap/child.vmdk', '22222222', '11111111'],
			['/vm/base.vmdk', '11111111', 'ffffffff'],
		]);
		expect(await readAll(disk)).toEqual(pattern(4 * SECTOR, 2));
		await disk.close();
		expect(p.openCount).toBe(0);
	});

	it('finds the parent by an absolute hint, a Windows hint, and in parentSearchDirs', async () => {
		const files = chainFiles();
		const child = (hint: string): Uint8Array =>
			descriptor({
				createType: 'monolithicFlat',
				cid: '22222222',
				parentCid: '11111111',
				parentHint: hint,
				extents: ['RW 4 FLAT "child-flat.vmdk"'],
			});
		const p = new CountingPlatform({
			...files,
			'/vm/abs.vmdk': child('/vm/base.vmdk'),
			'/vm/child-flat.vmdk': pattern(4 * SECTOR, 2),
			'/vm/win.vmdk': child('C:\\Users\\me\\Documents\\Virtual Machines\\base.vmdk'),
			'/vm/moved.vmdk': child('/vmfs/volumes/datastore1/vm/base.vmdk'),
			'/elsewhere/lost.vmdk': child('base.vmdk'),
			'/elsewhere/child-flat.vmdk': pattern(4 * SECTOR, 2),
		});
		for (const leaf of ['/vm/abs.vmdk', '/vm/win.vmdk', '/vm/moved.vmdk']) {
			const disk = await openDisk(leaf, p);
			expect(disk.chain[1]?.path, leaf).toBe('/vm/base.vmdk');
			await disk.close();
		}
		const e = await expectCode(p, '/elsewhere/lost.vmdk', 'VMDK_MISSING_PARENT');
		expect(e.message).toMatch(/"base\.vmdk".*\/elsewhere\/base\.vmdk/);
		const disk = await openDisk('/elsewhere/lost.vmdk', p, { parentSearchDirs: ['/nowhere', '/vm'] });
		expect(disk.chain[1]?.path).toBe('/vm/base.vmdk');
		await disk.close();
		expect(p.openCount).toBe(0);
	});

	it('names the hint and every place it looked when the parent is missing', async () => {
		const files = chainFiles();
		delete files['/vm/base.vmdk'];
		const p = new CountingPlatform(files);
		const e = await expectCode(p, '/vm/snap/child.vmdk', 'VMDK_MISSING_PARENT', {
			parentSearchDirs: ['/backup'],
		});
		expect(e.file).toBe('/vm/snap/child.vmdk');
		expect(e.message).toContain('"../base.vmdk"');
		expect(e.message).toContain('/vm/base.vmdk, /vm/snap/base.vmdk, /backup/base.vmdk');
	});

	it('refuses a CID mismatch, saying what differs, and opens it with a warning under ignoreCid', async () => {
		const files = chainFiles();
		files['/vm/base.vmdk'] = descriptor({
			createType: 'monolithicFlat',
			cid: '99999999',
			extents: ['RW 4 FLAT "base-flat.vmdk"'],
		});
		const p = new CountingPlatform(files);
		const e = await expectCode(p, '/vm/snap/child.vmdk', 'VMDK_CID_MISMATCH');
		expect(e.file).toBe('/vm/snap/child.vmdk');
		expect(e.message).toContain(
			'/vm/snap/child.vmdk has parentCID 11111111 but its parent /vm/base.vmdk has CID 99999999',
		);
		const disk = await openDisk('/vm/snap/child.vmdk', p, { ignoreCid: true });
		expect(disk.warnings).toHaveLength(1);
		expect(disk.warnings[0]).toMatch(/CID mismatch ignored: .*parentCID 11111111.*CID 99999999/);
		await disk.close();
		expect(p.openCount).toBe(0);
	});

	it('detects cycles, including a disk that is its own parent', async () => {
		const p = new CountingPlatform({
			'/vm/a.vmdk': descriptor({
				createType: 'custom',
				cid: 'aaaaaaaa',
				parentCid: 'bbbbbbbb',
				parentHint: 'b.vmdk',
				extents: ['RW 1 ZERO'],
			}),
			'/vm/b.vmdk': descriptor({
				createType: 'custom',
				cid: 'bbbbbbbb',
				parentCid: 'aaaaaaaa',
				parentHint: './a.vmdk',
				extents: ['RW 1 ZERO'],
			}),
			'/vm/self.vmdk': descriptor({
				createType: 'custom',
				cid: 'cccccccc',
				parentCid: 'cccccccc',
				parentHint: 'self.vmdk',
				extents: ['RW 1 ZERO'],
			}),
		});
		expect((await expectCode(p, '/vm/a.vmdk', 'VMDK_PARENT_CYCLE')).message).toMatch(
			/\/vm\/a\.vmdk → \/vm\/b\.vmdk → \/vm\/a\.vmdk/,
		);
		await expectCode(p, '/vm/self.vmdk', 'VMDK_PARENT_CYCLE');
	});

	it('stops chains deeper than the limit', async () => {
		const files: Record<string, Uint8Array> = {};
		const depth = Limits.CHAIN_MAX_DEPTH + 1;
		for (let i = 0; i < depth; i++) {
			files[`/vm/d${i}.vmdk`] = descriptor({
				createType: 'custom',
				cid: i.toString(16).padStart(8, '0'),
				parentCid: i + 1 < depth ? (i + 1).toString(16).padStart(8, '0') : 'ffffffff',
				...(i + 1 < depth ? { parentHint: `d${i + 1}.vmdk` } : {}),
				extents: ['RW 1 ZERO'],
			});
		}
		const p = new CountingPlatform(files);
		await expectCode(p, '/vm/d0.vmdk', 'VMDK_CHAIN_TOO_DEEP');
		const ok = await openDisk('/vm/d1.vmdk', p);
		expect(ok.chain).toHaveLength(Limits.CHAIN_MAX_DEPTH);
		await ok.close();
		expect(p.openCount).toBe(0);
	});

	it('refuses a snapshot whose parentCID is set but which names no parent', async () => {
		const p = new CountingPlatform({
			'/vm/o.vmdk': descriptor({ createType: 'custom', parentCid: '12345678', extents: ['RW 1 ZERO'] }),
		});
		expect((await expectCode(p, '/vm/o.vmdk', 'VMDK_MISSING_PARENT')).message).toMatch(
			/no parentFileNameHint/,
		);
	});

	it('reads an ESXi chain: vmfs base, vmfsSparse (COWD) delta, seSparse delta', async () => {
		const grain = 4096;
		const base = pattern(64 * SECTOR, 1);
		const cowdData = pattern(SECTOR, 2);
		const seData = pattern(grain, 3);
		const p = new CountingPlatform({
			'/esx/vm.vmdk': descriptor({
				createType: 'vmfs',
				cid: '00000001',
				extents: ['RW 64 VMFS "vm-flat.vmdk"'],
			}),
			'/esx/vm-flat.vmdk': base,
			'/esx/vm-000001.vmdk': descriptor({
				createType: 'vmfsSparse',
				cid: '00000002',
				parentCid: '00000001',
				parentHint: 'vm.vmdk',
				extents: ['RW 64 VMFSSPARSE "vm-000001-delta.vmdk"'],
			}),
			// Sector 3 written in the COWD delta (grains of one sector).
			'/esx/vm-000001-delta.vmdk': buildCowdExtent({
				capacitySectors: 64,
				grainSizeSectors: 1,
				grains: new Map([[3, cowdData]]),
			}),
			'/esx/vm-000002.vmdk': descriptor({
				createType: 'seSparse',
				cid: '00000003',
				parentCid: '00000002',
				parentHint: 'vm-000001.vmdk',
				extents: ['RW 64 SESPARSE "vm-000002-sesparse.vmdk"'],
			}),
			// 4 KiB grain 2 (sectors 16..23) written, grain 3 (sectors 24..31) zeroed in the seSparse delta.
			'/esx/vm-000002-sesparse.vmdk': buildSeSparseExtent({
				capacitySectors: 64,
				grains: new Map([[2, seData]]),
				zeroGrains: [3],
			}),
		});
		const disk = await openDisk('/esx/vm-000002.vmdk', p);
		expect(disk.chain.map((l) => l.createType)).toEqual(['seSparse', 'vmfsSparse', 'vmfs']);
		const expected = base.slice();
		expected.set(cowdData, 3 * SECTOR);
		expected.set(seData, 16 * SECTOR);
		expected.fill(0, 24 * SECTOR, 32 * SECTOR);
		expect(await readAll(disk)).toEqual(expected);
		await disk.close();
		expect(p.openCount).toBe(0);
	});
});
