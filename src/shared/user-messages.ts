// SPDX-License-Identifier: MIT
/**
 * The words users see for every error code, shared by the CLI, the window and the tray (STYLE
 * §46–47). `title` is a short phrase; `description` says what it means and what to do. The
 * technical detail (file, byte offset) stays in the error's own message. The table is typed
 * `Record<ErrorCode, …>`, so adding a code without a message does not compile.
 */
import type { ErrorCode } from './error-codes.js';

/** What to show a user for one error code. */
export interface UserMessage {
	/** A short phrase, sentence case, no final period ("Not a VMDK file"). */
	readonly title: string;
	/** One or two sentences: what happened and what the user can do. */
	readonly description: string;
}

/** The code → message table. */
export const USER_MESSAGES: Readonly<Record<ErrorCode, UserMessage>> = {
	VMDK_NOT_VMDK: {
		title: 'Not a VMDK file',
		description:
			'The file is not a VMware or VirtualBox virtual disk. Choose the .vmdk descriptor of the disk.',
	},
	VMDK_BAD_MAGIC: {
		title: 'Damaged disk structure',
		description:
			'A structure inside the disk does not start with the signature it must have. The file is damaged or not a VMDK.',
	},
	VMDK_UNSUPPORTED_VERSION: {
		title: 'Unsupported VMDK version',
		description: 'The disk uses a format version this app does not read yet.',
	},
	VMDK_UNSUPPORTED_TYPE: {
		title: 'Unsupported disk type',
		description: 'The disk uses a kind of VMDK or extent this app does not read yet.',
	},
	VMDK_BAD_DESCRIPTOR: {
		title: 'Invalid disk descriptor',
		description: 'The text descriptor of the disk has an error. The message names the line.',
	},
	VMDK_BAD_HEADER: {
		title: 'Invalid disk header',
		description: 'A field of the disk header has an impossible value. The file is damaged.',
	},
	VMDK_CORRUPT: {
		title: 'Damaged disk',
		description: 'The disk’s tables point outside the file or contradict each other. The file is damaged.',
	},
	VMDK_TRUNCATED: {
		title: 'Incomplete disk file',
		description: 'The file ends early: it was probably cut short by an interrupted copy or download.',
	},
	VMDK_LIMIT: {
		title: 'Disk exceeds a safety limit',
		description:
			'A size or count in the disk is larger than this app accepts, which usually means the file is damaged.',
	},
	VMDK_DECOMPRESS: {
		title: 'Compressed data is damaged',
		description: 'A compressed block of the disk cannot be decompressed. The file is damaged.',
	},
	VMDK_MISSING_EXTENT: {
		title: 'Disk file not found',
		description:
			'A file the disk is made of is missing. Keep all the .vmdk files of the disk together in one folder.',
	},
	VMDK_MISSING_PARENT: {
		title: 'Parent disk not found',
		description:
			'This disk is a snapshot and the disk it is based on is missing. Keep the whole snapshot chain in one folder.',
	},
	VMDK_PARENT_CYCLE: {
		title: 'Snapshot chain loops',
		description: 'The disk’s parents refer back to each other, so the chain has no base disk.',
	},
	VMDK_CHAIN_TOO_DEEP: {
		title: 'Snapshot chain too long',
		description: 'The disk has more parent snapshots than this app follows.',
	},
	VMDK_CID_MISMATCH: {
		title: 'Snapshot does not match its parent',
		description:
			'The parent disk changed after this snapshot was taken, so the data may be inconsistent. Use --ignore-cid to open it anyway.',
	},
	VMDK_RAW_DEVICE_REFUSED: {
		title: 'Disk uses a physical device',
		description:
			'The disk reads directly from a host device. This is refused unless raw devices are explicitly allowed.',
	},
	VMDK_NOACCESS: {
		title: 'Inaccessible disk region',
		description: 'Part of the disk is marked as not accessible in its descriptor.',
	},
	VMDK_DIRTY_JOURNAL: {
		title: 'Disk has unfinished changes',
		description:
			'The disk’s journal was not replayed. Open the VM once in VMware to repair it, then try again.',
	},
	VMDK_OUT_OF_RANGE: {
		title: 'Read outside the disk',
		description: 'A read went past the end of the disk.',
	},
	VMDK_IO: {
		title: 'Cannot read the file',
		description:
			'The operating system reported an error reading the disk. Check the file’s permissions and the drive.',
	},
	VMX_BAD_FILE: {
		title: 'Invalid VM configuration file',
		description: 'A .vmx, .vmsd or .vbox file of the VM has an error. The message names the line.',
	},
	VMX_SNAPSHOT_NOT_FOUND: {
		title: 'Snapshot not found',
		description: 'The VM has no snapshot with that name or uid. Run info on the VM to see its snapshot tree.',
	},
	VMX_SNAPSHOT_AMBIGUOUS: {
		title: 'Several snapshots have that name',
		description: 'More than one snapshot of the VM has this name. Choose the snapshot by its uid (see info).',
	},
	VMX_SNAPSHOT_DISK_MISSING: {
		title: 'Snapshot disk not found',
		description:
			'A disk file the snapshot needs is missing, so the VM cannot be shown as it was at that snapshot.',
	},
	OVA_BAD_ARCHIVE: {
		title: 'Damaged appliance archive',
		description:
			'The .ova file is not a valid tar archive, or one of its members is damaged. Download or export it again.',
	},
	OVF_BAD_DESCRIPTOR: {
		title: 'Invalid OVF descriptor',
		description: 'The .ovf file describing the appliance has an error. The message names the line.',
	},
	OVF_UNSAFE_REFERENCE: {
		title: 'Appliance points outside itself',
		description:
			'The OVF descriptor names a file outside the appliance (an absolute path, "..", or a web address). It was not opened.',
	},
	OVF_MISSING_FILE: {
		title: 'Appliance file missing',
		description: 'A file the OVF descriptor lists is not in the appliance. Download or export it again.',
	},
	OVF_UNSUPPORTED: {
		title: 'Unsupported appliance format',
		description:
			'The appliance stores its disks in a way this app does not read in place (for example gzip-compressed disk files).',
	},
	OVA_BAD_MANIFEST: {
		title: 'No usable manifest',
		description: 'The appliance has no manifest (.mf) to verify against, or its manifest cannot be read.',
	},
	OVA_MANIFEST_MISMATCH: {
		title: 'Appliance does not match its manifest',
		description:
			'A file of the appliance has a different checksum than its manifest lists: it was changed or damaged in transit.',
	},
	USAGE: {
		title: 'Invalid command line',
		description: 'Run `vmdk-mounter --help` to see the commands and options.',
	},
	INPUT_NOT_FOUND: {
		title: 'File not found',
		description: 'There is no file or folder at the path you gave.',
	},
	OUTPUT_EXISTS: {
		title: 'Output file already exists',
		description: 'Choose another name, or add --force to replace it.',
	},
	OUTPUT_IS_INPUT: {
		title: 'Output would overwrite a disk file',
		description:
			'The output must not be the disk you read or one of its files (export also refuses any .vmdk name). Choose a different name.',
	},
	OUTPUT_WRITE: {
		title: 'Cannot write the output file',
		description: 'Writing the output failed. Check the free space and permissions of the destination folder.',
	},
	OUTPUT_NO_SPACE: {
		title: 'Not enough space for the output',
		description:
			'The destination disk (or your quota) is full. Nothing was left behind: free some space or choose another folder, then try again.',
	},
	DAEMON_UNAVAILABLE: {
		title: 'Mount service not available',
		description:
			'The background mount service could not be reached or started. Run `vmdk-mounter doctor` and check its log.',
	},
	ALREADY_MOUNTED: {
		title: 'Already mounted',
		description: 'This disk is already mounted. Unmount it first, or use the folders that are already there.',
	},
	NOT_MOUNTED: {
		title: 'Not mounted',
		description: 'Nothing mounted matches what you named. `vmdk-mounter list` shows what is mounted.',
	},
	DISK_LOCKED: {
		title: 'Disk in use by a virtual machine',
		description:
			'VMware has locked this disk (.lck). Shut the VM down before mounting it read-write, or mount it read-only.',
	},
	FS_UNSAFE_FOR_WRITE: {
		title: 'Volume not safe to modify',
		description:
			'The filesystem was not shut down cleanly (journal to replay, hibernated or dirty). Mount it read-only, or use --force.',
	},
	NO_HELPER: {
		title: 'No way to mount this volume',
		description:
			'No installed helper can mount this kind of filesystem. `vmdk-mounter doctor` says what to install.',
	},
	NO_FILESYSTEM: {
		title: 'No filesystem found',
		description:
			'None of the disk’s volumes holds a filesystem this app recognises. The disk may be empty, encrypted, or use a filesystem no helper here reads (see vmdk-mounter info).',
	},
	MOUNT_FAILED: {
		title: 'Volume could not be mounted',
		description:
			'Every helper that could mount this volume failed. The message names each one and what it said.',
	},
	VOLUME_BUSY: {
		title: 'Volume in use',
		description: 'A program is still using files on this volume. Close it, or unmount with --force.',
	},
	TOOL_FAILED: {
		title: 'A system tool failed',
		description: 'A system tool the app relies on reported an error. The message has its output.',
	},
	FUSE_UNAVAILABLE: {
		title: 'FUSE not available',
		description:
			'This computer cannot serve FUSE filesystems. On Linux install fuse3; on macOS install macFUSE or FUSE-T. `vmdk-mounter doctor` says what is missing.',
	},
	PLATFORM_UNSUPPORTED: {
		title: 'Not available on this system',
		description: 'This feature exists only on another operating system (the message says which).',
	},
	BAD_REQUEST: {
		title: 'Malformed request',
		description:
			'The mount service received a request it cannot read. This is a bug in the program that sent it; the service keeps running.',
	},
	PROTOCOL_MISMATCH: {
		title: 'Mount service version differs',
		description:
			'The running mount service is from another version of this app. Unmount everything and quit it (vmdk-mounter unmount --all), then try again.',
	},
	DAEMON_UNTRUSTED: {
		title: 'Mount service cannot be trusted',
		description:
			'The control socket or pid file belongs to another user, or something there does not answer like our mount service. Nothing was sent to it. Remove the folder named in the message and try again.',
	},
	DAEMON_ALREADY_RUNNING: {
		title: 'Mount service already running',
		description:
			'Another mount service already keeps its state in this folder. Use that one, or give each its own state folder (VMDK_MOUNTER_STATE_DIR).',
	},
	UNSAFE_FOLDER: {
		title: 'Unsafe folder permissions',
		description:
			'A folder where the mount service keeps private files belongs to another user or can be written by others, so it is not used. The message names the folder and the fix.',
	},
	SETTINGS_INVALID: {
		title: 'Invalid settings',
		description:
			'The settings file cannot be used. The message names the file and the field; fix or remove it.',
	},
	NO_SPACE: {
		title: 'Not enough free space',
		description:
			'There is not enough free space for the copy-on-write overlay of a writable mount. Free some space in the folder named in the message, or mount read-only.',
	},
	INTERRUPTED: {
		title: 'Interrupted',
		description: 'The command was stopped before it finished; nothing was left half-written.',
	},
	INTERNAL: {
		title: 'Unexpected error',
		description:
			'Something went wrong inside VMDK Mounter. Run again with DEBUG=vmdk:* to see details, and report it.',
	},
};

/** The message for a code. */
export function userMessage(code: ErrorCode): UserMessage {
	return USER_MESSAGES[code];
}
