// SPDX-License-Identifier: MIT
/** Writing results and errors in the CLI's two modes (human text, `--json`). */
import type { CliIo } from './command.js';

/** Writes `value` as pretty JSON plus a newline on stdout. */
export function writeJson(io: CliIo, value: unknown): void {
	io.stdout.write(JSON.stringify(value, null, 2) + '\n');
}
