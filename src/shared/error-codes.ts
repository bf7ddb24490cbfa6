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
	/** No volume of the disk holds a filesystem we recognise (and trial mounts failed). */
	'NO_FILESYSTEM',
	/** Every helper tried to mount the volume failed (the message names each). */
	'MOUNT_FAILED',
	/** A mounted volume is in use; the message names the processes. */
	'VOLUME_BUSY',
	/** An external tool failed (losetup, umount …). */
	'TOOL_FAILED',
	/** FUSE is not available on this host (no /dev/fuse or no fusermount). */
	'FUSE_UNAVAILABLE',
	/** The command or feature exists only on another operating system (`setup-links` is macOS-only). */
	'PLATFORM_UNSUPPORTED',
	/** A request to the daemon was malformed (unknown method, wrong type, relative path). */
	'BAD_REQUEST',
	/** The client and the daemon speak different protocol versions. */
	'PROTOCOL_MISMATCH',
	/** The daemon's socket or pid file belongs to another user, or does not answer as a daemon. */
	'DAEMON_UNTRUSTED',
	/** Another daemon already serves this state folder. */
	'DAEMON_ALREADY_RUNNING',
	/** A folder we keep private is owned by another user or writable by others. */
	'UNSAFE_FOLDER',
	/** `settings.json` is not valid (bad JSON, a wrong type, a relative path). */
	'SETTINGS_INVALID',
	/** Not enough free space for what was asked (a `--rw` overlay). */
	'NO_SPACE',
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
