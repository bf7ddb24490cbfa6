// SPDX-License-Identifier: MIT
/**
 * Errors as the window shows them: whatever a handler caught becomes a {@link UiError} — the
 * stable code, the title and description from the shared table (`src/shared/user-messages.ts`,
 * the one the CLI prints), and the technical sentence. Our own errors keep their code; anything
 * else is a bug and becomes `INTERNAL`.
 */
import { serializeError } from '../../shared/app-error.js';
import type { ErrorCode } from '../../shared/error-codes.js';
import type { UiError } from '../../shared/ipc-contract.js';
import { userMessage } from '../../shared/user-messages.js';

/** The window's form of an error code and its technical message. */
export function uiError(code: ErrorCode, message: string): UiError {
	const { title, description } = userMessage(code);
	return { code, title, description, message };
}

/** The window's form of anything thrown (our errors keep their code; the rest are `INTERNAL`). */
export function toUiError(error: unknown): UiError {
	const wire = serializeError(error);
	return uiError(wire.code, wire.message);
}
