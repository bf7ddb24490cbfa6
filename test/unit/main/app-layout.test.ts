// SPDX-License-Identifier: MIT
// Where main finds its parts, the Open… dialog's options, and the engine copy that lets the
// daemon outlive an app started from an AppImage, a disk image or a translocated folder.
import { access, constants, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPENABLE_EXTENSIONS } from '../../../src/core/open-extensions.js';
import { appLayout, engineLaunch } from '../../../src/main/launch/app-layout.js';
import { copyEngine, engineCopyDir, transientLocation } from '../../../src/main/launch/engine-copy.js';
import { openDialogOptions } from '../../../src/main/windows/open-dialog.js';
import { makeTempDir } from '../../helpers/temp-dir.js';

describe('appLayout', () => {
	it('packaged: page and preload in app.asar, the daemon on the engine’s own runtime', () => {
		const res = '/Applications/VMDK Mounter.app/Contents/Resources';
		expect(appLayout({ appPath: `${res}/app.asar`, resourcesPath: res, isPackaged: true })).toEqual({
			preloadPath: `${res}/app.asar/dist/preload/preload.cjs`,
			rendererDir: `${res}/app.asar/dist/renderer`,
			resourcesDir: `${res}/app.asar/resources`,
			daemon: { runtime: `${res}/engine/node/bin/node`, entry: `${res}/engine/dist/daemon/main.js` },
		});
	});

	it('from a checkout: the daemon client’s defaults', () => {
		expect(
			appLayout({ appPath: '/src/vmdk', resourcesPath: '/usr/lib/electron/resources', isPackaged: false })
				.daemon,
		).toEqual({
			runtime: undefined,
			entry: undefined,
		});
	});
});

describe('openDialogOptions', () => {
	it('offers the core’s extensions; files and folders on macOS, files on Linux (GTK cannot do both)', () => {
		const mac = openDialogOptions('darwin');
		expect(mac.properties).toEqual(['openFile', 'openDirectory', 'multiSelections']);
		expect(mac.filters?.[0]?.extensions).toEqual([...OPENABLE_EXTENSIONS]);
		expect(openDialogOptions('linux').properties).toEqual(['openFile', 'multiSelections']);
	});
});

describe('engine copy', () => {
	let tmp: { dir: string; cleanup: () => Promise<void> };
	let engine: string;
	beforeAll(async () => {
		tmp = await makeTempDir('vmdk-engine-copy-');
		engine = join(tmp.dir, 'mnt', 'Resources', 'engine');
		await mkdir(join(engine, 'node', 'bin'), { recursive: true });
		await mkdir(join(engine, 'dist', 'daemon'), { recursive: true });
		await writeFile(join(engine, 'node', 'bin', 'node'), '#!/bin/sh\n', { mode: 0o755 });
		await writeFile(join(engine, 'dist', 'daemon', 'main.js'), 'export {};\n');
	});
	afterAll(() => tmp.cleanup());

	it('is needed from an AppImage, a disk image or a translocated app, not from an installed one', () => {
		expect(transientLocation('/tmp/.mount_VMDKabc/resources', { APPIMAGE: '/home/u/VMDK.AppImage' })).toMatch(
			/AppImage/,
		);
		expect(transientLocation('/Volumes/VMDK Mounter/VMDK Mounter.app/Contents/Resources', {})).toMatch(
			/disk image/,
		);
		expect(
			transientLocation(
				'/private/var/folders/x/T/AppTranslocation/1234/d/VMDK Mounter.app/Contents/Resources',
				{},
			),
		).toMatch(/translocated/);
		expect(transientLocation('/Applications/VMDK Mounter.app/Contents/Resources', {})).toBeUndefined();
		expect(transientLocation('/opt/VMDK Mounter/resources', { APPIMAGE: '' })).toBeUndefined();
	});

	it('copies the engine once per version, keeps the runtime executable, and reuses a complete copy', async () => {
		const data = join(tmp.dir, 'userData');
		const copy = await copyEngine(engine, data, '0.1.0');
		expect(copy).toBe(engineCopyDir(data, '0.1.0'));
		expect(engineLaunch(copy)).toEqual({
			runtime: join(copy, 'node', 'bin', 'node'),
			entry: join(copy, 'dist', 'daemon', 'main.js'),
		});
		await access(join(copy, 'node', 'bin', 'node'), constants.X_OK);
		expect(await readFile(join(copy, '.complete'), 'utf8')).toBe('0.1.0\n');
		const firstCopy = (await stat(join(copy, 'dist', 'daemon', 'main.js'))).mtimeMs;
		// The source changes; the same version is not copied again.
		await writeFile(join(engine, 'dist', 'daemon', 'main.js'), 'export const changed = 1;\n');
		expect(await copyEngine(engine, data, '0.1.0')).toBe(copy);
		expect((await stat(join(copy, 'dist', 'daemon', 'main.js'))).mtimeMs).toBe(firstCopy);
		// Another version gets its own folder (a daemon of the old one may still run from it).
		const next = await copyEngine(engine, data, '0.2.0/../x');
		expect(next).toBe(join(data, 'engine', '0.2.0_.._x'));
		expect(await readFile(join(next, 'dist', 'daemon', 'main.js'), 'utf8')).toContain('changed');
	});

	it('replaces a half-done copy (no marker) left by a crash', async () => {
		const data = join(tmp.dir, 'userData2');
		const dest = engineCopyDir(data, '1.0.0');
		await mkdir(join(dest, 'dist'), { recursive: true });
		await writeFile(join(dest, 'dist', 'junk'), 'half');
		await copyEngine(engine, data, '1.0.0');
		await expect(stat(join(dest, 'dist', 'junk'))).rejects.toThrow();
		await access(join(dest, 'node', 'bin', 'node'), constants.X_OK);
	});
});
