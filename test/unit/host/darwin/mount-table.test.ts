// SPDX-License-Identifier: MIT
// Reading `mount` output of real Macs (test/fixtures/darwin/mount-output_lines_macos.txt).
import { describe, expect, it } from 'vitest';
import { parseMountLine, parseMountTable } from '../../../../src/host/darwin/mount-table.js';
import { darwinFixture } from '../../../helpers/tool-transcript.js';

describe('mount output', () => {
	const table = parseMountTable(darwinFixture('mount-output_lines_macos.txt'));

	it('reads every real line with a mountpoint and skips the annotations', () => {
		const verbatim = darwinFixture('mount-output_lines_macos.txt')
			.split('\n')
			.filter((l) => l !== '' && !l.startsWith('#'));
		// Two lines have no real mountpoint: a documentation placeholder and a FUSE-T line whose
		// source elided it ('…'). Every other line is read.
		const unreadable = verbatim.filter((l) => parseMountLine(l) === undefined);
		expect(unreadable).toEqual([
			'java@macfuse0 on <mount_point> (macfuse, nodev, nosuid, synchronous, mounted by alluxio)',
			'fuse-t:/crypto-spike … (nfs, nodev, nosuid, mounted by rfoerthe)',
		]);
		expect(table).toHaveLength(verbatim.length - 2);
	});

	it('keeps spaces in source and mountpoint (they are not escaped)', () => {
		expect(table.find((m) => m.fsType === 'vmhgfs')).toEqual({
			source: '.host:/VMware Shared Folders',
			mountPoint: '/Volumes/VMware Shared Folders',
			fsType: 'vmhgfs',
			flags: [],
		});
	});

	it('reads FUSE types old and new, FSKit, local NFS and "mounted by"', () => {
		expect(table.find((m) => m.mountPoint === '/Volumes/Test')).toMatchObject({
			source: 'fsapfsmount@macfuse0',
			fsType: 'macfuse',
			flags: ['synchronous'],
		});
		expect(table.filter((m) => m.fsType === 'osxfusefs' || m.fsType === 'osxfuse')).toHaveLength(3);
		expect(table.find((m) => m.mountPoint === '/Volumes/msbexfat')).toMatchObject({
			source: '/dev/disk5s1',
			fsType: 'exfat',
			flags: ['local', 'nodev', 'nosuid', 'noowners', 'noatime', 'fskit', 'mounted by ck'],
		});
		expect(table.find((m) => m.mountPoint === '/Users/stone/Works/AppsMeterial')).toMatchObject({
			source: 'localhost:/AppMaterials',
			fsType: 'nfs',
		});
	});

	it('reads sources that are not devices', () => {
		expect(table.find((m) => m.mountPoint === '/System/Volumes/Data/home')).toMatchObject({
			source: 'map auto_home',
			fsType: 'autofs',
		});
	});

	it('rejects lines that are not mount lines', () => {
		expect(parseMountLine('')).toBeUndefined();
		expect(parseMountLine('/dev/disk1 on / apfs')).toBeUndefined();
		expect(parseMountLine('something (else)')).toBeUndefined();
	});
});
