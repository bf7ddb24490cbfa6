#!/usr/bin/env node
// SPDX-License-Identifier: MIT
/**
 * Daemon memory over many mounts: a 3-volume disk (ext4, FAT32, ext4) is mounted, one file of
 * each volume read, and unmounted, N times (default 200) through one client of a real daemon.
 * Prints the daemon's RSS at the start (after one warm-up cycle) and every 25 cycles, and checks
 * the end against the start (target: within 20 MB). Needs root, /dev/fuse and a build.
 * Options: --cycles N.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { makeThreeVolumeRaw } from './source-image.js';

const REPO = resolve(import.meta.dirname, '..');
const TARGET_GROWTH_MB = 20;
const argv = process.argv.slice(2);
const cycles = argv.includes('--cycles') ? Number(argv[argv.indexOf('--cycles') + 1]) : 200;

if (process.getuid?.() !== 0) {
	console.error('bench: daemon memory needs root (loop devices and kernel mounts, like the users it models)');
	process.exit(2);
}
const { DaemonClient } = await import(join(REPO, 'dist', 'daemon', 'client.js'));
const { appPaths } = await import(join(REPO, 'dist', 'host', 'index.js'));

const run = (cmd, args, input) => execFileSync(cmd, args, { input, stdio: ['pipe', 'pipe', 'pipe'] });
const dir = mkdtempSync(join(tmpdir(), 'vmdk-bench-mem-'));
let client;
try {
	const raw = makeThreeVolumeRaw(dir);
	const vmdk = join(dir, 'three.vmdk');
	run('/usr/bin/qemu-img', [
		'convert',
		'-f',
		'raw',
		'-O',
		'vmdk',
		'-o',
		'subformat=monolithicSparse',
		raw,
		vmdk,
	]);
	rmSync(raw);

	const paths = appPaths({
		...process.env,
		VMDK_MOUNTER_RUNTIME_DIR: join(dir, 'run'),
		VMDK_MOUNTER_STATE_DIR: join(dir, 'state'),
		VMDK_MOUNTER_CONFIG_DIR: join(dir, 'config'),
		VMDK_MOUNTER_MOUNT_ROOT: join(dir, 'mnt'),
	});
	client = await DaemonClient.connect({ paths, clientName: 'bench' });
	const pid = (await client.hello()).pid;
	const rssMb = () => {
		const line = readFileSync(`/proc/${pid}/status`, 'utf8')
			.split('\n')
			.find((l) => l.startsWith('VmRSS:'));
		return Number(line?.split(/\s+/)[1] ?? 0) / 1024;
	};
	const cycle = async () => {
		const { disks } = await client.mount({ path: vmdk });
		for (const v of disks[0].volumes) {
			if (v.mountpoint === null) continue;
			// Read something through each volume, so the export serves real traffic.
			for (const name of (await readdir(v.mountpoint)).slice(0, 2)) {
				await readFile(join(v.mountpoint, name)).catch(() => undefined);
			}
		}
		await client.unmount({ target: vmdk });
	};
	await cycle();
	const start = rssMb();
	console.log(`daemon memory over ${cycles} mount/read/unmount cycles of a 3-volume disk (pid ${pid})`);
	console.log(`  start (after one warm-up cycle): ${start.toFixed(1)} MB RSS`);
	const began = Date.now();
	for (let i = 1; i <= cycles; i++) {
		await cycle();
		if (i % 25 === 0 || i === cycles)
			console.log(`  after ${String(i).padStart(3)} cycles: ${rssMb().toFixed(1)} MB RSS`);
	}
	// Let the daemon's own idle work finish before the final reading.
	await new Promise((r) => setTimeout(r, 2000));
	const end = rssMb();
	const growth = end - start;
	const ok = growth <= TARGET_GROWTH_MB;
	console.log(
		`  end: ${end.toFixed(1)} MB RSS, growth ${growth.toFixed(1)} MB (target ≤ ${TARGET_GROWTH_MB} MB) ${ok ? 'ok' : 'MISSED'}; ${((Date.now() - began) / cycles).toFixed(0)} ms per cycle`,
	);
	await client.shutdown().catch(() => undefined);
	process.exitCode = ok ? 0 : 1;
} finally {
	client?.close();
	rmSync(dir, { recursive: true, force: true });
}
