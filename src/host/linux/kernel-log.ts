// SPDX-License-Identifier: MIT
/**
 * The kernel's own words for a failed mount. mount(8) only says "wrong fs type, bad option,
 * bad superblock on /dev/loop3…"; the kernel log says what was wrong ("EXT4-fs (loop3): bad
 * geometry: block count 142336 exceeds size of device (131072 blocks)"). Read through
 * `dmesg --json`, which needs root or `kernel.dmesg_restrict=0`; otherwise nothing is added.
 */
import { readFile } from 'node:fs/promises';
import { runTool, findTool } from '../node/run-tool.js';

/** Most kernel lines quoted in one error. */
const MAX_LINES = 3;

/** Seconds since boot, the clock of kernel log timestamps. */
export async function kernelUptimeSeconds(): Promise<number> {
	const text = await readFile('/proc/uptime', 'utf8').catch(() => '0');
	const seconds = Number(text.split(' ')[0]);
	return Number.isFinite(seconds) ? seconds : 0;
}

/** Parses `dmesg --json` output into `{ time, msg }` records (malformed entries skipped). */
function parseDmesgJson(text: string): { readonly time: number; readonly msg: string }[] {
	const parsed = JSON.parse(text) as { dmesg?: unknown };
	if (!Array.isArray(parsed.dmesg)) return [];
	return parsed.dmesg.flatMap((e: unknown) => {
		if (typeof e !== 'object' || e === null) return [];
		const { time, msg } = e as { time?: unknown; msg?: unknown };
		return typeof time === 'number' && typeof msg === 'string' ? [{ time, msg }] : [];
	});
}

/** The kernel's messages about `device` (`/dev/loop3` → "(loop3)") logged at or after `since`. */
export async function kernelMessagesSince(since: number, device: string): Promise<string[]> {
	const dmesg = await findTool('dmesg');
	if (dmesg === undefined) return [];
	const out = await runTool(dmesg, ['--json'], { name: 'dmesg', timeoutMs: 5_000 });
	const tag = `(${device.split('/').pop() ?? device})`;
	return parseDmesgJson(out.stdout)
		.filter((r) => r.time >= since - 0.001 && r.msg.includes(tag))
		.map((r) => r.msg.trim())
		.slice(-MAX_LINES);
}
