#!/usr/bin/env node
// SPDX-License-Identifier: MIT
/**
 * FUSE read benchmark (issue 4). Needs root, /dev/fuse, `vmdkmount` (libvmdk-utils) and a
 * build (`npm run build`).
 *
 * 1. Sequential read of the whole-disk FUSE file with `dd bs=1M`, ours (the daemon's
 *    DiskExport over the engine, in this process) against libvmdk's `vmdkmount` on the same
 *    2 GiB monolithicSparse and streamOptimized images. Page caches are dropped before each
 *    run and the VMDK is then read once, so the source file is warm and the FUSE side cold.
 *    Prints ours/theirs throughput (target ≥ 1.2).
 * 2. Mount time of a 3-volume disk through a running daemon, split into "before helpers"
 *    (open, probe, FUSE export: the daemon log's `exported` line) and the total (target for
 *    the part that excludes helper start-up: < 1 s).
 * 3. Daemon RSS with 5 disks mounted (target < 200 MB).
 *
 * Images are shared with `bench/run.js` in $VMDK_BENCH_CACHE (default
 * /tmp/vmdk-mounter-bench-cache), made here if missing. Options: --runs N (default 2),
 * --read-only (skip the daemon part), --only monolithicSparse|streamOptimized, --size-mib N (default 2048; only when the images are made here). Exits 1 on a missed target.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { makeThreeVolumeRaw } from './source-image.js';

const REPO = resolve(import.meta.dirname, '..');
const CLI = join(REPO, 'bin', 'vmdk-mounter.js');
const CACHE = process.env.VMDK_BENCH_CACHE ?? '/tmp/vmdk-mounter-bench-cache';
const MiB = 1024 * 1024;
/** Throughput ours / vmdkmount: 1.2 (issue 4); streamOptimized 2.0 (issue 12, compressed grains). */
const TARGET_RATIOS = { monolithicSparse: 1.2, streamOptimized: 2.0 };
const TARGET_MOUNT_MS = 1000;
const TARGET_RSS_MB = 200;

const argv = process.argv.slice(2);
const opt = (name, dflt) => (argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : dflt);
const runs = opt('--runs', 2);
const sizeMib = opt('--size-mib', 2048);
/** `--read-only`: only the sequential-read comparison (skips the daemon mount/RSS part). */
const readOnly = argv.includes('--read-only');
/** `--only NAME`: only that image (monolithicSparse or streamOptimized). */
const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : undefined;

if (!existsSync(join(REPO, 'dist', 'daemon', 'main.js'))) {
	console.error('bench: dist/daemon/main.js is missing; run `npm run build` first');
	process.exit(2);
}
if (process.getuid?.() !== 0 || !existsSync('/dev/fuse') || !existsSync('/usr/bin/vmdkmount')) {
	console.error('bench: needs root, /dev/fuse and vmdkmount (apt-get install libvmdk-utils)');
	process.exit(2);
}
mkdirSync(CACHE, { recursive: true });

const { DiskExport, chooseFuseBackend } = await import(
	join(REPO, 'dist', 'daemon', 'fuse', 'disk-export.js')
);
const { openDiskForExport } = await import(join(REPO, 'dist', 'daemon', 'disk-opener.js'));
const { createHost } = await import(join(REPO, 'dist', 'host', 'index.js'));
const host = await createHost();

function median(values) {
	const sorted = [...values].sort((a, b) => a - b);
	const mid = Math.floor(sorted.length / 2);
	return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function run(tool, args, options = {}) {
	return execFileSync(tool, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options });
}

/** A source raw disk: 1 MiB chunks of text (compressible), random bytes, and holes. */
function ensureImages() {
	const images = {};
	for (const sub of ['monolithicSparse', 'streamOptimized']) {
		const path = join(CACHE, `bench-${sub}.vmdk`);
		if (!existsSync(`${path}.done`)) {
			const raw = join(CACHE, 'fuse-bench-source.raw');
			if (!existsSync(raw) || statSync(raw).size !== sizeMib * MiB) {
				console.log(`bench: writing ${raw} (${sizeMib} MiB)…`);
				run('/usr/bin/python3', [
					'-c',
					`import os,random
r=random.Random(1)
with open(${JSON.stringify(raw)},'wb') as f:
  for i in range(${sizeMib}):
    k=i%8
    if k==0: f.seek(1<<20,1)
    elif k==1: f.write(os.urandom(1<<20))
    else: f.write((' '.join(r.choice(['alpha','bravo','charlie','delta','echo'])+str(i) for _ in range(100000))).encode()[:1<<20])
  f.truncate()`,
				]);
			}
			console.log(`bench: converting to ${sub}…`);
			run('/usr/bin/qemu-img', ['convert', '-f', 'raw', '-O', 'vmdk', '-o', `subformat=${sub}`, raw, path]);
			writeFileSync(`${path}.done`, '');
		}
		images[sub] = path;
	}
	return images;
}

function dropCachesAndWarm(vmdk) {
	spawnSync('/usr/bin/sync');
	writeFileSync('/proc/sys/vm/drop_caches', '3');
	run('/usr/bin/cat', [vmdk], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Reads `file` with dd bs=1M in a child (our FUSE server lives in this process: never block it). */
function ddThroughput(file) {
	return new Promise((resolvePromise, reject) => {
		const started = process.hrtime.bigint();
		const child = spawn('/usr/bin/dd', [`if=${file}`, 'of=/dev/null', 'bs=1M'], {
			stdio: ['ignore', 'ignore', 'pipe'],
		});
		let err = '';
		child.stderr.on('data', (d) => (err += d));
		// `close`, not `exit`: stderr (dd's byte count) is complete only then.
		child.on('close', (code) => {
			const seconds = Number(process.hrtime.bigint() - started) / 1e9;
			if (code !== 0) return reject(new Error(`dd failed: ${err}`));
			// Bytes from dd's own report: a stat here would be a synchronous call into our FUSE mount.
			const bytes = Number(/^(\d+) bytes/m.exec(err)?.[1] ?? NaN);
			resolvePromise(bytes / MiB / seconds);
		});
	});
}

async function ours(vmdk, tmp) {
	// Before mounting: `sync` would otherwise reach our own FUSE mount while this process is
	// blocked in a synchronous call (a deadlock).
	dropCachesAndWarm(vmdk);
	const disk = await openDiskForExport(vmdk, { ignoreCid: false });
	const mnt = join(tmp, 'ours');
	const exp = await DiskExport.mount(
		mnt,
		[{ name: 'disk', target: disk.target }],
		{ readWrite: false },
		host,
	);
	try {
		const before = process.cpuUsage();
		const mibPerS = await ddThroughput(join(mnt, 'disk'));
		const used = process.cpuUsage(before);
		return { mibPerS, cpuS: (used.user + used.system) / 1e6 };
	} finally {
		await exp.close();
		await disk.close();
	}
}

/** User + system CPU seconds of a process (all its threads), from /proc. */
function cpuSecondsOf(pid) {
	const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
	// utime and stime are fields 14 and 15 of stat(5), in clock ticks (100 per second on Linux).
	return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function theirs(vmdk, tmp) {
	const mnt = join(tmp, 'theirs');
	mkdirSync(mnt, { recursive: true });
	run('/usr/bin/vmdkmount', [vmdk, mnt]);
	try {
		dropCachesAndWarm(vmdk);
		// vmdkmount went to the background: find it to read its CPU time.
		const pid = run('/usr/bin/pgrep', ['-n', '-x', 'vmdkmount']).trim();
		const before = cpuSecondsOf(pid);
		const mibPerS = await ddThroughput(join(mnt, 'vmdk1'));
		return { mibPerS, cpuS: cpuSecondsOf(pid) - before };
	} finally {
		spawnSync('/usr/bin/fusermount', ['-u', mnt]);
		spawnSync('/usr/bin/umount', ['-l', mnt]);
	}
}

let failed = false;
const tmp = mkdtempSync(join(process.env.VMDK_TEST_TMP ?? tmpdir(), 'vmdk-fuse-bench-'));
try {
	const images = ensureImages();
	console.log(
		'\nSequential read of the whole-disk FUSE file (dd bs=1M),',
		runs,
		`interleaved runs; our FUSE binding: ${chooseFuseBackend(host).name}`,
	);
	for (const [sub, vmdk] of Object.entries(images)) {
		if (only !== undefined && only !== sub) continue;
		// Interleaved pairs (theirs, ours): each pair's ratio sees the same machine state.
		const ratios = [];
		const oursAll = [];
		const theirsAll = [];
		const cpuRatios = [];
		const cpuOurs = [];
		const cpuTheirs = [];
		for (let i = 0; i < runs; i++) {
			const t = await theirs(vmdk, tmp);
			const o = await ours(vmdk, tmp);
			theirsAll.push(t.mibPerS);
			oursAll.push(o.mibPerS);
			ratios.push(o.mibPerS / t.mibPerS);
			cpuRatios.push(o.cpuS / t.cpuS);
			cpuOurs.push(o.cpuS);
			cpuTheirs.push(t.cpuS);
			console.log(
				`    run ${i + 1}: ours ${o.mibPerS.toFixed(0)} MiB/s ${o.cpuS.toFixed(2)} CPU s  vmdkmount ${t.mibPerS.toFixed(0)} MiB/s ${t.cpuS.toFixed(2)} CPU s  ratio ${(o.mibPerS / t.mibPerS).toFixed(2)}`,
			);
		}
		const ratio = median(ratios);
		const target = TARGET_RATIOS[sub] ?? 1.2;
		const ok = ratio >= target;
		failed ||= !ok;
		console.log(
			`  ${sub.padEnd(17)} ours median ${median(oursAll).toFixed(0).padStart(5)} MiB/s  vmdkmount median ${median(theirsAll).toFixed(0).padStart(5)} MiB/s  ratio min ${Math.min(...ratios).toFixed(2)} median ${ratio.toFixed(2)} (target ≥ ${target}) ${ok ? 'ok' : 'MISSED'}`,
		);
		// CPU time is far less sensitive to other load on the machine than throughput.
		const perGib = (cpu) => (cpu / (sizeMib / 1024)).toFixed(2);
		console.log(
			`  ${''.padEnd(17)} CPU time ours/vmdkmount median ${median(cpuRatios).toFixed(2)}; CPU s/GiB ours ${perGib(median(cpuOurs))} vmdkmount ${perGib(median(cpuTheirs))}`,
		);
	}
	if (!readOnly) failed = (await daemonBench(tmp)) || failed;
} finally {
	rmSync(tmp, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);

/** The daemon's pid: the first line of the state folder's `daemon.lock`. */
function daemonPid(dir) {
	return Number(readFileSync(join(dir, 'state', 'daemon.lock'), 'utf8').split('\n')[0]);
}

/** Mount time of a 3-volume disk and RSS with 5 disks, through a real daemon. */
async function daemonBench(dir) {
	const env = {
		...process.env,
		VMDK_MOUNTER_RUNTIME_DIR: join(dir, 'run'),
		VMDK_MOUNTER_STATE_DIR: join(dir, 'state'),
		VMDK_MOUNTER_CONFIG_DIR: join(dir, 'config'),
		VMDK_MOUNTER_MOUNT_ROOT: join(dir, 'mnt'),
		VMDK_MOUNTER_IDLE_EXIT_MS: '30000',
		DEBUG: '',
	};
	const cli = (...args) => run(process.execPath, [CLI, ...args], { env });
	// A 3-volume disk: ext4, FAT32, ext4.
	const raw = makeThreeVolumeRaw(dir);
	const disks = [];
	for (let i = 0; i < 5; i++) {
		const p = join(dir, `disk${i}.vmdk`);
		run('/usr/bin/qemu-img', [
			'convert',
			'-f',
			'raw',
			'-O',
			'vmdk',
			'-o',
			'subformat=monolithicSparse',
			raw,
			p,
		]);
		disks.push(p);
	}
	let failedHere = false;
	try {
		cli('list'); // no daemon yet: nothing
		cli('doctor');
		// Start the daemon with a first mount, then time the next ones with it warm.
		const startLog = () => readFileSync(join(dir, 'state', 'daemon.log'), 'utf8');
		const before = [];
		const totals = [];
		for (const p of disks) {
			const logBefore = existsSync(join(dir, 'state', 'daemon.log')) ? startLog().length : 0;
			const t0 = Date.now();
			const out = JSON.parse(cli('mount', '--json', p));
			const total = Date.now() - t0;
			const mounted = out.disks[0].volumes.filter((v) => v.mountpoint !== null).length;
			if (mounted !== 3) throw new Error(`expected 3 volumes mounted, got ${mounted}`);
			const lines = startLog().slice(logBefore).split('\n');
			const stamp = (re) => Date.parse(lines.find((l) => re.test(l))?.slice(0, 24) ?? '');
			// The daemon logs `mounting`, then `exported` (open, probe, FUSE export), then each helper.
			before.push(stamp(/ exported /) - stamp(/ mounting /));
			totals.push(total);
		}
		// The first mount includes starting the daemon; report the warm ones.
		const warmBefore = Math.min(...before.slice(1));
		const warmTotal = Math.min(...totals.slice(1));
		const pid = daemonPid(dir);
		const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
		const rssMb = rssKb / 1024;
		console.log('\nDaemon');
		console.log(`  mount of a 3-volume disk: ${warmTotal} ms in all (CLI start, 3 helper runs included)`);
		console.log(
			`  open + probe + FUSE export before the helpers: ~${Math.max(0, warmBefore)} ms (target < ${TARGET_MOUNT_MS} ms) ${warmBefore < TARGET_MOUNT_MS ? 'ok' : 'MISSED'}`,
		);
		console.log(
			`  RSS with 5 disks (15 volumes) mounted: ${rssMb.toFixed(0)} MB (target < ${TARGET_RSS_MB} MB) ${rssMb < TARGET_RSS_MB ? 'ok' : 'MISSED'}`,
		);
		failedHere = warmBefore >= TARGET_MOUNT_MS || rssMb >= TARGET_RSS_MB;
	} finally {
		try {
			cli('unmount', '--all', '--force');
			const pid = daemonPid(dir);
			process.kill(pid, 'SIGTERM');
		} catch {
			// Already gone.
		}
	}
	return failedHere;
}
