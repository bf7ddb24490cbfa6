// SPDX-License-Identifier: MIT
/** The 2 GiB source disk the benchmarks share (export, convert). */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, ftruncateSync, openSync, renameSync, statSync, writeSync } from 'node:fs';

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
