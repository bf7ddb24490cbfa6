// SPDX-License-Identifier: MIT
/**
 * The FUSE export itself, on both bindings (our libfuse 3 addon and the fuse-native fallback):
 * names, sizes, whole and random reads against the source bytes, read-only refusals, errors
 * as EIO, copy-on-write, concurrent readers, and nothing left mounted after close. The files
 * are read with asynchronous fs calls only: the FUSE server lives in this process, so a
 * synchronous call into the mount would deadlock.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, readFile, readdir, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiskExport, chooseFuseBackend } from '../../src/daemon/fuse/disk-export.js';
import type { FuseBackend } from '../../src/daemon/fuse/fuse-backend.js';
import { fuse3Backend } from '../../src/daemon/fuse/fuse3-backend.js';
import { fuseNativeBackend } from '../../src/daemon/fuse/fuse-native-backend.js';
import type { ReadTarget } from '../../src/core/index.js';
import { createHost, loadFuse3Addon, type Host } from '../../src/host/index.js';
import { createLinuxHost } from '../../src/host/linux/linux-host.js';
import { describeNeeding } from '../helpers/capability.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const MIB = 1024 * 1024;

function missing(): string | undefined {
	if (process.platform !== 'linux') return 'not Linux';
	if (process.getuid?.() !== 0) return 'needs root';
	if (loadFuse3Addon() === null) return 'native/fuse3 is not built (npm run build:native)';
	return undefined;
}

/** Bytes in memory; reads of [failFrom, failTo) fail like a damaged grain would. */
class MemoryTarget implements ReadTarget {
	readonly sizeBytes: number;
	readonly bytes: Uint8Array;
	readonly failFrom: number;
	readonly failTo: number;
	constructor(bytes: Uint8Array, failFrom = -1, failTo = -1) {
		this.bytes = bytes;
		this.sizeBytes = bytes.length;
		this.failFrom = failFrom;
		this.failTo = failTo;
	}
	async readInto(offset: number, dest: Uint8Array, destOffset: number, length: number): Promise<void> {
		await new Promise((r) => setImmediate(r));
		if (offset < this.failTo && offset + length > this.failFrom) throw new Error('damaged grain');
		dest.set(this.bytes.subarray(offset, offset + length), destOffset);
	}
}

function mounted(mountpoint: string): Promise<boolean> {
	return readFile('/proc/self/mountinfo', 'utf8').then((t) =>
		t.split('\n').some((l) => l.split(' ')[4] === mountpoint),
	);
}

async function preadAll(path: string, offset: number, length: number): Promise<Buffer> {
	const fh = await open(path, 'r');
	try {
		const buf = Buffer.alloc(length);
		let got = 0;
		while (got < length) {
			const { bytesRead } = await fh.read(buf, got, length - got, offset + got);
			if (bytesRead === 0) break;
			got += bytesRead;
		}
		return buf.subarray(0, got);
	} finally {
		await fh.close();
	}
}

describeNeeding(missing(), 'FUSE export (both bindings)', () => {
	let host: Host;
	beforeAll(async () => {
		host = await createHost();
	});

	it('uses the libfuse 3 addon by default', async () => {
		expect(chooseFuseBackend(await createLinuxHost({})).name).toBe('fuse3');
		expect(chooseFuseBackend(await createLinuxHost({ VMDK_MOUNTER_FUSE_BINDING: 'fuse-native' })).name).toBe(
			'fuse-native',
		);
	});

	const bindings: [string, () => FuseBackend][] = [
		[
			'fuse3',
			() =>
				fuse3Backend((mountpoint, lazy) =>
					host.unmountVolume({ mountpoint, fuseHelper: true }, { force: lazy }),
				) as FuseBackend,
		],
		['fuse-native', fuseNativeBackend],
	];
	describe.each(bindings)('%s', (_name, backend) => {
		// Odd sizes: the last request is short, and the tail is clamped by the binding.
		const disk = new MemoryTarget(randomBytes(9 * MIB + 777));
		const part = new MemoryTarget(randomBytes(3 * MIB + 5), 2 * MIB, 2 * MIB + 10);
		let tmp: { dir: string; cleanup: () => Promise<void> };
		let exp: DiskExport | undefined;
		let mnt = '';

		beforeAll(async () => {
			tmp = await makeTempDir('vmdk-export-it-');
			mnt = join(tmp.dir, 'ro');
			exp = await DiskExport.mount(
				mnt,
				[
					{ name: 'disk', target: disk },
					{ name: 'p1', target: part },
				],
				{ readWrite: false, fsName: 'vmdk-export-test' },
				host,
				backend(),
			);
		});
		afterAll(async () => {
			await exp?.close();
			await tmp.cleanup();
		});

		it('lists the files with exact sizes, read-only', async () => {
			expect((await readdir(mnt)).sort()).toEqual(['disk', 'p1']);
			const s = await stat(join(mnt, 'disk'));
			expect(s.size).toBe(disk.sizeBytes);
			expect(s.mode & 0o777).toBe(0o444);
			expect((await stat(join(mnt, 'p1'))).size).toBe(part.sizeBytes);
			await expect(stat(join(mnt, 'p2'))).rejects.toMatchObject({ code: 'ENOENT' });
		});

		it('reads the whole file back byte for byte (sequential, through read-ahead)', async () => {
			const got = await readFile(join(mnt, 'disk'));
			expect(got.length).toBe(disk.sizeBytes);
			expect(Buffer.compare(got, Buffer.from(disk.bytes))).toBe(0);
		});

		it('answers random reads, across the end too, and concurrent readers', async () => {
			let seed = 7;
			const rand = (n: number): number => {
				seed = (seed * 1103515245 + 12345) % 2147483648;
				return seed % n;
			};
			const reads = Array.from({ length: 48 }, () => {
				const offset = rand(disk.sizeBytes + 1000);
				const length = 1 + rand(300_000);
				return { offset, length };
			});
			const results = await Promise.all(reads.map((r) => preadAll(join(mnt, 'disk'), r.offset, r.length)));
			reads.forEach((r, i) => {
				const want = disk.bytes.subarray(Math.min(r.offset, disk.sizeBytes), r.offset + r.length);
				expect(Buffer.compare(results[i] as Buffer, Buffer.from(want)), `read at ${r.offset}`).toBe(0);
			});
		});

		it('refuses writes on a read-only export', async () => {
			await expect(open(join(mnt, 'disk'), constants.O_RDWR)).rejects.toMatchObject({ code: 'EROFS' });
		});

		it('turns a failing read into EIO for that range only', async () => {
			await expect(preadAll(join(mnt, 'p1'), 2 * MIB - 4096, 8192)).rejects.toMatchObject({ code: 'EIO' });
			const fine = await preadAll(join(mnt, 'p1'), 0, 4096);
			expect(Buffer.compare(fine, Buffer.from(part.bytes.subarray(0, 4096)))).toBe(0);
		});

		it('copy-on-write: writes land in the overlay, never in the source', async () => {
			const source = new MemoryTarget(randomBytes(2 * MIB));
			const before = Buffer.from(source.bytes);
			const rwMnt = join(tmp.dir, 'rw');
			const rw = await DiskExport.mount(
				rwMnt,
				[{ name: 'disk', target: source }],
				{ readWrite: true, overlayDir: join(tmp.dir, 'overlay'), fsName: 'vmdk-export-test' },
				host,
				backend(),
			);
			try {
				const patch = randomBytes(10_000);
				const fh = await open(join(rwMnt, 'disk'), 'r+');
				try {
					await fh.write(patch, 0, patch.length, 123_457);
				} finally {
					await fh.close();
				}
				const back = await preadAll(join(rwMnt, 'disk'), 123_000, 11_000);
				const want = Buffer.from(before.subarray(123_000, 134_000));
				patch.copy(want, 457);
				expect(Buffer.compare(back, want)).toBe(0);
				await expect(truncate(join(rwMnt, 'disk'), 1000)).rejects.toMatchObject({ code: 'EPERM' });
				expect((await stat(join(rwMnt, 'disk'))).size).toBe(2 * MIB);
				expect(Buffer.compare(Buffer.from(source.bytes), before)).toBe(0);
			} finally {
				await rw.close();
			}
			expect(await mounted(rwMnt)).toBe(false);
		});

		it('with allowOther, libfuse 3 makes the files owner-only (fuse-native ignores it)', async () => {
			const m = join(tmp.dir, 'other');
			const e = await DiskExport.mount(
				m,
				[{ name: 'disk', target: new MemoryTarget(randomBytes(4096)) }],
				{ readWrite: false, allowOther: true, fsName: 'vmdk-export-test' },
				host,
				backend(),
			);
			try {
				const fuse3 = e.binding === 'fuse3';
				expect((await stat(join(m, 'disk'))).mode % 0o1000).toBe(fuse3 ? 0o400 : 0o444);
				expect((await stat(m)).mode % 0o1000).toBe(fuse3 ? 0o500 : 0o555);
				const options = (await readFile('/proc/self/mountinfo', 'utf8'))
					.split('\n')
					.find((l) => l.split(' ')[4] === m);
				expect(options?.includes('allow_other')).toBe(fuse3);
			} finally {
				await e.close();
			}
		});

		it('with allowRoot (macFUSE: the disk-image helper is root), both bindings ask FUSE for allow_root', async () => {
			const m = join(tmp.dir, 'root');
			const e = await DiskExport.mount(
				m,
				[{ name: 'disk', target: new MemoryTarget(randomBytes(4096)) }],
				{ readWrite: false, allowRoot: true, fsName: 'vmdk-export-test' },
				host,
				backend(),
			);
			try {
				// Root may read any file: the modes stay as they are.
				expect((await stat(join(m, 'disk'))).mode % 0o1000).toBe(0o444);
				// libfuse opens the kernel mount to others (allow_other) and turns away everyone
				// but the owner and root itself.
				const options = (await readFile('/proc/self/mountinfo', 'utf8'))
					.split('\n')
					.find((l) => l.split(' ')[4] === m);
				expect(options).toMatch(/allow_other/);
			} finally {
				await e.close();
			}
		});

		it('leaves nothing mounted after close', async () => {
			await exp?.close();
			exp = undefined;
			expect(await mounted(mnt)).toBe(false);
		});
	});
});
