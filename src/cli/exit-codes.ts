// SPDX-License-Identifier: MIT
/**
 * Exit statuses of `vmdk-mounter` (a contract: scripts branch on them). Each error code maps
 * to one status by what the user can do about it; codes added later without an entry fall
 * back to {@link EXIT_CODES.FAILURE}.
 */
import type { ErrorCode } from '../shared/error-codes.js';

/** The named exit statuses. */
export const EXIT_CODES = {
	/** Success. */
	OK: 0,
	/** A failure without a more specific status, including unexpected bugs. */
	FAILURE: 1,
	/** The command line is wrong. */
	USAGE: 2,
	/** The input, one of its extents or a parent is missing. */
	NOT_FOUND: 3,
	/** The input is not a VMDK, or it is damaged or inconsistent. */
	BAD_IMAGE: 4,
	/** The input is a VMDK variant we do not read. */
	UNSUPPORTED: 5,
	/** The input asks for something refused for safety (a raw host device, a NOACCESS range). */
	REFUSED: 6,
	/** The output cannot be written (exists, would overwrite the input, write failed). */
	OUTPUT: 7,
	/** The operating system failed a read. */
	IO: 8,
	/** Mounting or unmounting failed (no helper, every helper failed, volume busy, already mounted). */
	MOUNT: 9,
	/** The host lacks something we need (FUSE, the daemon, a working external tool). */
	ENVIRONMENT: 10,
	/** Interrupted by SIGINT (128 + 2, the shell convention). */
	INTERRUPTED: 130,
} as const;

/** One of the named exit statuses. */
export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

/** The status for each error code. */
const EXIT_CODE_BY_ERROR: Partial<Record<ErrorCode, ExitCode>> = {
	USAGE: EXIT_CODES.USAGE,
	INPUT_NOT_FOUND: EXIT_CODES.NOT_FOUND,
	VMDK_MISSING_EXTENT: EXIT_CODES.NOT_FOUND,
	VMDK_MISSING_PARENT: EXIT_CODES.NOT_FOUND,
	VMDK_NOT_VMDK: EXIT_CODES.BAD_IMAGE,
	VMDK_BAD_MAGIC: EXIT_CODES.BAD_IMAGE,
	VMDK_BAD_DESCRIPTOR: EXIT_CODES.BAD_IMAGE,
	VMDK_BAD_HEADER: EXIT_CODES.BAD_IMAGE,
	VMDK_CORRUPT: EXIT_CODES.BAD_IMAGE,
	VMDK_TRUNCATED: EXIT_CODES.BAD_IMAGE,
	VMDK_LIMIT: EXIT_CODES.BAD_IMAGE,
	VMDK_DECOMPRESS: EXIT_CODES.BAD_IMAGE,
	VMDK_PARENT_CYCLE: EXIT_CODES.BAD_IMAGE,
	VMDK_CHAIN_TOO_DEEP: EXIT_CODES.BAD_IMAGE,
	VMDK_CID_MISMATCH: EXIT_CODES.BAD_IMAGE,
	VMDK_DIRTY_JOURNAL: EXIT_CODES.BAD_IMAGE,
	VMDK_OUT_OF_RANGE: EXIT_CODES.BAD_IMAGE,
	VMX_BAD_FILE: EXIT_CODES.BAD_IMAGE,
	VMDK_UNSUPPORTED_VERSION: EXIT_CODES.UNSUPPORTED,
	VMDK_UNSUPPORTED_TYPE: EXIT_CODES.UNSUPPORTED,
	VMDK_RAW_DEVICE_REFUSED: EXIT_CODES.REFUSED,
	VMDK_NOACCESS: EXIT_CODES.REFUSED,
	OUTPUT_EXISTS: EXIT_CODES.OUTPUT,
	OUTPUT_IS_INPUT: EXIT_CODES.OUTPUT,
	OUTPUT_WRITE: EXIT_CODES.OUTPUT,
	VMDK_IO: EXIT_CODES.IO,
	NOT_MOUNTED: EXIT_CODES.NOT_FOUND,
	DISK_LOCKED: EXIT_CODES.REFUSED,
	FS_UNSAFE_FOR_WRITE: EXIT_CODES.REFUSED,
	ALREADY_MOUNTED: EXIT_CODES.MOUNT,
	NO_HELPER: EXIT_CODES.MOUNT,
	MOUNT_FAILED: EXIT_CODES.MOUNT,
	NO_FILESYSTEM: EXIT_CODES.MOUNT,
	VOLUME_BUSY: EXIT_CODES.MOUNT,
	DAEMON_UNAVAILABLE: EXIT_CODES.ENVIRONMENT,
	FUSE_UNAVAILABLE: EXIT_CODES.ENVIRONMENT,
	PLATFORM_UNSUPPORTED: EXIT_CODES.ENVIRONMENT,
	TOOL_FAILED: EXIT_CODES.ENVIRONMENT,
	BAD_REQUEST: EXIT_CODES.USAGE,
	PROTOCOL_MISMATCH: EXIT_CODES.ENVIRONMENT,
	DAEMON_UNTRUSTED: EXIT_CODES.ENVIRONMENT,
	DAEMON_ALREADY_RUNNING: EXIT_CODES.ENVIRONMENT,
	UNSAFE_FOLDER: EXIT_CODES.ENVIRONMENT,
	SETTINGS_INVALID: EXIT_CODES.ENVIRONMENT,
	NO_SPACE: EXIT_CODES.OUTPUT,
	INTERRUPTED: EXIT_CODES.INTERRUPTED,
	INTERNAL: EXIT_CODES.FAILURE,
};

/** The exit status for an error code. */
export function exitCodeFor(code: ErrorCode): ExitCode {
	return EXIT_CODE_BY_ERROR[code] ?? EXIT_CODES.FAILURE;
}
