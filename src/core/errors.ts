// SPDX-License-Identifier: MIT
/**
 * Typed errors of the engine. Every failure carries a stable `code`, the file and byte offset
 * involved where known, and a technical sentence; user-facing wording lives in
 * `src/shared/user-messages.ts`, keyed by the same codes.
 */

/** Stable codes for everything the engine can refuse. Scripts and the UI rely on them. */
export const VMDK_ERROR_CODES = [
	/** The file is not any kind of VMDK (the message says what it looks like). */
	'VMDK_NOT_VMDK',
	/** A structure's signature is wrong. */
	'VMDK_BAD_MAGIC',
	/** A header or version we do not read. */
	'VMDK_UNSUPPORTED_VERSION',
	/** A createType or extent type we do not read. */
	'VMDK_UNSUPPORTED_TYPE',
	/** The text descriptor has a syntax or semantic error (the message has the line). */
	'VMDK_BAD_DESCRIPTOR',
	/** A binary header field is invalid. */
	'VMDK_BAD_HEADER',
	/** Metadata points outside the file or is inconsistent. */
	'VMDK_CORRUPT',
	/** The file ends before a structure it must contain. */
	'VMDK_TRUNCATED',
	/** A size or count from the file is over our safety limit. */
	'VMDK_LIMIT',
	/** A compressed grain does not inflate. */
	'VMDK_DECOMPRESS',
	/** An extent file named by the descriptor is missing. */
	'VMDK_MISSING_EXTENT',
	/** The parent of a snapshot is missing. */
	'VMDK_MISSING_PARENT',
	/** The parent chain loops. */
	'VMDK_PARENT_CYCLE',
	/** The parent chain is deeper than the limit. */
	'VMDK_CHAIN_TOO_DEEP',
	/** A child's parentCID does not match its parent's CID. */
	'VMDK_CID_MISMATCH',
	/** The descriptor points at a raw host device and that was not allowed. */
	'VMDK_RAW_DEVICE_REFUSED',
	/** A read touched a NOACCESS extent. */
	'VMDK_NOACCESS',
	/** A seSparse extent has an unreplayed journal. */
	'VMDK_DIRTY_JOURNAL',
	/** A read beyond the end of a disk or source. */
	'VMDK_OUT_OF_RANGE',
	/** The operating system failed a read. */
	'VMDK_IO',
	/** A VM configuration file (.vmx, .vmsd, .vbox) is malformed (the message has the line). */
	'VMX_BAD_FILE',
	/** `--snapshot` names no snapshot of the VM, or the VM has no snapshot tree (`.vmsd`). */
	'VMX_SNAPSHOT_NOT_FOUND',
	/** `--snapshot` names a snapshot by a name several snapshots share (pick it by uid). */
	'VMX_SNAPSHOT_AMBIGUOUS',
	/** A disk file of the chosen snapshot point is missing (the message names it). */
	'VMX_SNAPSHOT_DISK_MISSING',
	/** An `.ova` is not a readable tar archive: bad header, bad checksum, a member past its end. */
	'OVA_BAD_ARCHIVE',
	/** An appliance's OVF descriptor is malformed or inconsistent (the message has the line). */
	'OVF_BAD_DESCRIPTOR',
	/** The OVF names a file outside the appliance (`..`, an absolute path, a URL). */
	'OVF_UNSAFE_REFERENCE',
	/** A file the OVF names is not in the appliance. */
	'OVF_MISSING_FILE',
	/** The appliance uses an OVF feature we do not read (gzip-compressed disk files). */
	'OVF_UNSUPPORTED',
	/** The appliance's manifest (`.mf`) is missing or malformed. */
	'OVA_BAD_MANIFEST',
	/** A file's digest differs from the one the manifest lists. */
	'OVA_MANIFEST_MISMATCH',
] as const;

export type VmdkErrorCode = (typeof VMDK_ERROR_CODES)[number];

/** Where an error happened: the file and the byte offset in it. */
export interface ErrorLocation {
	/** Path of the file involved, as given by the caller. */
	readonly file?: string | undefined;
	/** Byte offset in that file. */
	readonly offsetBytes?: number | undefined;
}

/** The one error type of the engine. */
export class VmdkError extends Error {
	override readonly name = 'VmdkError';
	readonly file: string | undefined;
	readonly offsetBytes: number | undefined;
	readonly code: VmdkErrorCode;

	constructor(code: VmdkErrorCode, message: string, location: ErrorLocation = {}, options?: ErrorOptions) {
		super(formatMessage(message, location), options);
		this.code = code;
		this.file = location.file;
		this.offsetBytes = location.offsetBytes;
	}
}

function formatMessage(message: string, { file, offsetBytes }: ErrorLocation): string {
	if (file === undefined) return message;
	const at = offsetBytes === undefined ? '' : ` at byte ${offsetBytes}`;
	return `${file}${at}: ${message}`;
}

/** True for a VmdkError, optionally of one code. */
export function isVmdkError(error: unknown, code?: VmdkErrorCode): error is VmdkError {
	return error instanceof VmdkError && (code === undefined || error.code === code);
}

/** Checks tagged unions exhaustively. */
export function assertNever(value: never, message: string): never {
	throw new Error(`${message}: ${JSON.stringify(value)}`);
}
