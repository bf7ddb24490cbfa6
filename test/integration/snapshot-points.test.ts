// SPDX-License-Identifier: MIT
// Snapshot points of a real VMware layout (test/helpers/build-snapshot-vm.ts): a .vmx + .vmsd
// with three snapshots in a branch, deltas of each kind (hosted monolithicSparse child made by
// qemu-img/qemu-io, ESX COWD, seSparse), through the real CLI. Each point must read exactly its
// state's bytes (compared with the raw images the states were made from, and with qemu-img
// reading the same delta file), never the live delta after it; broken .vmsd files and missing
// deltas give typed errors naming what is wrong.
import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InfoResult } from '../../src/shared/models.js';
import { hashBundle, makeSnapshotVm, VMSD_TEXT, type SnapshotVm } from '../helpers/build-snapshot-vm.js';
import { CLI_BIN, ensureCliBuilt } from '../fixtures/reference-disk.js';
import { makeTempDir } from '../helpers/temp-dir.js';

let root = '';
let cleanup: () => Promise<void> = async () => {};
let vm: SnapshotVm;
let hashes: Record<string, string>;
const BUNDLE_FILES = [
	'base.vmdk',
	'base-000001.vmdk',
	'base-000002.vmdk',
	'base-000002-delta.vmdk',
	'base-000003.vmdk',
	'base-000003-sesparse.vmdk',
	'data.vmdk',
	'Test VM.vmx',
	'Test VM.vmsd',
];

async function cli(
	...args: string[]
): Promise<{ status: number | undefined; stdout: string; stderr: string }> {
	const r = await execa(process.execPath, [CLI_BIN, ...args], { reject: false, timeout: 120_000 });
	return { status: r.exitCode, stdout: r.stdout, stderr: r.stderr };
}

async function info(...args: string[]): Promise<InfoResult> {
	const r = await cli('info', '--json', ...args);
	expect(r.status, r.stdout + r.stderr).toBe(0);
	return JSON.parse(r.stdout) as InfoResult;
}

async function sameFile(a: string, b: string): Promise<boolean> {
	return (await execa('cmp', ['-s', a, b], { reject: false })).exitCode === 0;
}

/** A copy of the bundle to break, with the .vmsd replaced. */
async function brokenCopy(name: string, vmsd: string, remove: readonly string[] = []): Promise<string> {
	const copy = join(root, name);
	await cp(vm.bundle, copy, { recursive: true });
	await writeFile(join(copy, 'Test VM.vmsd'), vmsd);
	for (const f of remove) await rm(join(copy, f));
	return copy;
}

beforeAll(async () => {
	({ dir: root, cleanup } = await makeTempDir('vmdk-snapshots-'));
	await ensureCliBuilt();
	vm = await makeSnapshotVm(root);
	hashes = await hashBundle(vm.bundle, BUNDLE_FILES);
}, 180_000);

afterAll(async () => {
	await cleanup();
});

describe('snapshot points of a VMware VM', () => {
	it('has four different states, so reading the wrong point cannot pass', async () => {
		for (const [a, b] of [
			['A', 'B'],
			['A', 'C'],
			['B', 'C'],
			['C', 'D'],
		] as const) {
			expect(await sameFile(vm.raw[a], vm.raw[b]), `${a} vs ${b}`).toBe(false);
		}
	});

	it('info shows the tree, each snapshot with its disks, and the current state with its full chain', async () => {
		const result = await info(vm.bundle);
		expect(result.vm?.snapshots?.map((s) => [s.uid, s.parentUid, s.displayName, s.current, s.disks])).toEqual(
			[
				['1', null, 'Installed', false, [{ node: 'scsi0:0', fileName: 'base.vmdk' }]],
				['2', '1', 'Updated', false, [{ node: 'scsi0:0', fileName: 'base-000001.vmdk' }]],
				['3', '1', 'Experiment', true, [{ node: 'scsi0:0', fileName: 'base-000002.vmdk' }]],
			],
		);
		const current = result.disks[0]!;
		expect(current.chain.map((l) => [l.path, l.createType])).toEqual([
			[join(vm.bundle, 'base-000003.vmdk'), 'seSparse'],
			[join(vm.bundle, 'base-000002.vmdk'), 'vmfsSparse'],
			[join(vm.bundle, 'base.vmdk'), 'monolithicSparse'],
		]);
		expect(result.disks.map((d) => d.controller)).toEqual(['scsi0:0', 'sata0:1']);
		const text = await cli('info', vm.bundle);
		expect(text.status).toBe(0);
		expect(text.stdout).toMatch(/1 +- +Installed +2023-11-14T22:49:07.607Z +scsi0:0 base\.vmdk/);
		expect(text.stdout).toMatch(/2 +1 +└ Updated +scsi0:0 base-000001\.vmdk/);
		expect(text.stdout).toMatch(/3 +1 +└ Experiment +scsi0:0 base-000002\.vmdk +<- current/);
	});

	const points = [
		{ selector: 'Installed', state: 'A', leaf: 'base.vmdk', chain: ['base.vmdk'] },
		{ selector: 'Updated', state: 'B', leaf: 'base-000001.vmdk', chain: ['base-000001.vmdk', 'base.vmdk'] },
		{ selector: '3', state: 'C', leaf: 'base-000002.vmdk', chain: ['base-000002.vmdk', 'base.vmdk'] },
	] as const;

	for (const p of points) {
		it(`--snapshot ${p.selector} reads state ${p.state} through ${p.leaf}, as qemu-img does, and nothing newer`, async () => {
			const result = await info('--snapshot', p.selector, vm.bundle);
			expect(result.vm?.snapshot?.uid).toBe({ Installed: '1', Updated: '2', '3': '3' }[p.selector]);
			expect(result.disks).toHaveLength(1);
			const disk = result.disks[0]!;
			expect(disk.controller).toBe('scsi0:0');
			expect(disk.chain.map((l) => l.path)).toEqual(p.chain.map((f) => join(vm.bundle, f)));
			expect(disk.warnings).toEqual([]);
			expect(disk.volumes[0]?.filesystem).toMatchObject({ type: 'ext4', label: 'SNAPDATA' });
			expect(result.vm?.warnings).toContain(
				`sata0:1 (data.vmdk) is not part of snapshot "${{ Installed: 'Installed', Updated: 'Updated', '3': 'Experiment' }[p.selector]}" (uid ${result.vm?.snapshot?.uid}) (independent disks are not part of snapshots); left out`,
			);

			const out = join(root, `point-${p.state}.raw`);
			const r = await cli('export', '--snapshot', p.selector, vm.bundle, out);
			expect(r.status, r.stderr).toBe(0);
			expect(await sameFile(out, vm.raw[p.state])).toBe(true);
			const qemu = join(root, `qemu-${p.state}.raw`);
			await execa('qemu-img', ['convert', '-O', 'raw', join(vm.bundle, p.leaf), qemu]);
			expect(await sameFile(out, qemu)).toBe(true);
			await rm(out);
			await rm(qemu);
		});
	}

	it('without --snapshot the current state reads state D, and --disk picks the disk', async () => {
		const two = await cli('export', vm.bundle, join(root, 'x.raw'));
		expect(two.status).toBe(2);
		expect(two.stderr).toMatch(
			/has 2 disks; choose one with --disk N \(1 scsi0:0 .*base-000003\.vmdk; 2 sata0:1 .*data\.vmdk\)/,
		);
		const out = join(root, 'current.raw');
		expect((await cli('export', '--disk', '1', vm.bundle, out)).status).toBe(0);
		expect(await sameFile(out, vm.raw.D)).toBe(true);
		const data = join(root, 'data.raw');
		expect((await cli('export', '--disk', 'sata0:1', vm.bundle, data)).status).toBe(0);
		expect(await sameFile(data, vm.dataRaw)).toBe(true);
		expect((await cli('export', '--disk', '3', vm.bundle, join(root, 'y.raw'))).status).toBe(2);
		expect(await hashBundle(vm.bundle, BUNDLE_FILES)).toEqual(hashes);
	});

	it('names the snapshot it cannot find, or cannot tell apart', async () => {
		const missing = await cli('export', '--snapshot', 'Nope', vm.bundle, join(root, 'n.raw'));
		expect(missing.status).toBe(3);
		expect(missing.stderr).toMatch(
			/Snapshot not found: .*no snapshot "Nope"; its snapshots: "Installed" \(uid 1\), "Updated" \(uid 2\), "Experiment" \(uid 3\)/,
		);
		const twins = await brokenCopy('twins.vmwarevm', VMSD_TEXT.replace('"Experiment"', '"Updated"'));
		const ambiguous = await cli('info', '--json', '--snapshot', 'Updated', twins);
		expect(ambiguous.status).toBe(2);
		expect(JSON.parse(ambiguous.stdout)).toMatchObject({ error: { code: 'VMX_SNAPSHOT_AMBIGUOUS' } });
		expect((await info('--snapshot', '3', twins)).disks[0]?.chain[0]?.path).toBe(
			join(twins, 'base-000002.vmdk'),
		);
		const onDisk = await cli('info', '--snapshot', '1', join(vm.bundle, 'base.vmdk'));
		expect(onDisk.status).toBe(3);
		expect(onDisk.stderr).toMatch(/is not a VMware VM/);
	});

	it('a missing delta is a clear error naming the file; the other points still open', async () => {
		const copy = await brokenCopy('missing.vmwarevm', VMSD_TEXT, ['base-000001.vmdk']);
		const r = await cli('export', '--snapshot', 'Updated', copy, join(root, 'm.raw'));
		expect(r.status).toBe(3);
		expect(r.stderr).toMatch(
			new RegExp(
				`Snapshot disk not found: ${join(copy, 'base-000001.vmdk')}: snapshot "Updated" \\(uid 2\\) needs base-000001\\.vmdk for scsi0:0, and it is missing`,
			),
		);
		const shown = await info('--snapshot', 'Updated', copy);
		expect(shown.disks[0]?.error).toMatchObject({ code: 'VMX_SNAPSHOT_DISK_MISSING' });
		expect((await cli('export', '--snapshot', 'Experiment', copy, join(root, 'e.raw'))).status).toBe(0);
		expect(await sameFile(join(root, 'e.raw'), vm.raw.C)).toBe(true);
	});

	it('a .vmsd that describes a snapshot twice refuses that snapshot and warns in info', async () => {
		const twice = VMSD_TEXT.replace('snapshot2.uid = "3"', 'snapshot2.uid = "2"');
		const copy = await brokenCopy('twice.vmwarevm', twice);
		const r = await cli('info', '--json', '--snapshot', '2', copy);
		expect(r.status).toBe(4);
		expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: 'VMX_BAD_FILE' } });
		expect((JSON.parse(r.stdout) as { error: { message: string } }).error.message).toMatch(
			/describes snapshot uid 2 2 times/,
		);
		const whole = await info(copy);
		expect(whole.vm?.warnings).toContain('Test VM.vmsd: snapshot uid 2 is described 2 times');
	});

	it('a .vmsd whose parents loop refuses the snapshots in the loop; info still draws the tree', async () => {
		const loop = VMSD_TEXT.replace('snapshot0.uid = "1"', 'snapshot0.uid = "1"\nsnapshot0.parent = "3"');
		const copy = await brokenCopy('loop.vmwarevm', loop);
		const r = await cli('export', '--snapshot', 'Updated', copy, join(root, 'l.raw'));
		expect(r.status).toBe(4);
		expect(r.stderr).toMatch(/the snapshot tree loops: 2 → 1 → 3 → 1/);
		const text = await cli('info', copy);
		expect(text.status).toBe(0);
		expect(text.stdout).toMatch(/1 +3 +Installed .*\(its parents loop\)/);
	});

	it('warns when a snapshot delta does not build on the file its parent snapshot froze', async () => {
		// Snapshot 2's entry now names the COWD delta, whose parent is base.vmdk, not base-000001.
		const wrong = VMSD_TEXT.replace(
			'snapshot0.disk0.fileName = "base.vmdk"',
			'snapshot0.disk0.fileName = "base-000001.vmdk"',
		);
		const copy = await brokenCopy('wrong.vmwarevm', wrong);
		const result = await info('--snapshot', 'Experiment', copy);
		expect(result.disks[0]?.warnings).toEqual([
			'its snapshot chain does not pass through base-000001.vmdk, which snapshot "Installed" (uid 1) froze: the .vmsd and the disk files disagree',
		]);
	});

	it('never wrote to the VM', async () => {
		expect(await hashBundle(vm.bundle, BUNDLE_FILES)).toEqual(hashes);
		expect(await readFile(join(vm.bundle, 'Test VM.vmsd'), 'utf8')).toBe(VMSD_TEXT);
	});
});
