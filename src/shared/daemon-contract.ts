// SPDX-License-Identifier: MIT
/**
 * The daemon protocol (STYLE §13): a service interface whose methods are calls and whose
 * `onDid…` member is an event. On the wire (the control socket) each line is one JSON object:
 *
 * - request  `{ "id": 1, "method": "mount", "params": { … } }`
 * - response `{ "id": 1, "result": … }` or `{ "id": 1, "error": { name, code, message } }`,
 *   optionally with `notices` (things the user should hear once, e.g. what a restarted daemon
 *   cleaned up after a crash);
 * - event    `{ "event": "didChangeMounts", "data": [MountedDisk…] }` (after `subscribe`).
 */
import type { SerializedError } from './error-codes.js';
import type { MountListResult, MountedDisk } from './models.js';

/** What `mount` asks for. */
export interface MountRequest {
	/** Absolute path of a `.vmdk`, a VM bundle or folder. */
	readonly path: string;
	/** Copy-on-write read-write mount (writes go to an overlay, never the VMDK). */
	readonly readWrite?: boolean | undefined;
	/** Mount read-write even when locked or unclean. */
	readonly force?: boolean | undefined;
	/** Open snapshot chains whose CIDs do not match. */
	readonly ignoreCid?: boolean | undefined;
	/** Mount only this volume index (1-based). */
	readonly partition?: number | undefined;
	/** A snapshot of a VMware VM (uid or name): mount the disks as that snapshot froze them. */
	readonly snapshot?: string | undefined;
}

/** What `unmount` asks for: a mountpoint, a disk path, or everything. */
export interface UnmountRequest {
	/** A volume mountpoint, a folder inside it, a disk path or a disk id. */
	readonly target?: string | undefined;
	readonly all?: boolean | undefined;
	/** Lazy-unmount busy volumes. */
	readonly force?: boolean | undefined;
}

/** What `hello` answers. */
export interface DaemonHello {
	readonly pid: number;
	readonly version: string;
	readonly socketPath: string;
	readonly logPath: string;
}

/** The typed service the CLI and Electron main call. */
export interface MountService {
	hello(): Promise<DaemonHello>;
	mount(request: MountRequest): Promise<MountListResult>;
	unmount(request: UnmountRequest): Promise<MountListResult>;
	list(): Promise<MountListResult>;
	/** Asks the daemon to unmount everything and exit. */
	shutdown(): Promise<void>;
	/** Fires with the whole mount list whenever it changes. Returns an unsubscribe function. */
	onDidChangeMounts(listener: (disks: readonly MountedDisk[]) => void): () => void;
}

/** Method names and their parameter / result types on the wire. */
export interface DaemonMethods {
	hello: { params: Record<string, never>; result: DaemonHello };
	mount: { params: MountRequest; result: MountListResult };
	unmount: { params: UnmountRequest; result: MountListResult };
	list: { params: Record<string, never>; result: MountListResult };
	shutdown: { params: Record<string, never>; result: null };
	subscribe: { params: Record<string, never>; result: null };
}

/** A method name. */
export type DaemonMethod = keyof DaemonMethods;

/** The methods, for validating requests. */
export const DAEMON_METHODS: readonly DaemonMethod[] = [
	'hello',
	'mount',
	'unmount',
	'list',
	'shutdown',
	'subscribe',
];

/** One request line. */
export interface DaemonRequest {
	readonly id: number;
	readonly method: DaemonMethod;
	readonly params: unknown;
}

/** One response line. */
export type DaemonResponse =
	| { readonly id: number; readonly result: unknown; readonly notices?: readonly string[] }
	| { readonly id: number; readonly error: SerializedError; readonly notices?: readonly string[] };

/** One event line. */
export interface DaemonEvent {
	readonly event: 'didChangeMounts';
	readonly data: readonly MountedDisk[];
}

/** Largest request line the daemon accepts, in bytes (a path and a few flags). */
export const MAX_REQUEST_LINE_BYTES = 64 * 1024;
