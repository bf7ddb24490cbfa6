// SPDX-License-Identifier: MIT
/**
 * The error every external command raises when it fails: it keeps what was run and
 * what it said, so the mount error can name each helper tried and its stderr line.
 */

/** A failed, timed-out or missing external tool. */
export class ToolError extends Error {
	override readonly name = 'ToolError';
	/** Absolute path (or name, when it could not be resolved) of the program. */
	readonly tool: string;
	/** Arguments exactly as passed (no shell). */
	readonly args: readonly string[];
	/** Exit status, or null when it was killed or never started. */
	readonly exitCode: number | null;
	/** Its standard error, trimmed. */
	readonly stderr: string;
	/** True when it was killed for running past its timeout. */
	readonly timedOut: boolean;

	constructor(
		fields: {
			tool: string;
			args: readonly string[];
			exitCode: number | null;
			stderr: string;
			timedOut: boolean;
			what?: string;
		},
		options?: ErrorOptions,
	) {
		super(toolErrorMessage(fields), options);
		this.tool = fields.tool;
		this.args = fields.args;
		this.exitCode = fields.exitCode;
		this.stderr = fields.stderr;
		this.timedOut = fields.timedOut;
	}

	/** The most telling line of stderr (see `firstUsefulLine`), or the exit status. */
	get summary(): string {
		return (
			firstUsefulLine(this.stderr) ?? (this.timedOut ? 'timed out' : `exit status ${String(this.exitCode)}`)
		);
	}
}

/** A stderr line that states a failure rather than usage text or a banner. */
const FAILURE_LINE =
	/error|fail|denied|not permitted|only allowed|privilege|cannot|can't|unable|invalid|no such/i;

/**
 * The line of a tool's stderr that says what went wrong: the last one that reads like a
 * failure, else the last non-empty one; undefined when stderr is empty. Why not simply the
 * last line: ntfs-3g prints its reason first and then its whole usage banner, so the last line
 * was "News, support and information: …" (seen when mounting NTFS as a non-root user).
 */
function firstUsefulLine(stderr: string): string | undefined {
	const lines = stderr
		.split('\n')
		.map((l) => l.trim())
		.filter((l) => l.length > 0);
	return lines.findLast((l) => FAILURE_LINE.test(l)) ?? lines[lines.length - 1];
}

function toolErrorMessage(f: {
	tool: string;
	args: readonly string[];
	exitCode: number | null;
	stderr: string;
	timedOut: boolean;
	what?: string;
}): string {
	const base = f.tool.split('/').pop() ?? f.tool;
	const status = f.timedOut
		? 'timed out'
		: f.exitCode === null
			? 'could not run'
			: `exited with ${f.exitCode}`;
	const line = firstUsefulLine(f.stderr);
	return `${f.what ?? base} ${status}${line === undefined ? '' : `: ${line}`}`;
}
