import { open as fsOpen } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { it } from 'vitest';
import { inflate } from 'node:zlib';
import type { DiskPlatform } from '../../../../../src/core/index.js';
const fastPlatform: DiskPlatform = {
	...nodePlatform,
	inflate: (c, max) =>
		new Promise((res, rej) =>
			inflate(c, { maxOutputLength: Math.max(1, max), chunkSize: Math.max(64, max) + 1024 }, (e, r) =>
				e ? rej(e) : res(new Uint8Array(r.buffer, r.byteOffset, r.byteLength)),
			),
		),
};
let plat: DiskPlatform = nodePlatform;
import { openHostedSparseExtent } from '../../../../../src/core/vmdk/hosted-sparse-extent.js';
import { nodePlatform } from '../../../../../src/host/node/node-platform.js';

async function readOnly(src: string): Promise<string> {
	const t0 = performance.now();
	const ext = await openHostedSparseExtent(await nodePlatform.openFile(src), plat);
	const CH = 4 << 20;
	const buf = new Uint8Array(CH);
	let pos = 0;
	let tm = 0,
		tr = 0;
	while (pos < ext.sizeBytes) {
		const a = performance.now();
		const r = await ext.mapRun(pos, CH);
		const b = performance.now();
		tm += b - a;
		if (r.kind === 'data') {
			await ext.readData(pos, buf, 0, r.lengthBytes);
			tr += performance.now() - b;
		}
		pos += r.lengthBytes;
	}
	await ext.close();
	return `total ${(performance.now() - t0).toFixed(0)} map ${tm.toFixed(0)} read ${tr.toFixed(0)}`;
}
async function ours(src: string, out: string): Promise<number> {
	const t0 = performance.now();
	const ext = await openHostedSparseExtent(await nodePlatform.openFile(src), plat);
	const fh = await fsOpen(out, 'w');
	await fh.truncate(ext.sizeBytes);
	const CH = 4 << 20;
	const buf = new Uint8Array(CH);
	let pos = 0;
	while (pos < ext.sizeBytes) {
		const r = await ext.mapRun(pos, CH);
		if (r.kind === 'data') {
			await ext.readData(pos, buf, 0, r.lengthBytes);
			await fh.write(buf, 0, r.lengthBytes, pos);
		}
		pos += r.lengthBytes;
	}
	await fh.close();
	await ext.close();
	return performance.now() - t0;
}
function qemu(src: string, out: string): number {
	const t0 = performance.now();
	execFileSync('qemu-img', ['convert', '-f', 'vmdk', '-O', 'raw', src, out]);
	return performance.now() - t0;
}
it('bench', async () => {
	for (const name of ['big-mono', 'big-stream']) {
		plat = nodePlatform;
		console.log(name, 'readonly', await readOnly(`/tmp/h1b/${name}.vmdk`));
		console.log(name, 'readonly', await readOnly(`/tmp/h1b/${name}.vmdk`));
		plat = fastPlatform;
		console.log(name, 'readonly fast', await readOnly(`/tmp/h1b/${name}.vmdk`));
		console.log(name, 'readonly fast', await readOnly(`/tmp/h1b/${name}.vmdk`));
		for (let i = 0; i < 2; i++) {
			const a = await ours(`/tmp/h1b/${name}.vmdk`, `/tmp/h1b/${name}.ours.raw`);
			const b = qemu(`/tmp/h1b/${name}.vmdk`, `/tmp/h1b/${name}.qemu.raw`);
			console.log(name, 'ours ms', a.toFixed(0), 'qemu ms', b.toFixed(0));
		}
		execFileSync('cmp', [`/tmp/h1b/${name}.ours.raw`, `/tmp/h1b/big.raw`]);
	}
}, 600_000);
