// SPDX-License-Identifier: MIT
/**
 * Which processes hold a mounted volume: any whose cwd, root or an open file is under the
 * mountpoint (like `fuser -m`). Only `readlink` on `/proc` entries, so it never touches the
 * volume itself (the daemon must not block on its own FUSE files).
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import type { BusyProcess } from '../common/host.js';

function isUnder(path: string, mountpoint: string): boolean {
	return path === mountpoint || path.startsWith(mountpoint.endsWith('/') ? mountpoint : `${mountpoint}/`);
}

/** Lists processes using anything under `mountpoint`, except this one. */
export async function processesUsing(mountpoint: string): Promise<BusyProcess[]> {
	let pids: number[];
	try {
		pids = (await readdir('/proc')).filter((n) => /^\d+$/.test(n)).map(Number);
	} catch {
		return [];
	}
	const out: BusyProcess[] = [];
	for (const pid of pids) {
		if (pid === process.pid) continue;
		const how = await usage(pid, mountpoint);
		if (how === undefined) continue;
		let command = '?';
		try {
			command = (await readFile(`/proc/${pid}/comm`, 'utf8')).trim();
		} catch {
			// The process ended meanwhile.
		}
		out.push({ pid, command, how });
	}
	return out;
}

async function usage(pid: number, mountpoint: string): Promise<string | undefined> {
	for (const link of ['cwd', 'root'] as const) {
		const target = await readlink(`/proc/${pid}/${link}`).catch(() => undefined);
		if (target !== undefined && isUnder(target, mountpoint)) return link;
	}
	const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
	for (const fd of fds) {
		const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => undefined);
		if (target !== undefined && isUnder(target, mountpoint)) return 'open file';
	}
	return undefined;
}

/** "bash (pid 123, cwd), less (pid 456, open file)". */
export function describeProcesses(list: readonly BusyProcess[]): string {
	return list.map((p) => `${p.command} (pid ${p.pid}, ${p.how})`).join(', ');
}
