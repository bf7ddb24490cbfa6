#!/usr/bin/env node
// SPDX-License-Identifier: MIT
/**
 * `node bench/info.js` (standalone; needs `npm run build` first): how fast `vmdk-mounter info`
 * sees inside a disk, and how little of it it reads. Printed, not asserted.
 *
 * 1. A 2 TiB monolithicSparse VMDK with a GPT and four filesystems spread across it (ext4 at
 *    1 GiB, FAT32 at 500 GiB, NTFS at 1 TiB, XFS at 1.9 TiB). Target: < 300 ms.
 * 2. A `.vmwarevm` bundle with two disks, one a 3-image snapshot chain. Target: < 500 ms.
 *
 * For each: wall time of the real CLI as a child process (`info --json`, best of N), and the
 * bytes the engine reads, counted in-process by running `inspect` over a DiskPlatform that wraps
 * the Node one. Images are built with truncate/sgdisk/mkfs/dd/qemu-img and cached in
 * $VMDK_BENCH_CACHE (default /tmp/vmdk-mounter-bench-cache). Options: --runs N (default 5).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';

const REPO = resolve(import.meta.dirname, '..');
const CLI = join(REPO, 'bin', 'vmdk-mounter.js');
const CACHE = process.env.VMDK_BENCH_CACHE ?? '/tmp/vmdk-mounter-bench-cache';
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const TiB = 1024 * GiB;
const SECTOR_BYTES = 512;
const BIG_TARGET_MS = 300;
const BUNDLE_TARGET_MS = 500;

const argv = process.argv.slice(2);
const runs = argv.includes('--runs') ? Number(argv[argv.indexOf('--runs') + 1]) || 5 : 5;

if (!existsSync(join(REPO, 'dist', 'cli', 'main.js'))) {
	console.error('bench/info: dist/cli/main.js is missing; run `npm run build` first');
	process.exit(2);
}
const { inspect, closeInspection } = await import('../dist/core/index.js');
const { nodePlatform } = await import('../dist/host/node/node-platform.js');

mkdirSync(CACHE, { recursive: true });

function sh(tool, args, input) {
	return execFileSync(tool, args, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Makes a filesystem on a temp file of `sizeBytes` and copies it into `raw` at `offsetBytes`. */
function writeFilesystemAt(raw, offsetBytes, sizeBytes, mkfs) {
	const tmp = `${raw}.fs.tmp`;
	try {
		sh('truncate', ['-s', String(sizeBytes), tmp]);
		sh(mkfs[0], [...mkfs.slice(1), tmp]);
		sh('dd', [
			`if=${tmp}`,
			`of=${raw}`,
			`bs=${MiB}`,
			`seek=${offsetBytes / MiB}`,
			'conv=notrunc,sparse',
			'status=none',
		]);
	} finally {
		rmSync(tmp, { force: true });
	}
}

/** The 2 TiB GPT disk with four filesystems, as a monolithicSparse VMDK (built once, cached). */
function bigDisk() {
	const vmdk = join(CACHE, 'info-2tib-gpt4.vmdk');
	if (existsSync(vmdk)) return vmdk;
	console.log(`bench/info: building ${vmdk} (2 TiB sparse, four filesystems)…`);
	const raw = join(CACHE, 'info-2tib-gpt4.img');
	rmSync(raw, { force: true });
	sh('truncate', ['-s', String(2 * TiB), raw]);
	const parts = [
		{
			at: 1 * GiB,
			size: 64 * MiB,
			type: '8300',
			name: 'root',
			mkfs: ['mkfs.ext4', '-q', '-F', '-L', 'root'],
		},
		{
			at: 500 * GiB,
			size: 64 * MiB,
			type: '0700',
			name: 'fat',
			mkfs: ['mkfs.vfat', '-F', '32', '-n', 'FAT500G'],
		},
		{
			at: 1 * TiB,
			size: 64 * MiB,
			type: '0700',
			name: 'win',
			mkfs: ['mkntfs', '-Q', '-F', '-q', '-L', 'win1t'],
		},
		{ at: 1945 * GiB, size: 320 * MiB, type: '8300', name: 'xfs', mkfs: ['mkfs.xfs', '-q', '-L', 'xfs19t'] },
	];
	sh('sgdisk', [
		...parts.flatMap((p, i) => [
			`-n${i + 1}:${p.at / SECTOR_BYTES}:+${p.size / MiB}M`,
			`-t${i + 1}:${p.type}`,
			`-c${i + 1}:${p.name}`,
		]),
		raw,
	]);
	for (const p of parts) writeFilesystemAt(raw, p.at, p.size, p.mkfs);
	sh('qemu-img', [
		'convert',
		'-f',
		'raw',
		'-O',
		'vmdk',
		'-o',
		'subformat=monolithicSparse',
		raw,
		vmdk + '.tmp',
	]);
	renameSync(vmdk + '.tmp', vmdk);
	rmSync(raw, { force: true });
	return vmdk;
}

/** A .vmwarevm bundle: scsi0:0 a 3-image chain over an MBR ext4+FAT disk, sata0:1 a GPT ext4. */
function bundle() {
	const dir = join(CACHE, 'info-bundle.vmwarevm');
	const vmx = join(dir, 'bench.vmx');
	if (existsSync(vmx)) return dir;
	console.log(`bench/info: building ${dir}…`);
	rmSync(dir, { recursive: true, force: true });
	mkdirSync(dir, { recursive: true });
	const sysRaw = join(CACHE, 'info-bundle-system.img');
	sh('truncate', ['-s', String(256 * MiB), sysRaw]);
	sh(
		'sfdisk',
		['--no-reread', '--no-tell-kernel', '-q', sysRaw],
		'label: dos\nstart=2048, size=131072, type=83\nstart=133120, size=262144, type=c\n',
	);
	writeFilesystemAt(sysRaw, 1 * MiB, 64 * MiB, ['mkfs.ext4', '-q', '-F', '-L', 'system']);
	writeFilesystemAt(sysRaw, 65 * MiB, 128 * MiB, ['mkfs.vfat', '-F', '32', '-n', 'ESP']);
	sh('qemu-img', ['convert', '-f', 'raw', '-O', 'vmdk', sysRaw, join(dir, 'system.vmdk')]);
	rmSync(sysRaw, { force: true });
	let parent = 'system.vmdk';
	for (const n of [1, 2]) {
		const child = `system-00000${n}.vmdk`;
		sh('qemu-img', ['create', '-q', '-f', 'vmdk', '-b', parent, '-F', 'vmdk', join(dir, child)]);
		sh('qemu-io', ['-f', 'vmdk', '-c', `write -P 0x${n}${n} ${(8 + n) * MiB} 1M`, join(dir, child)]);
		parent = child;
	}
	const dataRaw = join(CACHE, 'info-bundle-data.img');
	sh('truncate', ['-s', String(1 * GiB), dataRaw]);
	sh('sgdisk', ['-n1:2048:+512M', '-t1:8300', '-c1:data', dataRaw]);
	writeFilesystemAt(dataRaw, 1 * MiB, 512 * MiB, ['mkfs.ext4', '-q', '-F', '-L', 'data']);
	sh('qemu-img', [
		'convert',
		'-f',
		'raw',
		'-O',
		'vmdk',
		'-o',
		'subformat=streamOptimized',
		dataRaw,
		join(dir, 'data.vmdk'),
	]);
	rmSync(dataRaw, { force: true });
	writeFileSync(
		vmx,
		[
			'.encoding = "UTF-8"',
			'displayName = "Bench VM"',
			'guestOS = "ubuntu-64"',
			'scsi0.present = "TRUE"',
			'scsi0:0.present = "TRUE"',
			'scsi0:0.fileName = "system-000002.vmdk"',
			'sata0.present = "TRUE"',
			'sata0:1.present = "TRUE"',
			'sata0:1.fileName = "data.vmdk"',
			'',
		].join('\n'),
	);
	return dir;
}

/** A DiskPlatform over the Node one that counts what the engine reads. */
function countingPlatform(inner) {
	const counts = { readIntoCalls: 0, readIntoBytes: 0, smallFileBytes: 0, filesOpened: 0, inflateCalls: 0 };
	const platform = {
		async openFile(path) {
			const file = await inner.openFile(path);
			counts.filesOpened++;
			return {
				path: file.path,
				sizeBytes: file.sizeBytes,
				readInto(positionBytes, dest, destOffset, length) {
					counts.readIntoCalls++;
					counts.readIntoBytes += length;
					return file.readInto(positionBytes, dest, destOffset, length);
				},
				close: () => file.close(),
			};
		},
		fileExists: (path) => inner.fileExists(path),
		listDir: (path) => inner.listDir(path),
		async readSmallFile(path, maxBytes) {
			const bytes = await inner.readSmallFile(path, maxBytes);
			counts.smallFileBytes += bytes.length;
			return bytes;
		},
		inflate(compressed, maxOutBytes) {
			counts.inflateCalls++;
			return inner.inflate(compressed, maxOutBytes);
		},
	};
	return { platform, counts };
}

/** Runs `inspect` in-process over the counting platform; returns the counts and a summary. */
async function countReads(path) {
	const { platform, counts } = countingPlatform(nodePlatform);
	const inspection = await inspect(path, platform, {});
	try {
		const volumes = inspection.disks.flatMap((d) =>
			(d.layout?.volumes ?? []).map((v) => `${v.name}:${v.filesystem?.type ?? '-'}`),
		);
		const errors = inspection.disks.filter((d) => d.error !== undefined).map((d) => d.error.message);
		return { counts, volumes, errors };
	} finally {
		await closeInspection(inspection);
	}
}

/** Best wall time of `vmdk-mounter info --json <path>` as a child process, over `runs` runs. */
function timeCli(path) {
	let best = Infinity;
	for (let i = 0; i < runs; i++) {
		const t0 = performance.now();
		const r = spawnSync(process.execPath, [CLI, 'info', '--json', path], {
			encoding: 'utf8',
			env: { ...process.env, DEBUG: '' },
		});
		const ms = performance.now() - t0;
		if (r.status !== 0) throw new Error(`info ${path} failed (${r.status}): ${r.stderr}`);
		best = Math.min(best, ms);
	}
	return best;
}

/** Wall time of a bare `node -e ''`: the part of the CLI time that is Node starting. */
function nodeStartupMs() {
	let best = Infinity;
	for (let i = 0; i < runs; i++) {
		const t0 = performance.now();
		spawnSync(process.execPath, ['-e', '']);
		best = Math.min(best, performance.now() - t0);
	}
	return best;
}

const fmtBytes = (n) =>
	(n >= MiB ? `${(n / MiB).toFixed(2)} MiB` : `${(n / 1024).toFixed(1)} KiB`) + ` (${n} B)`;

const cases = [
	{
		what: 'info  2 TiB monolithicSparse, GPT + ext4/vfat/ntfs/xfs',
		path: bigDisk(),
		targetMs: BIG_TARGET_MS,
	},
	{ what: 'info  .vmwarevm bundle, 2 disks, 3-image chain', path: bundle(), targetMs: BUNDLE_TARGET_MS },
];
const startup = nodeStartupMs();
console.log(`bench/info: best of ${runs}; bare \`node -e ''\` start-up ${Math.round(startup)} ms`);
const results = [];
for (const c of cases) {
	const { counts, volumes, errors } = await countReads(c.path);
	const wallMs = timeCli(c.path);
	const verdict = wallMs < c.targetMs ? 'ok' : 'OVER TARGET';
	console.log(
		`${c.what}\n  wall ${Math.round(wallMs)} ms (target < ${c.targetMs}) ${verdict}\n` +
			`  read ${fmtBytes(counts.readIntoBytes)} in ${counts.readIntoCalls} reads from ${counts.filesOpened} files` +
			` + ${fmtBytes(counts.smallFileBytes)} of small files; ${counts.inflateCalls} inflates\n` +
			`  volumes: ${volumes.join(' ')}${errors.length > 0 ? `\n  errors: ${errors.join('; ')}` : ''}`,
	);
	results.push({ case: c.what, wallMs: Math.round(wallMs), targetMs: c.targetMs, ...counts, volumes });
}
console.log(JSON.stringify({ infoBench: results }));
