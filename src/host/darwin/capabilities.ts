// SPDX-License-Identifier: MIT
/**
 * What this Mac can mount with: the macOS version and chip, which FUSE is installed (macFUSE
 * with its kernel extension or its FSKit backend, FUSE-T) and whether it can be used, the FUSE
 * helpers (Homebrew in /opt/homebrew and /usr/local, MacPorts in /opt/local), the file-system
 * bundles in /Library/Filesystems, the system's drivers (`mount_hfs` …) and tools (`hdiutil`,
 * `diskutil`). Facts and their sources: docs/macos.md.
 *
 * Every path is looked up under `root` (default `/`), so the lookup runs for real in a
 * temporary folder on Linux; every command goes through `system.run`.
 */
import { join } from 'node:path';
import { typesOfHelper } from '../../core/index.js';
import type { HostFuse, HostProbe, HostTool } from '../common/host.js';
import { parsePlistOutput } from './plist-output.js';
import { MACOS_HELPER_TABLE } from './helper-table.js';
import type { DarwinSystem } from './system.js';

/** Homebrew (Apple silicon, Intel) and MacPorts program folders, in lookup order. */
const PACKAGE_DIRS = [
	'/opt/homebrew/bin',
	'/opt/homebrew/sbin',
	'/usr/local/bin',
	'/usr/local/sbin',
	'/opt/local/bin',
	'/opt/local/sbin',
];
/** Where macOS keeps its own tools and drivers. */
const SYSTEM_DIRS = ['/usr/bin', '/usr/sbin', '/bin', '/sbin'];

/** The macFUSE bundle and what is in it. */
export const MACFUSE_BUNDLE = '/Library/Filesystems/macfuse.fs';
const MACFUSE_LOADER = `${MACFUSE_BUNDLE}/Contents/Resources/load_macfuse`;
const MACFUSE_FSKIT_MODULE = 'io.macfuse.app.fsmodule.macfuse-local';
const MACFUSE_FSKIT_APPEX = `${MACFUSE_BUNDLE}/Contents/Resources/macfuse.app/Contents/Extensions/${MACFUSE_FSKIT_MODULE}.appex`;
/** macFUSE's libfuse 3 (since macFUSE 4.10). */
const MACFUSE_LIBFUSE3 = '/usr/local/include/fuse3/fuse_lowlevel.h';
/** FUSE-T's library and support folder. */
const FUSE_T_LIBRARY = '/usr/local/lib/libfuse-t.dylib';
const FUSE_T_SUPPORT = '/Library/Application Support/fuse-t';
/** The group macFUSE lets ask for `allow_other`/`allow_root` (its `admin_group` tunable, default `admin`). */
const ADMIN_GID = 80;

/** Installing FUSE. */
export const INSTALL_MACFUSE = 'brew install --cask macfuse';
export const INSTALL_FUSE_T = 'brew install macos-fuse-t/homebrew-cask/fuse-t';

type ToolKind = 'helper' | 'system' | 'driver';

interface ToolSpec {
	readonly dirs: readonly string[];
	readonly kind: ToolKind;
	/** The exact step that installs it. */
	readonly install: string;
	/** The Homebrew formula, when there is one (for the one-line install command). */
	readonly formula?: string;
	/** Types a system driver mounts (helpers take theirs from the table). */
	readonly driverTypes?: readonly string[];
	readonly note?: string;
}

const PART_OF_MACOS = 'part of macOS';

/** Every tool the probe looks for, by id. */
export const DARWIN_TOOLS: Readonly<Record<string, ToolSpec>> = {
	'ntfs-3g': {
		dirs: PACKAGE_DIRS,
		kind: 'helper',
		install: 'brew install gromgit/fuse/ntfs-3g-mac (needs macFUSE)',
		formula: 'gromgit/fuse/ntfs-3g-mac',
	},
	'fuse-ext2': {
		dirs: PACKAGE_DIRS,
		kind: 'helper',
		install: 'build it from https://github.com/alperakcan/fuse-ext2 against macFUSE (it is not in Homebrew)',
	},
	ext4fuse: {
		dirs: PACKAGE_DIRS,
		kind: 'helper',
		install: 'brew install gromgit/fuse/ext4fuse-mac (needs macFUSE)',
		formula: 'gromgit/fuse/ext4fuse-mac',
	},
	'apfs-fuse': {
		dirs: PACKAGE_DIRS,
		kind: 'helper',
		install: 'not needed (macOS mounts APFS itself)',
		note: 'not used: macOS mounts APFS itself',
	},
	hdiutil: { dirs: SYSTEM_DIRS, kind: 'system', install: PART_OF_MACOS },
	diskutil: { dirs: SYSTEM_DIRS, kind: 'system', install: PART_OF_MACOS },
	mount: { dirs: SYSTEM_DIRS, kind: 'system', install: PART_OF_MACOS },
	umount: { dirs: SYSTEM_DIRS, kind: 'system', install: PART_OF_MACOS },
	lsof: { dirs: SYSTEM_DIRS, kind: 'system', install: PART_OF_MACOS },
	mount_hfs: { dirs: SYSTEM_DIRS, kind: 'driver', install: PART_OF_MACOS, driverTypes: ['hfsplus', 'hfs'] },
	mount_apfs: { dirs: SYSTEM_DIRS, kind: 'driver', install: PART_OF_MACOS, driverTypes: ['apfs'] },
	mount_msdos: { dirs: SYSTEM_DIRS, kind: 'driver', install: PART_OF_MACOS, driverTypes: ['vfat', 'msdos'] },
	mount_exfat: { dirs: SYSTEM_DIRS, kind: 'driver', install: PART_OF_MACOS, driverTypes: ['exfat'] },
	mount_ntfs: {
		dirs: SYSTEM_DIRS,
		kind: 'driver',
		install: PART_OF_MACOS,
		driverTypes: ['ntfs'],
		note: 'reads only',
	},
};

/** Tools run by the probe itself (absolute paths; their absence only makes the probe know less). */
const SW_VERS = '/usr/bin/sw_vers';
const SYSCTL = '/usr/sbin/sysctl';
const PLUGINKIT = '/usr/bin/pluginkit';

/** macFUSE as found. */
export interface MacFuseState {
	/** `/Library/Filesystems/macfuse.fs` exists. */
	readonly installed: boolean;
	/** From the bundle's Info.plist. */
	readonly version?: string | undefined;
	/** Its kernel extension answers (`sysctl vfs.generic.macfuse.version.number`). */
	readonly kextLoaded: boolean;
	/** Loaded, or `load_macfuse` loaded it just now: mounts with the kernel backend work. */
	readonly kextUsable: boolean;
	/** The FSKit backend's module (macFUSE 5): absent, or its approval state as pluginkit reports it. */
	readonly fskit: 'absent' | 'enabled' | 'disabled' | 'unknown';
	/** macFUSE's libfuse 3 headers are installed (macFUSE 4.10+): our addon can be built. */
	readonly libfuse3: boolean;
}

/** FUSE-T as found. */
export interface FuseTState {
	readonly installed: boolean;
	/** Its SMB server is there (otherwise it serves over NFS). */
	readonly smb: boolean;
}

/** The macOS probe: the common one plus what the darwin mounter needs. */
export interface DarwinProbe extends HostProbe {
	/** `15.4.1`, or null when `sw_vers` did not answer. */
	readonly macosVersion: string | null;
	/** Major version (13, 14 …), or null. */
	readonly macosMajor: number | null;
	readonly appleSilicon: boolean;
	/** Absolute path of each tool found, by id. */
	readonly toolPaths: ReadonlyMap<string, string>;
	readonly macfuse: MacFuseState;
	readonly fuseT: FuseTState;
	/** The FUSE that serves the export, if any. */
	readonly exportFuse: 'macfuse' | 'fuse-t' | null;
	/** Bundles in /Library/Filesystems (`macfuse.fs`, `fuse-ext2.fs` …). */
	readonly fsBundles: readonly string[];
	/** Attach raw images with `diskutil image attach` first (macOS 13+), then `hdiutil`. */
	readonly attachWith: readonly ('diskutil' | 'hdiutil')[];
	/** Detach with `diskutil eject` (macOS 27 deprecates `hdiutil detach`) or `hdiutil detach`. */
	readonly detachWith: 'diskutil' | 'hdiutil';
}

/** Options of a probe. */
export interface DarwinProbeOptions {
	/** Prefix of every path looked up (tests: a temporary folder). */
	readonly root?: string | undefined;
	readonly env?: NodeJS.ProcessEnv | undefined;
}

/** Probes this Mac. */
export async function probeDarwin(
	system: DarwinSystem,
	options: DarwinProbeOptions = {},
): Promise<DarwinProbe> {
	const root = options.root ?? '/';
	const env = options.env ?? process.env;
	const at = (path: string): string => join(root, path);
	const ask = async (tool: string, args: readonly string[]): Promise<string | undefined> => {
		try {
			return (
				await system.run(at(tool), args, { name: `probe: ${tool} ${args.join(' ')}`, timeoutMs: 10_000 })
			).stdout.trim();
		} catch {
			return undefined;
		}
	};

	const toolPaths = new Map<string, string>();
	for (const [id, spec] of Object.entries(DARWIN_TOOLS)) {
		for (const dir of spec.dirs) {
			const candidate = at(join(dir, id));
			if (await system.isExecutable(candidate)) {
				toolPaths.set(id, candidate);
				break;
			}
		}
	}

	const macosVersion = (await ask(SW_VERS, ['-productVersion'])) || null;
	const macosMajor = macosVersion === null ? null : Number.parseInt(macosVersion, 10) || null;
	const appleSilicon = (await ask(SYSCTL, ['-n', 'hw.optional.arm64'])) === '1';
	const macfuse = await probeMacFuse(system, at, ask);
	const fuseT: FuseTState = {
		installed: (await system.exists(at(FUSE_T_LIBRARY))) || (await system.exists(at(FUSE_T_SUPPORT))),
		smb: await system.exists(at(`${FUSE_T_SUPPORT}/bin/go-smb2`)),
	};
	const fsBundles = (await system.list(at('/Library/Filesystems'))).filter((n) => n.endsWith('.fs')).sort();

	const addonLoads = env.VMDK_MOUNTER_FUSE_BINDING !== 'fuse-native' && system.fuse3AddonLoads();
	// Our addon speaks libfuse 3, which only macFUSE ships; with FUSE-T alone, fuse-native it is.
	const binding = addonLoads && (macfuse.kextUsable || !fuseT.installed) ? 'fuse3' : 'fuse-native';
	const exportFuse =
		macfuse.installed && macfuse.kextUsable
			? 'macfuse'
			: binding === 'fuse-native' && fuseT.installed
				? 'fuse-t'
				: null;
	const admin = system.uid === 0 || system.groups.includes(ADMIN_GID);
	const fuse: HostFuse = {
		available: exportFuse !== null,
		problem: exportFuse === null ? fuseProblem(macfuse, fuseT, appleSilicon) : undefined,
		binding,
		// The disk-image helper runs as another user: on macFUSE only allow_root lets it read the
		// export, and macFUSE grants that only to its admin group.
		exportAccess: exportFuse === 'macfuse' && admin ? 'allow_root' : 'owner',
	};

	const attachWith: ('diskutil' | 'hdiutil')[] = [];
	if (toolPaths.has('diskutil') && macosMajor !== null && macosMajor >= 13) attachWith.push('diskutil');
	if (toolPaths.has('hdiutil')) attachWith.push('hdiutil');
	const detachWith =
		toolPaths.has('hdiutil') && (macosMajor === null || macosMajor < 27) ? 'hdiutil' : 'diskutil';

	const toolList = buildToolList(toolPaths, macfuse, fuseT, at);
	const kernelFilesystems = new Set(
		Object.entries(DARWIN_TOOLS).flatMap(([id, spec]) => (toolPaths.has(id) ? (spec.driverTypes ?? []) : [])),
	);
	return {
		platform: 'darwin',
		osDescription: `macOS ${macosVersion ?? '(version unknown)'} ${appleSilicon ? 'Apple silicon' : 'Intel'}`,
		isRoot: system.uid === 0,
		tools: new Set(toolPaths.keys()),
		kernelFilesystems,
		helperTable: MACOS_HELPER_TABLE,
		toolList,
		installCommand: installCommand(toolPaths, macfuse, fuseT),
		fuse,
		notes: notesFor({
			macfuse,
			fuseT,
			appleSilicon,
			admin,
			exportFuse,
			binding,
			toolPaths,
			fsBundles,
			macosMajor,
		}),
		macosVersion,
		macosMajor,
		appleSilicon,
		toolPaths,
		macfuse,
		fuseT,
		exportFuse,
		fsBundles,
		attachWith,
		detachWith,
	};
}

async function probeMacFuse(
	system: DarwinSystem,
	at: (path: string) => string,
	ask: (tool: string, args: readonly string[]) => Promise<string | undefined>,
): Promise<MacFuseState> {
	if (!(await system.exists(at(MACFUSE_BUNDLE)))) {
		return { installed: false, kextLoaded: false, kextUsable: false, fskit: 'absent', libfuse3: false };
	}
	const info = await system.readText(at(`${MACFUSE_BUNDLE}/Contents/Info.plist`));
	let version: string | undefined;
	try {
		const plist = info === undefined ? undefined : parsePlistOutput(info, 'macFUSE Info.plist');
		const v = plist?.CFBundleShortVersionString ?? plist?.CFBundleVersion;
		version = typeof v === 'string' ? v : undefined;
	} catch {
		version = undefined;
	}
	const kextLoaded = ((await ask(SYSCTL, ['-n', 'vfs.generic.macfuse.version.number'])) ?? '') !== '';
	// The kernel extension loads on the first mount anyway; loading it now tells whether the user
	// still has to allow it (load_macfuse fails until then). Its exit status is all we read.
	let kextUsable = kextLoaded;
	if (!kextLoaded && (await system.isExecutable(at(MACFUSE_LOADER)))) {
		kextUsable = (await ask(MACFUSE_LOADER, [])) !== undefined;
	}
	let fskit: MacFuseState['fskit'] = 'absent';
	if (await system.exists(at(MACFUSE_FSKIT_APPEX))) {
		// pluginkit marks an enabled extension with '+' and a disabled one with '-'.
		const line = await ask(PLUGINKIT, ['-m', '-i', MACFUSE_FSKIT_MODULE]);
		fskit =
			line?.startsWith('+') === true ? 'enabled' : line?.startsWith('-') === true ? 'disabled' : 'unknown';
	}
	return {
		installed: true,
		version,
		kextLoaded,
		kextUsable,
		fskit,
		libfuse3: await system.exists(at(MACFUSE_LIBFUSE3)),
	};
}

/** How to allow macFUSE's kernel extension (docs/macos.md, "macFUSE approval"). */
export function macfuseApprovalSteps(appleSilicon: boolean): string {
	const allow =
		'allow the system software from developer "Benjamin Fleischer" in System Settings → Privacy & Security, then restart';
	return appleSilicon
		? 'on Apple silicon, first allow kernel extensions: shut down, hold the power button until the startup options appear, choose Options → Utilities → Startup Security Utility, select the startup disk, choose Reduced Security and tick "Allow user management of kernel extensions from identified developers", restart; then ' +
				allow
		: allow;
}

function fuseProblem(macfuse: MacFuseState, fuseT: FuseTState, appleSilicon: boolean): string {
	if (macfuse.installed && !macfuse.kextUsable) {
		return `macFUSE's kernel extension is not allowed to load yet: ${macfuseApprovalSteps(appleSilicon)}`;
	}
	if (!macfuse.installed && !fuseT.installed) {
		return `no FUSE is installed: install macFUSE (${INSTALL_MACFUSE}) or FUSE-T (${INSTALL_FUSE_T})`;
	}
	return 'FUSE is installed but our FUSE binding cannot use it: run `npm rebuild @cocalc/fuse-native` (see README, macOS)';
}

function buildToolList(
	toolPaths: ReadonlyMap<string, string>,
	macfuse: MacFuseState,
	fuseT: FuseTState,
	at: (path: string) => string,
): HostTool[] {
	const fuseTools: HostTool[] = [
		{
			id: 'macfuse',
			path: macfuse.installed ? at(MACFUSE_BUNDLE) : null,
			types: [],
			install: INSTALL_MACFUSE,
			note: !macfuse.installed
				? fuseT.installed
					? 'optional next to FUSE-T, but the Homebrew FUSE helpers need it'
					: undefined
				: `${macfuse.version === undefined ? '' : `version ${macfuse.version}, `}kernel extension ${macfuse.kextLoaded ? 'loaded' : macfuse.kextUsable ? 'loadable' : 'not allowed to load'}${macfuse.fskit === 'absent' ? '' : `, FSKit backend ${macfuse.fskit}`}`,
		},
		{
			id: 'fuse-t',
			path: fuseT.installed ? at(FUSE_T_LIBRARY) : null,
			types: [],
			install: INSTALL_FUSE_T,
			note: fuseT.installed
				? `serves over ${fuseT.smb ? 'SMB or NFS' : 'NFS'}`
				: macfuse.installed
					? 'not needed: macFUSE is installed'
					: undefined,
		},
	];
	return [
		...fuseTools,
		...Object.entries(DARWIN_TOOLS).map(([id, spec]) => ({
			id,
			path: toolPaths.get(id) ?? null,
			types: spec.driverTypes ?? typesOfHelper(MACOS_HELPER_TABLE, id),
			install: spec.install,
			// Notes say what an installed tool is good for.
			note: toolPaths.has(id) ? spec.note : undefined,
		})),
	];
}

function installCommand(
	toolPaths: ReadonlyMap<string, string>,
	macfuse: MacFuseState,
	fuseT: FuseTState,
): string | null {
	const formulas = Object.entries(DARWIN_TOOLS)
		.filter(([id, spec]) => spec.formula !== undefined && !toolPaths.has(id))
		.map(([, spec]) => spec.formula);
	const steps: string[] = [];
	// Homebrew's FUSE helpers are built against macFUSE, so they need it even beside FUSE-T.
	if (!macfuse.installed && (!fuseT.installed || formulas.length > 0)) steps.push(INSTALL_MACFUSE);
	if (formulas.length > 0) steps.push(`brew install ${formulas.join(' ')}`);
	return steps.length > 0 ? steps.join(' && ') : null;
}

function notesFor(p: {
	readonly macfuse: MacFuseState;
	readonly fuseT: FuseTState;
	readonly appleSilicon: boolean;
	readonly admin: boolean;
	readonly exportFuse: DarwinProbe['exportFuse'];
	readonly binding: HostFuse['binding'];
	readonly toolPaths: ReadonlyMap<string, string>;
	readonly fsBundles: readonly string[];
	readonly macosMajor: number | null;
}): string[] {
	const notes: string[] = [];
	if (p.macfuse.installed && !p.macfuse.kextUsable) {
		notes.push(`To use macFUSE, ${macfuseApprovalSteps(p.appleSilicon)}.`);
	}
	if (p.exportFuse === 'fuse-t') {
		notes.push(
			'FUSE-T serves the disk through a local network (NFS) mount: allow access to Network Volumes when macOS asks (System Settings → Privacy & Security → Files & Folders); if it was refused, attaching the volumes fails.',
		);
	}
	if (p.exportFuse === 'macfuse' && !p.admin) {
		notes.push(
			'You are not an administrator: macFUSE lets only the admin group open the disk to the system, so HFS+, APFS, FAT, exFAT and Apple-NTFS volumes cannot be attached; ntfs-3g and the ext helpers still work.',
		);
	}
	notes.push(
		p.binding === 'fuse3'
			? 'The FUSE export uses our libfuse 3 addon (macFUSE 4.10 and later ship libfuse 3).'
			: p.macfuse.libfuse3
				? 'The FUSE export uses fuse-native (libfuse 2): build our faster libfuse 3 addon with `npm run build:native`.'
				: 'The FUSE export uses fuse-native (libfuse 2): FUSE-T and macFUSE before 4.10 offer no libfuse 3.',
	);
	if (p.macfuse.fskit !== 'absent') {
		notes.push(
			`macFUSE's FSKit backend is ${p.macfuse.fskit}; VMDK Mounter uses the kernel extension (FSKit mounts only in /Volumes, where the export cannot live).`,
		);
	}
	if (p.fsBundles.includes('fuse-ext2.fs') && !p.toolPaths.has('fuse-ext2')) {
		notes.push(
			'fuse-ext2.fs is in /Library/Filesystems but the fuse-ext2 program is missing (it belongs in /usr/local/bin).',
		);
	}
	if (p.toolPaths.has('fuse-ext2')) {
		notes.push(
			'`vmdk-mounter setup-links` makes `mount -t ext2|ext3|ext4` reach fuse-ext2 (read-only); VMDK Mounter itself does not need it.',
		);
	}
	if (p.macosMajor !== null && p.macosMajor < 13)
		notes.push('Disk images are attached with hdiutil (macOS 12 or older).');
	return notes;
}
