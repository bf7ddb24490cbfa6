// SPDX-License-Identifier: MIT
import { describe, expect, it } from 'vitest';
import {
	VmdkError,
	findSnapshotPoint,
	parseDiskNode,
	parseVmsd,
	resolveOpenTarget,
	snapshotTreeRows,
	targetDisks,
	type OpenTarget,
} from '../../../../src/core/index.js';
import { MemoryPlatform } from '../../../helpers/memory-platform.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A .vmsd from snapshot specs: [uid, parent, name, disks as node=file]. */
function vmsd(snapshots: [string, string | null, string, string[]][], current: string | null = null): string {
	const lines = ['.encoding = "UTF-8"'];
	if (current !== null) lines.push(`snapshot.current = "${current}"`);
	snapshots.forEach(([uid, parent, name, disks], i) => {
		lines.push(`snapshot${i}.uid = "${uid}"`);
		if (parent !== null) lines.push(`snapshot${i}.parent = "${parent}"`);
		lines.push(`snapshot${i}.displayName = "${name}"`);
		lines.push(`snapshot${i}.numDisks = "${disks.length}"`);
		disks.forEach((d, k) => {
			const [node, file] = d.split('=');
			lines.push(`snapshot${i}.disk${k}.fileName = "${file}"`, `snapshot${i}.disk${k}.node = "${node}"`);
		});
	});
	lines.push(`snapshot.numSnapshots = "${snapshots.length}"`);
	return lines.join('\n') + '\n';
}

/** 1 Installed ─┬─ 2 Updated; 1 ─ 3 Experiment ─ 4 Later (a branch at 1). */
const TREE = parseVmsd(
	vmsd(
		[
			['1', null, 'Installed', ['scsi0:0=base.vmdk']],
			['2', '1', 'Updated', ['scsi0:0=base-000001.vmdk']],
			['3', '1', 'Experiment', ['scsi0:0=base-000002.vmdk']],
			['4', '3', 'later', ['scsi0:0=base-000003.vmdk']],
			['5', '3', 'Later', ['scsi0:0=base-000004.vmdk']],
		],
		'3',
	),
);

function error(fn: () => unknown): VmdkError {
	try {
		fn();
	} catch (e) {
		expect(e).toBeInstanceOf(VmdkError);
		return e as VmdkError;
	}
	throw new Error('did not throw');
}

describe('findSnapshotPoint', () => {
	it('finds by uid, then exact name, then name ignoring case; gives the ancestry', () => {
		expect(findSnapshotPoint(TREE, '3').snapshot.displayName).toBe('Experiment');
		const p = findSnapshotPoint(TREE, 'later');
		expect(p.snapshot.uid).toBe('4');
		expect(p.ancestors.map((a) => a.uid)).toEqual(['3', '1']);
		expect(findSnapshotPoint(TREE, ' updated ').snapshot.uid).toBe('2');
		expect(findSnapshotPoint(TREE, 'Installed').ancestors).toEqual([]);
	});

	it('names what is wrong: unknown, ambiguous, twice-described, looping', () => {
		const missing = error(() => findSnapshotPoint(TREE, 'nope', { file: 'vm.vmsd' }));
		expect(missing).toMatchObject({ code: 'VMX_SNAPSHOT_NOT_FOUND', file: 'vm.vmsd' });
		expect(missing.message).toMatch(
			/no snapshot "nope"; its snapshots: "Installed" \(uid 1\), "Updated" \(uid 2\)/,
		);

		const twoNames = parseVmsd(
			vmsd([
				['1', null, 'Same', []],
				['2', '1', 'Same', []],
			]),
		);
		const ambiguous = error(() => findSnapshotPoint(twoNames, 'same'));
		expect(ambiguous.code).toBe('VMX_SNAPSHOT_AMBIGUOUS');
		expect(ambiguous.message).toMatch(/2 snapshots are named "same" \(uids 1, 2\)/);
		expect(findSnapshotPoint(twoNames, '2').snapshot.uid).toBe('2');

		const twice = parseVmsd(
			vmsd([
				['1', null, 'A', ['scsi0:0=a.vmdk']],
				['1', null, 'B', ['scsi0:0=b.vmdk']],
			]),
		);
		expect(twice.warnings).toContain('snapshot uid 1 is described 2 times');
		expect(error(() => findSnapshotPoint(twice, '1'))).toMatchObject({ code: 'VMX_BAD_FILE' });
		expect(error(() => findSnapshotPoint(twice, '1')).message).toMatch(/describes snapshot uid 1 2 times/);

		const loop = parseVmsd(
			vmsd([
				['1', '3', 'A', []],
				['2', '1', 'B', []],
				['3', '2', 'C', []],
				['4', '4', 'Self', []],
			]),
		);
		expect(error(() => findSnapshotPoint(loop, 'B')).message).toMatch(
			/the snapshot tree loops: 2 → 1 → 3 → 2/,
		);
		expect(error(() => findSnapshotPoint(loop, 'Self')).message).toMatch(/loops: 4 → 4/);
		// A missing parent just ends the ancestry (the tree warns about it).
		const dangling = parseVmsd(vmsd([['2', '9', 'Orphan', []]]));
		expect(findSnapshotPoint(dangling, '2').ancestors).toEqual([]);
		expect(error(() => findSnapshotPoint(parseVmsd(''), 'x')).message).toMatch(/it has no snapshots/);
	});
});

describe('snapshotTreeRows', () => {
	it('draws depth first with branches in file order, then the snapshots caught in loops', () => {
		expect(snapshotTreeRows(TREE.snapshots).map((r) => [r.snapshot.uid, r.depth, r.inLoop])).toEqual([
			['1', 0, false],
			['2', 1, false],
			['3', 1, false],
			['4', 2, false],
			['5', 2, false],
		]);
		const loop = parseVmsd(
			vmsd([
				['1', '2', 'A', []],
				['2', '1', 'B', []],
				['3', null, 'Root', []],
				['4', '4', 'Self', []],
			]),
		);
		expect(snapshotTreeRows(loop.snapshots).map((r) => [r.snapshot.uid, r.depth, r.inLoop])).toEqual([
			['3', 0, false],
			['1', 0, true],
			['2', 0, true],
			['4', 0, true],
		]);
		// Deep chains do not recurse.
		const deep = Array.from({ length: 50_000 }, (_, i) => ({
			uid: String(i),
			parentUid: i === 0 ? null : String(i - 1),
		}));
		expect(snapshotTreeRows(deep).at(-1)?.depth).toBe(49_999);
	});
});

describe('parseDiskNode', () => {
	it('reads VMware slots', () => {
		expect(parseDiskNode('scsi0:1')).toEqual({ bus: 'scsi', busNumber: 0, unitNumber: 1 });
		expect(parseDiskNode(' NVMe1:0 ')).toEqual({ bus: 'nvme', busNumber: 1, unitNumber: 0 });
		expect(parseDiskNode('floppy0')).toBeUndefined();
	});
});

describe('resolveOpenTarget with a snapshot', () => {
	const VMX = [
		'.encoding = "UTF-8"',
		'displayName = "Test VM"',
		'scsi0.present = "TRUE"',
		'scsi0:0.present = "TRUE"',
		'scsi0:0.fileName = "base-000005.vmdk"',
		'sata0.present = "TRUE"',
		'sata0:1.present = "TRUE"',
		'sata0:1.fileName = "data.vmdk"',
		'sata0:1.mode = "independent-persistent"',
	].join('\n');
	const files = (vmsdText: string, extra: Record<string, Uint8Array> = {}): MemoryPlatform =>
		new MemoryPlatform({
			'/vm/Test VM.vmx': enc(VMX),
			'/vm/Test VM.vmsd': enc(vmsdText),
			'/vm/base.vmdk': enc('x'),
			'/vm/base-000001.vmdk': enc('x'),
			'/vm/base-000005.vmdk': enc('x'),
			'/vm/data.vmdk': enc('x'),
			...extra,
		});
	const VMSD_TEXT = vmsd(
		[
			['1', null, 'Installed', ['scsi0:0=base.vmdk']],
			['2', '1', 'Updated', ['scsi0:0=base-000001.vmdk', 'scsi0:1=gone.vmdk']],
		],
		'2',
	);

	function vm(t: OpenTarget): Extract<OpenTarget, { kind: 'vm' }> {
		expect(t.kind).toBe('vm');
		return t as Extract<OpenTarget, { kind: 'vm' }>;
	}

	it('gives each disk the snapshot froze, leaves out disks it did not record', async () => {
		const t = vm(await resolveOpenTarget('/vm', files(VMSD_TEXT), { snapshot: 'Installed' }));
		expect(t.snapshot?.snapshot.uid).toBe('1');
		expect(t.disks).toEqual([
			{
				controller: 'scsi0:0',
				bus: 'scsi',
				busNumber: 0,
				unitNumber: 0,
				fileName: 'base.vmdk',
				path: '/vm/base.vmdk',
				mode: 'persistent',
				exists: true,
			},
		]);
		expect(t.warnings).toContain(
			'sata0:1 (data.vmdk) is not part of snapshot "Installed" (uid 1) (independent disks are not part of snapshots); left out',
		);
		// Without a selector: the current state, as before.
		const current = vm(await resolveOpenTarget('/vm', files(VMSD_TEXT)));
		expect(current.snapshot).toBeNull();
		expect(current.disks.map((d) => d.path)).toEqual(['/vm/base-000005.vmdk', '/vm/data.vmdk']);
	});

	it('makes a missing delta a per-disk VMX_SNAPSHOT_DISK_MISSING naming the file, and checks ancestry', async () => {
		const t = vm(await resolveOpenTarget('/vm/Test VM.vmx', files(VMSD_TEXT), { snapshot: '2' }));
		const disks = targetDisks(t);
		expect(disks.map((d) => [d.controller, d.problem?.code])).toEqual([
			['scsi0:0', undefined],
			['scsi0:1', 'VMX_SNAPSHOT_DISK_MISSING'],
		]);
		expect(disks[1]?.problem?.message).toMatch(
			/\/vm\/gone\.vmdk: snapshot "Updated" \(uid 2\) needs gone\.vmdk for scsi0:1, and it is missing/,
		);
		expect(disks[0]?.ancestorFiles).toEqual([{ fileName: 'base.vmdk', snapshot: '"Installed" (uid 1)' }]);
	});

	it('refuses selectors on anything but a VMware VM, and VMs without a tree', async () => {
		const platform = files(VMSD_TEXT);
		const onDisk = await resolveOpenTarget('/vm/base.vmdk', platform, { snapshot: '1' }).catch(
			(e: unknown) => e,
		);
		expect(onDisk).toMatchObject({ code: 'VMX_SNAPSHOT_NOT_FOUND' });
		platform.files.delete('/vm/Test VM.vmsd');
		const noTree = await resolveOpenTarget('/vm', platform, { snapshot: '1' }).catch((e: unknown) => e);
		expect(noTree).toMatchObject({ code: 'VMX_SNAPSHOT_NOT_FOUND' });
		expect((noTree as Error).message).toMatch(/no snapshot tree \(Test VM\.vmsd\)/);
	});

	it('a broken .vmsd is a warning for the current state but an error when a snapshot is asked for', async () => {
		const broken = files('this is not a vmsd');
		expect(vm(await resolveOpenTarget('/vm', broken)).warnings.join('\n')).toMatch(/snapshot tree not read/);
		await expect(resolveOpenTarget('/vm', broken, { snapshot: '1' })).rejects.toMatchObject({
			code: 'VMX_BAD_FILE',
		});
		const twiceSlot = files(vmsd([['1', null, 'A', ['scsi0:0=base.vmdk', 'SCSI0:0=base.vmdk']]]));
		await expect(resolveOpenTarget('/vm', twiceSlot, { snapshot: '1' })).rejects.toThrow(
			/records slot scsi0:0 twice/,
		);
		const noDisks = files(vmsd([['1', null, 'A', []]]));
		await expect(resolveOpenTarget('/vm', noDisks, { snapshot: '1' })).rejects.toThrow(/records no disks/);
	});
});
