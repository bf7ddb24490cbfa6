// SPDX-License-Identifier: MIT
/** What every part of the macOS host works with, and the small steps they share. */
import { AppError } from '../../shared/app-error.js';
import { ToolError } from '../common/tool-error.js';
import type { DarwinProbe } from './capabilities.js';
import { parseMountTable, type MountLine } from './mount-table.js';
import type { DarwinSystem } from './system.js';

/** Timeout of a quick query (`mount`, `diskutil info`, `hdiutil info`), in ms. */
export const QUERY_TIMEOUT_MS = 15_000;
/** How often a state is polled while waiting for it, in ms. */
export const POLL_MS = 100;

/** The host's state as its parts see it. */
export interface DarwinContext {
	readonly system: DarwinSystem;
	readonly probe: DarwinProbe;
	/**
	 * Disk images this host attached, by whole-disk device (`/dev/disk4`), with the export file
	 * behind each: a device is detached only while `hdiutil info` still shows that file behind
	 * it, so a number macOS has since given to another disk is never touched.
	 */
	readonly attached: Map<string, string>;
}

/** The absolute path of tool `id`, or a NO_HELPER error. */
export function toolPath(ctx: DarwinContext, id: string): string {
	const path = ctx.probe.toolPaths.get(id);
	if (path === undefined) throw new AppError('NO_HELPER', `${id} is not installed`);
	return path;
}

/** The mount table. */
export async function readMounts(ctx: DarwinContext): Promise<MountLine[]> {
	const out = await ctx.system.run(toolPath(ctx, 'mount'), [], {
		name: 'read the mount table',
		timeoutMs: QUERY_TIMEOUT_MS,
	});
	return parseMountTable(out.stdout);
}

/** True when `path` is a mountpoint now. */
export async function isMounted(ctx: DarwinContext, path: string): Promise<boolean> {
	const want = path.length > 1 ? path.replace(/\/+$/, '') : path;
	return (await readMounts(ctx)).some((m) => m.mountPoint === want);
}

/** Polls `check` until it holds or `timeoutMs` passed; returns whether it held. */
export async function waitFor(
	ctx: DarwinContext,
	timeoutMs: number,
	check: () => Promise<boolean>,
): Promise<boolean> {
	for (let waited = 0; ; waited += POLL_MS) {
		if (await check()) return true;
		if (waited >= timeoutMs) return false;
		await ctx.system.sleep(POLL_MS);
	}
}

/** One line saying why a step failed: the tool's most telling stderr line, else the message. */
export function describeFailure(error: unknown): string {
	if (error instanceof ToolError) return error.summary;
	return error instanceof Error ? error.message : String(error);
}
