// SPDX-License-Identifier: MIT
/**
 * Replays a transcript of tool calls: each expected call (program, arguments) with the answer
 * it gets (exit status, stdout, stderr). The host under test runs through it exactly as through
 * `runTool`: a non-success exit becomes a `ToolError` with the same fields. A call that is not
 * the next one expected is recorded as a problem (hosts catch tool errors, so throwing alone
 * could hide it); tests assert that no problem occurred and that every call was made.
 *
 * Transcripts live in `test/fixtures/darwin/transcripts/*.json`; `stdoutFile` names a real tool
 * output in `test/fixtures/darwin` (see SOURCES.md there).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ToolError } from '../../src/host/common/tool-error.js';
import type { RunToolOptions, ToolResult, ToolRunner } from '../../src/host/node/run-tool.js';

/** Where the macOS fixtures are. */
export const DARWIN_FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'darwin');

/** One expected call and its answer. */
export interface TranscriptCall {
	readonly tool: string;
	readonly args: readonly string[];
	/** Exit status (default 0). */
	readonly exit?: number;
	readonly stdout?: string;
	/** A file in test/fixtures/darwin whose contents are the stdout. */
	readonly stdoutFile?: string;
	readonly stderr?: string;
	/** Why this answer looks the way it does (where it comes from, what is constructed). */
	readonly note?: string;
}

/** A recorded sequence. */
export interface Transcript {
	readonly description: string;
	readonly calls: readonly TranscriptCall[];
}

/** Reads `test/fixtures/darwin/transcripts/<name>.json`. */
export function loadTranscript(name: string): Transcript {
	return JSON.parse(readFileSync(join(DARWIN_FIXTURES, 'transcripts', `${name}.json`), 'utf8')) as Transcript;
}

/** A fixture's text. */
export function darwinFixture(name: string): string {
	return readFileSync(join(DARWIN_FIXTURES, name), 'utf8');
}

/** The replaying runner. */
export class ToolReplay {
	private readonly queue: TranscriptCall[];
	/** Calls that did not match the transcript. */
	readonly problems: string[] = [];
	/** Every call made, as `tool arg arg …`. */
	readonly made: string[] = [];

	constructor(...transcripts: readonly (Transcript | readonly TranscriptCall[])[]) {
		this.queue = transcripts.flatMap((t) => ('calls' in t ? t.calls : t));
	}

	/** Appends more expected calls. */
	expect(...calls: readonly TranscriptCall[]): this {
		this.queue.push(...calls);
		return this;
	}

	/** Rewrites each actual argument before comparing (e.g. a random folder name to the transcript's). */
	private normalize: (arg: string) => string = (a) => a;

	/** Sets the rewrite of actual arguments. */
	normalizing(fn: (arg: string) => string): this {
		this.normalize = fn;
		return this;
	}

	/** Expected calls not made yet. */
	remaining(): readonly TranscriptCall[] {
		return this.queue;
	}

	readonly run: ToolRunner = async (
		tool: string,
		actual: readonly string[],
		options: RunToolOptions = {},
	) => {
		const args = actual.map(this.normalize);
		const line = [tool, ...args].join(' ');
		this.made.push(line);
		const next = this.queue[0];
		if (next === undefined || next.tool !== tool || JSON.stringify(next.args) !== JSON.stringify(args)) {
			const want = next === undefined ? 'nothing' : [next.tool, ...next.args].join(' ');
			this.problems.push(`unexpected call: ${line}\n   expected: ${want}`);
			throw new Error(`unexpected call ${line}`);
		}
		this.queue.shift();
		const exitCode = next.exit ?? 0;
		const stdout = next.stdoutFile !== undefined ? darwinFixture(next.stdoutFile) : (next.stdout ?? '');
		const stderr = (next.stderr ?? '').trim();
		if (!(options.successExitCodes ?? [0]).includes(exitCode)) {
			throw new ToolError({
				tool,
				args,
				exitCode,
				stderr,
				timedOut: false,
				...(options.name === undefined ? {} : { what: options.name }),
			});
		}
		const result: ToolResult = { stdout: options.ignoreStdout === true ? '' : stdout, stderr, exitCode };
		return result;
	};
}
