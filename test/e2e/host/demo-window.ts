// SPDX-License-Identifier: MIT
/**
 * The README demo's window, where Electron cannot run: the app's window rendered in Chromium
 * through the e2e host (same renderer, same IPC handlers, the demo's own daemon). It opens the
 * sample disk the way Finder would, lets the window mount it, saves screenshots (light and
 * dark), unmounts from the window, and exits — taking the host's server and browser with it.
 *
 *   node dist/e2e/demo-window.mjs <disk.vmdk> <screenshot folder>
 *
 * Run from the repository root (it uses dist/renderer and dist/daemon/main.js from there);
 * scripts/demo.sh bundles it with esbuild first.
 */
import { mkdir } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { STRINGS } from '../../../renderer/src/strings.js';
import { CHROMIUM_PATH, TestHost } from './test-host.js';

/** Waits for a mount or unmount the window shows (real helpers run meanwhile). */
const WAIT_MS = 60_000;

async function main(): Promise<void> {
	const [disk, outDir] = process.argv.slice(2);
	if (disk === undefined || outDir === undefined) {
		throw new Error('usage: demo-window <disk.vmdk> <screenshot folder>');
	}
	const root = process.cwd();
	await mkdir(outDir, { recursive: true });
	const host = await TestHost.start({
		rendererDir: join(root, 'dist', 'renderer'),
		daemonEntry: join(root, 'dist', 'daemon', 'main.js'),
	});
	try {
		console.log(`window: ${host.pageUrl} (127.0.0.1 only, random token) in ${CHROMIUM_PATH}`);
		// As a double-click in Finder would: main mounts it, the window lists it.
		await host.openPaths([resolve(disk)]);
		if (host.openFailures.length > 0) throw host.openFailures[0];
		const card = host.page.getByRole('article', { name: basename(disk), exact: true });
		const state = card.locator('.source-head .state-badge');
		await state.filter({ hasText: STRINGS.state.mountedReadOnly }).waitFor({ timeout: WAIT_MS });
		const { disks } = await host.client.list();
		for (const v of disks.flatMap((d) => d.volumes)) {
			console.log(
				`window: volume ${v.index} (${v.filesystem?.type ?? '?'}) mounted at ${v.mountpoint ?? '-'}`,
			);
		}
		const shots: string[] = [];
		for (const scheme of ['light', 'dark'] as const) {
			await host.page.emulateMedia({ colorScheme: scheme });
			const path = resolve(outDir, `window-${scheme}.png`);
			await host.page.screenshot({ path });
			shots.push(path);
		}
		await host.page.emulateMedia({ colorScheme: 'light' });
		await card.getByRole('button', { name: STRINGS.disk.unmountLabel(basename(disk)) }).click();
		await state.filter({ hasText: STRINGS.state.notMounted }).waitFor({ timeout: WAIT_MS });
		console.log('window: unmounted from the window');
		for (const shot of shots) console.log(`Screenshot of the app window: ${shot}`);
	} finally {
		await host.close();
	}
}

main().catch((error: unknown) => {
	console.error(`demo-window: ${error instanceof Error ? error.message : String(error)}`);
	process.exitCode = 1;
});
