// SPDX-License-Identifier: MIT
/**
 * The renderer ⇄ main contract of the desktop app, declared once. The preload exposes
 * {@link VmdkApi} as `window.vmdk` (domain verbs, nothing of Electron or Node); each invoke
 * channel is answered in main by a handler that checks the sender's frame and validates every
 * argument with the schemas here before it calls the daemon. Events flow main → renderer only.
 *
 * Errors cross as {@link UiError}: the code plus the user-facing title and description from
 * the shared table (`user-messages.ts`), and the technical message.
 */
import { z } from 'zod';
import type { ErrorCode } from './error-codes.js';
import type { DoctorReport, InfoResult, MountedDisk } from './models.js';
import type { ProgressEvent } from './daemon-contract.js';

/** Every channel name starts with this (the preload refuses anything else). */
export const IPC_PREFIX = 'vmdk:';

const MAX_PATH_CHARS = 4096;
const absolutePath = z
	.string()
	.min(1)
	.max(MAX_PATH_CHARS)
	.refine((p) => p.startsWith('/'), { message: 'must be an absolute path' })
	.refine((p) => !p.includes('\0'), { message: 'must not contain NUL' });
/** A daemon disk id (8 hex digits). */
const diskId = z.string().regex(/^[0-9a-f]{8}$/);

/** Arguments of each invoke channel, as one schema per channel (a tuple of arguments). */
export const IPC_ARGS = {
	/** Inspect paths (disks, bundles, folders) without mounting: what the window lists. */
	'vmdk:inspect': z.tuple([z.array(absolutePath).min(1).max(64)]),
	/** Mount a disk or bundle (read-only unless `readWrite`, which the UI confirms first). */
	'vmdk:mount': z.tuple([
		z.strictObject({
			path: absolutePath,
			readWrite: z.boolean().optional(),
			force: z.boolean().optional(),
			partition: z.number().int().min(1).max(1_000_000).optional(),
			operationId: z.string().max(64).optional(),
		}),
	]),
	/** Unmount one volume (by mountpoint) or one disk (by id), or everything. */
	'vmdk:unmount': z.tuple([
		z.union([
			z.strictObject({ mountpoint: absolutePath, force: z.boolean().optional() }),
			z.strictObject({ diskId, force: z.boolean().optional() }),
			z.strictObject({ all: z.literal(true), force: z.boolean().optional() }),
		]),
	]),
	/** The current mount list. */
	'vmdk:list': z.tuple([]),
	/** The helpers report. */
	'vmdk:doctor': z.tuple([]),
	/** Show a mounted folder (or a disk file) in Finder / the file manager. */
	'vmdk:reveal': z.tuple([absolutePath]),
	/** The system's Open… dialog; resolves with the chosen paths (empty when cancelled). */
	'vmdk:open-dialog': z.tuple([]),
	/** Open one of the allow-listed help pages in the browser. */
	'vmdk:open-help': z.tuple([z.enum(['macfuse', 'fuse-t', 'readme'])]),
} as const;

/** An invoke channel. */
export type InvokeChannel = keyof typeof IPC_ARGS;

/** The result of each invoke channel (or a {@link UiError} when it failed). */
export interface InvokeResults {
	'vmdk:inspect': InfoResult[];
	'vmdk:mount': readonly MountedDisk[];
	'vmdk:unmount': readonly MountedDisk[];
	'vmdk:list': readonly MountedDisk[];
	'vmdk:doctor': DoctorReport;
	'vmdk:reveal': null;
	'vmdk:open-dialog': readonly string[];
	'vmdk:open-help': null;
}

/** Arguments of each invoke channel, as the renderer passes them. */
export type InvokeArgs = { [C in InvokeChannel]: z.input<(typeof IPC_ARGS)[C]> };

/** An error as the window shows it. */
export interface UiError {
	readonly code: ErrorCode;
	readonly title: string;
	readonly description: string;
	/** The technical sentence (file, offset). */
	readonly message: string;
}

/** What every invoke resolves with: handlers never reject across the bridge. */
export type IpcOutcome<T> =
	{ readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: UiError };

/** The state of the connection to the daemon. */
export type DaemonState =
	| { readonly kind: 'connected'; readonly pid: number }
	| { readonly kind: 'disconnected'; readonly reason: string }
	| { readonly kind: 'connecting' };

/** Something to open, from any source (argv, Finder, a second launch, a drop, the dialog). */
export interface OpenRequestEvent {
	readonly paths: readonly string[];
}

/** Events main → renderer, with their payload. */
export interface EventPayloads {
	'vmdk:mounts-changed': readonly MountedDisk[];
	'vmdk:progress': ProgressEvent;
	'vmdk:daemon-state': DaemonState;
	/** Paths the user opened outside the window (Finder, argv, the tray): inspect and show them. */
	'vmdk:open-paths': OpenRequestEvent;
}

/** An event channel. */
export type EventChannel = keyof EventPayloads;

/** The event channels, for the preload's allow-list. */
export const EVENT_CHANNELS: readonly EventChannel[] = [
	'vmdk:mounts-changed',
	'vmdk:progress',
	'vmdk:daemon-state',
	'vmdk:open-paths',
];

/** `window.vmdk`: what the preload exposes to the renderer. */
export interface VmdkApi {
	inspect(paths: readonly string[]): Promise<IpcOutcome<InfoResult[]>>;
	mount(request: InvokeArgs['vmdk:mount'][0]): Promise<IpcOutcome<readonly MountedDisk[]>>;
	unmount(request: InvokeArgs['vmdk:unmount'][0]): Promise<IpcOutcome<readonly MountedDisk[]>>;
	list(): Promise<IpcOutcome<readonly MountedDisk[]>>;
	doctor(): Promise<IpcOutcome<DoctorReport>>;
	reveal(path: string): Promise<IpcOutcome<null>>;
	openDialog(): Promise<IpcOutcome<readonly string[]>>;
	openHelp(page: InvokeArgs['vmdk:open-help'][0]): Promise<IpcOutcome<null>>;
	/**
	 * The path of a dropped file (Electron's `webUtils.getPathForFile`), or '' when it has none.
	 * Typed structurally: this module has no DOM types; the renderer passes a `File`.
	 */
	pathForFile(file: { readonly name: string; readonly size: number }): string;
	onMountsChanged(listener: (disks: readonly MountedDisk[]) => void): () => void;
	onProgress(listener: (event: ProgressEvent) => void): () => void;
	onDaemonState(listener: (state: DaemonState) => void): () => void;
	onOpenPaths(listener: (event: OpenRequestEvent) => void): () => void;
}
