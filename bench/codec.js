#!/usr/bin/env node
// SPDX-License-Identifier: MIT
/**
 * Deflate / inflate implementations on real VMDK grains, one core each: Node's zlib against
 * libdeflate (our addon, native/codec). Grains are the non-zero 64 KiB blocks of a real
 * filesystem image: by default an ext4 image made here with `mkfs.ext4 -d` from the system's
 * libraries (binaries, text, compressed files: what real disks hold), or the image given with
 * --image. Prints MB/s of uncompressed data per core and the compressed size, so that a level
 * is chosen by both. Speeds are per CPU-second of this thread (the machine may be shared, and CPU
 * time varies far less with other load than wall time). Options: --image PATH, --max-mib N (grains sampled, default 256).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readSync, closeSync, fstatSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import zlib from 'node:zlib';

const REPO = resolve(import.meta.dirname, '..');
const CACHE = process.env.VMDK_BENCH_CACHE ?? '/tmp/vmdk-mounter-bench-cache';
const GRAIN = 64 * 1024;
const argv = process.argv.slice(2);
const opt = (name, dflt) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : dflt);
const maxMib = Number(opt('--max-mib', '256'));

function defaultImage() {
	mkdirSync(CACHE, { recursive: true });
	const path = join(CACHE, 'codec-ext4.raw');
	if (!existsSync(path)) {
		console.log(`bench: making ${path} (ext4 from /usr/lib)…`);
		execFileSync('truncate', ['-s', '1600M', path + '.tmp']);
		execFileSync('mkfs.ext4', ['-q', '-F', '-d', '/usr/lib/x86_64-linux-gnu', path + '.tmp']);
		execFileSync('mv', [path + '.tmp', path]);
	}
	return path;
}

function loadGrains(path) {
	const fd = openSync(path, 'r');
	const size = fstatSync(fd).size;
	const grains = [];
	const buf = Buffer.alloc(GRAIN);
	const limit = maxMib * 1024 * 1024;
	let total = 0;
	for (let at = 0; at + GRAIN <= size && total < limit; at += GRAIN) {
		readSync(fd, buf, 0, GRAIN, at);
		if (buf.every((b) => b === 0)) continue;
		grains.push(Buffer.from(buf));
		total += GRAIN;
	}
	closeSync(fd);
	return grains;
}

function time(fn) {
	const start = process.cpuUsage();
	const t0 = process.hrtime.bigint();
	fn();
	const wall = Number(process.hrtime.bigint() - t0) / 1e9;
	const cpu = process.cpuUsage(start);
	return { wall, cpu: (cpu.user + cpu.system) / 1e6 };
}

const image = opt('--image', undefined) ?? defaultImage();
const grains = loadGrains(image);
const mb = (grains.length * GRAIN) / 1e6;
console.log(`codec bench: ${grains.length} grains (${mb.toFixed(0)} MB) of ${image}`);

let addon = null;
try {
	addon = createRequire(import.meta.url)(
		join(REPO, 'native', 'codec', 'build', 'Release', 'vmdk_codec.node'),
	);
} catch (e) {
	console.log(`libdeflate addon not built (${e.message}); only Node's zlib is measured`);
}

const rows = [];
function row(name, level, deflateFn, inflateFn) {
	let compressed = [];
	const d = time(() => {
		compressed = grains.map((g) => deflateFn(g));
	});
	const bytes = compressed.reduce((n, c) => n + c.length, 0);
	const i = time(() => {
		for (const c of compressed) inflateFn(c);
	});
	rows.push({
		name,
		level,
		deflateMBps: mb / d.wall,
		inflateMBps: mb / i.wall,
		ratio: bytes / (grains.length * GRAIN),
	});
	console.log(
		`${name.padEnd(11)} level ${String(level).padStart(2)}  deflate ${(mb / d.cpu).toFixed(0).padStart(5)} MB/s  inflate ${(mb / i.cpu).toFixed(0).padStart(5)} MB/s  size ${((100 * bytes) / (grains.length * GRAIN)).toFixed(1)}%`,
	);
}

for (const level of [1, 6]) {
	row(
		'node-zlib',
		level,
		(g) => zlib.deflateSync(g, { level }),
		(c) => zlib.inflateSync(c, { chunkSize: GRAIN + 1024 }),
	);
}
if (addon !== null) {
	const out = Buffer.alloc(GRAIN + 4096);
	const back = Buffer.alloc(GRAIN);
	for (const level of [1, 3, 6, 9]) {
		row(
			`libdeflate`,
			level,
			(g) => Buffer.from(out.subarray(0, addon.zlibCompress(g, level, out))),
			(c) => addon.zlibDecompress(c, back, false),
		);
	}
}
if (addon !== null) {
	// Disks made by VMware and qemu-img hold zlib level-6 grains: both inflaters on those.
	const zlib6 = grains.map((g) => zlib.deflateSync(g, { level: 6 }));
	const back = Buffer.alloc(GRAIN);
	const z = time(() => {
		for (const c of zlib6) zlib.inflateSync(c, { chunkSize: GRAIN + 1024 });
	});
	const l = time(() => {
		for (const c of zlib6) addon.zlibDecompress(c, back, false);
	});
	console.log(
		`zlib-6 grains (as qemu-img and VMware write them): inflate node-zlib ${(mb / z.cpu).toFixed(0)} MB/s, libdeflate ${(mb / l.cpu).toFixed(0)} MB/s (${(z.cpu / l.cpu).toFixed(2)}×)`,
	);
}
if (argv.includes('--json')) console.log(JSON.stringify(rows));
