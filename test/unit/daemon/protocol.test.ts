// SPDX-License-Identifier: MIT
// The control protocol in one process: a real Unix socket, the real server and client, with
// handlers standing in for the service. Validation, dispatch, errors, events and deadlines.
import { stat } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { VmdkError } from '../../../src/core/index.js';
import { DaemonClient } from '../../../src/daemon/client.js';
import { ControlServer, type MethodHandlers } from '../../../src/daemon/server.js';
import { appPaths, type AppPaths } from '../../../src/host/index.js';
import { AppError } from '../../../src/shared/app-error.js';
import { PROTOCOL_VERSION } from '../../../src/shared/daemon-contract.js';
import type { MountedDisk } from '../../../src/shared/models.js';
import { rawExchange } from '../../helpers/raw-socket.js';
import { makeTempDir } from '../../helpers/temp-dir.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
	for (const c of cleanups.splice(0).reverse()) await c();
});

const DISK: MountedDisk = {
	id: 'abcd0123',
	path: '/x.vmdk',
	rawPath: '/r/disk',
	readWrite: false,
	volumes: [],
};

async function startServer(notices: string[] = [], protocolVersion = PROTOCOL_VERSION) {
	const tmp = await makeTempDir('vmdk-proto-');
	const paths: AppPaths = appPaths({
		HOME: tmp.dir,
		VMDK_MOUNTER_RUNTIME_DIR: `${tmp.dir}/run`,
		VMDK_MOUNTER_STATE_DIR: `${tmp.dir}/state`,
	});
	const socketPath = paths.socketPath;
	let release: () => void = () => undefined;
	const slow = new Promise<void>((r) => (release = r));
	const seenMounts: unknown[] = [];
	const handlers: MethodHandlers = {
		hello: () => ({ pid: 1, version: 't', protocolVersion, socketPath, logPath: '/l' }),
		inspect: () => {
			throw new Error('boom inspect');
		},
		doctor: () => {
			throw new AppError('FUSE_UNAVAILABLE', 'no fuse here');
		},
		list: () => ({ disks: [DISK] }),
		mount: async (p) => {
			seenMounts.push(p);
			if (p.path === '/slow') {
				await slow;
				return { disks: [] };
			}
			if (p.path === '/never') return new Promise(() => undefined);
			if (p.path === '/locked') throw new AppError('DISK_LOCKED', 'locked by VMware');
			throw new VmdkError('VMDK_TRUNCATED', 'file ends early', { file: p.path, offsetBytes: 512 });
		},
		unmount: () => ({ disks: [] }),
		subscribe: () => null,
		shutdown: () => {
			throw new Error('boom shutdown');
		},
	};
	const server = new ControlServer(handlers, () => notices.splice(0));
	const { mkdir } = await import('node:fs/promises');
	await mkdir(paths.runtimeDir, { recursive: true, mode: 0o700 });
	await server.listen(socketPath);
	cleanups.push(async () => {
		release();
		await server.close();
		await tmp.cleanup();
	});
	return { server, socketPath, paths, release, seenMounts };
}

async function client(paths: AppPaths, deadlinesMs?: { mount?: number }): Promise<DaemonClient> {
	const c = await DaemonClient.connect({ paths, autoStart: false, ...(deadlinesMs ? { deadlinesMs } : {}) });
	cleanups.push(async () => c.close());
	return c;
}

describe('control protocol', () => {
	it('creates the socket with mode 0600', async () => {
		const { socketPath } = await startServer();
		expect((await stat(socketPath)).mode % 0o1000).toBe(0o600);
	});

	it('answers requests out of order: a slow mount does not hold up list', async () => {
		const { paths, release } = await startServer();
		const c = await client(paths);
		const slow = c.mount({ path: '/slow' });
		await expect(c.list()).resolves.toEqual({ disks: [DISK] });
		release();
		await expect(slow).resolves.toEqual({ disks: [] });
	});

	it('rebuilds errors: engine codes as VmdkError, the rest as AppError, bugs as INTERNAL', async () => {
		const { paths } = await startServer();
		const c = await client(paths);
		const engine = await c.mount({ path: '/t.vmdk' }).catch((e: unknown) => e);
		expect(engine).toBeInstanceOf(VmdkError);
		expect(engine).toMatchObject({ code: 'VMDK_TRUNCATED', message: '/t.vmdk at byte 512: file ends early' });
		const app = await c.mount({ path: '/locked' }).catch((e: unknown) => e);
		expect(app).toBeInstanceOf(AppError);
		expect(app).toMatchObject({ code: 'DISK_LOCKED', message: 'locked by VMware' });
		await expect(c.doctor()).rejects.toMatchObject({ code: 'FUSE_UNAVAILABLE' });
		await expect(c.shutdown()).rejects.toMatchObject({ code: 'INTERNAL', message: 'boom shutdown' });
	});

	it('serves two clients at once and broadcasts events to subscribers only', async () => {
		const { server, paths } = await startServer();
		const a = await client(paths);
		const b = await client(paths);
		const seen: (readonly MountedDisk[])[] = [];
		a.onDidChangeMounts((d) => seen.push(d));
		await a.hello();
		await Promise.all([a.list(), b.list()]);
		expect(server.subscriberCount).toBe(1);
		server.broadcast({ event: 'didChangeMounts', data: [DISK] });
		server.broadcast({
			event: 'progress',
			data: { operationId: 'x', path: '/x', phase: 'opening', message: 'Opening' },
		});
		await a.list();
		expect(seen).toEqual([[DISK]]);
	});

	it('delivers notices once, on the first real command', async () => {
		const { paths } = await startServer(['cleaned up /mnt/x']);
		const c = await client(paths);
		await c.hello();
		expect(c.notices).toEqual([]);
		await c.list();
		await c.list();
		expect(c.notices).toEqual(['cleaned up /mnt/x']);
	});

	it('answers every malformed request with BAD_REQUEST and keeps serving that connection', async () => {
		const { socketPath, seenMounts } = await startServer();
		const lines = await rawExchange(
			socketPath,
			[
				'not json',
				'[1,2]',
				'{"method":"list"}',
				'{"id":7,"method":"rm -rf"}',
				'{"id":8,"method":"mount","params":{"path":"relative/disk.vmdk"}}',
				'{"id":9,"method":"mount","params":{"path":"/x.vmdk","readWrite":"yes"}}',
				'{"id":10,"method":"mount","params":{"path":"/x.vmdk","evil":true}}',
				'{"id":11,"method":"unmount","params":{}}',
				'{"id":12,"method":"__proto__"}',
				'{"id":13,"method":"list"}',
			].join('\n') + '\n',
			10,
		);
		for (const l of lines.slice(0, 9)) expect(l).toMatchObject({ error: { code: 'BAD_REQUEST' } });
		expect(lines.map((l) => l.id)).toEqual([0, 0, 0, 7, 8, 9, 10, 11, 12, 13]);
		expect(JSON.stringify(lines[4])).toMatch(/params\.path must be an absolute path/);
		expect(lines[9]).toMatchObject({ id: 13, result: { disks: [DISK] } });
		// None of the invalid mounts reached the service.
		expect(seenMounts).toEqual([]);
	});

	it('closes only the connection that sends an oversize line; others go on', async () => {
		const { socketPath, paths } = await startServer();
		const other = await client(paths);
		const answer = await rawExchange(
			socketPath,
			`{"id":1,"method":"list","params":{"x":"${'a'.repeat(70_000)}"}}\n`,
			1,
		);
		expect(answer[0]).toMatchObject({ error: { code: 'BAD_REQUEST' } });
		await expect(other.list()).resolves.toEqual({ disks: [DISK] });
	});

	it('gives up on a call after its deadline instead of waiting for ever', async () => {
		const { paths } = await startServer();
		const c = await client(paths, { mount: 200 });
		await expect(c.mount({ path: '/never' })).rejects.toMatchObject({ code: 'DAEMON_UNAVAILABLE' });
		await expect(c.list()).resolves.toEqual({ disks: [DISK] });
	});

	it('refuses a daemon that speaks another protocol version', async () => {
		const { paths } = await startServer([], PROTOCOL_VERSION + 1);
		await expect(DaemonClient.connect({ paths, autoStart: false })).rejects.toMatchObject({
			code: 'PROTOCOL_MISMATCH',
		});
	});

	it('says when the daemon is not there, and tells its listeners when it goes away', async () => {
		const { paths, server } = await startServer();
		const c = await client(paths);
		const lost = new Promise<string>((resolve) => c.onDidDisconnect(resolve));
		await server.close();
		await expect(lost).resolves.toMatch(/closed the connection/);
		await expect(c.list()).rejects.toMatchObject({ code: 'DAEMON_UNAVAILABLE' });
		await expect(DaemonClient.connect({ paths, autoStart: false })).rejects.toMatchObject({
			code: 'DAEMON_UNAVAILABLE',
		});
	});
});
