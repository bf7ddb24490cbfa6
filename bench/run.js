#!/usr/bin/env node
// SPDX-License-Identifier: MIT
/**
 * `npm run bench`: `vmdk-mounter export` against `qemu-img convert -O raw` on 2 GiB
 * monolithicSparse, twoGbMaxExtentSparse and streamOptimized images (mostly compressible
 * data, some random data, some holes), best of N interleaved runs each, printed as ratios
 * (ours / qemu; the requirement is ≤ 1.0). qemu-img runs with `-t unsafe` because our export does not
 * fsync either (qemu flushes its output at the end by default); `sync` runs before every timed
 * command and the order alternates, so neither tool pays for the other's writeback. Then `info` on an empty 2 TiB monolithicSparse
 * disk: wall time (< 200 ms) and peak RSS (< 150 MB).
 *
 * Images are cached in $VMDK_BENCH_CACHE (default /tmp/vmdk-mounter-bench-cache) because the
 * streamOptimized conversion takes a while. Needs `npm run build` first. Exits 1 if a
 * requirement is missed. Options: --runs N (default 3), --only <subformat>.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { makeSourceRaw } from './source-image.js';

const REPO = resolve(import.meta.dirname, '..');
const CLI = join(REPO, 'bin', 'vmdk-mounter.js');
const CACHE = process.env.VMDK_BENCH_CACHE ?? '/tmp/vmdk-mounter-bench-cache';
const SUBFORMATS = ['monolithicSparse', 'twoGbMaxExtentSparse', 'streamOptimized'];
/** Wall time ours / qemu-img: ≤ 1.0; streamOptimized ≤ 0.4 (issue 12: inflate with libdeflate on every core). */
const MAX_RATIOS = { monolithicSparse: 1.0, twoGbMaxExtentSparse: 1.0, streamOptimized: 0.4 };
const INFO_MAX_MS = 200;
const INFO_MAX_RSS_MB = 150;

const argv = process.argv.slice(2);
const runs = Number(argv[argv.indexOf('--runs') + 1] ?? 3) || 3;
const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : undefined;

if (!existsSync(join(REPO, 'dist', 'cli', 'main.js'))) {
	console.error('bench: dist/cli/main.js is missing; run `npm run build` first');
	process.exit(2);
}
mkdirSync(CACHE, { recursive: true });

/** Converts the source once; a `.done` marker tells a finished conversion from an interrupted one. */
function makeImage(raw, subformat) {
	const out = join(CACHE, `bench-${subformat}.vmdk`);
	if (existsSync(out + '.done')) return out;
	console.log(`bench: converting to ${subformat}…`);
	execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'vmdk', '-o', `subformat=${subformat}`, raw, out]);
	writeFileSync(out + '.done', '');
	return out;
}

/**
 * Wall time and CPU time (user + system, all threads) of a command in ms; throws if it fails.
 * CPU time is printed too because wall time on a shared 2-core machine is noisy.
 */
function timeCommand(cmd, args) {
	// Start every run with no dirty pages left by the previous one: otherwise each tool pays
	// for the other's writeback and the ratio swings between 0.5 and 1.1.
	spawnSync('sync');
	const started = process.hrtime.bigint();
	const r = spawnSync('/usr/bin/time', ['-f', '%U %S', cmd, ...args], {
		stdio: ['ignore', 'ignore', 'pipe'],
		encoding: 'utf8',
	});
	const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
	if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
	const [user, sys] = r.stderr.trim().split('\n').at(-1).split(' ').map(Number);
	return { wallMs, cpuMs: (user + sys) * 1000 };
}

const results = [];
let failed = false;

const sourceRaw = join(CACHE, 'bench-source.raw');
makeSourceRaw(sourceRaw);
const outDir = join(CACHE, 'out');
mkdirSync(outDir, { recursive: true });

for (const subformat of SUBFORMATS) {
	if (only !== undefined && only !== subformat) continue;
	const image = makeImage(sourceRaw, subformat);
	const qemuOut = join(outDir, 'qemu.raw');
	const oursOut = join(outDir, 'ours.raw');
	const best = { qemu: { wallMs: Infinity, cpuMs: Infinity }, ours: { wallMs: Infinity, cpuMs: Infinity } };
	const keep = (who, t) => {
		best[who].wallMs = Math.min(best[who].wallMs, t.wallMs);
		best[who].cpuMs = Math.min(best[who].cpuMs, t.cpuMs);
	};
	for (let i = 0; i < runs; i++) {
		rmSync(qemuOut, { force: true });
		// Alternate who goes first, so neither always runs on the colder cache.
		const pair = [
			() =>
				keep(
					'qemu',
					timeCommand('qemu-img', ['convert', '-t', 'unsafe', '-f', 'vmdk', '-O', 'raw', image, qemuOut]),
				),
			() => keep('ours', timeCommand('node', [CLI, 'export', image, oursOut])),
		];
		for (const run of i % 2 === 0 ? pair : pair.reverse()) run();
		rmSync(qemuOut, { force: true });
		rmSync(oursOut, { force: true });
	}
	const ratio = best.ours.wallMs / best.qemu.wallMs;
	const maxRatio = MAX_RATIOS[subformat];
	if (ratio > maxRatio) failed = true;
	const ms = (x) => `${Math.round(x)} ms`;
	const perGib = (cpuMs) => (cpuMs / 1000 / 2).toFixed(2); // the disk is 2 GiB
	results.push({
		subformat,
		qemu: { wallMs: Math.round(best.qemu.wallMs), cpuMs: Math.round(best.qemu.cpuMs) },
		ours: { wallMs: Math.round(best.ours.wallMs), cpuMs: Math.round(best.ours.cpuMs) },
		ratio: +ratio.toFixed(3),
	});
	console.log(
		`export ${subformat.padEnd(22)} qemu ${ms(best.qemu.wallMs)} (cpu ${perGib(best.qemu.cpuMs)} s/GiB)  ours ${ms(best.ours.wallMs)} (cpu ${perGib(best.ours.cpuMs)} s/GiB)  ratio ${ratio.toFixed(3)} (≤ ${maxRatio}) ${ratio <= maxRatio ? 'ok' : 'TOO SLOW'}`,
	);
}

// info on an empty 2 TiB monolithicSparse disk: wall time and peak RSS of the whole process.
const bigDisk = join(CACHE, 'empty-2TiB.vmdk');
if (!existsSync(bigDisk)) {
	execFileSync('qemu-img', ['create', '-q', '-f', 'vmdk', '-o', 'subformat=monolithicSparse', bigDisk, '2T']);
}
let bestInfoMs = Infinity;
let peakRssKb = 0;
for (let i = 0; i < 5; i++) {
	const started = process.hrtime.bigint();
	const r = spawnSync('/usr/bin/time', ['-f', '%M', 'node', CLI, 'info', '--json', bigDisk], {
		encoding: 'utf8',
	});
	const ms = Number(process.hrtime.bigint() - started) / 1e6;
	if (r.status !== 0) throw new Error(`info failed: ${r.stderr}`);
	bestInfoMs = Math.min(bestInfoMs, ms);
	peakRssKb = Math.max(peakRssKb, Number(r.stderr.trim().split('\n').at(-1)));
}
const rssMb = peakRssKb / 1024;
const infoOk = bestInfoMs < INFO_MAX_MS && rssMb < INFO_MAX_RSS_MB;
if (!infoOk) failed = true;
console.log(
	`info   empty 2 TiB monolithicSparse  wall ${Math.round(bestInfoMs)} ms (< ${INFO_MAX_MS})  peak RSS ${rssMb.toFixed(1)} MB (< ${INFO_MAX_RSS_MB})  ${infoOk ? 'ok' : 'FAIL'}`,
);
results.push({ info: { wallMs: Math.round(bestInfoMs), peakRssMb: +rssMb.toFixed(1) } });

rmSync(outDir, { recursive: true, force: true });
if (argv.includes('--json')) console.log(JSON.stringify(results));
process.exitCode = failed ? 1 : 0;
