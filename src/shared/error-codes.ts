// SPDX-License-Identifier: MIT
import type { VmdkErrorCode } from '../core/index.js';

/** Codes raised outside the engine (CLI, host tools, daemon). */
export type AppErrorCode =
	| 'USAGE'
	| 'OUTPUT_EXISTS'
	| 'OUTPUT_WRITE'
	| 'INTERNAL';

/** Every error code a user can see. */
export type ErrorCode = VmdkErrorCode | AppErrorCode;

/** The wire form of an error (CLI `--json`, daemon replies). */
export interface SerializedError {
	readonly name?: string;
	readonly code: ErrorCode;
	readonly message: string;
}
