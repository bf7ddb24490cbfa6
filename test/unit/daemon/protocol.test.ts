// SPDX-License-Identifier: MIT
// The control protocol in one process: a real Unix socket, the real server and client.
import { stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { VmdkError } from '../../../src/core/index.js';
import { DaemonClient, AppError } from '../../../src/daemon/client.js';
import { ControlServer } from '../../../src/daemon/server.js';
import { AppError } from '../../../src/host/common/mount-error.js';
import type { MountedDisk } from '../../../src/shared/models.js';
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

async function startServer(notices: string[] = []) {
	const tmp = await makeTempDir('vmdk-proto-');
	const socketPath = `${tmp.dir}/control.sock`;
	let release: () => void = () => undefined;
	const slow = new Promise<void>((r) => (release = r));
	const server = new ControlServer(
		async (method, params) => {
			switch (method) {
				case 'hello':
					return { pid: 1, version: 't', socketPath, logPath: '/l' };
				case 'list':
					return { disks: [DISK] };
				case 'mount': {
					const p = params as { path: string };
					if (p.path === '/slow') {
						await slow;
						return { disks: [] };
					}
					if (p.path === '/locked') throw new AppError('DISK_LOCKED', 'locked by VMware');
					throw new VmdkError('VMDK_TRUNCATED', 'file ends early', { file: p.path, offsetBytes: 512 });
				}
				default:
					throw new Error(`boom ${method}`);
			}
		},
		() => notices.splice(0),
	);
	await server.listen(socketPath);
	cleanups.push(async () => {
		release();
		await server.close();
		await tmp.cleanup();
	});
	return { server, socketPath, release };
}

async function client(socketPath: string): Promise<DaemonClient> {
	const c = await DaemonClient.connectSocket(socketPath);
	cleanups.push(async () => c.close());
	return c;
}

describe('control protocol', () => {
	it('creates the socket with mode 0600', async () => {
		const { socketPath } = await startServer();
		expect((await stat(socketPath)).mode % 0o1000).toBe(0o600);
	});

	it('answers requests out of order: a slow mount does not hold up list', async () => {
		const { socketPath, release } = await startServer();
		const c = await client(socketPath);
		const slow = c.mount({ path: '/slow' });
		await expect(c.list()).resolves.toEqual({ disks: [DISK] });
		release();
		await expect(slow).resolves.toEqual({ disks: [] });
	});

	it('rebuilds errors: engine codes as VmdkError, the rest as AppError, bugs as INTERNAL', async () => {
		const { socketPath } = await startServer();
		const c = await client(socketPath);
		const engine = await c.mount({ path: '/t.vmdk' }).catch((e: unknown) => e);
		expect(engine).toBeInstanceOf(VmdkError);
		expect(engine).toMatchObject({ code: 'VMDK_TRUNCATED', message: '/t.vmdk at byte 512: file ends early' });
		const app = await c.mount({ path: '/locked' }).catch((e: unknown) => e);
		expect(app).toBeInstanceOf(AppError);
		expect(app).toMatchObject({ code: 'DISK_LOCKED', message: 'locked by VMware' });
		await expect(c.shutdown()).rejects.toMatchObject({ code: 'INTERNAL', message: 'boom shutdown' });
	});

	it('serves two clients at once and broadcasts events to subscribers only', async () => {
		const { server, socketPath } = await startServer();
		const a = await client(socketPath);
		const b = await client(socketPath);
		const seen: (readonly MountedDisk[])[] = [];
		a.onDidChangeMounts((d) => seen.push(d));
		await a.hello();
		let bSaw = 0;
		b.onDidChangeMounts(() => bSaw++);
		await Promise.all([a.list(), b.list()]);
		server.broadcast({ event: 'didChangeMounts', data: [DISK] });
		await a.list();
		await b.list();
		expect(seen).toEqual([[DISK]]);
		expect(bSaw).toBe(1);
	});

	it('delivers notices once, on the first real command', async () => {
		const { socketPath } = await startServer(['cleaned up /mnt/x']);
		const c = await client(socketPath);
		await c.hello();
		expect(c.notices).toEqual([]);
		await c.list();
		await c.list();
		expect(c.notices).toEqual(['cleaned up /mnt/x']);
	});

	it('answers malformed lines with a USAGE error and keeps the connection', async () => {
		const { socketPath } = await startServer();
		const lines = await new Promise<string[]>((resolve, reject) => {
			const s = connect(socketPath);
			let text = '';
			s.setEncoding('utf8');
			s.on('data', (d: string) => {
				text += d;
				const got = text.split('\n').filter((l) => l !== '');
				if (got.length === 3) {
					s.end();
					resolve(got);
				}
			});
			s.on('error', reject);
			s.write('not json\n{"id":7,"method":"rm -rf"}\n{"id":8,"method":"list"}\n');
		});
		const parsed = lines.map((l) => JSON.parse(l) as { id: number; error?: { code: string } });
		expect(parsed[0]?.error?.code).toBe('USAGE');
		expect(parsed[1]).toMatchObject({ id: 7, error: { code: 'USAGE' } });
		expect(parsed[2]).toMatchObject({ id: 8, result: { disks: [DISK] } });
	});
});
