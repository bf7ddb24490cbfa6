#!/usr/bin/env node
// SPDX-License-Identifier: MIT
/**
 * OVA appliances, read in place, against what a user does without us: extract the disk with
 * `tar -xf` and convert it with `qemu-img convert -O raw`. A 1 GiB disk (1 in 8 MiB a hole, 1 in
 * 8 random, the rest text), stream-optimized by qemu-img, packed with its OVF and SHA-256
 * manifest by GNU tar. Best of N (default 5) interleaved runs, `sync` before each.
 *
 * - export: `vmdk-mounter export app.ova` vs `tar -xf` + `qemu-img convert` (requirement ≤ 1.0),
 *   and vs `qemu-img convert` on the already extracted disk (printed: the cost of reading in place).
 * - verify: `vmdk-mounter info --verify` (hashes every manifest entry in place, then inspects)
 *   vs `sha256sum` on the extracted files (requirement ≤ 1.5), and its peak RSS (< 150 MB).
 *
 * Cached in $VMDK_BENCH_CACHE (default /tmp/vmdk-mounter-bench-cache). Needs `npm run build`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
	closeSync,
	existsSync,
	ftruncateSync,
	mkdirSync,
	openSync,
	rmSync,
	writeFileSync,
	writeSync,
} from 'node:fs';
import { join, resolve } from 'node:path';

const REPO = resolve(import.meta.dirname, '..');
const CLI = join(REPO, 'bin', 'vmdk-mounter.js');
const CACHE = join(process.env.VMDK_BENCH_CACHE ?? '/tmp/vmdk-mounter-bench-cache', 'ova');
const MiB = 1024 * 1024;
const DISK_BYTES = 1024 * MiB;
const EXPORT_MAX_RATIO = 1.0;
const VERIFY_MAX_RATIO = 1.5;
const VERIFY_MAX_RSS_MB = 150;
const argv = process.argv.slice(2);
const runs = Number(argv[argv.indexOf('--runs') + 1] ?? 5) || 5;

if (!existsSync(join(REPO, 'dist', 'cli', 'main.js'))) {
	console.error('bench: dist/cli/main.js is missing; run `npm run build` first');
	process.exit(2);
}
mkdirSync(CACHE, { recursive: true });

/** The appliance, built once: app.ova, plus its members extracted next to it for the peers. */
function makeAppliance() {
	const ova = join(CACHE, 'app.ova');
	if (existsSync(`${ova}.done`)) return ova;
	console.log('bench: building a 1 GiB appliance…');
	const raw = join(CACHE, 'source.raw');
	const fd = openSync(raw, 'w');
	for (let chunk = 0; chunk < DISK_BYTES / MiB; chunk++) {
		const kind = chunk % 8;
		if (kind === 7) continue;
		let buf;
		if (kind === 3) buf = randomBytes(MiB);
		else {
			buf = Buffer.alloc(MiB);
			let at = 0;
			let n = chunk * 7919;
			while (at < MiB) {
				n = (n * 1103515245 + 12345) % 2147483648;
				at += buf.write(`${chunk}:${at} event=${n % 977} value=${n % 100000} status=ok\n`, at, 'latin1');
			}
		}
		writeSync(fd, buf, 0, MiB, chunk * MiB);
	}
	ftruncateSync(fd, DISK_BYTES);
	closeSync(fd);
	execFileSync('qemu-img', [
		'convert',
		'-f',
		'raw',
		'-O',
		'vmdk',
		'-o',
		'subformat=streamOptimized',
		raw,
		join(CACHE, 'app-disk1.vmdk'),
	]);
	rmSync(raw);
	writeFileSync(
		join(CACHE, 'app.ovf'),
		`<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData">
  <References><File ovf:href="app-disk1.vmdk" ovf:id="file1"/></References>
  <DiskSection><Info>disks</Info><Disk ovf:capacity="1" ovf:capacityAllocationUnits="byte * 2^30" ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/></DiskSection>
  <VirtualSystem ovf:id="bench"><Info>vm</Info><Name>bench</Name></VirtualSystem>
</Envelope>
`,
	);
	const sums = execFileSync('sha256sum', ['app.ovf', 'app-disk1.vmdk'], { cwd: CACHE, encoding: 'utf8' });
	writeFileSync(
		join(CACHE, 'app.mf'),
		sums
			.trim()
			.split('\n')
			.map((l) => {
				const [digest, name] = l.split(/\s+\*?/);
				return `SHA256(${name})= ${digest}\n`;
			})
			.join(''),
	);
	execFileSync('tar', ['--format=ustar', '-cf', 'app.ova', 'app.ovf', 'app.mf', 'app-disk1.vmdk'], {
		cwd: CACHE,
	});
	writeFileSync(`${ova}.done`, '');
	return ova;
}

/** Wall and CPU time of a shell pipeline, in ms. */
function time(script) {
	spawnSync('sync');
	const started = process.hrtime.bigint();
	const r = spawnSync('/usr/bin/time', ['-f', '%U %S %M', 'sh', '-c', script], {
		encoding: 'utf8',
		cwd: CACHE,
	});
	const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
	if (r.status !== 0) throw new Error(`${script} failed: ${r.stderr}`);
	const [user, sys, rssKb] = r.stderr.trim().split('\n').at(-1).split(' ').map(Number);
	return { wallMs, cpuMs: (user + sys) * 1000, rssMb: rssKb / 1024 };
}

/** Best wall/CPU time (and peak RSS) of each named command over `runs` interleaved rounds. */
function race(commands) {
	const best = Object.fromEntries(
		Object.keys(commands).map((k) => [k, { wallMs: Infinity, cpuMs: Infinity, rssMb: 0 }]),
	);
	const names = Object.keys(commands);
	mkdirSync(join(CACHE, 'out'), { recursive: true });
	for (let i = 0; i < runs; i++) {
		for (const name of i % 2 === 0 ? names : [...names].reverse()) {
			const t = time(commands[name]);
			best[name].wallMs = Math.min(best[name].wallMs, t.wallMs);
			best[name].cpuMs = Math.min(best[name].cpuMs, t.cpuMs);
			best[name].rssMb = Math.max(best[name].rssMb, t.rssMb);
			rmSync(join(CACHE, 'out'), { recursive: true, force: true });
			mkdirSync(join(CACHE, 'out'));
		}
	}
	return best;
}

const ova = makeAppliance();
const ms = (x) => `${Math.round(x)} ms`;
let failed = false;
const results = {};

const exp = race({
	ours: `node ${CLI} export app.ova out/ours.raw`,
	extractAndConvert:
		'tar -xf app.ova -C out app-disk1.vmdk && qemu-img convert -t unsafe -O raw out/app-disk1.vmdk out/qemu.raw',
	convertExtracted: 'qemu-img convert -t unsafe -O raw app-disk1.vmdk out/qemu.raw',
	oursExtracted: `node ${CLI} export app-disk1.vmdk out/ours.raw`,
});
const exportRatio = exp.ours.wallMs / exp.extractAndConvert.wallMs;
if (exportRatio > EXPORT_MAX_RATIO) failed = true;
console.log(
	`export app.ova (1 GiB)   ours ${ms(exp.ours.wallMs)} (cpu ${ms(exp.ours.cpuMs)})  tar -x + qemu-img ${ms(exp.extractAndConvert.wallMs)} (cpu ${ms(exp.extractAndConvert.cpuMs)})  ratio ${exportRatio.toFixed(3)} ${exportRatio <= EXPORT_MAX_RATIO ? 'ok' : 'TOO SLOW'}\n` +
		`  for reference: qemu-img on the extracted disk ${ms(exp.convertExtracted.wallMs)} (cpu ${ms(exp.convertExtracted.cpuMs)}), ours on the extracted disk ${ms(exp.oursExtracted.wallMs)} (cpu ${ms(exp.oursExtracted.cpuMs)}): reading in place costs ${(exp.ours.wallMs / exp.oursExtracted.wallMs).toFixed(3)}×`,
);
results.export = { ...exp, ratio: +exportRatio.toFixed(3) };

const ver = race({
	ours: `node ${CLI} info --verify --json ${ova} > /dev/null`,
	sha256sum: 'sha256sum app.ovf app-disk1.vmdk > /dev/null',
});
const verifyRatio = ver.ours.wallMs / ver.sha256sum.wallMs;
const verifyOk = verifyRatio <= VERIFY_MAX_RATIO && ver.ours.rssMb < VERIFY_MAX_RSS_MB;
if (!verifyOk) failed = true;
console.log(
	`verify app.ova           ours ${ms(ver.ours.wallMs)} (cpu ${ms(ver.ours.cpuMs)}, peak RSS ${ver.ours.rssMb.toFixed(1)} MB)  sha256sum ${ms(ver.sha256sum.wallMs)} (cpu ${ms(ver.sha256sum.cpuMs)})  ratio ${verifyRatio.toFixed(3)} ${verifyOk ? 'ok' : 'FAIL'}`,
);
results.verify = { ...ver, ratio: +verifyRatio.toFixed(3) };

rmSync(join(CACHE, 'out'), { recursive: true, force: true });
if (argv.includes('--json')) console.log(JSON.stringify(results));
process.exitCode = failed ? 1 : 0;
