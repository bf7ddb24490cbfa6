#!/usr/bin/env node
// SPDX-License-Identifier: MIT
/**
 * `convert` against `qemu-img convert -O vmdk -o subformat=…` on the same 2 GiB raw disk
 * (bench/source-image.js: compressible text, random bytes and holes), in the same run.
 * Targets (issue 12): monolithicSparse ≤ 0.8× qemu-img's wall time, streamOptimized ≤ 0.5×.
 * qemu-img runs with `-t unsafe` because we do not fsync either; `sync` runs before every timed
 * command and the order alternates. The machine is shared and has 2 cores, so each pair runs
 * --runs times (default 5) and the medians are compared; CPU seconds per GiB (user + system,
 * all threads) are printed for both. Exits 1 on a missed target. Options: --runs N,
 * --only <subformat>, --json. Needs `npm run build` (and the codec addon for full speed).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { IMAGE_BYTES, makeSourceRaw } from './source-image.js';

const REPO = resolve(import.meta.dirname, '..');
const CLI = join(REPO, 'bin', 'vmdk-mounter.js');
const CACHE = process.env.VMDK_BENCH_CACHE ?? '/tmp/vmdk-mounter-bench-cache';
const TARGETS = { monolithicSparse: 0.8, streamOptimized: 0.5 };
const GiB = 1024 ** 3;

const argv = process.argv.slice(2);
const runs = Number(argv[argv.indexOf('--runs') + 1] ?? 5) || 5;
const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : undefined;

if (!existsSync(join(REPO, 'dist', 'cli', 'main.js'))) {
	console.error('bench: dist/cli/main.js is missing; run `npm run build` first');
	process.exit(2);
}
mkdirSync(CACHE, { recursive: true });
const source = join(CACHE, 'bench-source.raw');
makeSourceRaw(source);
const outDir = join(CACHE, 'convert-out');
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });

/** Wall and CPU seconds of a command (CPU from /usr/bin/time: user + system of all threads). */
function timeCommand(cmd, args) {
	spawnSync('sync');
	const started = process.hrtime.bigint();
	const r = spawnSync('/usr/bin/time', ['-f', '%U %S', cmd, ...args], {
		stdio: ['ignore', 'ignore', 'pipe'],
		encoding: 'utf8',
	});
	const wall = Number(process.hrtime.bigint() - started) / 1e9;
	if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
	const [user, sys] = r.stderr.trim().split('\n').at(-1).split(' ').map(Number);
	return { wall, cpu: user + sys };
}

function median(values) {
	const s = [...values].sort((a, b) => a - b);
	const m = Math.floor(s.length / 2);
	return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const results = [];
let failed = false;
for (const [subformat, target] of Object.entries(TARGETS)) {
	if (only !== undefined && only !== subformat) continue;
	const qemuOut = join(outDir, 'qemu.vmdk');
	const oursOut = join(outDir, 'ours.vmdk');
	const times = { qemu: [], ours: [] };
	for (let i = 0; i < runs; i++) {
		const pair = [
			() =>
				times.qemu.push(
					timeCommand('qemu-img', [
						'convert',
						'-t',
						'unsafe',
						'-f',
						'raw',
						'-O',
						'vmdk',
						'-o',
						`subformat=${subformat}`,
						source,
						qemuOut,
					]),
				),
			() =>
				times.ours.push(
					timeCommand('node', [CLI, 'convert', '--force', '--subformat', subformat, source, oursOut]),
				),
		];
		for (const run of i % 2 === 0 ? pair : pair.reverse()) run();
		rmSync(qemuOut, { force: true });
		rmSync(oursOut, { force: true });
	}
	const q = { wall: median(times.qemu.map((t) => t.wall)), cpu: median(times.qemu.map((t) => t.cpu)) };
	const o = { wall: median(times.ours.map((t) => t.wall)), cpu: median(times.ours.map((t) => t.cpu)) };
	const ratio = o.wall / q.wall;
	if (ratio > target) failed = true;
	const gib = IMAGE_BYTES / GiB;
	results.push({ subformat, runs, qemu: q, ours: o, ratio: +ratio.toFixed(3), target });
	console.log(
		`convert ${subformat.padEnd(17)} median of ${runs}: qemu ${q.wall.toFixed(2)} s (cpu ${(q.cpu / gib).toFixed(2)} s/GiB)  ours ${o.wall.toFixed(2)} s (cpu ${(o.cpu / gib).toFixed(2)} s/GiB)  ratio ${ratio.toFixed(3)} (≤ ${target}) ${ratio <= target ? 'ok' : 'TOO SLOW'}`,
	);
}
rmSync(outDir, { recursive: true, force: true });
if (argv.includes('--json')) console.log(JSON.stringify(results));
process.exitCode = failed ? 1 : 0;
