// SPDX-License-Identifier: MIT
/** The disks the benchmarks share: the 2 GiB source (export, convert) and a 3-volume disk (mounts). */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
	closeSync,
	existsSync,
	ftruncateSync,
	openSync,
	renameSync,
	rmSync,
	statSync,
	writeSync,
} from 'node:fs';
import { join } from 'node:path';

const MiB = 1024 * 1024;
/** Size of the benchmark disk. */
export const IMAGE_BYTES = 2048 * MiB;

/**
 * Writes the 2 GiB source disk at `path` unless it is there, by 1 MiB chunk: 1 in 8 a hole, 1 in
 * 8 random bytes, the rest log-like text that deflates about 5:1 (varied per chunk so zlib has
 * real work).
 */
export function makeSourceRaw(path) {
	if (existsSync(path) && statSync(path).size === IMAGE_BYTES) return;
	console.log(`bench: writing ${path} (2 GiB source)…`);
	const fd = openSync(path + '.tmp', 'w');
	ftruncateSync(fd, 0);
	const words = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet'];
	for (let chunk = 0; chunk < IMAGE_BYTES / MiB; chunk++) {
		const kind = chunk % 8;
		if (kind === 7) continue; // hole
		let buf;
		if (kind === 3) {
			buf = randomBytes(MiB);
		} else {
			buf = Buffer.alloc(MiB);
			let at = 0;
			let n = chunk * 9973;
			while (at < MiB) {
				n = (n * 1103515245 + 12345) % 2147483648;
				const line = `${chunk}:${at} ${words[n % 10]} ${words[Math.floor(n / 16) % 10]} value=${n % 100000} status=ok\n`;
				at += buf.write(line, at, 'latin1');
			}
		}
		writeSync(fd, buf, 0, MiB, chunk * MiB);
	}
	ftruncateSync(fd, IMAGE_BYTES);
	closeSync(fd);
	renameSync(path + '.tmp', path);
}

/**
 * A 160 MiB raw disk with three volumes — ext4 "ONE", FAT32 "TWO", ext4 "THREE" — for the
 * mount benches (mount time, daemon memory). Made with sfdisk, mkfs and dd in `dir`.
 */
export function makeThreeVolumeRaw(dir) {
	const run = (cmd, args, input) => execFileSync(cmd, args, { input, stdio: ['pipe', 'pipe', 'pipe'] });
	const raw = join(dir, 'three.raw');
	run('/usr/bin/truncate', ['-s', `${160 * MiB}`, raw]);
	run(
		'/usr/sbin/sfdisk',
		['-q', raw],
		'label: dos\nstart=2048, size=65536, type=83\nstart=67584, size=81920, type=c\nstart=149504, type=83\n',
	);
	for (const [start, sectors, make] of [
		[2048, 65536, (img) => run('/usr/sbin/mkfs.ext4', ['-q', '-F', '-L', 'ONE', img])],
		[67584, 81920, (img) => run('/usr/sbin/mkfs.vfat', ['-F', '32', '-n', 'TWO', img])],
		[149504, 178176, (img) => run('/usr/sbin/mkfs.ext4', ['-q', '-F', '-L', 'THREE', img])],
	]) {
		const img = join(dir, 'part.img');
		run('/usr/bin/truncate', ['-s', String(sectors * 512), img]);
		make(img);
		run('/usr/bin/dd', [
			`if=${img}`,
			`of=${raw}`,
			'bs=512',
			`seek=${start}`,
			'conv=notrunc,sparse',
			'status=none',
		]);
		rmSync(img);
	}
	return raw;
}
