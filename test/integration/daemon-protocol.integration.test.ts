// SPDX-License-Identifier: MIT
/**
 * The protocol against a live daemon process: malformed requests of every kind get typed
 * answers while the daemon goes on serving other clients; a subscribed client survives the
 * daemon being killed — it hears the loss, the client restarts the daemon, subscribes again
 * and keeps receiving events (here: a mount made by the CLI); and a subscribed client keeps an
 * otherwise idle daemon alive.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DaemonClient } from '../../src/daemon/client.js';
import { appPaths } from '../../src/host/index.js';
import type { MountedDisk } from '../../src/shared/models.js';
import { ensureCliBuilt } from '../fixtures/reference-disk.js';
import { describeNeeding } from '../helpers/capability.js';
import { MountEnv, isAlive, makeFixtures, missingCapability, type Fixtures } from '../helpers/mount-env.js';
import { rawExchange } from '../helpers/raw-socket.js';

/** Resolves when `predicate` holds for a list the client heard, or rejects after `ms`. */
function heard(
	client: DaemonClient,
	predicate: (disks: readonly MountedDisk[]) => boolean,
	ms = 30_000,
): Promise<readonly MountedDisk[]> {
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error('no such mount event')), ms);
		const stop = client.onDidChangeMounts((disks) => {
			if (!predicate(disks)) return;
			clearTimeout(timer);
			stop();
			resolve(disks);
		});
	});
}

describeNeeding(missingCapability(), 'the daemon protocol against a live daemon', () => {
	let env: MountEnv;
	let fx: Fixtures;
	const clients: DaemonClient[] = [];

	beforeAll(async () => {
		await ensureCliBuilt();
		env = await MountEnv.create('vmdk-proto-it-', { VMDK_MOUNTER_IDLE_EXIT_MS: '1500' });
		fx = await makeFixtures(env.root);
	}, 180_000);

	afterAll(async () => {
		for (const c of clients) c.close();
		await env?.teardown();
	});

	const paths = () => appPaths({ ...process.env, ...env.env });

	it('answers malformed requests with BAD_REQUEST and keeps serving everyone', async () => {
		const good = await DaemonClient.connect({ paths: paths(), clientName: 'test' });
		clients.push(good);
		const answers = await rawExchange(
			paths().socketPath,
			[
				'{{{',
				'{"id":1,"method":"format-disk"}',
				'{"id":2,"method":"mount","params":{"path":"../../etc/passwd"}}',
				'{"id":3,"method":"mount","params":{"path":"/x.vmdk","partition":-1}}',
				'{"id":4,"method":"unmount","params":{"target":"relative"}}',
				'{"id":5,"method":"inspect","params":{"path":42}}',
				'{"id":6,"method":"hello","params":{"protocolVersion":1}}',
				'{"id":7,"method":"list"}',
			].join('\n') + '\n',
			8,
		);
		expect(answers.slice(0, 6).map((a) => (a.error as { code: string }).code)).toEqual(
			Array(6).fill('BAD_REQUEST'),
		);
		expect(answers[6]).toMatchObject({ id: 6, error: { code: 'PROTOCOL_MISMATCH' } });
		expect(answers[7]).toMatchObject({ id: 7, result: { disks: [] } });
		// An oversize line closes only its own connection.
		const big = await rawExchange(
			paths().socketPath,
			`{"id":9,"method":"list","junk":"${'x'.repeat(100_000)}"}\n`,
			1,
		);
		expect(big[0]).toMatchObject({ error: { code: 'BAD_REQUEST' } });
		await expect(good.list()).resolves.toEqual({ disks: [] });
	});

	it('a subscribed client keeps an idle daemon alive, survives its death and keeps receiving events', async () => {
		const app = await DaemonClient.connect({ paths: paths(), clientName: 'app', reconnect: true });
		clients.push(app);
		const events: (readonly MountedDisk[])[] = [];
		app.onDidChangeMounts((d) => events.push(d));
		const pid = (await app.hello()).pid;
		// Longer than the idle time: a subscriber keeps the daemon.
		await new Promise((r) => setTimeout(r, 2_500));
		expect(isAlive(pid)).toBe(true);

		const lost = new Promise<string>((resolve) => app.onDidDisconnect(resolve));
		const back = new Promise<number>((resolve) => app.onDidReconnect((h) => resolve(h.pid)));
		process.kill(pid, 'SIGKILL');
		await expect(lost).resolves.toMatch(/closed the connection/);
		const newPid = await back;
		expect(newPid).not.toBe(pid);

		// Events still arrive: a mount made by the CLI shows up, and its unmount too.
		const mounted = heard(app, (d) => d.some((x) => x.path === fx.mbrSparse));
		const r = await env.cli('mount', '--json', fx.mbrSparse);
		expect(r.status, r.stderr).toBe(0);
		await mounted;
		const gone = heard(app, (d) => d.length === 0);
		expect((await env.cli('unmount', fx.mbrSparse)).status).toBe(0);
		await gone;
		expect(await env.leftovers()).toEqual([]);
	});
});
