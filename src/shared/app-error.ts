// SPDX-License-Identifier: MIT
/**
 * The one error class outside the engine, and the one place where errors are turned into
 * their wire form `{ name, code, message }` and rebuilt on arrival (daemon socket, CLI
 * `--json`, the app's IPC). The engine's own `VmdkError` crosses the same way and comes back
 * as a `VmdkError`. The code list is imported from the engine's pure `errors.ts`, so this
 * module stays free of Node and safe for any process.
 */
import { VMDK_ERROR_CODES, VmdkError, isVmdkError, type VmdkErrorCode } from '../core/errors.js';
import { APP_ERROR_CODES, type AppErrorCode, type ErrorCode, type SerializedError } from './error-codes.js';

/** A failure the user can act on, with a stable code (the key of the user-message table). */
export class AppError extends Error {
	override readonly name = 'AppError';
	readonly code: AppErrorCode;
	constructor(code: AppErrorCode, message: string, options?: ErrorOptions) {
		super(message, options);
		this.code = code;
	}
}

/** True for an AppError, optionally of one code. */
export function isAppError(error: unknown, code?: AppErrorCode): error is AppError {
	return error instanceof AppError && (code === undefined || error.code === code);
}

/** True for errors that are the user's to fix (not bugs): they are shown, not reported. */
export function isExpectedError(error: unknown): error is AppError | VmdkError {
	return (isAppError(error) && error.code !== 'INTERNAL') || isVmdkError(error);
}

/** True when `code` is one of ours. */
function isErrorCode(code: unknown): code is ErrorCode {
	return (
		typeof code === 'string' &&
		((VMDK_ERROR_CODES as readonly string[]).includes(code) ||
			(APP_ERROR_CODES as readonly string[]).includes(code))
	);
}

/** The wire form of anything thrown: our errors keep their code, the rest become `INTERNAL`. */
export function serializeError(error: unknown): SerializedError {
	if (isAppError(error) || isVmdkError(error))
		return { name: error.name, code: error.code, message: error.message };
	const message = error instanceof Error ? error.message : String(error);
	return { name: error instanceof Error ? error.name : 'Error', code: 'INTERNAL', message };
}

/** Rebuilds an error from its wire form; an unknown code becomes `INTERNAL`. */
export function deserializeError(wire: SerializedError): AppError | VmdkError {
	const code: unknown = wire.code;
	const message = typeof wire.message === 'string' ? wire.message : 'no message';
	if ((VMDK_ERROR_CODES as readonly string[]).includes(code as string)) {
		return new VmdkError(code as VmdkErrorCode, message);
	}
	if (isErrorCode(code)) return new AppError(code as AppErrorCode, message);
	return new AppError('INTERNAL', `${String(code)}: ${message}`);
}
