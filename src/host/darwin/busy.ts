// SPDX-License-Identifier: MIT
/**
 * Who holds a mounted volume, from `lsof -F pcf <mountpoint>` (given a mountpoint, lsof lists
 * every file open on that filesystem). `-F` output is one field per line, tagged by its first
 * character — `p` pid, `c` command, `f` descriptor (`cwd`, `rtd`, `txt`, a number …) — so it
 * reads the same in every language.
 */
import type { BusyProcess } from '../common/host.js';
import type { DarwinSystem } from './system.js';

/** Parses `lsof -F pcf` output into one entry per process. */
export function parseLsofFields(text: string): BusyProcess[] {
	const byPid = new Map<number, { command: string; hows: Set<string> }>();
	let current: { command: string; hows: Set<string> } | undefined;
	for (const line of text.split('\n')) {
		const tag = line[0];
		const value = line.slice(1);
		if (tag === 'p') {
			const pid = Number(value);
			if (!Number.isSafeInteger(pid) || pid <= 0) {
				current = undefined;
				continue;
			}
			current = byPid.get(pid) ?? { command: '?', hows: new Set() };
			byPid.set(pid, current);
		} else if (tag === 'c' && current !== undefined) {
			current.command = value;
		} else if (tag === 'f' && current !== undefined) {
			current.hows.add(value === 'cwd' ? 'cwd' : value === 'rtd' ? 'root' : 'open file');
		}
	}
	return [...byPid].map(([pid, p]) => ({
		pid,
		command: p.command,
		how: [...p.hows].sort().join(', ') || 'open file',
	}));
}

/** The processes using `mountpoint`; [] when lsof is missing or finds none. */
export async function processesUsing(
	system: DarwinSystem,
	lsof: string | undefined,
	mountpoint: string,
): Promise<BusyProcess[]> {
	if (lsof === undefined) return [];
	try {
		// -w: no warnings; -b: never block on a hung filesystem. Exit 1 means "nothing found".
		const out = await system.run(lsof, ['-w', '-b', '-F', 'pcf', '--', mountpoint], {
			name: `who uses ${mountpoint}`,
			timeoutMs: 15_000,
			successExitCodes: [0, 1],
		});
		return parseLsofFields(out.stdout).filter((p) => p.pid !== process.pid);
	} catch {
		return [];
	}
}

/** "Finder (pid 412, cwd), Terminal (pid 7, open file)". */
export function describeProcesses(holders: readonly BusyProcess[]): string {
	return holders.map((h) => `${h.command} (pid ${h.pid}, ${h.how})`).join(', ');
}
