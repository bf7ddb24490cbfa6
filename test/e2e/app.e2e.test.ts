// SPDX-License-Identifier: MIT
/**
 * The app's window end to end: the built renderer in Debian's Chromium (playwright-core), its
 * `window.vmdk` answered by the app's own IPC handlers on a real DaemonClient, a real daemon,
 * real FUSE exports and real mount helpers. Every scenario of issue 10: open → list → mount →
 * read the files → unmount; a locked bundle; a CLI mount showing up live; the daemon killed and
 * back; files that cannot be opened; keyboard only; the Helpers panel. Screenshots of each state,
 * light and dark, go to docs/screenshots/.
 *
 * Needs root, FUSE, the helpers and /usr/bin/chromium: skipped with the reason on a machine
 * without them, a failure under CI=true.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Locator } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { filesystemName } from '../../renderer/src/format.js';
import { STRINGS } from '../../renderer/src/strings.js';
import type { ProgressEvent } from '../../src/shared/daemon-contract.js';
import type { DoctorReport, MountedDisk } from '../../src/shared/models.js';
import { USER_MESSAGES } from '../../src/shared/user-messages.js';
import { REPO_ROOT } from '../fixtures/reference-disk.js';
import { describeNeeding } from '../helpers/capability.js';
import { MountEnv, isAlive, missingCapability } from '../helpers/mount-env.js';
import { sha256File } from '../helpers/run.js';
import { claimE2eRoot, type E2eRoot } from './e2e-root.js';
import { makeE2eFixtures, type E2eFixtures } from './fixtures.js';
import { RENDERER_DIR, ensureAppBuilt } from './host/build.js';
import { CHROMIUM_PATH, TestHost } from './host/test-host.js';

const SCREENSHOTS = join(REPO_ROOT, 'docs', 'screenshots');
const GATED_DAEMON = join(REPO_ROOT, 'test', 'e2e', 'host', 'gated-daemon.mjs');
/** How long the window may take to show what the daemon did (a mount runs real helpers). */
const UI_TIMEOUT_MS = 30_000;

function missing(): string | undefined {
	return missingCapability() ?? (existsSync(CHROMIUM_PATH) ? undefined : `${CHROMIUM_PATH} is not installed`);
}

describeNeeding(missing(), 'the app window (Chromium, real daemon)', () => {
	let root: E2eRoot;
	let env: MountEnv;
	let fx: E2eFixtures;
	let host: TestHost;
	let gate: string;

	beforeAll(async () => {
		root = await claimE2eRoot();
		gate = join(root.dir, 'daemon-gate');
		env = MountEnv.at(root.dir, { VMDK_E2E_DAEMON_GATE: gate });
		env.applyToProcess();
		await ensureAppBuilt();
		fx = await makeE2eFixtures(join(root.dir, 'disks'));
		host = await TestHost.start({ rendererDir: RENDERER_DIR, daemonEntry: GATED_DAEMON });
		await mkdir(SCREENSHOTS, { recursive: true });
	}, 300_000);

	afterEach(async () => {
		await rm(gate, { force: true });
		// Each scenario starts with nothing mounted, whatever the last one did.
		await host?.client.unmount({ all: true, force: true }).catch(() => undefined);
	});

	afterAll(async () => {
		await host?.close();
		await env?.teardown();
		await root?.release();
	}, 120_000);

	/** The window, reloaded, with "Mount when opened" set. */
	async function freshWindow(mountOnOpen: boolean): Promise<void> {
		await host.page.evaluate(
			`localStorage.setItem('vmdk.mountOnOpen', ${JSON.stringify(String(mountOnOpen))})`,
		);
		await host.reload();
		await status().waitFor();
	}

	function status(): Locator {
		return host.page.locator('footer .connection-text');
	}

	function card(name: string): Locator {
		return host.page.getByRole('article', { name, exact: true });
	}

	function text(locator: Locator): Promise<string> {
		return locator.innerText({ timeout: UI_TIMEOUT_MS }).then((t) => t.trim());
	}

	async function until(
		what: () => Promise<unknown>,
		expected: unknown,
		timeout = UI_TIMEOUT_MS,
	): Promise<void> {
		await expect.poll(what, { timeout, interval: 100 }).toEqual(expected);
	}

	/** The volume rows of a card: [index, name, type, label, state] each. */
	async function rows(scope: Locator): Promise<string[][]> {
		const out: string[][] = [];
		for (const row of await scope.locator('tbody tr').all()) {
			const cells = await row.locator('td').allInnerTexts();
			out.push(
				[cells[0], cells[1], cells[2], cells[3], (cells[6] ?? '').split('\n')[0]].map((c) =>
					(c ?? '').trim(),
				),
			);
		}
		return out;
	}

	/** The same state in light and dark, into docs/screenshots/<name>-<scheme>.png. */
	async function screenshots(name: string): Promise<void> {
		await host.page.mouse.move(0, 0);
		for (const scheme of ['light', 'dark'] as const) {
			await host.page.emulateMedia({ colorScheme: scheme });
			await host.page.evaluate('new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))');
			await host.page.screenshot({ path: join(SCREENSHOTS, `${name}-${scheme}.png`) });
		}
		await host.page.emulateMedia({ colorScheme: 'light' });
	}

	/** The controls in Chromium's own accessibility tree, and those of them without a name. */
	async function controlNames(): Promise<{ count: number; unnamed: string[] }> {
		const cdp = await host.page.context().newCDPSession(host.page);
		try {
			const { nodes } = (await cdp.send('Accessibility.getFullAXTree')) as {
				nodes: { ignored: boolean; role?: { value: string }; name?: { value: string } }[];
			};
			const controls = new Set([
				'button',
				'checkbox',
				'switch',
				'tab',
				'textbox',
				'link',
				'combobox',
				'menuitem',
			]);
			const found = nodes.filter((n) => !n.ignored && controls.has(n.role?.value ?? ''));
			return {
				count: found.length,
				unnamed: found.filter((n) => (n.name?.value ?? '').trim() === '').map((n) => n.role?.value ?? '?'),
			};
		} finally {
			await cdp.detach();
		}
	}

	/** Every control on screen has an accessible name (and there are controls to check). */
	async function expectNamedControls(): Promise<void> {
		const { count, unnamed } = await controlNames();
		expect(count).toBeGreaterThan(5);
		expect(unnamed).toEqual([]);
	}

	async function mounted(): Promise<readonly MountedDisk[]> {
		return (await host.client.list()).disks;
	}

	/** Reads the known files in a mounted folder and checks their bytes. */
	async function expectFiles(mountpoint: string): Promise<void> {
		expect(await readFile(join(mountpoint, 'hello.txt'), 'utf8')).toBe('Hello from inside a VMDK\n');
		const data = fx.files.find((f) => f.name === 'data.bin');
		expect(await sha256File(join(mountpoint, 'data.bin'))).toBe(data?.sha256);
	}

	it('starts empty, loads nothing remote, and its CSP blocks inline scripts and network access', async () => {
		const requests: string[] = [];
		host.page.on('request', (r) => requests.push(r.url()));
		await freshWindow(true);
		host.page.removeAllListeners('request');
		await until(() => text(status()), STRINGS.status.connected);
		await host.page.getByRole('heading', { name: STRINGS.drop.title }).waitFor();
		await screenshots('empty');

		// Only the page's own files, from the host's token folder.
		const base = host.pageUrl.slice(0, host.pageUrl.lastIndexOf('/') + 1);
		expect(requests.length).toBeGreaterThanOrEqual(3);
		expect(requests.filter((u) => !u.startsWith(base))).toEqual([]);

		// The window ships React's production build, whatever NODE_ENV the build ran under.
		const bundle = await Promise.all(
			(await readdir(join(RENDERER_DIR, 'assets')))
				.filter((f) => f.endsWith('.js'))
				.map((f) => readFile(join(RENDERER_DIR, 'assets', f), 'utf8')),
		);
		expect(bundle.some((js) => js.includes('jsxDEV'))).toBe(false);

		const csp = await host.page.getAttribute('meta[http-equiv="Content-Security-Policy"]', 'content');
		expect(csp).toContain("default-src 'none'");
		expect(csp).toContain("script-src 'self'");
		expect(csp).toContain("connect-src 'none'");
		expect(csp).not.toMatch(/unsafe|https?:|\*/);
		const probe = await host.page.evaluate<unknown>(`(async () => {
			const s = document.createElement('script');
			s.textContent = 'window.__inlineRan = true';
			document.head.append(s);
			let fetched;
			try { await fetch(location.href); fetched = 'allowed'; } catch { fetched = 'blocked'; }
			return { inline: window.__inlineRan === true, fetched };
		})()`);
		expect(probe).toEqual({ inline: false, fetched: 'blocked' });
	});

	it('refuses IPC from a frame that is not the window', async () => {
		await freshWindow(false);
		const answer = await host.page.evaluate<unknown>(`(async () => {
			const frame = document.createElement('iframe');
			document.body.append(frame);
			await new Promise((r) => setTimeout(r, 100));
			const invoke = frame.contentWindow.__vmdkInvoke;
			if (typeof invoke !== 'function') return 'no binding in the frame';
			return invoke('vmdk:list', []);
		})()`);
		expect(answer).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
		expect(JSON.stringify(answer)).toMatch(/refused a message from a subframe/);
	});

	it('opens a disk, lists its volumes as blkid sees them, mounts it, reads the files, unmounts it', async () => {
		await freshWindow(false);
		host.queueDialog([fx.sample]);
		await host.page.getByRole('button', { name: STRINGS.toolbar.open, exact: true }).click();
		const sample = card('sample.vmdk');
		await sample.waitFor({ timeout: UI_TIMEOUT_MS });
		await until(
			() => rows(sample),
			fx.samplePartitions.map((p) => [
				String(p.index),
				`p${p.index}`,
				filesystemName({ type: p.blkid.type, label: null, uuid: null, version: p.blkid.version }) ?? '',
				p.blkid.label,
				STRINGS.state.notMounted,
			]),
		);
		// The peer agrees with what we built: ext4, FAT32 and NTFS with their labels.
		expect(fx.samplePartitions.map((p) => [p.blkid.type, p.blkid.label])).toEqual([
			['ext4', 'LINUXDATA'],
			['vfat', 'FATDATA'],
			['ntfs', 'NTDATA'],
		]);
		expect(await text(sample.locator('.state-badge'))).toBe(STRINGS.state.notMounted);
		expect(await mounted()).toEqual([]);
		await screenshots('disk-listed');

		// Where the rows and the disk's buttons are before mounting: nothing may move after.
		const boxes = async () => [
			...(await Promise.all(
				(await sample.locator('tbody tr').all()).map(async (row) => await row.boundingBox()),
			)),
			...(await Promise.all(
				(await sample.locator('tbody .button').all()).map(async (button) => await button.boundingBox()),
			)),
			await sample.locator('.source-head .button.toggle').boundingBox(),
			await sample.locator('.source-head .disk-state').boundingBox(),
		];
		const before = await boxes();
		host.events.length = 0;
		await sample.getByRole('button', { name: STRINGS.disk.mountLabel('sample.vmdk') }).click();
		await until(() => text(sample.locator('.state-badge')), STRINGS.state.mountedReadOnly);
		// The daemon's steps reached the window, under the id the window gave its mount.
		const steps = host.events
			.filter((e) => e.channel === 'vmdk:progress')
			.map((e) => e.payload as ProgressEvent);
		const volumeSteps = steps.filter((e) => e.phase === 'mounting-volume');
		expect(volumeSteps.map((e) => [e.volumeIndex, e.done, e.total])).toEqual([
			[1, 0, 3],
			[2, 1, 3],
			[3, 2, 3],
		]);
		expect(volumeSteps[0]?.operationId).toMatch(
			/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
		);
		expect(steps.some((e) => e.phase === 'done' && e.operationId === volumeSteps[0]?.operationId)).toBe(true);
		expect(await boxes()).toEqual(before);
		const [disk] = await mounted();
		expect(disk?.readWrite).toBe(false);
		const volumes = disk?.volumes ?? [];
		expect(volumes.map((v) => v.mountpoint !== null)).toEqual([true, true, true]);
		// The window shows each volume mounted, where the daemon put it, by the helper it used.
		for (const [i, v] of volumes.entries()) {
			const row = sample.locator('tbody tr').nth(i);
			expect(await text(row.locator('.volume-state'))).toBe(STRINGS.state.mounted);
			expect((await text(row.locator('.detail'))).replaceAll('\u200e', '')).toBe(v.mountpoint);
			expect(await text(row.locator('td').nth(5))).toBe(v.helper);
			await expectFiles(v.mountpoint ?? '');
		}
		await screenshots('mounted');
		await expectNamedControls();

		await sample.getByRole('button', { name: STRINGS.volumes.revealLabel('LINUXDATA') }).click();
		await until(async () => host.revealed.at(-1), volumes[0]?.mountpoint);

		// One volume at a time: FATDATA goes while the others stay, then comes back.
		const fatRow = sample.locator('tbody tr').nth(1);
		await sample.getByRole('button', { name: STRINGS.volumes.unmountLabel('FATDATA') }).click();
		await until(() => text(fatRow.locator('.volume-state')), STRINGS.state.notMounted);
		expect((await mounted())[0]?.volumes.map((v) => v.mountpoint !== null)).toEqual([true, false, true]);
		expect(existsSync(volumes[1]?.mountpoint ?? '/nonexistent')).toBe(false);
		await expectFiles(volumes[0]?.mountpoint ?? '');
		await sample.getByRole('button', { name: STRINGS.volumes.mountLabel('FATDATA') }).click();
		await until(() => text(fatRow.locator('.volume-state')), STRINGS.state.mounted);
		expect((await mounted())[0]?.volumes.map((v) => v.mountpoint)).toEqual(volumes.map((v) => v.mountpoint));
		await expectFiles(volumes[1]?.mountpoint ?? '');

		await sample.getByRole('button', { name: STRINGS.disk.unmountLabel('sample.vmdk') }).click();
		await until(() => text(sample.locator('.state-badge')), STRINGS.state.notMounted);
		expect(await mounted()).toEqual([]);
		for (const v of volumes) expect(existsSync(v.mountpoint ?? '/nonexistent')).toBe(false);
		expect(await env.leftovers()).toEqual([]);
	});

	it('drops a locked bundle: the lock shows, copy-on-write is refused unless forced', async () => {
		await freshWindow(false);
		await host.drop([fx.bundle]);
		const vm = card(fx.bundleName);
		await vm.waitFor({ timeout: UI_TIMEOUT_MS });
		const lock = vm.getByRole('note');
		await until(() => text(lock.locator('.notice-title')), STRINGS.source.lockedTitle);
		expect(await text(lock)).toContain(STRINGS.source.locked);
		// Two disks; the system disk is a snapshot over its base.
		await until(
			() => vm.locator('section.disk h3').allInnerTexts(),
			fx.bundleDisks.map((d) => d.slice(d.lastIndexOf('/') + 1)),
		);
		expect(
			await vm
				.getByRole('list', { name: STRINGS.disk.chainLabel(2) })
				.locator('li')
				.allInnerTexts(),
		).toEqual(['system-000001.vmdk', 'system.vmdk']);
		expect(await text(vm.locator('.source-head .summary'))).toContain(
			STRINGS.source.snapshots(1, 'Before update'),
		);
		await screenshots('bundle-locked');
		await expectNamedControls();

		// Allowing changes asks first; then the daemon refuses because VMware holds the lock.
		await vm.getByRole('switch', { name: STRINGS.write.switchLabel(fx.bundleName) }).click();
		const dialog = host.page.getByRole('dialog', { name: STRINGS.write.dialogTitle(fx.bundleName) });
		await dialog.waitFor();
		await screenshots('confirm-changes');
		await dialog.getByRole('button', { name: STRINGS.write.confirm }).click();
		await vm.getByRole('button', { name: STRINGS.source.mountAllLabel(fx.bundleName) }).click();
		const refusal = vm.getByRole('alert');
		await until(() => refusal.locator('.notice-title').innerText(), USER_MESSAGES.DISK_LOCKED.title);
		expect(await text(refusal)).toContain(USER_MESSAGES.DISK_LOCKED.description);
		expect(await mounted()).toEqual([]);
		expect(await env.leftovers()).toEqual([]);
		await screenshots('bundle-refused');

		// "Anyway" asks again, then mounts both disks copy-on-write.
		await refusal.getByRole('button', { name: STRINGS.write.force }).click();
		await host.page
			.getByRole('dialog', { name: STRINGS.write.forceTitle(fx.bundleName) })
			.getByRole('button', { name: STRINGS.write.forceConfirm })
			.click();
		await until(
			() => vm.locator('section.disk .state-badge').allInnerTexts(),
			[STRINGS.state.mountedWritable, STRINGS.state.mountedWritable],
		);
		const disks = await mounted();
		expect(disks.map((d) => [d.path, d.readWrite])).toEqual(fx.bundleDisks.map((p) => [p, true]));
		for (const d of disks) await expectFiles(d.volumes.find((v) => v.mountpoint !== null)?.mountpoint ?? '');

		await vm.getByRole('button', { name: STRINGS.source.unmountAllLabel(fx.bundleName) }).click();
		await until(
			() => vm.locator('section.disk .state-badge').allInnerTexts(),
			[STRINGS.state.notMounted, STRINGS.state.notMounted],
		);
		expect(await mounted()).toEqual([]);
		expect(await env.leftovers()).toEqual([]);
	});

	it('shows a mount made with the CLI without a reload, and drops it when the CLI unmounts it', async () => {
		await freshWindow(false);
		const r = await env.cli('mount', fx.cliDisk);
		expect(r.status, r.stderr).toBe(0);
		const cli = card('cli.vmdk');
		await cli.waitFor({ timeout: UI_TIMEOUT_MS });
		expect(await text(host.page.getByRole('heading', { name: STRINGS.list.otherMounts }))).toBe(
			STRINGS.list.otherMounts,
		);
		expect(await rows(cli)).toEqual([['1', 'p1', 'ext4', 'CLIDATA', STRINGS.state.mounted]]);
		await until(() => text(host.page.locator('.mounted-count')), STRINGS.status.mountedCount(1));
		await screenshots('also-mounted');
		const u = await env.cli('unmount', fx.cliDisk);
		expect(u.status, u.stderr).toBe(0);
		await cli.waitFor({ state: 'detached', timeout: UI_TIMEOUT_MS });
		await until(() => text(host.page.locator('.mounted-count')), STRINGS.status.mountedCount(0));
	});

	it('says so when the daemon is killed, and recovers when it is back', async () => {
		await freshWindow(true);
		// Opened from outside (Finder, a second launch): main mounts it, the window lists it.
		await host.openPaths([fx.cliDisk]);
		expect(host.openFailures).toEqual([]);
		const cli = card('cli.vmdk');
		await until(() => text(cli.locator('.state-badge')), STRINGS.state.mountedReadOnly);
		// The window did not try to mount it a second time (that would show "Already mounted").
		expect(await cli.getByRole('alert').count()).toBe(0);
		const pid = await env.daemonPid();
		expect(pid).toBeDefined();

		await writeFile(gate, 'closed');
		process.kill(pid ?? 0, 'SIGKILL');
		await until(() => text(status()), STRINGS.status.disconnected);
		await until(
			async () => host.page.locator('footer.status-bar').getAttribute('class'),
			'status-bar disconnected',
		);
		// Nothing can answer Unmount all meanwhile: it is blocked like the disk's own buttons.
		const unmountAll = host.page.getByRole('button', { name: STRINGS.toolbar.unmountAllLabel });
		expect(await unmountAll.getAttribute('aria-disabled')).toBe('true');
		await screenshots('daemon-stopped');

		await rm(gate);
		await until(() => text(status()), STRINGS.status.connected, 60_000);
		const newPid = await env.daemonPid();
		expect(newPid).not.toBe(pid);
		expect(isAlive(newPid ?? 0)).toBe(true);
		// The new daemon cleaned up what the killed one left; the window shows the truth.
		await until(() => text(cli.locator('.state-badge')), STRINGS.state.notMounted);
		expect(await mounted()).toEqual([]);
		expect(await env.leftovers()).toEqual([]);
		// And it works again.
		await cli.getByRole('button', { name: STRINGS.disk.mountLabel('cli.vmdk') }).click();
		await until(() => text(cli.locator('.state-badge')), STRINGS.state.mountedReadOnly);
	});

	it('shows the table’s message for files that cannot be opened', async () => {
		await freshWindow(true);
		await host.drop([fx.notVmdk, fx.orphan]);
		const notes = card('notes.vmdk');
		const orphan = card('system-000001.vmdk');
		await until(() => text(notes.locator('.notice-title')), USER_MESSAGES.VMDK_NOT_VMDK.title);
		expect(await text(notes.getByRole('alert'))).toContain(USER_MESSAGES.VMDK_NOT_VMDK.description);
		await until(() => text(orphan.locator('.notice-title')), USER_MESSAGES.VMDK_MISSING_PARENT.title);
		expect(await text(orphan.getByRole('alert'))).toContain(USER_MESSAGES.VMDK_MISSING_PARENT.description);
		// The technical line names the file.
		expect(await text(notes.locator('.technical'))).toContain('notes.vmdk');
		expect(await mounted()).toEqual([]);
		await screenshots('error');
		await expectNamedControls();
	});

	it('opens, mounts and unmounts with the keyboard only', async () => {
		await freshWindow(false);
		const page = host.page;
		/** Presses Tab until the focused element has this accessible name. */
		async function tabTo(name: string): Promise<void> {
			for (let i = 0; i < 40; i++) {
				await page.keyboard.press('Tab');
				const focused = await page.evaluate<string>(
					`(() => { const e = document.activeElement; return e ? (e.getAttribute('aria-label') ?? e.textContent ?? '').trim() : ''; })()`,
				);
				if (focused === name) return;
			}
			throw new Error(`Tab never reached "${name}"`);
		}
		const focusedName = () =>
			page.evaluate(
				`document.activeElement?.getAttribute('aria-label') ?? document.activeElement?.textContent`,
			);

		host.queueDialog([fx.sample]);
		await tabTo(STRINGS.toolbar.open);
		await page.keyboard.press('Enter');
		const sample = card('sample.vmdk');
		await sample.waitFor({ timeout: UI_TIMEOUT_MS });

		// The copy-on-write switch asks; Escape keeps read-only.
		await tabTo(STRINGS.write.switchLabel('sample.vmdk'));
		await page.keyboard.press('Space');
		await page.getByRole('dialog').waitFor();
		expect(await focusedName()).toBe(STRINGS.write.cancel);
		await page.keyboard.press('Escape');
		await page.getByRole('dialog').waitFor({ state: 'hidden' });
		expect(await sample.getByRole('switch').isChecked()).toBe(false);

		await tabTo(STRINGS.disk.mountLabel('sample.vmdk'));
		await page.keyboard.press('Enter');
		await until(() => text(sample.locator('.state-badge')), STRINGS.state.mountedReadOnly);
		// The same button, still focused, now unmounts.
		expect(await focusedName()).toBe(STRINGS.disk.unmountLabel('sample.vmdk'));
		expect((await mounted()).length).toBe(1);
		await page.keyboard.press('Enter');
		await until(() => text(sample.locator('.state-badge')), STRINGS.state.notMounted);
		expect(await mounted()).toEqual([]);

		// The tabs follow the arrow keys.
		await tabTo(STRINGS.tabs.disks);
		await page.keyboard.press('ArrowRight');
		expect(await focusedName()).toBe(STRINGS.tabs.helpers);
		await page.getByRole('tabpanel', { name: STRINGS.tabs.helpers }).waitFor();
	});

	it('lists the helpers as the CLI’s doctor does, with the install steps', async () => {
		await freshWindow(false);
		await host.page.getByRole('tab', { name: STRINGS.tabs.helpers }).click();
		const panel = host.page.getByRole('tabpanel', { name: STRINGS.tabs.helpers });
		const table = panel.getByRole('table', { name: STRINGS.helpers.caption });
		await table.waitFor({ timeout: UI_TIMEOUT_MS });
		const r = await env.cli('doctor', '--json');
		const doctor = JSON.parse(r.stdout) as DoctorReport;
		const shown: string[][] = [];
		for (const tr of await table.locator('tbody tr').all()) {
			shown.push([await text(tr.locator('th')), await text(tr.locator('.badge'))]);
		}
		expect(shown).toEqual(
			doctor.helpers.map((h) => [
				h.id,
				h.path === null ? STRINGS.helpers.missing : STRINGS.helpers.installed,
			]),
		);
		for (const h of doctor.helpers.filter((x) => x.path === null)) {
			expect(await text(table.getByRole('row', { name: new RegExp(`^${h.id}\\b`) }))).toContain(h.install);
		}
		await host.page.getByRole('tab', { name: STRINGS.tabs.disks }).click();
	});

	it('says what to install on a computer where helpers are missing', async () => {
		// A second daemon that finds only fuse2fs (the lookup path is a folder holding just it).
		const bin = join(root.dir, 'helpers-bin');
		await mkdir(bin, { recursive: true });
		await symlink('/usr/bin/fuse2fs', join(bin, 'fuse2fs'));
		const other = await MountEnv.create('vmdk-e2e-helpers-', { VMDK_MOUNTER_HELPER_PATH: bin });
		const saved = Object.fromEntries(Object.keys(other.env).map((k) => [k, process.env[k]]));
		let second: TestHost | undefined;
		try {
			other.applyToProcess();
			try {
				second = await TestHost.start({ rendererDir: RENDERER_DIR, daemonEntry: GATED_DAEMON });
			} finally {
				for (const [k, v] of Object.entries(saved)) {
					if (v === undefined) delete process.env[k];
					else process.env[k] = v;
				}
			}
			const page = second.page;
			await page.getByRole('tab', { name: STRINGS.tabs.helpers }).click();
			const table = page.getByRole('table', { name: STRINGS.helpers.caption });
			await table.waitFor({ timeout: UI_TIMEOUT_MS });
			const doctor = JSON.parse((await other.cli('doctor', '--json')).stdout) as DoctorReport;
			const missingHelpers = doctor.helpers.filter((h) => h.path === null);
			expect(missingHelpers.map((h) => h.id).sort()).toEqual(['exfat-fuse', 'fusefat', 'ntfs-3g']);
			for (const h of missingHelpers) {
				const row = table.locator('tbody tr').filter({ has: page.locator('th', { hasText: h.id }) });
				expect(await text(row.locator('.badge'))).toBe(STRINGS.helpers.missing);
				expect(await text(row.locator('code'))).toBe(h.install);
			}
			expect(doctor.installCommand).not.toBeNull();
			expect(await text(page.locator('.install-all code'))).toBe(doctor.installCommand);
			const previous = host;
			host = second;
			try {
				await screenshots('helpers');
			} finally {
				host = previous;
			}
		} finally {
			await second?.close();
			await other.teardown();
		}
	});
});
