// SPDX-License-Identifier: MIT
/**
 * electron-builder.yml, checked without the Electron binary (which cannot be downloaded here):
 *
 * - loaded and validated by electron-builder's own loader and schema (a broken copy must fail);
 * - its file associations and MIME types equal the core's list of what the engine opens;
 * - what the issue asks of it (roles, ranks, UTIs, fuses, asarUnpack, deb dependencies) and that
 *   every file it names exists (icons with the right pixel sizes, entitlements, shims);
 * - the Linux deb run for real through electron-builder on an empty prepackaged app, stopped just
 *   before it would download and run fpm: the desktop entry and file list it would package.
 *
 * `npm run package:check` runs this file.
 */
import { access, constants, mkdir, readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { parse as parsePlist } from 'plist';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPENABLE_EXTENSIONS } from '../../../src/core/open-extensions.js';
import { OPENABLE_MIME_ALIASES, OPENABLE_MIME_TYPES } from '../../../src/core/open-mime-types.js';
import { makeTempDir } from '../../helpers/temp-dir.js';

const require = createRequire(import.meta.url);
// electron-builder's own configuration loader and validator (CommonJS).
const { getConfig, validateConfiguration } = require('app-builder-lib/out/util/config/config') as {
	getConfig(projectDir: string, configPath: string | null, extra: unknown): Promise<BuilderConfig>;
	validateConfiguration(config: unknown, logger: unknown): Promise<void>;
};
const { DebugLogger, Arch } = require('builder-util') as {
	DebugLogger: new (enabled: boolean) => unknown;
	Arch: { x64: number };
};
const { build, Platform } = require('electron-builder') as {
	build(options: Record<string, unknown>): Promise<unknown>;
	Platform: { LINUX: { createTarget(targets: string[], arch: number): unknown } };
};

interface FileAssociation {
	ext: string;
	name?: string;
	role?: string;
	rank?: string;
	isPackage?: boolean;
	mimeType?: string;
}
interface BuilderConfig {
	fileAssociations: FileAssociation[];
	asarUnpack: string[];
	files: unknown[];
	extraResources: { from: string; to: string }[];
	electronFuses: Record<string, boolean>;
	mac: {
		target: { target: string }[];
		entitlements: string;
		entitlementsInherit: string;
		extendInfo: {
			UTExportedTypeDeclarations: UtiDeclaration[];
			UTImportedTypeDeclarations: UtiDeclaration[];
			CFBundleDocumentTypes: {
				LSItemContentTypes: string[];
				CFBundleTypeRole: string;
				LSHandlerRank: string;
			}[];
		};
	};
	linux: { target: string[]; mimeTypes: string[]; executableName: string };
	deb: { depends: string[]; recommends: string[]; fpm: string[] };
}
interface UtiDeclaration {
	UTTypeIdentifier: string;
	UTTypeConformsTo: string[];
	UTTypeTagSpecification: Record<string, string[]>;
}

const ROOT = process.cwd();
let config: BuilderConfig;

beforeAll(async () => {
	config = await getConfig(ROOT, 'electron-builder.yml', null);
});

/** Width and height of a PNG, from its IHDR chunk. */
async function pngSize(path: string): Promise<[number, number]> {
	const bytes = await readFile(path);
	expect(bytes.subarray(1, 4).toString('latin1'), path).toBe('PNG');
	return [bytes.readUInt32BE(16), bytes.readUInt32BE(20)];
}

describe('electron-builder.yml', () => {
	it('passes electron-builder’s own schema validation, and a broken copy does not', async () => {
		await expect(validateConfiguration(config, new DebugLogger(false))).resolves.toBeUndefined();
		const broken = structuredClone(config) as unknown as Record<string, unknown>;
		broken.fileAssociation = broken.fileAssociations;
		await expect(validateConfiguration(broken, new DebugLogger(false))).rejects.toThrow(/fileAssociation/);
	});

	it('associates exactly the extensions the core opens, with the core’s MIME types', () => {
		const associations = config.fileAssociations;
		expect(associations.map((a) => a.ext).sort()).toEqual([...OPENABLE_EXTENSIONS].sort());
		for (const a of associations) {
			const ext = a.ext as keyof typeof OPENABLE_MIME_TYPES;
			expect(a.mimeType ?? null, `.${a.ext}`).toBe(OPENABLE_MIME_TYPES[ext]);
		}
		expect([...config.linux.mimeTypes].sort()).toEqual([...OPENABLE_MIME_ALIASES].sort());
	});

	it('opens them as a Viewer of rank Alternate; only the .vmwarevm bundle is a package', () => {
		for (const a of config.fileAssociations) {
			expect(a.role, `.${a.ext}`).toBe('Viewer');
			expect(a.rank, `.${a.ext}`).toBe('Alternate');
			expect(a.isPackage === true, `.${a.ext}`).toBe(a.ext === 'vmwarevm');
			expect(a.name, `.${a.ext}`).toMatch(/\S/);
		}
	});

	it('exports our UTI for .vmdk and imports VMware’s for .vmwarevm bundles, and opens both', () => {
		const info = config.mac.extendInfo;
		const exported = info.UTExportedTypeDeclarations;
		expect(exported.map((d) => d.UTTypeIdentifier)).toEqual(['org.vmdkmounter.vmdk']);
		expect(exported[0]?.UTTypeTagSpecification['public.filename-extension']).toEqual(['vmdk']);
		expect(exported[0]?.UTTypeTagSpecification['public.mime-type']).toEqual([OPENABLE_MIME_TYPES.vmdk]);
		const imported = info.UTImportedTypeDeclarations;
		expect(imported.map((d) => d.UTTypeIdentifier)).toEqual(['com.vmware.vm-package']);
		expect(imported[0]?.UTTypeConformsTo).toContain('com.apple.package');
		expect(imported[0]?.UTTypeTagSpecification['public.filename-extension']).toEqual(['vmwarevm']);
		expect(info.CFBundleDocumentTypes.map((d) => d.LSItemContentTypes)).toEqual([
			['org.vmdkmounter.vmdk'],
			['com.vmware.vm-package'],
		]);
		for (const d of info.CFBundleDocumentTypes)
			expect([d.CFBundleTypeRole, d.LSHandlerRank]).toEqual(['Viewer', 'Alternate']);
	});

	it('builds dmg and zip for macOS, AppImage and deb for Linux', () => {
		expect(config.mac.target.map((t) => t.target)).toEqual(['dmg', 'zip']);
		expect(config.linux.target).toEqual(['AppImage', 'deb']);
	});

	it('keeps the FUSE addons out of the asar and hardens the binary with fuses', () => {
		expect(config.asarUnpack).toEqual(
			expect.arrayContaining([
				'node_modules/@cocalc/fuse-native/**',
				'native/fuse3/build/Release/vmdk_fuse3.node',
			]),
		);
		expect(config.electronFuses).toMatchObject({
			runAsNode: false,
			enableNodeOptionsEnvironmentVariable: false,
			enableNodeCliInspectArguments: false,
			enableEmbeddedAsarIntegrityValidation: true,
			onlyLoadAppFromAsar: true,
			grantFileProtocolExtraPrivileges: false,
		});
		expect(config.extraResources).toEqual([
			{ from: 'build/engine/${os}-${arch}', to: 'engine' },
			{ from: 'resources/bin', to: 'bin' },
		]);
	});

	it('makes the deb depend on FUSE 3 and recommend the helpers; /usr/bin/vmdk-mounter is the CLI', () => {
		expect(config.deb.depends).toEqual(
			expect.arrayContaining(['fuse3', 'libfuse3-3', 'libgtk-3-0', 'libnss3']),
		);
		expect(config.deb.recommends).toEqual(expect.arrayContaining(['ntfs-3g', 'fuse2fs', 'exfat-fuse']));
		expect(config.deb.fpm).toEqual(['resources/linux/vmdk-mounter=/usr/bin/vmdk-mounter']);
		expect(config.linux.executableName).not.toBe('vmdk-mounter');
	});

	it('names files that exist: icons of the right sizes, template tray images, entitlements, shims', async () => {
		const icns = await readFile('resources/icon.icns');
		expect(icns.subarray(0, 4).toString('latin1')).toBe('icns');
		expect(icns.readUInt32BE(4)).toBe(icns.length);
		// 'ic10' is the 1024 × 1024 slot (512 pt @2x) that current macOS shows.
		expect(icns.includes(Buffer.from('ic10'))).toBe(true);
		for (const size of [16, 32, 48, 64, 128, 256, 512, 1024]) {
			expect(await pngSize(`resources/icons/${size}x${size}.png`)).toEqual([size, size]);
		}
		const tray: [string, number][] = [
			['trayTemplate.png', 18],
			['trayTemplate@2x.png', 36],
			['trayMountedTemplate.png', 18],
			['trayMountedTemplate@2x.png', 36],
			['tray-linux.png', 24],
			['tray-linux@2x.png', 48],
			['tray-linux-mounted.png', 24],
			['tray-linux-mounted@2x.png', 48],
		];
		for (const [name, size] of tray)
			expect(await pngSize(`resources/tray/${name}`), name).toEqual([size, size]);
		for (const file of [config.mac.entitlements, config.mac.entitlementsInherit]) {
			const parsed = parsePlist(await readFile(file, 'utf8')) as Record<string, boolean>;
			expect(parsed['com.apple.security.cs.allow-jit'], file).toBe(true);
		}
		const app = parsePlist(await readFile(config.mac.entitlements, 'utf8')) as Record<string, boolean>;
		expect(app['com.apple.security.cs.disable-library-validation']).toBeUndefined();
		for (const shim of ['resources/bin/vmdk-mounter', 'resources/linux/vmdk-mounter']) {
			await access(shim, constants.X_OK);
			expect((await readFile(shim, 'utf8')).startsWith('#!/bin/sh\n')).toBe(true);
		}
		expect((await stat('resources/make-icons.sh')).isFile()).toBe(true);
	});
});

describe('the Linux deb, built by electron-builder up to fpm', () => {
	let tmp: { dir: string; cleanup: () => Promise<void> };
	let fpmArgs: string[] = [];
	let desktop = '';
	let mimeXml = '';

	beforeAll(async () => {
		tmp = await makeTempDir('vmdk-deb-');
		const prepackaged = join(tmp.dir, 'linux-unpacked');
		// An unpacked app without the Electron binary: electron-builder only lists it for fpm.
		await mkdir(join(prepackaged, 'resources'), { recursive: true });
		await build({
			projectDir: ROOT,
			targets: Platform.LINUX.createTarget(['deb'], Arch.x64),
			prepackaged,
			publish: 'never',
			config: { directories: { output: join(tmp.dir, 'out') } },
			// electron-builder's hook for its own tests: the computed fpm arguments, before fpm runs.
			effectiveOptionComputed: async (options: unknown) => {
				if (!Array.isArray(options) || typeof options[1] !== 'string') return false;
				fpmArgs = options[0] as string[];
				desktop = await readFile(options[1], 'utf8');
				const mime = fpmArgs.find((a) => a.endsWith('=/usr/share/mime/packages/vmdk-mounter-app.xml'));
				if (mime !== undefined) mimeXml = await readFile(mime.split('=')[0]!, 'utf8');
				return true;
			},
		});
	}, 120_000);
	afterAll(() => tmp.cleanup());

	it('writes a desktop entry that opens files (%U) and lists every MIME type the core opens', () => {
		const entry = Object.fromEntries(
			desktop
				.split('\n')
				.filter((l) => l.includes('='))
				.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
		);
		expect(entry.Name).toBe('VMDK Mounter');
		expect(entry.Exec).toBe('"/opt/VMDK Mounter/vmdk-mounter-app" %U');
		expect(entry.Icon).toBe('vmdk-mounter-app');
		expect(entry.StartupWMClass).toBe('vmdk-mounter-app');
		const listed = new Set((entry.MimeType ?? '').split(';').filter((t: string) => t !== ''));
		const wanted = [
			...Object.values(OPENABLE_MIME_TYPES).filter((t) => t !== null),
			...OPENABLE_MIME_ALIASES,
		];
		expect([...listed].sort()).toEqual([...new Set(wanted)].sort());
	});

	it('installs a shared-mime-info file with a glob for each associated extension', () => {
		for (const [ext, type] of Object.entries(OPENABLE_MIME_TYPES)) {
			if (type === null) continue;
			expect(mimeXml).toContain(`<mime-type type="${type}">\n  <glob pattern="*.${ext}"/>`);
		}
	});

	it('packages the app under /opt, the icons, and /usr/bin/vmdk-mounter (the CLI, not the window)', () => {
		expect(fpmArgs).toContain('resources/linux/vmdk-mounter=/usr/bin/vmdk-mounter');
		expect(fpmArgs.some((a) => a.endsWith('=/opt/VMDK Mounter'))).toBe(true);
		expect(fpmArgs.filter((a) => a.includes('/usr/share/icons/hicolor/'))).toHaveLength(8);
		expect(fpmArgs[fpmArgs.indexOf('--name') + 1]).toBe('vmdk-mounter');
	});
});
