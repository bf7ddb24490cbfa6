// SPDX-License-Identifier: MIT
/**
 * Loop devices over the daemon's FUSE files (root only). Attach and detach are serialised:
 * `losetup --find` races with itself when run in parallel.
 */
import { ToolError } from '../common/tool-error.js';
import { runTool } from '../node/run-tool.js';

let queue: Promise<unknown> = Promise.resolve();

/** Runs `fn` after every earlier loop operation has finished. */
function serialised<T>(fn: () => Promise<T>): Promise<T> {
	const next = queue.then(fn, fn);
	queue = next.catch(() => undefined);
	return next;
}

/** Timeout of losetup calls in ms (it reads the backing FUSE file, served by us). */
const LOSETUP_TIMEOUT_MS = 30_000;

/** Attaches `file` read-only (or read-write) and returns the device (`/dev/loop3`). */
export function attachLoop(
	losetup: string,
	file: string,
	options: { readOnly: boolean; offsetBytes?: number; sizeLimitBytes?: number },
): Promise<string> {
	const args = ['--find', '--show'];
	if (options.readOnly) args.push('--read-only');
	if (options.offsetBytes !== undefined) args.push('--offset', String(options.offsetBytes));
	if (options.sizeLimitBytes !== undefined) args.push('--sizelimit', String(options.sizeLimitBytes));
	args.push(file);
	return serialised(async () => {
		const out = await runTool(losetup, args, { name: 'losetup', timeoutMs: LOSETUP_TIMEOUT_MS });
		const device = out.stdout.trim();
		if (!device.startsWith('/dev/loop')) {
			throw new ToolError({
				tool: losetup,
				args,
				exitCode: 0,
				stderr: `unexpected output "${device}"`,
				timedOut: false,
			});
		}
		return device;
	});
}

/** Detaches a loop device; a device that is already gone counts as detached. */
export function detachLoop(losetup: string, device: string): Promise<void> {
	return serialised(async () => {
		try {
			await runTool(losetup, ['--detach', device], {
				name: 'losetup --detach',
				timeoutMs: LOSETUP_TIMEOUT_MS,
			});
		} catch (error) {
			if (error instanceof ToolError && /No such device|No such file/i.test(error.stderr)) return;
			throw error;
		}
	});
}

/** Loop devices whose backing file is under `prefix` (from `losetup --list --json`). */
export async function loopsBackedUnder(losetup: string, prefix: string): Promise<string[]> {
	const out = await runTool(losetup, ['--list', '--json', '--output', 'NAME,BACK-FILE'], {
		name: 'losetup --list',
		timeoutMs: LOSETUP_TIMEOUT_MS,
	});
	if (out.stdout.trim() === '') return [];
	const parsed = JSON.parse(out.stdout) as { loopdevices?: { name?: string; 'back-file'?: string | null }[] };
	return (parsed.loopdevices ?? [])
		.filter((d) => typeof d.name === 'string' && (d['back-file'] ?? '').startsWith(prefix))
		.map((d) => d.name as string);
}
