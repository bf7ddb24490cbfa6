// SPDX-License-Identifier: MIT
/**
 * `window.vmdk`, built over an `ipcRenderer`-like object: domain verbs, nothing of Electron or
 * Node (STYLE §9). Each verb maps to one channel of the shared contract; every channel is checked
 * against the `vmdk:` prefix and the allow-list before a message leaves, so a bug (or a page
 * that got hold of the object) cannot reach another channel. Listeners get the payload only —
 * never Electron's event, which would hand the page `sender`.
 *
 * Only types are imported from the contract: the sandboxed preload is one small CommonJS file
 * (Electron's sandboxed preloads cannot load ES modules), and the contract's runtime part pulls
 * in zod. The compiler keeps the channel names below equal to the contract's; a unit test checks
 * the lists are complete.
 */
import type {
	EventChannel,
	EventPayloads,
	IPC_PREFIX,
	InvokeChannel,
	IpcOutcome,
	VmdkApi,
} from '../shared/ipc-contract.js';

/** The channel prefix (the compiler checks it equals the contract's). */
export const CHANNEL_PREFIX = 'vmdk:' satisfies typeof IPC_PREFIX;

/** Each invoke verb of `window.vmdk` → its channel. */
export const INVOKE_CHANNELS = {
	inspect: 'vmdk:inspect',
	mount: 'vmdk:mount',
	unmount: 'vmdk:unmount',
	list: 'vmdk:list',
	doctor: 'vmdk:doctor',
	reveal: 'vmdk:reveal',
	openDialog: 'vmdk:open-dialog',
	openHelp: 'vmdk:open-help',
} as const satisfies Record<string, InvokeChannel>;

/** Each event subscription of `window.vmdk` → its channel. */
export const EVENT_SUBSCRIPTIONS = {
	onMountsChanged: 'vmdk:mounts-changed',
	onProgress: 'vmdk:progress',
	onDaemonState: 'vmdk:daemon-state',
	onOpenPaths: 'vmdk:open-paths',
} as const satisfies Record<string, EventChannel>;

const ALLOWED_INVOKE: ReadonlySet<string> = new Set(Object.values(INVOKE_CHANNELS));
const ALLOWED_EVENTS: ReadonlySet<string> = new Set(Object.values(EVENT_SUBSCRIPTIONS));

/** Throws unless `channel` has our prefix and is one of `allowed`. */
export function assertChannel(channel: string, allowed: ReadonlySet<string>): void {
	if (!channel.startsWith(CHANNEL_PREFIX) || !allowed.has(channel)) {
		throw new Error(`vmdk: refusing IPC channel ${JSON.stringify(channel)}`);
	}
}

/** The part of `ipcRenderer` the API uses. */
export interface IpcRendererLike {
	invoke(channel: string, ...args: unknown[]): Promise<unknown>;
	on(channel: string, listener: (event: unknown, payload: unknown) => void): unknown;
	removeListener(channel: string, listener: (event: unknown, payload: unknown) => void): unknown;
}

/** Builds `window.vmdk`. `getPathForFile` is Electron's `webUtils.getPathForFile`. */
export function createVmdkApi(ipc: IpcRendererLike, getPathForFile: (file: unknown) => string): VmdkApi {
	function invoke<T>(channel: InvokeChannel, ...args: unknown[]): Promise<IpcOutcome<T>> {
		assertChannel(channel, ALLOWED_INVOKE);
		return ipc.invoke(channel, ...args) as Promise<IpcOutcome<T>>;
	}
	function subscribe<C extends EventChannel>(
		channel: C,
		listener: (payload: EventPayloads[C]) => void,
	): () => void {
		assertChannel(channel, ALLOWED_EVENTS);
		if (typeof listener !== 'function') throw new TypeError('vmdk: a listener must be a function');
		const relay = (_event: unknown, payload: unknown): void => listener(payload as EventPayloads[C]);
		ipc.on(channel, relay);
		return () => {
			ipc.removeListener(channel, relay);
		};
	}
	const c = INVOKE_CHANNELS;
	const e = EVENT_SUBSCRIPTIONS;
	return {
		inspect: (paths) => invoke(c.inspect, paths),
		mount: (request) => invoke(c.mount, request),
		unmount: (request) => invoke(c.unmount, request),
		list: () => invoke(c.list),
		doctor: () => invoke(c.doctor),
		reveal: (path) => invoke(c.reveal, path),
		openDialog: () => invoke(c.openDialog),
		openHelp: (page) => invoke(c.openHelp, page),
		pathForFile: (file) => {
			// Not a File (or one made in the page, not dropped or picked): it has no path.
			try {
				return getPathForFile(file);
			} catch {
				return '';
			}
		},
		onMountsChanged: (listener) => subscribe(e.onMountsChanged, listener),
		onProgress: (listener) => subscribe(e.onProgress, listener),
		onDaemonState: (listener) => subscribe(e.onDaemonState, listener),
		onOpenPaths: (listener) => subscribe(e.onOpenPaths, listener),
	};
}
