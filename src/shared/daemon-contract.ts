// SPDX-License-Identifier: MIT
/**
 * The daemon protocol: a service interface whose methods are calls and whose `onDid…` members
 * are events (docs/architecture.md). On the wire — the control socket — each line is one JSON
 * object (framing in `ndjson.ts`):
 *
 * - request  `{ "id": 1, "method": "mount", "params": { … } }`
 * - response `{ "id": 1, "result": … }` or `{ "id": 1, "error": { name, code, message } }`,
 *   optionally with `notices` (things the user should hear once, e.g. what a restarted daemon
 *   cleaned up after a crash);
 * - event    `{ "event": "didChangeMounts", "data": [MountedDisk…] }` or
 *   `{ "event": "progress", "data": ProgressEvent }` (after `subscribe`).
 *
 * Every request's params are checked against the schemas below before the service sees them.
 * A client opens with `hello` carrying {@link PROTOCOL_VERSION}; a daemon speaking another
 * version answers `PROTOCOL_MISMATCH`.
 */
import { z } from 'zod';
import type { SerializedError } from './error-codes.js';
import type { DoctorReport, InfoResult, MountListResult, MountedDisk } from './models.js';

/** Bumped when a method, its params or its result change incompatibly. */
export const PROTOCOL_VERSION = 2;

/** Largest request line the daemon accepts, in bytes (a path and a few flags). */
export const MAX_REQUEST_LINE_BYTES = 64 * 1024;

/** Longest path accepted in a request, in characters (Linux PATH_MAX is 4096 bytes). */
const MAX_PATH_CHARS = 4096;

/** An absolute path: starts with `/`, no NUL, bounded. */
export const absolutePath = z
	.string()
	.min(1)
	.max(MAX_PATH_CHARS)
	.refine((p) => p.startsWith('/'), { message: 'must be an absolute path' })
	.refine((p) => !p.includes('\0'), { message: 'must not contain NUL' });

/** Options shared by every method that opens a disk. */
const openOptions = {
	/** Open snapshot chains whose CIDs do not match. */
	ignoreCid: z.boolean().optional(),
	/** A snapshot of a VMware VM (uid or name): open the disks as that snapshot froze them. */
	snapshot: z.string().min(1).max(1024).optional(),
};

/** `hello` params. */
export const helloParams = z.strictObject({
	/** The protocol version the client speaks. */
	protocolVersion: z.number().int().nonnegative(),
	/** Who is calling, for the daemon's log (`cli`, `app`). */
	client: z.string().max(64).optional(),
});

/** `inspect` params: exactly what `info --json` prints, computed in the daemon. */
export const inspectParams = z.strictObject({
	path: absolutePath,
	...openOptions,
	/** Correlates progress events with this call. */
	operationId: z.string().max(64).optional(),
});

/** `mount` params. */
export const mountParams = z.strictObject({
	/** Absolute path of a `.vmdk`, a VM bundle or folder, a `.vmx` or `.vbox`. */
	path: absolutePath,
	/** Copy-on-write read-write mount (writes go to an overlay, never the VMDK). */
	readWrite: z.boolean().optional(),
	/** Mount read-write even when locked or unclean. */
	force: z.boolean().optional(),
	...openOptions,
	/** Mount only this volume index (1-based). */
	partition: z.number().int().min(1).max(1_000_000).optional(),
	/** Correlates progress events with this call. */
	operationId: z.string().max(64).optional(),
});

/** `unmount` params: a mountpoint, a disk path, a disk id, or everything. */
export const unmountParams = z
	.strictObject({
		/** A volume mountpoint, a folder inside it, a disk path (absolute) or a disk id. */
		target: z
			.string()
			.min(1)
			.max(MAX_PATH_CHARS)
			.refine((t) => t.startsWith('/') || /^[0-9a-f]{8}$/.test(t), {
				message: 'must be an absolute mountpoint or disk path, or a disk id',
			})
			.optional(),
		all: z.boolean().optional(),
		/** Lazy-unmount busy volumes. */
		force: z.boolean().optional(),
		/** Keep a `--rw` mount's changes as a VMware snapshot next to the disk instead of discarding them. */
		keep: z.boolean().optional(),
		/** With `keep`: point the VM's `.vmx` at the new snapshot (refused while the VM is locked). */
		attach: z.boolean().optional(),
	})
	.refine((p) => (p.target !== undefined) !== (p.all === true), {
		message: 'give either a target or all: true',
	})
	.refine((p) => p.attach !== true || p.keep === true, { message: 'attach needs keep' });

/** Params of methods that take none. */
export const noParams = z.strictObject({});

/** What `mount` asks for. */
export type MountRequest = z.infer<typeof mountParams>;
/** What `unmount` asks for. */
export type UnmountRequest = z.infer<typeof unmountParams>;
/** What `inspect` asks for. */
export type InspectRequest = z.infer<typeof inspectParams>;
/** What `hello` sends. */
export type HelloRequest = z.infer<typeof helloParams>;

/** What `hello` answers. */
export interface DaemonHello {
	readonly pid: number;
	readonly version: string;
	readonly protocolVersion: number;
	readonly socketPath: string;
	readonly logPath: string;
}

/** The steps of long work, in order. */
export const PROGRESS_PHASES = [
	'resolving',
	'opening',
	'probing',
	'exporting',
	'mounting-volume',
	'unmounting-volume',
	'keeping',
	'done',
	'failed',
] as const;

/** A step of long work. */
export type ProgressPhase = (typeof PROGRESS_PHASES)[number];

/** One progress event of a long call (`inspect` of a long chain, the phases of a mount). */
export interface ProgressEvent {
	/** The call's `operationId` (or one the daemon made up). */
	readonly operationId: string;
	/** The path the call is about (the disk being opened, the bundle being mounted). */
	readonly path: string;
	readonly phase: ProgressPhase;
	/** The volume a `mounting-volume` step is about. */
	readonly volumeIndex?: number | undefined;
	/** Steps done and the total, when known (volumes mounted of volumes planned). */
	readonly done?: number | undefined;
	readonly total?: number | undefined;
	/** A short sentence for the window ("Mounting volume 2 of 3 with fuse2fs"). */
	readonly message: string;
}

/** Method names, their params schema and result type. */
export const DAEMON_PARAMS = {
	hello: helloParams,
	inspect: inspectParams,
	doctor: noParams,
	mount: mountParams,
	unmount: unmountParams,
	list: noParams,
	subscribe: noParams,
	shutdown: noParams,
} as const;

/** A method name. */
export type DaemonMethod = keyof typeof DAEMON_PARAMS;

/** The methods, for validating requests. */
export const DAEMON_METHODS = Object.keys(DAEMON_PARAMS) as readonly DaemonMethod[];

/** Results on the wire. */
export interface DaemonResults {
	hello: DaemonHello;
	inspect: InfoResult;
	doctor: DoctorReport;
	mount: MountListResult;
	unmount: MountListResult;
	list: MountListResult;
	subscribe: null;
	shutdown: null;
}

/** Params (after validation) and results of each method. */
export type DaemonMethods = {
	[M in DaemonMethod]: { params: z.input<(typeof DAEMON_PARAMS)[M]>; result: DaemonResults[M] };
};

/** The typed service the CLI and Electron main call (the daemon client implements it). */
export interface MountService {
	hello(): Promise<DaemonHello>;
	inspect(request: InspectRequest): Promise<InfoResult>;
	doctor(): Promise<DoctorReport>;
	mount(request: MountRequest): Promise<MountListResult>;
	unmount(request: UnmountRequest): Promise<MountListResult>;
	list(): Promise<MountListResult>;
	/** Asks the daemon to unmount everything and exit. */
	shutdown(): Promise<void>;
	/** Fires with the whole mount list whenever it changes. Returns an unsubscribe function. */
	onDidChangeMounts(listener: (disks: readonly MountedDisk[]) => void): () => void;
	/** Fires with each step of long work. Returns an unsubscribe function. */
	onProgress(listener: (event: ProgressEvent) => void): () => void;
}

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
export type DaemonEvent =
	| { readonly event: 'didChangeMounts'; readonly data: readonly MountedDisk[] }
	| { readonly event: 'progress'; readonly data: ProgressEvent };
