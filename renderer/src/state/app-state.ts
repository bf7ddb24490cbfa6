// SPDX-License-Identifier: MIT
/**
 * What the window knows, as one immutable snapshot: what the user opened (and what the daemon
 * said about it), the daemon's mount list, the connection, the work under way and its errors.
 * Everything the window draws is derived from this (`disk-views.ts`).
 */
import type { ProgressEvent } from '../../../src/shared/daemon-contract.js';
import type { UiError } from '../../../src/shared/ipc-contract.js';
import type { DoctorReport, InfoResult, MountedDisk } from '../../../src/shared/models.js';

/** Something the user opened: a disk, a bundle, a folder, a `.vmx` or `.vbox`. */
export interface OpenedSource {
	/** Stable key for React (the order of opening). */
	readonly key: string;
	/** The path as opened. */
	readonly path: string;
	readonly status: 'inspecting' | 'ready' | 'failed';
	readonly info: InfoResult | null;
	readonly error: UiError | null;
}

/** A mount or unmount under way, keyed by the path it is about. */
export interface Operation {
	readonly kind: 'mounting' | 'unmounting';
	/** Correlates the daemon's progress events with this call. */
	readonly operationId: string | null;
	/** The latest step, when the daemon has told one. */
	readonly progress: ProgressEvent | null;
}

/** The last failure of an action on a path, and what was asked (to offer "anyway"). */
export interface ActionError {
	readonly error: UiError;
	/** The mount that failed, when it was a mount. */
	readonly mount?: { readonly readWrite: boolean; readonly partition?: number | undefined } | undefined;
}

/** The connection to the daemon as the window shows it. */
export type Connection =
	| { readonly kind: 'connecting' }
	| { readonly kind: 'connected' }
	| { readonly kind: 'disconnected'; readonly reason: string };

/** The Helpers panel's data. */
export type HelpersState =
	| { readonly kind: 'idle' }
	| { readonly kind: 'loading'; readonly report: DoctorReport | null }
	| { readonly kind: 'ready'; readonly report: DoctorReport }
	| { readonly kind: 'failed'; readonly error: UiError };

/** A message not tied to a disk: an error from the bridge, or one of the window's own. */
export interface Notice {
	readonly title: string;
	readonly description: string;
	/** The technical sentence, when there is one. */
	readonly message?: string | undefined;
}

/** The whole state. */
export interface AppState {
	readonly sources: readonly OpenedSource[];
	readonly mounts: readonly MountedDisk[];
	readonly connection: Connection;
	/** Work under way, by the path it is about (a disk, or a bundle for "Mount all"). */
	readonly operations: ReadonlyMap<string, Operation>;
	/**
	 * Steps of work the window did not start (a double-click mounted by main, a CLI mount), by
	 * operation id, until their "done" or "failed": shown on the disk they are about.
	 */
	readonly foreign: ReadonlyMap<string, ProgressEvent>;
	/** The last failure of an action, by the path it was about. */
	readonly errors: ReadonlyMap<string, ActionError>;
	/** Sources (by path) the user allowed changes to, after confirming. */
	readonly writable: ReadonlySet<string>;
	readonly helpers: HelpersState;
	/** Mount what is opened right away (double-click, drop), read-only. */
	readonly mountOnOpen: boolean;
	/** A failure not tied to a disk (the Open… dialog, a drop without paths). */
	readonly notice: Notice | null;
}

/** The state before anything happened. */
export const INITIAL_STATE: AppState = {
	sources: [],
	mounts: [],
	connection: { kind: 'connecting' },
	operations: new Map(),
	foreign: new Map(),
	errors: new Map(),
	writable: new Set(),
	helpers: { kind: 'idle' },
	mountOnOpen: true,
	notice: null,
};
