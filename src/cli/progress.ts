// SPDX-License-Identifier: MIT
/** A byte-progress bar on stderr, drawn only on a terminal (cli-progress). */
import { formatBytes } from './format.js';

/** What a long command reports progress to. */
export interface ByteProgress {
	/** `doneBytes` of the total are done. */
	update(doneBytes: number): void;
	/** Removes the bar (call on success and on failure). */
	stop(): void;
}

/** A progress reporter that draws nothing (non-TTY, `--json`). */
export const NO_PROGRESS: ByteProgress = { update: () => undefined, stop: () => undefined };

/**
 * A bar titled `label` for `totalBytes`, drawn on the process's stderr. cli-progress is loaded
 * here, not at startup, so that `info` does not pay for it.
 */
export async function createTerminalProgress(label: string, totalBytes: number): Promise<ByteProgress> {
	const { default: cliProgress } = await import('cli-progress');
	const bar = new cliProgress.SingleBar(
		{
			format: `${label} [{bar}] {percentage}% | {doneText} of {totalText} | {rate}/s | ETA {eta_formatted}`,
			stream: process.stderr,
			hideCursor: true,
			clearOnComplete: true,
			etaBuffer: 20,
			fps: 10,
		},
		cliProgress.Presets.shades_classic,
	);
	const started = Date.now();
	const payload = (done: number): Record<string, string> => ({
		doneText: formatBytes(done),
		totalText: formatBytes(totalBytes),
		rate: formatBytes(Math.round((done * 1000) / Math.max(1, Date.now() - started))),
	});
	bar.start(Math.max(1, totalBytes), 0, payload(0));
	return {
		update: (done) => bar.update(done, payload(done)),
		stop: () => bar.stop(),
	};
}
