// SPDX-License-Identifier: MIT
// The window's IPC handlers: the sender check, every argument's validation (types, relative
// and missing paths, unknown ids), and the mapping of failures to the shared message table. The
// daemon client is a recording stand-in here; the e2e suite runs these handlers on a real one.
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { VmdkError } from '../../../src/core/errors.js';
import { createIpcHandlers, type HandlerDeps, type IpcSender } from '../../../src/main/ipc/handlers.js';
import { AppError } from '../../../src/shared/app-error.js';
import { IPC_ARGS, type InvokeChannel, type IpcOutcome } from '../../../src/shared/ipc-contract.js';
import type { DoctorReport, InfoResult, MountedDisk } from '../../../src/shared/models.js';
import { userMessage } from '../../../src/shared/user-messages.js';
import { makeTempDir } from '../../helpers/temp-dir.js';

const PAGE = 'file:///app/dist/renderer/index.html';
const TRUSTED: IpcSender = { frameUrl: PAGE, isMainFrame: true, webContentsId: 1 };

let dir: string;
let cleanup: () => Promise<void>;
let disk: string;
let mountpoint: string;

beforeAll(async () => {
	({ dir, cleanup } = await makeTempDir('vmdk-handlers-'));
	disk = join(dir, 'disk.vmdk');
	await writeFile(disk, 'not really a disk');
	mountpoint = join(dir, 'mnt', 'disk-p1');
	await mkdir(mountpoint, { recursive: true });
	await symlink(disk, join(dir, 'link.vmdk'));
});
afterAll(() => cleanup());

/** A mounted disk whose volume 1 is at `mountpoint`. */
function mounted(): MountedDisk {
	return {
		id: '0badcafe',
		path: disk,
		rawPath: '/run/x/disks/0badcafe/disk',
		readWrite: false,
		volumes: [
			{
				index: 1,
				name: 'p1',
				mountpoint,
				rawPath: '/run/x/disks/0badcafe/p1',
				filesystem: { type: 'ext4', label: 'DATA', uuid: null },
				helper: 'fuse2fs',
				readOnly: true,
			},
		],
	};
}

function info(path: string): InfoResult {
	return {
		vm: null,
		disks: [
			{
				path,
				createType: 'monolithicSparse',
				capacityBytes: 1024,
				chain: [{ path, createType: 'monolithicSparse', cid: '00000001', parentCid: 'ffffffff' }],
				partitionTable: { scheme: 'none' },
				volumes: [],
				warnings: [],
			},
		],
	};
}

/** Every call the handlers made to the outside world. */
let calls: { what: string; args: unknown }[];
let clientError: unknown;
let dialogPaths: readonly string[];

function makeDeps(overrides: Partial<HandlerDeps> = {}): HandlerDeps {
	const record = async <T>(what: string, args: unknown, value: T): Promise<T> => {
		calls.push({ what, args });
		// Also non-Error values: handlers must map whatever is thrown.
		if (clientError !== undefined) throw clientError as Error;
		return value;
	};
	return {
		client: {
			inspect: (request) => record('inspect', request, info(request.path)),
			mount: (request) => record('mount', request, { disks: [mounted()] }),
			unmount: (request) => record('unmount', request, { disks: [mounted()] }),
			list: () => record('list', {}, { disks: [mounted()] }),
			doctor: () => record('doctor', {}, { platform: 'linux' } as DoctorReport),
		},
		revealPath: (path) => calls.push({ what: 'reveal', args: path }),
		showOpenDialog: () => record('dialog', {}, dialogPaths),
		openExternal: (url) => record('openExternal', url, undefined),
		isTrustedSender: (s) => s.isMainFrame && s.frameUrl === PAGE && s.webContentsId === 1,
		...overrides,
	};
}

beforeEach(() => {
	calls = [];
	clientError = undefined;
	dialogPaths = [];
});

function expectError(outcome: IpcOutcome<unknown>, code: string, message?: RegExp): void {
	expect(outcome.ok).toBe(false);
	if (outcome.ok) return;
	expect(outcome.error.code).toBe(code);
	expect(outcome.error.title).toBe(userMessage(outcome.error.code).title);
	expect(outcome.error.description).toBe(userMessage(outcome.error.code).description);
	if (message !== undefined) expect(outcome.error.message).toMatch(message);
}

/** Arguments that pass validation, per channel (paths that exist, ids that are mounted). */
function validArgs(): Record<InvokeChannel, unknown[]> {
	return {
		'vmdk:inspect': [[disk]],
		'vmdk:mount': [{ path: disk }],
		'vmdk:unmount': [{ mountpoint }],
		'vmdk:list': [],
		'vmdk:doctor': [],
		'vmdk:reveal': [mountpoint],
		'vmdk:open-dialog': [],
		'vmdk:open-help': ['macfuse'],
	};
}

const CHANNELS = Object.keys(IPC_ARGS) as InvokeChannel[];

describe('IPC handlers', () => {
	describe('sender check', () => {
		const foreign: [string, IpcSender][] = [
			['a subframe of our page', { ...TRUSTED, isMainFrame: false }],
			['another page', { ...TRUSTED, frameUrl: 'https://example.com/' }],
			['another window', { ...TRUSTED, webContentsId: 2 }],
		];
		for (const channel of CHANNELS) {
			it.each(foreign)(`${channel} refuses ${'%s'} and calls nothing`, async (_what, sender) => {
				const handlers = createIpcHandlers(makeDeps());
				const handler = handlers[channel] as (s: IpcSender, ...a: unknown[]) => Promise<IpcOutcome<unknown>>;
				expectError(await handler(sender, ...validArgs()[channel]), 'BAD_REQUEST', /refused/);
				expect(calls).toEqual([]);
			});
			it(`${channel} answers our window`, async () => {
				const handlers = createIpcHandlers(makeDeps());
				const handler = handlers[channel] as (s: IpcSender, ...a: unknown[]) => Promise<IpcOutcome<unknown>>;
				const outcome = await handler(TRUSTED, ...validArgs()[channel]);
				expect(outcome).toMatchObject({ ok: true });
			});
		}

		it('treats a sender check that throws as a refusal', async () => {
			const handlers = createIpcHandlers(
				makeDeps({
					isTrustedSender: () => {
						throw new Error('window gone');
					},
				}),
			);
			expectError(await handlers['vmdk:list'](TRUSTED), 'BAD_REQUEST', /refused/);
			expect(calls).toEqual([]);
		});
	});

	describe('argument validation', () => {
		const bad: [InvokeChannel, string, unknown[]][] = [
			['vmdk:inspect', 'a string instead of a list', ['/x.vmdk']],
			['vmdk:inspect', 'an empty list', [[]]],
			['vmdk:inspect', 'a relative path', [['disk.vmdk']]],
			['vmdk:inspect', 'a number', [[42]]],
			['vmdk:inspect', 'a path with NUL', [['/x\0.vmdk']]],
			['vmdk:inspect', 'an extra argument', [['/x.vmdk'], 'more']],
			['vmdk:mount', 'no argument', []],
			['vmdk:mount', 'a relative path', [{ path: './disk.vmdk' }]],
			['vmdk:mount', 'readWrite as a string', [{ path: '/x.vmdk', readWrite: 'yes' }]],
			['vmdk:mount', 'an unknown option', [{ path: '/x.vmdk', allowRawDevices: true }]],
			['vmdk:mount', 'partition 0', [{ path: '/x.vmdk', partition: 0 }]],
			['vmdk:mount', 'a fractional partition', [{ path: '/x.vmdk', partition: 1.5 }]],
			['vmdk:unmount', 'a bare string', ['/mnt/x']],
			['vmdk:unmount', 'a relative mountpoint', [{ mountpoint: 'mnt/x' }]],
			['vmdk:unmount', 'a disk id that is not 8 hex digits', [{ diskId: '../../etc' }]],
			['vmdk:unmount', 'all: false', [{ all: false }]],
			['vmdk:unmount', 'two targets at once', [{ mountpoint: '/m', diskId: '0badcafe' }]],
			['vmdk:list', 'an argument', [1]],
			['vmdk:doctor', 'an argument', [{}]],
			['vmdk:reveal', 'a relative path', ['mnt']],
			['vmdk:reveal', 'a list', [['/m']]],
			['vmdk:open-dialog', 'an argument', ['/etc']],
			['vmdk:open-help', 'an arbitrary URL', ['https://evil.example/']],
			['vmdk:open-help', 'nothing', []],
		];
		it.each(bad)('%s refuses %s and calls nothing', async (channel, _what, args) => {
			const handler = createIpcHandlers(makeDeps())[channel] as (
				s: IpcSender,
				...a: unknown[]
			) => Promise<IpcOutcome<unknown>>;
			expectError(await handler(TRUSTED, ...args), 'BAD_REQUEST', new RegExp(`^${channel}: `));
			expect(calls).toEqual([]);
		});

		it('refuses paths that do not exist before asking the daemon', async () => {
			const handlers = createIpcHandlers(makeDeps());
			const missing = join(dir, 'missing.vmdk');
			expectError(
				await handlers['vmdk:inspect'](TRUSTED, [disk, missing]),
				'INPUT_NOT_FOUND',
				/missing\.vmdk/,
			);
			expectError(await handlers['vmdk:mount'](TRUSTED, { path: missing }), 'INPUT_NOT_FOUND');
			expect(calls).toEqual([]);
		});

		it('hands the daemon real paths (it records disks by their real path)', async () => {
			const handlers = createIpcHandlers(makeDeps());
			await handlers['vmdk:inspect'](TRUSTED, [join(dir, 'link.vmdk')]);
			await handlers['vmdk:mount'](TRUSTED, { path: join(dir, 'link.vmdk'), readWrite: true, partition: 2 });
			expect(calls).toEqual([
				{ what: 'inspect', args: { path: disk } },
				{ what: 'mount', args: { path: disk, readWrite: true, partition: 2 } },
			]);
		});

		it('unmounts only a mountpoint or disk id that is in the mount list', async () => {
			const handlers = createIpcHandlers(makeDeps());
			expectError(
				await handlers['vmdk:unmount'](TRUSTED, { mountpoint: join(dir, 'elsewhere') }),
				'NOT_MOUNTED',
				/elsewhere/,
			);
			expectError(await handlers['vmdk:unmount'](TRUSTED, { diskId: '12345678' }), 'NOT_MOUNTED', /12345678/);
			expect(calls.map((c) => c.what)).toEqual(['list', 'list']);
			calls = [];
			expect(await handlers['vmdk:unmount'](TRUSTED, { diskId: '0badcafe', force: true })).toMatchObject({
				ok: true,
			});
			expect(await handlers['vmdk:unmount'](TRUSTED, { mountpoint })).toMatchObject({ ok: true });
			expect(await handlers['vmdk:unmount'](TRUSTED, { all: true })).toMatchObject({ ok: true });
			expect(calls.filter((c) => c.what === 'unmount').map((c) => c.args)).toEqual([
				{ target: '0badcafe', force: true },
				{ target: mountpoint, force: undefined },
				{ all: true, force: undefined },
			]);
		});

		it('reveals only what the window was shown', async () => {
			const handlers = createIpcHandlers(makeDeps());
			expectError(await handlers['vmdk:reveal'](TRUSTED, dir), 'BAD_REQUEST', /not a disk or folder/);
			expect(calls.some((c) => c.what === 'reveal')).toBe(false);
			// A mountpoint of the current list, and a disk the window inspected, may be revealed.
			expect(await handlers['vmdk:reveal'](TRUSTED, mountpoint)).toEqual({ ok: true, value: null });
			const other = join(dir, 'other.vmdk');
			await writeFile(other, '');
			expectError(await handlers['vmdk:reveal'](TRUSTED, other), 'BAD_REQUEST');
			await handlers['vmdk:inspect'](TRUSTED, [other]);
			expect(await handlers['vmdk:reveal'](TRUSTED, other)).toEqual({ ok: true, value: null });
			expect(calls.filter((c) => c.what === 'reveal').map((c) => c.args)).toEqual([mountpoint, other]);
		});

		it('reveals a path picked in the Open… dialog', async () => {
			dialogPaths = [disk];
			const handlers = createIpcHandlers(makeDeps());
			expect(await handlers['vmdk:open-dialog'](TRUSTED)).toEqual({ ok: true, value: [disk] });
			expect(await handlers['vmdk:reveal'](TRUSTED, disk)).toEqual({ ok: true, value: null });
		});

		it('opens only allow-listed help pages', async () => {
			const handlers = createIpcHandlers(makeDeps());
			expect(await handlers['vmdk:open-help'](TRUSTED, 'fuse-t')).toEqual({ ok: true, value: null });
			expectError(await handlers['vmdk:open-help'](TRUSTED, 'readme'), 'BAD_REQUEST', /no address/);
			expect(calls).toEqual([{ what: 'openExternal', args: 'https://www.fuse-t.org/' }]);
		});
	});

	describe('errors', () => {
		it.each([
			['an AppError', new AppError('DISK_LOCKED', '/vm is in use by VMware'), 'DISK_LOCKED'],
			[
				'an engine error',
				new VmdkError('VMDK_TRUNCATED', 'file ends early', { file: '/x' }),
				'VMDK_TRUNCATED',
			],
			['a bug', new TypeError('x is undefined'), 'INTERNAL'],
			['a thrown string', 'weird', 'INTERNAL'],
		])('maps %s to the shared table and never rejects', async (_what, error, code) => {
			clientError = error;
			const handlers = createIpcHandlers(makeDeps());
			for (const channel of ['vmdk:inspect', 'vmdk:mount', 'vmdk:list', 'vmdk:doctor'] as const) {
				const handler = handlers[channel] as (s: IpcSender, ...a: unknown[]) => Promise<IpcOutcome<unknown>>;
				expectError(await handler(TRUSTED, ...validArgs()[channel]), code);
			}
		});

		it('keeps the technical message', async () => {
			clientError = new AppError('DISK_LOCKED', '/vm/disk.vmdk is locked by VMware (/vm/x.lck)');
			const outcome = await createIpcHandlers(makeDeps())['vmdk:mount'](TRUSTED, {
				path: disk,
				readWrite: true,
			});
			expect(outcome).toEqual({
				ok: false,
				error: {
					code: 'DISK_LOCKED',
					title: 'Disk in use by a virtual machine',
					description: userMessage('DISK_LOCKED').description,
					message: '/vm/disk.vmdk is locked by VMware (/vm/x.lck)',
				},
			});
		});
	});
});
