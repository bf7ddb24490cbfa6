// SPDX-License-Identifier: MIT
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { MountRegistry, readPersistedRegistry, type DiskRecord } from '../../../src/daemon/mount-registry.js';
import { safeFolderName } from '../../../src/daemon/mount-folders.js';
import { parseProcFilesystems, parseUserAllowOther } from '../../../src/host/linux/capabilities.js';
import { parseMountInfo } from '../../../src/host/linux/mountinfo.js';
import { appPaths } from '../../../src/host/index.js';
import { makeTempDir } from '../../helpers/temp-dir.js';

function record(id: string, state: DiskRecord['state'] = 'mounted'): DiskRecord {
	id = id.padEnd(8, '0');
	return {
		id,
		path: `/d/${id}.vmdk`,
		rawPath: `/run/disks/${id}/disk`,
		readWrite: false,
		exportDir: `/run/disks/${id}`,
		state,
		volumes: [
			{
				index: 1,
				name: 'p1',
				mountpoint: `/m/${id}`,
				rawPath: `/run/disks/${id}/p1`,
				filesystem: null,
				helper: 'fuse2fs',
				readOnly: true,
				attachment: '/dev/loop9',
			},
		],
	};
}

describe('MountRegistry', () => {
	it('persists every change atomically and lists only finished mounts', async () => {
		const tmp = await makeTempDir('vmdk-reg-');
		try {
			const path = `${tmp.dir}/state/mounts.json`;
			const reg = new MountRegistry(path);
			const events: number[] = [];
			reg.onDidChange((d) => events.push(d.length));
			await reg.put(record('a', 'mounting'));
			expect(reg.list()).toEqual([]);
			await reg.put(record('a'));
			await reg.put(record('b'));
			expect((await readPersistedRegistry(path)).disks.map((d) => d.id)).toEqual(['a0000000', 'b0000000']);
			// The persisted form keeps what crash clean-up needs (attached devices, mountpoints).
			expect((await readPersistedRegistry(path)).disks[0]?.volumes[0]?.attachment).toBe('/dev/loop9');
			// The public form does not.
			expect(JSON.stringify(reg.list())).not.toContain('loop9');
			await reg.remove('a0000000');
			expect(events).toEqual([0, 1, 2, 1]);
			expect(JSON.parse(await readFile(path, 'utf8'))).toMatchObject({
				version: 2,
				disks: [{ id: 'b0000000' }],
			});
			expect(await readdir(`${tmp.dir}/state`)).toEqual(['mounts.json']);
		} finally {
			await tmp.cleanup();
		}
	});

	it('reads a missing file as empty', async () => {
		expect(await readPersistedRegistry('/nonexistent/mounts.json')).toEqual({ disks: [], problems: [] });
	});

	it.each([
		['not JSON', '{"disks": ['],
		['a wrong shape', '{"version": 1, "daemonPid": "x", "disks": 3}'],
		['another version', '{"version": 9, "daemonPid": 1, "disks": []}'],
	])('sets aside a file that is %s, reporting it once', async (_what, text) => {
		const tmp = await makeTempDir('vmdk-reg-');
		try {
			const path = `${tmp.dir}/mounts.json`;
			await writeFile(path, text);
			const read = await readPersistedRegistry(path);
			expect(read.disks).toEqual([]);
			expect(read.problems).toHaveLength(1);
			expect(read.problems[0]).toMatch(/was set aside as .*mounts\.json\.bad-/);
			const files = await readdir(tmp.dir);
			expect(files).not.toContain('mounts.json');
			expect(files.some((f) => f.startsWith('mounts.json.bad-'))).toBe(true);
			// Once set aside, the next read is quiet.
			expect(await readPersistedRegistry(path)).toEqual({ disks: [], problems: [] });
		} finally {
			await tmp.cleanup();
		}
	});

	it('keeps the good records and sets aside null, partial and hostile ones', async () => {
		const tmp = await makeTempDir('vmdk-reg-');
		try {
			const path = `${tmp.dir}/mounts.json`;
			const good = record('c');
			await writeFile(
				path,
				JSON.stringify({
					version: 2,
					daemonPid: 1,
					disks: [null, { id: 'x' }, { ...good, id: '../../etc' }, { ...good, exportDir: 'relative' }, good],
				}),
			);
			const read = await readPersistedRegistry(path);
			expect(read.disks.map((d) => d.id)).toEqual(['c0000000']);
			expect(read.problems[0]).toMatch(/4 unreadable record\(s\)/);
			expect((await readdir(tmp.dir)).some((f) => f.startsWith('mounts.json.rejected-'))).toBe(true);
		} finally {
			await tmp.cleanup();
		}
	});

	it('reads version 1 files, whose loop devices were called loopDevice', async () => {
		const tmp = await makeTempDir('vmdk-reg-');
		try {
			const path = `${tmp.dir}/mounts.json`;
			const { attachment: _a, ...volume } = record('d').volumes[0]!;
			await writeFile(
				path,
				JSON.stringify({
					version: 1,
					daemonPid: 1,
					disks: [{ ...record('d'), volumes: [{ ...volume, loopDevice: '/dev/loop3' }] }],
				}),
			);
			expect((await readPersistedRegistry(path)).disks[0]?.volumes[0]?.attachment).toBe('/dev/loop3');
		} finally {
			await tmp.cleanup();
		}
	});
});

describe('host parsing', () => {
	it('parses mountinfo with escapes, optional fields and the device number', () => {
		const text = [
			'36 35 98:0 /mnt1 /mnt/with\\040space rw,noatime master:1 - ext3 /dev/root rw,errors=continue',
			'40 25 0:39 / /run/vmdk/disks/ab12 rw,nosuid,nodev - fuse.vmdk-mounter vmdk-mounter:ab12 rw,user_id=0',
			'',
		].join('\n');
		expect(parseMountInfo(text)).toEqual([
			{ mountPoint: '/mnt/with space', fsType: 'ext3', source: '/dev/root', device: '98:0' },
			{
				mountPoint: '/run/vmdk/disks/ab12',
				fsType: 'fuse.vmdk-mounter',
				source: 'vmdk-mounter:ab12',
				device: '0:39',
			},
		]);
	});

	it('parses /proc/filesystems', () => {
		expect([...parseProcFilesystems('nodev\tsysfs\n\text4\nnodev\tfuse\n\tvfat\n')]).toEqual([
			'sysfs',
			'ext4',
			'fuse',
			'vfat',
		]);
	});

	it('reads user_allow_other from fuse.conf only when it is set, not commented out', () => {
		expect(parseUserAllowOther('# mount_max = 1000\n#user_allow_other\n')).toBe(false);
		expect(parseUserAllowOther('mount_max = 1000\n  user_allow_other  # for ntfs-3g\n')).toBe(true);
		expect(parseUserAllowOther('user_allow_others\n')).toBe(false);
		expect(parseUserAllowOther('')).toBe(false);
	});

	it('makes safe, bounded folder names', () => {
		expect(safeFolderName('My Data')).toBe('My Data');
		expect(safeFolderName('../etc/passwd')).toBe('_etc_passwd');
		expect(safeFolderName('a\u0000b\nc')).toBe('a_b_c');
		expect(safeFolderName('...')).toBe('');
		expect([...safeFolderName('x'.repeat(300))].length).toBe(80);
	});

	it('resolves paths from the override variables', () => {
		const p = appPaths({
			HOME: '/h',
			VMDK_MOUNTER_RUNTIME_DIR: '/t/run',
			VMDK_MOUNTER_STATE_DIR: '/t/state',
		});
		expect(p.socketPath).toBe('/t/run/control.sock');
		expect(p.registryPath).toBe('/t/state/mounts.json');
		expect(p.logPath).toBe('/t/state/daemon.log');
		expect(p.defaultMountRoot).toBe('/h/VMDK Mounts');
		expect(appPaths({ HOME: '/h', XDG_RUNTIME_DIR: '/run/user/5' }).socketPath).toBe(
			'/run/user/5/vmdk-mounter/control.sock',
		);
		expect(appPaths({ HOME: '/h', VMDK_MOUNTER_MOUNT_ROOT: '/mnt/v' }).mountRootOverride).toBe('/mnt/v');
		// macOS: the socket in Application Support (README "Where things live"); overrides still win.
		const mac = appPaths({ HOME: '/Users/me' }, 'darwin');
		expect(mac.socketPath).toBe('/Users/me/Library/Application Support/VMDK Mounter/control.sock');
		expect(mac.settingsPath).toBe('/Users/me/Library/Application Support/VMDK Mounter/settings.json');
		expect(appPaths({ HOME: '/Users/me', VMDK_MOUNTER_RUNTIME_DIR: '/tmp/r' }, 'darwin').socketPath).toBe(
			'/tmp/r/control.sock',
		);
	});
});
