// SPDX-License-Identifier: MIT
import type { VmdkErrorCode } from '../core/index.js';

/**
 * Codes raised outside the engine (CLI, host tools, daemon). A runtime list so that tests can
 * check that every code has a user message and an exit status (STYLE §40).
 */
export const APP_ERROR_CODES = [
	/** The command line is wrong (unknown option, missing argument). */
	'USAGE',
	/** The file or folder the user named does not exist. */
	'INPUT_NOT_FOUND',
	/** `export` / `convert` would overwrite an existing file and `--force` was not given. */
	'OUTPUT_EXISTS',
	/** `export` / `convert` was asked to write onto a file of the disk it reads. */
	'OUTPUT_IS_INPUT',
	/** Writing the output file failed (permissions, an I/O error …). */
	'OUTPUT_WRITE',
	/** The output's disk (or the user's quota) is full. */
	'OUTPUT_NO_SPACE',
	/** The mount daemon could not be reached or started. */
	'DAEMON_UNAVAILABLE',
	/** The disk (or one of its volumes) is already mounted. */
	'ALREADY_MOUNTED',
	/** `unmount` named something that is not mounted. */
	'NOT_MOUNTED',
	/** `--rw` refused: the VM or disk is locked by VMware (`.lck`). */
	'DISK_LOCKED',
	/** `--rw` refused: the filesystem needs recovery, is hibernated or dirty. */
	'FS_UNSAFE_FOR_WRITE',
	/** No helper on this host can mount the volume's filesystem. */
	'NO_HELPER',
	/** Every helper tried to mount the volume failed (the message names each). */
	'MOUNT_FAILED',
	/** A mounted volume is in use; the message names the processes. */
	'VOLUME_BUSY',
	/** An external tool failed (losetup, umount …). */
	'TOOL_FAILED',
	/** FUSE is not available on this host (no /dev/fuse or no fusermount). */
	'FUSE_UNAVAILABLE',
	/** The user interrupted the command (Ctrl-C). */
	'INTERRUPTED',
	/** A bug: something we did not expect. */
	'INTERNAL',
] as const;

/** Codes raised outside the engine (CLI, host tools, daemon). */
export type AppErrorCode = (typeof APP_ERROR_CODES)[number];

/** Every error code a user can see. */
export type ErrorCode = VmdkErrorCode | AppErrorCode;

/** The wire form of an error (CLI `--json`, daemon replies). */
export interface SerializedError {
	/** The error class name, when it helps debugging (`VmdkError`). */
	readonly name?: string;
	/** Stable code; the key of the user-message table. */
	readonly code: ErrorCode;
	/** The technical sentence (file, offset, what was wrong). */
	readonly message: string;
}
