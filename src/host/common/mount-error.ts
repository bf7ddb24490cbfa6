// SPDX-License-Identifier: MIT
/** The error the host's mount and unmount code raises; its `code` is a stable app code. */
import type { AppErrorCode } from '../../shared/error-codes.js';

/** A mount or unmount failure the user can act on. */
export class MountError extends Error {
	override readonly name = 'MountError';
	readonly code: AppErrorCode;

	constructor(code: AppErrorCode, message: string, options?: ErrorOptions) {
		super(message, options);
		this.code = code;
	}
}
