// SPDX-License-Identifier: MIT
import { describe, expect, it } from 'vitest';
import { isVmdkError, parseVmsd } from '../../../../src/core/index.js';

/** VMware's split of a microsecond timestamp into signed 32-bit halves. */
function timeHalves(micros: bigint): { high: string; low: string } {
	return { high: String(micros >> 32n), low: String(BigInt.asIntN(32, micros)) };
}

describe('parseVmsd', () => {
	it('reads a two-snapshot tree with parents, disks, current and creation times', () => {
		// 2023-11-14T22:49:07.607104Z in microseconds; its low half is negative as a signed int32.
		const t = timeHalves(1_700_002_147_607_104n);
		expect(Number(t.low)).toBeLessThan(0);
		const tree = parseVmsd(
			[
				'.encoding = "UTF-8"',
				'snapshot.lastUID = "2"',
				'snapshot.current = "2"',
				'snapshot0.uid = "1"',
				'snapshot0.filename = "vm-Snapshot1.vmsn"',
				'snapshot0.displayName = "Clean install"',
				'snapshot0.description = "before updates"',
				`snapshot0.createTimeHigh = "${t.high}"`,
				`snapshot0.createTimeLow = "${t.low}"`,
				'snapshot0.numDisks = "2"',
				'snapshot0.disk0.fileName = "vm.vmdk"',
				'snapshot0.disk0.node = "scsi0:0"',
				'snapshot0.disk1.fileName = "data.vmdk"',
				'snapshot0.disk1.node = "sata0:1"',
				'snapshot1.uid = "2"',
				'snapshot1.parent = "1"',
				'snapshot1.displayName = "Updated"',
				'snapshot1.numDisks = "1"',
				'snapshot1.disk0.fileName = "vm-000001.vmdk"',
				'snapshot1.disk0.node = "scsi0:0"',
				'snapshot.numSnapshots = "2"',
			].join('\n'),
		);
		expect(tree).toEqual({
			current: '2',
			warnings: [],
			snapshots: [
				{
					uid: '1',
					parentUid: null,
					displayName: 'Clean install',
					description: 'before updates',
					createTimeUtc: '2023-11-14T22:49:07.607Z',
					disks: [
						{ node: 'scsi0:0', fileName: 'vm.vmdk' },
						{ node: 'sata0:1', fileName: 'data.vmdk' },
					],
				},
				{
					uid: '2',
					parentUid: '1',
					displayName: 'Updated',
					description: null,
					createTimeUtc: undefined,
					disks: [{ node: 'scsi0:0', fileName: 'vm-000001.vmdk' }],
				},
			],
		});
	});

	it('orders snapshots by index numerically and warns about inconsistencies', () => {
		const tree = parseVmsd(
			[
				'snapshot10.uid = "11"',
				'snapshot01.uid = "2"',
				'snapshot01.disk01.fileName = "zero-one.vmdk"',
				'snapshot10.parent = "99"',
				'snapshot2.uid = "3"',
				'snapshot.numSnapshots = "5"',
				'snapshot.current = "42"',
				'snapshot2.createTimeHigh = "x"',
				'snapshot2.createTimeLow = "1"',
			].join('\n'),
		);
		expect(tree.snapshots.map((s) => s.uid)).toEqual(['2', '3', '11']);
		expect(tree.snapshots[0]!.disks).toEqual([{ node: '', fileName: 'zero-one.vmdk' }]);
		expect(tree.current).toBeNull();
		expect(tree.warnings).toHaveLength(4);
		expect(tree.warnings.join('\n')).toMatch(/parent 99/);
		expect(tree.warnings.join('\n')).toMatch(/numSnapshots is 5/);
		expect(tree.warnings.join('\n')).toMatch(/current 42/);
		expect(tree.warnings.join('\n')).toMatch(/snapshot 3 has an unreadable creation time/);
	});

	it('is empty for an empty file and rejects junk like a .vmx', () => {
		expect(parseVmsd('')).toEqual({ current: null, snapshots: [], warnings: [] });
		try {
			parseVmsd(Uint8Array.of(0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01), { file: 'x.vmsd' });
			expect.unreachable();
		} catch (error) {
			expect(isVmdkError(error, 'VMX_BAD_FILE')).toBe(true);
			expect(String(error)).toMatch(/\.vmsd line 1/);
		}
	});
});
