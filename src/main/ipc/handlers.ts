// SPDX-License-Identifier: MIT
/**
 * The handlers behind every invoke channel of the window (`src/shared/ipc-contract.ts`), as
 * plain functions `(sender, ...args) → outcome`. The app registers them with `ipcMain`
 * (`ipc-main.ts`); the e2e host registers the very same functions behind its page. Each one:
 *
 * 1. checks the sender first — a frame that is not our window's page gets a refusal and
 *    nothing is called;
 * 2. validates every argument against the contract's zod schemas, then against the world:
 *    paths must exist (and are resolved, as the daemon records them), a mountpoint or disk id
 *    must be in the daemon's current mount list, a revealed path must be one the window was
 *    shown;
 * 3. calls the daemon client (all real work is the daemon's) or the injected OS action;
 * 4. never rejects: any failure becomes a {@link UiError} from the shared message table.
 */
import { realpath, stat } from 'node:fs/promises';
import type { z } from 'zod';
import { VmdkError } from '../../core/errors.js';
import type { DaemonClient } from '../../daemon/client.js';
import { AppError } from '../../shared/app-error.js';
import {
	IPC_ARGS,
	type InvokeChannel,
	type InvokeResults,
	type IpcOutcome,
	type UiError,
} from '../../shared/ipc-contract.js';
import type { InfoResult, MountedDisk } from '../../shared/models.js';
import { HELP_URLS } from './help-urls.js';
import type { IpcSender } from './sender.js';
import { toUiError, uiError } from './ui-error.js';

export type { IpcSender } from './sender.js';

/** What handlers need from the outside world (Electron in the app; fakes/real daemon in the e2e host). */
export interface HandlerDeps {
	readonly client: Pick<DaemonClient, 'inspect' | 'mount' | 'unmount' | 'list' | 'doctor'>;
	/** Shows a file or folder in Finder / the file manager (`shell.showItemInFolder`). */
	readonly revealPath: (path: string) => void;
	/** The system's Open… dialog (`dialog.showOpenDialog`); resolves with [] when cancelled. */
	readonly showOpenDialog: () => Promise<readonly string[]>;
	/** Opens a web page in the browser (`shell.openExternal`); only allow-listed URLs reach it. */
	readonly openExternal: (url: string) => Promise<void>;
	/** True for our window's main frame on our page (see `sender.ts`). */
	readonly isTrustedSender: (sender: IpcSender) => boolean;
}

/** The function answering one invoke channel. */
export type IpcHandler<C extends InvokeChannel> = (
	sender: IpcSender,
	...args: unknown[]
) => Promise<IpcOutcome<InvokeResults[C]>>;

/** One function per invoke channel. */
export type IpcHandlers = { [C in InvokeChannel]: IpcHandler<C> };

/** The arguments of a channel after validation. */
type ParsedArgs<C extends InvokeChannel> = z.output<(typeof IPC_ARGS)[C]>;

/** How many paths the window may reveal are remembered (oldest forgotten first). */
const MAX_KNOWN_PATHS = 4096;

/** The handlers, bound to their dependencies. */
export function createIpcHandlers(deps: HandlerDeps): IpcHandlers {
	const { client } = deps;
	const shown = new KnownPaths(MAX_KNOWN_PATHS);

	/** Wraps a channel's body in the sender check, validation and error mapping. */
	function handle<C extends InvokeChannel>(
		channel: C,
		body: (args: ParsedArgs<C>) => Promise<InvokeResults[C]>,
	): IpcHandler<C> {
		return async (sender, ...args) => {
			try {
				if (!isTrusted(deps, sender)) {
					return refused(
						uiError('BAD_REQUEST', `${channel}: refused a message from ${describeSender(sender)}`),
					);
				}
				const parsed = IPC_ARGS[channel].safeParse(args);
				if (!parsed.success) {
					return refused(uiError('BAD_REQUEST', `${channel}: ${describeIssues(parsed.error.issues)}`));
				}
				return { ok: true, value: await body(parsed.data as ParsedArgs<C>) };
			} catch (error) {
				return refused(toUiError(error));
			}
		};
	}

	return {
		'vmdk:inspect': handle('vmdk:inspect', async ([paths]) => {
			const resolved = await Promise.all(paths.map(existingPath));
			const results = await Promise.all(resolved.map((path) => client.inspect({ path })));
			for (const [i, r] of results.entries()) {
				shown.add(paths[i] as string);
				shown.addInfo(resolved[i] as string, r);
			}
			return results;
		}),

		'vmdk:mount': handle('vmdk:mount', async ([request]) => {
			const path = await existingPath(request.path);
			const { disks } = await client.mount({ ...request, path });
			shown.add(path);
			shown.addMounts(disks);
			return disks;
		}),

		'vmdk:unmount': handle('vmdk:unmount', async ([request]) => {
			const force = request.force;
			if ('all' in request) return (await client.unmount({ all: true, force })).disks;
			const { disks } = await client.list();
			if ('mountpoint' in request) {
				const known = disks.some((d) => d.volumes.some((v) => v.mountpoint === request.mountpoint));
				if (!known) throw new AppError('NOT_MOUNTED', `${request.mountpoint} is not a mounted volume`);
				return (await client.unmount({ target: request.mountpoint, force })).disks;
			}
			if (!disks.some((d) => d.id === request.diskId)) {
				throw new AppError('NOT_MOUNTED', `no mounted disk has the id ${request.diskId}`);
			}
			return (await client.unmount({ target: request.diskId, force })).disks;
		}),

		'vmdk:list': handle('vmdk:list', async () => {
			const { disks } = await client.list();
			shown.addMounts(disks);
			return disks;
		}),

		'vmdk:doctor': handle('vmdk:doctor', () => client.doctor()),

		'vmdk:reveal': handle('vmdk:reveal', async ([path]) => {
			if (!shown.has(path)) {
				// The list may have changed since the window last asked (a CLI mount).
				shown.addMounts((await client.list()).disks);
				if (!shown.has(path)) {
					throw new AppError('BAD_REQUEST', `${path} is not a disk or folder the window shows`);
				}
			}
			await existingPath(path);
			deps.revealPath(path);
			return null;
		}),

		'vmdk:open-dialog': handle('vmdk:open-dialog', async () => {
			const paths = await deps.showOpenDialog();
			for (const p of paths) shown.add(p);
			return paths;
		}),

		'vmdk:open-help': handle('vmdk:open-help', async ([page]) => {
			const url = HELP_URLS[page];
			if (url === null) throw new AppError('BAD_REQUEST', `the ${page} help page has no address yet`);
			await deps.openExternal(url);
			return null;
		}),
	};
}

function refused(error: UiError): { readonly ok: false; readonly error: UiError } {
	return { ok: false, error };
}

/** The sender check; a check that throws is a refusal too. */
function isTrusted(deps: HandlerDeps, sender: IpcSender): boolean {
	try {
		return deps.isTrustedSender(sender);
	} catch {
		return false;
	}
}

function describeSender(sender: IpcSender): string {
	const frame = sender.isMainFrame ? 'main frame' : 'subframe';
	return `a ${frame} at ${JSON.stringify(sender.frameUrl)} (web contents ${sender.webContentsId}), not our window`;
}

/** zod's issues as one line: `0.path: must be an absolute path`. */
function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
	return issues
		.slice(0, 3)
		.map((i) => `${i.path.length > 0 ? `${i.path.map(String).join('.')}: ` : ''}${i.message}`)
		.join('; ');
}

/** The real path of something that exists (the daemon records real paths), or a clear error. */
async function existingPath(path: string): Promise<string> {
	try {
		await stat(path);
		return await realpath(path);
	} catch (error) {
		const code = (error as NodeJS.ErrnoException).code;
		if (code === 'ENOENT' || code === 'ENOTDIR') {
			throw new AppError('INPUT_NOT_FOUND', `${path}: no such file or folder`, { cause: error });
		}
		throw new VmdkError('VMDK_IO', `cannot open: ${code ?? String(error)}`, { file: path }, { cause: error });
	}
}

/** Paths the window has been shown (and may therefore reveal), bounded. */
class KnownPaths {
	private readonly paths = new Set<string>();
	private readonly max: number;
	constructor(max: number) {
		this.max = max;
	}

	has(path: string): boolean {
		return this.paths.has(path);
	}

	add(path: string): void {
		this.paths.delete(path);
		this.paths.add(path);
		for (const oldest of this.paths) {
			if (this.paths.size <= this.max) break;
			this.paths.delete(oldest);
		}
	}

	addInfo(opened: string, info: InfoResult): void {
		this.add(opened);
		if (info.vm !== null) this.add(info.vm.vmxPath);
		for (const disk of info.disks) {
			this.add(disk.path);
			for (const link of disk.chain) this.add(link.path);
		}
	}

	addMounts(disks: readonly MountedDisk[]): void {
		for (const d of disks) {
			this.add(d.path);
			for (const v of d.volumes) if (v.mountpoint !== null) this.add(v.mountpoint);
		}
	}
}
