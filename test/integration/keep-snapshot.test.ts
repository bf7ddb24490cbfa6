// SPDX-License-Identifier: MIT
// Keeping a `--rw` mount's changes as a VMware snapshot (issue 12 §3), checked with qemu: the
// changes are built here the way the daemon's overlays record them (whole-disk and
// partition-relative ranges), written as a child of a qemu-made disk, then `qemu-img check` must
// be clean, `qemu-img compare` of child+parent must equal the expected raw disk, a filesystem
// changed with debugfs must show its new file through the chain, and the parent's bytes must
// not change. `.vmx` re-pointing is checked on real files, including the refusal while locked.
import { AppError } from '../../src/shared/app-error.js';
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, readdir, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isVmdkError, openDisk } from '../../src/core/index.js';
import type { ChangeSource, ChangedRange } from '../../src/core/write.js';
import { attachSnapshotToVmx, keepChangesAsSnapshot } from '../../src/host/node/keep-snapshot.js';
import { nodePlatform } from '../../src/host/node/node-platform.js';
import type { InfoResult } from '../../src/shared/models.js';
import { run, runStatus, sha256File } from '../helpers/run.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { CLI_BIN, ensureCliBuilt } from '../fixtures/reference-disk.js';

let dir: string;
let cleanup: () => Promise<void>;
const handles: FileHandle[] = [];

beforeAll(async () => {
	({ dir, cleanup } = await makeTempDir('keep-snapshot-'));
	await ensureCliBuilt();
});
afterAll(async () => {
	await Promise.allSettled(handles.map((h) => h.close()));
	await cleanup();
});

/** An overlay-like file: bytes at their (disk- or partition-relative) offsets, holes elsewhere. */
async function overlayFile(name: string, sizeBytes: number): Promise<FileHandle & ChangeSource> {
	const fh = await open(join(dir, name), 'w+');
	await fh.truncate(sizeBytes);
	handles.push(fh);
	return Object.assign(fh, {
		async readInto(offsetBytes: number, dest: Uint8Array, destOffset: number, length: number) {
			const { bytesRead } = await fh.read(dest, destOffset, length, offsetBytes);
			if (bytesRead !== length) throw new Error('short read');
		},
	});
}

describe('keepChangesAsSnapshot', () => {
	it('writes a child that qemu reads over its parent as the changed disk; the parent is untouched', async () => {
		const base = join(dir, 'base.vmdk');
		const size = 64 * 1024 * 1024;
		await run('qemu-img', ['create', '-q', '-f', 'vmdk', base, '64M']);
		await run('qemu-io', ['-f', 'vmdk', '-c', 'write -P 0x11 0 8M', '-c', 'write -P 0x22 40M 4M', base]);
		const parentSha = await sha256File(base);
		const expectedPath = join(dir, 'expected.raw');
		await run('qemu-img', ['convert', '-O', 'raw', base, expectedPath]);
		const expected = await readFile(expectedPath);

		const PART_START = 1024 * 1024;
		const disk = await overlayFile('disk.overlay', size);
		const part = await overlayFile('p1.overlay', 32 * 1024 * 1024);
		const changes: ChangedRange[] = [];
		const change = async (src: typeof disk, srcOffset: number, bytes: Uint8Array, diskOffset: number) => {
			await src.write(bytes, 0, bytes.length, srcOffset);
			changes.push({
				offsetBytes: diskOffset,
				lengthBytes: bytes.length,
				source: src,
				sourceOffsetBytes: srcOffset,
			});
			expected.set(bytes, diskOffset);
		};
		await change(disk, 70 * 1024, randomBytes(4096), 70 * 1024); // part of one grain
		await change(disk, 10 * 1024 * 1024 + 512, randomBytes(1024 * 1024 + 512), 10 * 1024 * 1024 + 512); // unaligned, many grains
		await change(disk, size - 4096, randomBytes(4096), size - 4096); // the last block
		await change(part, 4096, randomBytes(8192), PART_START + 4096); // partition-relative
		await change(disk, 2 * 1024 * 1024, randomBytes(65536), 2 * 1024 * 1024);
		await change(part, 1024 * 1024 + 32 * 1024, randomBytes(16384), 2 * 1024 * 1024 + 32 * 1024); // later wins
		await change(disk, 41 * 1024 * 1024, new Uint8Array(8192), 41 * 1024 * 1024); // zeros over parent data

		const opened = await openDisk(base, nodePlatform);
		const kept = await (async () => {
			try {
				return await keepChangesAsSnapshot(opened, changes);
			} finally {
				await opened.close();
			}
		})();
		expect(kept.childPath).toBe(join(dir, 'base-000001.vmdk'));
		await writeFile(expectedPath, expected);
		await run('qemu-img', ['check', kept.childPath]);
		const compare = await runStatus('qemu-img', [
			'compare',
			'-f',
			'raw',
			'-F',
			'vmdk',
			expectedPath,
			kept.childPath,
		]);
		expect(compare.status, compare.stdout + compare.stderr).toBe(0);
		expect(await sha256File(base)).toBe(parentSha);

		// Our own `info` shows the new chain, with the CIDs linked.
		const info = JSON.parse(
			await run(process.execPath, [CLI_BIN, 'info', '--json', kept.childPath]),
		) as InfoResult;
		const chain = info.disks[0]!.chain;
		expect(chain.map((l) => l.path)).toEqual([kept.childPath, base]);
		expect(chain[0]!.parentCid).toBe(chain[1]!.cid);
		expect(chain[0]!.cid).toBe(kept.cid);

		// A snapshot of the snapshot takes the next name.
		const child = await openDisk(kept.childPath, nodePlatform);
		try {
			const again = await keepChangesAsSnapshot(child, [
				{ offsetBytes: 0, lengthBytes: 512, source: disk, sourceOffsetBytes: 0 },
			]);
			expect(again.childPath).toBe(join(dir, 'base-000002.vmdk'));
			expect(again.parentCid).toBe(kept.cid);
		} finally {
			await child.close();
		}
	});

	it('keeps a file written into an ext4 filesystem: qemu reads child + parent and the file is there', async () => {
		const content = join(dir, 'content');
		await mkdir(content);
		await writeFile(join(content, 'old.txt'), 'before\n');
		const raw = join(dir, 'fs.raw');
		await run('truncate', ['-s', '32M', raw]);
		await run('mkfs.ext4', ['-q', '-F', '-d', content, raw]);
		const base = join(dir, 'fs.vmdk');
		await run(process.execPath, [CLI_BIN, 'convert', raw, base]);
		const parentSha = await sha256File(base);
		// The guest's write, made on a copy with debugfs; the daemon's overlay records the same blocks.
		const changed = join(dir, 'fs-changed.raw');
		await run('cp', ['--sparse=always', raw, changed]);
		const news = join(dir, 'hello.txt');
		await writeFile(news, 'kept by vmdk-mounter\n'.repeat(1000));
		await run('debugfs', ['-w', '-R', `write ${news} hello.txt`, changed]);
		const before = await readFile(raw);
		const after = await readFile(changed);
		const source = await overlayFile('fs.overlay', after.length);
		const changes: ChangedRange[] = [];
		for (let at = 0; at < after.length; at += 4096) {
			const block = after.subarray(at, at + 4096);
			if (Buffer.compare(block, before.subarray(at, at + 4096)) === 0) continue;
			await source.write(block, 0, block.length, at);
			changes.push({ offsetBytes: at, lengthBytes: block.length, source, sourceOffsetBytes: at });
		}
		expect(changes.length).toBeGreaterThan(1);
		const opened = await openDisk(base, nodePlatform);
		const kept = await keepChangesAsSnapshot(opened, changes).finally(() => opened.close());
		const out = join(dir, 'fs-out.raw');
		await run('qemu-img', ['convert', '-O', 'raw', kept.childPath, out]);
		expect(await run('debugfs', ['-R', 'cat /hello.txt', out])).toBe(
			'kept by vmdk-mounter\n'.repeat(1000).trimEnd(),
		);
		await run('e2fsck', ['-fn', out]);
		expect(await sha256File(base)).toBe(parentSha);
	});

	it('rejects a range outside the disk and leaves nothing behind', async () => {
		const base = join(dir, 'small.vmdk');
		await run('qemu-img', ['create', '-q', '-f', 'vmdk', base, '1M']);
		const src = await overlayFile('small.overlay', 2 * 1024 * 1024);
		const opened = await openDisk(base, nodePlatform);
		const failure = await keepChangesAsSnapshot(opened, [
			{ offsetBytes: 1024 * 1024 - 512, lengthBytes: 1024, source: src, sourceOffsetBytes: 0 },
		]).then(
			() => undefined,
			(e: unknown) => e,
		);
		await opened.close();
		expect(isVmdkError(failure, 'VMDK_OUT_OF_RANGE')).toBe(true);
		expect((await readdir(dir)).filter((n) => n.startsWith('small-'))).toEqual([]);
	});
});

describe('attachSnapshotToVmx', () => {
	const vmxText = (disk: string) =>
		[
			'.encoding = "UTF-8"',
			'config.version = "8"',
			'virtualHW.version = "19"',
			'scsi0.present = "TRUE"',
			'scsi0.virtualDev = "lsilogic"',
			'scsi0:0.present = "TRUE"',
			`scsi0:0.fileName = "${disk}"`,
			'sata0:1.fileName = "other.vmdk"',
			'displayName = "Test |22VM|22"',
			'',
		].join('\r\n');

	it('points the disk slot at the child and changes nothing else; refuses while VMware holds a lock', async () => {
		const vm = join(dir, 'vm');
		await mkdir(vm);
		const parent = join(vm, 'disk.vmdk');
		const child = join(vm, 'disk-000001.vmdk');
		await run('qemu-img', ['create', '-q', '-f', 'vmdk', parent, '1M']);
		await run('qemu-img', ['create', '-q', '-f', 'vmdk', '-b', 'disk.vmdk', '-F', 'vmdk', child]);
		const vmx = join(vm, 'Test.vmx');
		await writeFile(vmx, vmxText('disk.vmdk'));

		// A live lock of the VM (another host's machine id): refused, file untouched.
		const lock = join(vm, 'Test.vmx.lck');
		await mkdir(lock);
		await writeFile(join(lock, 'M12345.lck'), 'uuid=564d0000-other-host 4242-1(vmware-vmx) 1 X\0');
		const refused = await attachSnapshotToVmx(vmx, parent, child).then(
			() => undefined,
			(e: unknown) => e,
		);
		expect(refused).toBeInstanceOf(AppError);
		expect((refused as AppError).code).toBe('DISK_LOCKED');
		expect(await readFile(vmx, 'utf8')).toBe(vmxText('disk.vmdk'));

		await run('rm', ['-r', lock]);
		const attached = await attachSnapshotToVmx(vmx, parent, child);
		expect(attached.slots).toEqual(['scsi0:0']);
		expect(await readFile(vmx, 'utf8')).toBe(vmxText('disk-000001.vmdk'));

		// No slot names the disk any more: a typed error.
		const none = await attachSnapshotToVmx(vmx, parent, child).then(
			() => undefined,
			(e: unknown) => e,
		);
		expect(isVmdkError(none, 'VMX_BAD_FILE')).toBe(true);
	});
});
