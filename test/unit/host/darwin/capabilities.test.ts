// SPDX-License-Identifier: MIT
/**
 * The macOS probe, run for real on a folder laid out like a Mac (executables, bundles, the
 * macFUSE Info.plist), with its few commands (sw_vers, sysctl, load_macfuse) answered from a
 * transcript. The file lookups are real; the answers are what those commands print on a Mac.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { probeDarwin } from '../../../../src/host/darwin/capabilities.js';
import { nodeDarwinSystem, type DarwinSystem } from '../../../../src/host/darwin/system.js';
import { makeTempDir } from '../../../helpers/temp-dir.js';
import { ToolReplay, type TranscriptCall } from '../../../helpers/tool-transcript.js';

let root: string;
let cleanup: () => Promise<void>;

beforeEach(async () => {
	({ dir: root, cleanup } = await makeTempDir('vmdk-mac-root-'));
});
afterEach(() => cleanup());

async function executable(path: string): Promise<void> {
	const full = join(root, path);
	await mkdir(dirname(full), { recursive: true });
	await writeFile(full, '#!/bin/sh\nexit 0\n');
	await chmod(full, 0o755);
}

async function file(path: string, text = ''): Promise<void> {
	const full = join(root, path);
	await mkdir(dirname(full), { recursive: true });
	await writeFile(full, text);
}

const MACOS_SYSTEM = [
	'/usr/bin/hdiutil',
	'/usr/sbin/diskutil',
	'/sbin/mount',
	'/sbin/umount',
	'/usr/sbin/lsof',
	'/sbin/mount_hfs',
	'/sbin/mount_apfs',
	'/sbin/mount_msdos',
	'/sbin/mount_exfat',
];

const MACFUSE_INFO = `<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict><key>CFBundleIdentifier</key><string>io.macfuse.filesystems.macfuse</string><key>CFBundleShortVersionString</key><string>5.1.0</string></dict></plist>
`;

/** A replay whose tool paths are under the root, as the probe runs them. */
function answers(root: string, calls: readonly TranscriptCall[]): ToolReplay {
	return new ToolReplay(calls.map((c) => ({ ...c, tool: join(root, c.tool) })));
}

function system(replay: ToolReplay, over: Partial<DarwinSystem> = {}): DarwinSystem {
	return {
		...nodeDarwinSystem(),
		run: replay.run,
		uid: 501,
		groups: [20, 80],
		fuse3AddonLoads: () => true,
		...over,
	};
}

const SW_VERS = (version: string) => ({
	tool: '/usr/bin/sw_vers',
	args: ['-productVersion'],
	stdout: `${version}\n`,
});
const ARM64 = (yes: boolean) =>
	yes
		? { tool: '/usr/sbin/sysctl', args: ['-n', 'hw.optional.arm64'], stdout: '1\n' }
		: {
				tool: '/usr/sbin/sysctl',
				args: ['-n', 'hw.optional.arm64'],
				exit: 1,
				stderr: "sysctl: unknown oid 'hw.optional.arm64'",
			};
const KEXT = (loaded: boolean) =>
	loaded
		? { tool: '/usr/sbin/sysctl', args: ['-n', 'vfs.generic.macfuse.version.number'], stdout: '5.1.0\n' }
		: {
				tool: '/usr/sbin/sysctl',
				args: ['-n', 'vfs.generic.macfuse.version.number'],
				exit: 1,
				stderr: "sysctl: unknown oid 'vfs.generic.macfuse.version.number'",
			};

describe('macOS probe on a Mac-shaped folder', () => {
	it('macFUSE installed but its kernel extension not allowed (Apple silicon): FUSE unavailable, with the approval steps', async () => {
		for (const p of [...MACOS_SYSTEM, '/opt/homebrew/bin/ntfs-3g', '/usr/local/bin/fuse-ext2'])
			await executable(p);
		await file('/Library/Filesystems/macfuse.fs/Contents/Info.plist', MACFUSE_INFO);
		await executable('/Library/Filesystems/macfuse.fs/Contents/Resources/load_macfuse');
		await file('/Library/Filesystems/fuse-ext2.fs/Contents/Resources/mount_fuse-ext2');
		await file('/usr/local/include/fuse3/fuse_lowlevel.h');
		const replay = answers(root, [
			SW_VERS('15.4.1'),
			ARM64(true),
			KEXT(false),
			{
				tool: '/Library/Filesystems/macfuse.fs/Contents/Resources/load_macfuse',
				args: [],
				exit: 1,
				note: 'real exit status of an unapproved load (actions/runner-images#4731)',
			},
		]);
		const probe = await probeDarwin(system(replay), { root, env: {} });
		expect(replay.problems).toEqual([]);
		expect(replay.remaining()).toEqual([]);
		expect(probe.osDescription).toBe('macOS 15.4.1 Apple silicon');
		expect(probe.macosMajor).toBe(15);
		expect(probe.macfuse).toEqual({
			installed: true,
			version: '5.1.0',
			kextLoaded: false,
			kextUsable: false,
			fskit: 'absent',
			libfuse3: true,
		});
		expect(probe.fuse.available).toBe(false);
		expect(probe.fuse.problem).toMatch(
			/^macFUSE's kernel extension is not allowed to load yet: on Apple silicon, first allow kernel extensions: .*Reduced Security.*Privacy & Security/,
		);
		expect(probe.toolPaths.get('ntfs-3g')).toBe(join(root, '/opt/homebrew/bin/ntfs-3g'));
		expect(probe.toolPaths.get('fuse-ext2')).toBe(join(root, '/usr/local/bin/fuse-ext2'));
		expect(probe.tools.has('mount_ntfs')).toBe(false);
		expect([...probe.kernelFilesystems].sort()).toEqual(['apfs', 'exfat', 'hfs', 'hfsplus', 'msdos', 'vfat']);
		expect(probe.fsBundles).toEqual(['fuse-ext2.fs', 'macfuse.fs']);
		expect(probe.attachWith).toEqual(['diskutil', 'hdiutil']);
		expect(probe.detachWith).toBe('hdiutil');
		expect(probe.installCommand).toBe('brew install gromgit/fuse/ext4fuse-mac');
		const macfuse = probe.toolList.find((t) => t.id === 'macfuse');
		expect(macfuse?.note).toBe('version 5.1.0, kernel extension not allowed to load');
		expect(probe.toolList.find((t) => t.id === 'ext4fuse')).toMatchObject({
			path: null,
			types: ['ext2', 'ext3', 'ext4'],
			install: 'brew install gromgit/fuse/ext4fuse-mac (needs macFUSE)',
		});
		expect(probe.notes.join('\n')).toMatch(/setup-links/);
	});

	it('macFUSE loaded, an administrator: the export gets allow_root, our libfuse 3 addon serves it', async () => {
		for (const p of MACOS_SYSTEM) await executable(p);
		await file('/Library/Filesystems/macfuse.fs/Contents/Info.plist', MACFUSE_INFO);
		await file(
			'/Library/Filesystems/macfuse.fs/Contents/Resources/macfuse.app/Contents/Extensions/io.macfuse.app.fsmodule.macfuse-local.appex/Contents/Info.plist',
		);
		const replay = answers(root, [
			SW_VERS('14.6'),
			ARM64(false),
			KEXT(true),
			{
				tool: '/usr/bin/pluginkit',
				args: ['-m', '-i', 'io.macfuse.app.fsmodule.macfuse-local'],
				stdout: '-    io.macfuse.app.fsmodule.macfuse-local(5.1.0)\n',
				note: 'constructed in pluginkit -m format: - marks a disabled extension',
			},
		]);
		const probe = await probeDarwin(system(replay), { root, env: {} });
		expect(replay.remaining()).toEqual([]);
		expect(probe.osDescription).toBe('macOS 14.6 Intel');
		expect(probe.fuse).toEqual({
			available: true,
			problem: undefined,
			binding: 'fuse3',
			exportAccess: 'allow_root',
		});
		expect(probe.exportFuse).toBe('macfuse');
		expect(probe.macfuse.fskit).toBe('disabled');
		expect(probe.notes).toContain(
			'The FUSE export uses our libfuse 3 addon (macFUSE 4.10 and later ship libfuse 3).',
		);
		expect(probe.notes.join('\n')).toMatch(
			/FSKit backend is disabled; VMDK Mounter uses the kernel extension/,
		);
	});

	it('not an administrator: no allow_root (macFUSE refuses it), and doctor says what that costs', async () => {
		for (const p of MACOS_SYSTEM) await executable(p);
		await file('/Library/Filesystems/macfuse.fs/Contents/Info.plist', MACFUSE_INFO);
		const replay = answers(root, [SW_VERS('15.0'), ARM64(true), KEXT(true)]);
		const probe = await probeDarwin(system(replay, { groups: [20] }), { root, env: {} });
		expect(probe.fuse.exportAccess).toBe('owner');
		expect(probe.notes.join('\n')).toMatch(/not an administrator/);
	});

	it('FUSE-T alone on macOS 27: fuse-native serves the export over NFS, images are detached with diskutil', async () => {
		for (const p of MACOS_SYSTEM) await executable(p);
		await file('/usr/local/lib/libfuse-t.dylib');
		await file('/Library/Application Support/fuse-t/bin/go-nfsv4');
		const replay = answers(root, [SW_VERS('27.0'), ARM64(true)]);
		const probe = await probeDarwin(system(replay), { root, env: {} });
		expect(replay.remaining()).toEqual([]);
		expect(probe.fuseT).toEqual({ installed: true, smb: false });
		expect(probe.fuse).toMatchObject({ available: true, binding: 'fuse-native', exportAccess: 'owner' });
		expect(probe.exportFuse).toBe('fuse-t');
		expect(probe.detachWith).toBe('diskutil');
		expect(probe.notes.join('\n')).toMatch(/Network Volumes/);
		// Homebrew's helpers need macFUSE even next to FUSE-T.
		expect(probe.installCommand).toBe(
			'brew install --cask macfuse && brew install gromgit/fuse/ntfs-3g-mac gromgit/fuse/ext4fuse-mac',
		);
	});

	it('no FUSE at all on macOS 12: unavailable, with both install steps; attach with hdiutil only', async () => {
		for (const p of MACOS_SYSTEM) await executable(p);
		const replay = answers(root, [SW_VERS('12.7.6'), ARM64(false)]);
		const probe = await probeDarwin(system(replay, { fuse3AddonLoads: () => false }), { root, env: {} });
		expect(probe.fuse).toMatchObject({
			available: false,
			problem:
				'no FUSE is installed: install macFUSE (brew install --cask macfuse) or FUSE-T (brew install macos-fuse-t/homebrew-cask/fuse-t)',
			binding: 'fuse-native',
		});
		expect(probe.attachWith).toEqual(['hdiutil']);
		expect(probe.notes).toContain('Disk images are attached with hdiutil (macOS 12 or older).');
	});

	it('a helper that is not executable is not found; MacPorts is searched too', async () => {
		for (const p of MACOS_SYSTEM) await executable(p);
		await file('/opt/homebrew/bin/ntfs-3g'); // not executable
		await executable('/opt/local/bin/ntfs-3g');
		const replay = answers(root, [SW_VERS('15.0'), ARM64(true)]);
		const probe = await probeDarwin(system(replay), { root, env: {} });
		expect(probe.toolPaths.get('ntfs-3g')).toBe(join(root, '/opt/local/bin/ntfs-3g'));
	});
});
