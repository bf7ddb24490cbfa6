// SPDX-License-Identifier: MIT
// Builds OVA appliances with real tools, the way an export from VMware or VirtualBox looks:
// raw disks with real filesystems (sfdisk, mkfs.ext4 -d), converted to stream-optimized VMDKs
// by qemu-img, an ovftool-style OVF descriptor, a SHA-256 manifest, and GNU tar (ustar, pax or
// gnu format, descriptor first). Variants for the error paths are made from the same pieces.
import { copyFile, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildOvf, type OvfDiskSpec } from './build-ovf.js';
import { run, sha256File } from './run.js';
import { placeImage } from './place-image.js';

const MIB = 1024 * 1024;

/** A file put into a filesystem, with its hash. */
export interface ContentFile {
	readonly name: string;
	readonly sha256: string;
}

/** The pieces of the standard appliance, in `dir`. */
export interface OvaPieces {
	readonly dir: string;
	/** `app.ovf`, `app.mf`, `app-disk1.vmdk`, `app-disk2.vmdk` (in `dir`). */
	readonly ovf: string;
	readonly disks: readonly {
		readonly member: string;
		readonly vmdk: string;
		/** The raw image the VMDK was made from. */
		readonly raw: string;
		readonly capacityBytes: number;
		/** Filesystem label and the files in it. */
		readonly label: string;
		readonly files: readonly ContentFile[];
	}[];
}

async function contentDir(dir: string, label: string): Promise<ContentFile[]> {
	await mkdir(dir, { recursive: true });
	await writeFile(join(dir, 'hello.txt'), `Hello from the ${label} disk of an appliance\n`);
	const data = new Uint8Array(200_000);
	for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761 + label.length * 7) >>> 24;
	await writeFile(join(dir, 'data.bin'), data);
	return Promise.all(
		['hello.txt', 'data.bin'].map(async (name) => ({ name, sha256: await sha256File(join(dir, name)) })),
	);
}

/**
 * Builds the standard appliance's pieces: disk 1 (64 MiB, MBR, ext4 "APPDATA") on scsi0:0 and
 * disk 2 (16 MiB, a whole-disk ext4 "APPLOGS") on scsi0:1, both stream-optimized.
 */
export async function makeOvaPieces(dir: string): Promise<OvaPieces> {
	await mkdir(dir, { recursive: true });
	const filesA = await contentDir(join(dir, 'content-a'), 'APPDATA');
	const filesB = await contentDir(join(dir, 'content-b'), 'APPLOGS');
	const rawA = join(dir, 'disk1.raw');
	await run('/usr/bin/truncate', ['-s', `${64 * MIB}`, rawA]);
	await run('/usr/sbin/sfdisk', ['-q', rawA], { input: 'label: dos\nstart=2048, type=83\n' });
	const ext = join(dir, 'p1.img');
	await run('/usr/bin/truncate', ['-s', `${63 * MIB}`, ext]);
	await run('/usr/sbin/mkfs.ext4', ['-q', '-F', '-L', 'APPDATA', '-d', join(dir, 'content-a'), ext]);
	await placeImage(ext, rawA, 2048);
	await rm(ext);
	const rawB = join(dir, 'disk2.raw');
	await run('/usr/bin/truncate', ['-s', `${16 * MIB}`, rawB]);
	await run('/usr/sbin/mkfs.ext4', ['-q', '-F', '-L', 'APPLOGS', '-d', join(dir, 'content-b'), rawB]);
	const disks = [
		{ member: 'app-disk1.vmdk', raw: rawA, capacityBytes: 64 * MIB, label: 'APPDATA', files: filesA },
		{ member: 'app-disk2.vmdk', raw: rawB, capacityBytes: 16 * MIB, label: 'APPLOGS', files: filesB },
	].map((d) => ({ ...d, vmdk: join(dir, d.member) }));
	for (const d of disks) {
		await run('/usr/bin/qemu-img', [
			'convert',
			'-f',
			'raw',
			'-O',
			'vmdk',
			'-o',
			'subformat=streamOptimized',
			d.raw,
			d.vmdk,
		]);
	}
	const ovf = join(dir, 'app.ovf');
	await writeOvf(
		ovf,
		'My Appliance',
		disks.map((d) => ({ href: d.member, capacityBytes: d.capacityBytes })),
	);
	await writeManifest(join(dir, 'app.mf'), dir, ['app.ovf', ...disks.map((d) => d.member)]);
	return { dir, ovf, disks };
}

/** Writes an ovftool-style descriptor; disks go on scsi0:0, scsi0:1 … unless given. */
export async function writeOvf(path: string, name: string, disks: readonly OvfDiskSpec[]): Promise<void> {
	await writeFile(path, buildOvf({ name, disks: disks.map((d, i) => ({ unit: i, ...d })) }));
}

/** Writes `SHA256(name)= digest` lines for `names` (files in `dir`). */
export async function writeManifest(path: string, dir: string, names: readonly string[]): Promise<void> {
	const lines = await Promise.all(
		names.map(async (n) => `SHA256(${n})= ${await sha256File(join(dir, n))}\n`),
	);
	await writeFile(path, lines.join(''));
}

/** Packs `members` of `dir` (in order) into `out` with GNU tar in `format`. */
export async function tarUp(
	dir: string,
	members: readonly string[],
	out: string,
	format: 'ustar' | 'pax' | 'gnu' = 'ustar',
): Promise<string> {
	await run('/usr/bin/tar', [`--format=${format}`, '--owner=0', '--group=0', '-cf', out, ...members], {
		cwd: dir,
	});
	return out;
}

/** Copies `names` from `from` to `to`, optionally renamed. */
export async function copyPieces(from: string, to: string, names: Record<string, string>): Promise<void> {
	await mkdir(to, { recursive: true });
	for (const [src, dest] of Object.entries(names)) await copyFile(join(from, src), join(to, dest));
}

/** Size of a file. */
export async function sizeOf(path: string): Promise<number> {
	return (await stat(path)).size;
}
