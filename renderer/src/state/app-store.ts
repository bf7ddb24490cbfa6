// SPDX-License-Identifier: MIT
/**
 * The window's store, built on the preload bridge (`window.vmdk`): it holds one immutable
 * {@link AppState}, turns the user's actions into bridge calls and the bridge's events (mount
 * list, progress, connection, paths opened from outside) into new states. React reads it with
 * `useSyncExternalStore`. No business logic: the daemon decides, the store remembers what it
 * said. Plain TypeScript, no DOM, so it is unit-tested in Node against a scripted bridge.
 */
import type { InvokeArgs, IpcOutcome, VmdkApi } from '../../../src/shared/ipc-contract.js';
import type { InfoResult, MountedDisk } from '../../../src/shared/models.js';
import {
	INITIAL_STATE,
	type ActionError,
	type AppState,
	type Notice,
	type Operation,
	type OpenedSource,
} from './app-state.js';
import { STRINGS } from '../strings.js';

/** Where the "Mount when opened" choice is kept between sessions (localStorage in the window). */
export interface Preferences {
	readonly mountOnOpen: () => boolean | undefined;
	readonly setMountOnOpen: (on: boolean) => void;
}

/** What the store needs. */
export interface StoreOptions {
	readonly api: VmdkApi;
	/** A fresh id for each mount (progress events carry it back). */
	readonly newId: () => string;
	readonly preferences?: Preferences | undefined;
	/**
	 * Runs `flush` a little later, so that answers arriving together (fifty disks dropped at once)
	 * are drawn in one go rather than fifty. Default: at once (tests).
	 */
	readonly schedule?: ((flush: () => void) => void) | undefined;
}

/** A mount the user asked for. */
export interface MountTarget {
	/** What to mount: a disk, or a bundle/folder/.vmx for all its disks. */
	readonly path: string;
	/** The opened source it belongs to (whose copy-on-write choice applies). */
	readonly sourcePath: string;
	/** Only this volume. */
	readonly partition?: number | undefined;
	/** Mount writable even though the daemon refused (locked VM, unclean filesystem). */
	readonly force?: boolean | undefined;
}

/** The key under which "Unmount all" reports its failure. */
export const ALL_KEY = '*';

export class AppStore {
	private state: AppState;
	private readonly listeners = new Set<() => void>();
	private readonly api: VmdkApi;
	private readonly newId: () => string;
	private readonly preferences: Preferences | undefined;
	private readonly schedule: (flush: () => void) => void;
	private nextKey = 1;
	/** Inspect answers waiting to be drawn together. */
	private inspected: { key: string; change: (s: OpenedSource) => OpenedSource; done: () => void }[] = [];

	constructor(options: StoreOptions) {
		this.api = options.api;
		this.newId = options.newId;
		this.preferences = options.preferences;
		this.schedule = options.schedule ?? ((flush) => flush());
		this.state = { ...INITIAL_STATE, mountOnOpen: options.preferences?.mountOnOpen() ?? true };
	}

	/** For `useSyncExternalStore`. */
	readonly subscribe = (listener: () => void): (() => void) => {
		this.listeners.add(listener);
		return () => this.listeners.delete(listener);
	};

	/** For `useSyncExternalStore`: the same object until something changes. */
	readonly getSnapshot = (): AppState => this.state;

	private update(change: (s: AppState) => AppState): void {
		const next = change(this.state);
		if (next === this.state) return;
		this.state = next;
		for (const l of this.listeners) l();
	}

	/** Listens to the bridge's events and asks for the mount list; returns the way to stop. */
	start(): () => void {
		const stops = [
			this.api.onMountsChanged((disks) => this.update((s) => ({ ...s, mounts: disks }))),
			this.api.onProgress((event) =>
				this.update((s) => {
					for (const [path, op] of s.operations) {
						if (op.operationId === event.operationId) {
							return { ...s, operations: withEntry(s.operations, path, { ...op, progress: event }) };
						}
					}
					const finished = event.phase === 'done' || event.phase === 'failed';
					const foreign = finished
						? without(s.foreign, event.operationId)
						: withEntry(s.foreign, event.operationId, event);
					return foreign === s.foreign ? s : { ...s, foreign };
				}),
			),
			this.api.onDaemonState((daemon) =>
				this.update((s) => ({
					...s,
					connection:
						daemon.kind === 'disconnected'
							? { kind: 'disconnected', reason: daemon.reason }
							: { kind: daemon.kind },
					// Work of a daemon that went away will not report its end.
					foreign: s.foreign.size === 0 ? s.foreign : new Map(),
				})),
			),
			// Main mounts what is opened from outside (Finder, argv, the tray); the window lists it.
			this.api.onOpenPaths((event) => void this.open(event.paths, { mount: false })),
		];
		void this.refreshMounts();
		return () => {
			for (const stop of stops) stop();
		};
	}

	/** Asks for the mount list (start-up); also tells whether the daemon answers. */
	async refreshMounts(): Promise<void> {
		const outcome = await this.api.list();
		this.update((s) => {
			if (outcome.ok) return { ...s, mounts: outcome.value, connection: { kind: 'connected' } };
			if (outcome.error.code === 'DAEMON_UNAVAILABLE') {
				return { ...s, connection: { kind: 'disconnected', reason: outcome.error.message } };
			}
			return { ...s, notice: outcome.error };
		});
	}

	/**
	 * Opens paths: lists them and, for what is opened in the window (a drop, the dialog), mounts
	 * them when "Mount when opened" is on. `mount: false` only lists (main mounts what Finder,
	 * argv and the tray open).
	 */
	async open(paths: readonly string[], options: { readonly mount?: boolean } = {}): Promise<void> {
		const known = new Set(this.state.sources.map((s) => s.path));
		const fresh = [...new Set(paths)].filter((p) => !known.has(p));
		if (fresh.length === 0) return;
		const added: OpenedSource[] = fresh.map((path) => ({
			key: `source-${this.nextKey++}`,
			path,
			status: 'inspecting',
			info: null,
			error: null,
		}));
		this.update((s) => ({ ...s, sources: [...s.sources, ...added] }));
		const mount = options.mount ?? true;
		await Promise.all(added.map((source) => this.inspect(source, mount)));
	}

	private async inspect(source: OpenedSource, mount: boolean): Promise<void> {
		const outcome = await this.api.inspect([source.path]);
		const info: InfoResult | null = outcome.ok ? (outcome.value[0] ?? null) : null;
		await this.applyInspected(source.key, (s) =>
			outcome.ok
				? { ...s, status: 'ready', info, error: null }
				: { ...s, status: 'failed', info: null, error: outcome.error },
		);
		if (info === null || !mount || !this.state.mountOnOpen) return;
		// A disk that is already mounted (from the CLI, say) is shown as it is, not mounted twice.
		const mounted = new Set(this.state.mounts.map((d) => d.path));
		if (info.disks.some((d) => mounted.has(d.path))) return;
		if (info.disks.every((d) => d.error !== undefined)) return;
		await this.mount({ path: source.path, sourcePath: source.path });
	}

	/** Queues an inspect answer; answers queued before the next flush become one state change. */
	private applyInspected(key: string, change: (s: OpenedSource) => OpenedSource): Promise<void> {
		return new Promise((done) => {
			this.inspected.push({ key, change, done });
			if (this.inspected.length === 1) this.schedule(() => this.flushInspected());
		});
	}

	private flushInspected(): void {
		const batch = this.inspected;
		this.inspected = [];
		const byKey = new Map(batch.map((b) => [b.key, b.change]));
		this.update((s) => ({
			...s,
			sources: s.sources.map((src) => byKey.get(src.key)?.(src) ?? src),
		}));
		for (const b of batch) b.done();
	}

	/** The system's Open… dialog, then {@link open}. */
	async openDialog(): Promise<void> {
		const outcome = await this.api.openDialog();
		if (!outcome.ok) {
			this.update((s) => ({ ...s, notice: outcome.error }));
			return;
		}
		if (outcome.value.length > 0) await this.open(outcome.value);
	}

	/** Mounts a disk, a volume of it, or every disk of a bundle; read-only unless allowed. */
	async mount(target: MountTarget): Promise<void> {
		if (this.state.operations.has(target.path)) return;
		const readWrite = this.state.writable.has(target.sourcePath);
		const operationId = this.newId();
		this.begin(target.path, { kind: 'mounting', operationId, progress: null });
		const request: InvokeArgs['vmdk:mount'][0] = {
			path: target.path,
			readWrite,
			operationId,
			...(target.partition === undefined ? {} : { partition: target.partition }),
			...(target.force === true ? { force: true } : {}),
		};
		const outcome = await this.api.mount(request);
		this.finish(target.path, outcome, (disks) => mergeMounts(this.state.mounts, disks), {
			readWrite,
			partition: target.partition,
		});
	}

	/** Unmounts one disk (by its daemon id); `key` is where its progress and errors show. */
	unmountDisk(diskId: string, key: string): Promise<void> {
		return this.unmount({ diskId }, key);
	}

	/** Unmounts several disks one after the other (a bundle's), as one piece of work under `key`. */
	async unmountDisks(diskIds: readonly string[], key: string): Promise<void> {
		if (this.state.operations.has(key)) return;
		this.begin(key, { kind: 'unmounting', operationId: null, progress: null });
		const gone: MountedDisk[] = [];
		for (const diskId of diskIds) {
			const outcome = await this.api.unmount({ diskId });
			if (!outcome.ok) {
				this.finish(key, outcome, () => this.state.mounts);
				return;
			}
			gone.push(...outcome.value);
		}
		this.finish(key, { ok: true, value: gone }, (done) =>
			this.state.mounts.filter((d) => !done.some((g) => g.id === d.id)),
		);
	}

	/** Unmounts the disk holding `mountpoint` (the daemon unmounts a disk's volumes together). */
	unmountVolume(mountpoint: string, key: string): Promise<void> {
		return this.unmount({ mountpoint }, key);
	}

	/** Unmounts everything the daemon has mounted. */
	unmountAll(): Promise<void> {
		return this.unmount({ all: true }, ALL_KEY);
	}

	private async unmount(request: InvokeArgs['vmdk:unmount'][0], key: string): Promise<void> {
		if (this.state.operations.has(key)) return;
		this.begin(key, { kind: 'unmounting', operationId: null, progress: null });
		const outcome = await this.api.unmount(request);
		this.finish(key, outcome, (gone) => this.state.mounts.filter((d) => !gone.some((g) => g.id === d.id)));
	}

	private begin(key: string, op: Operation): void {
		this.update((s) => ({
			...s,
			operations: withEntry(s.operations, key, op),
			errors: without(s.errors, key),
		}));
	}

	private finish(
		key: string,
		outcome: IpcOutcome<readonly MountedDisk[]>,
		mounts: (disks: readonly MountedDisk[]) => readonly MountedDisk[],
		mount?: ActionError['mount'],
	): void {
		this.update((s) => {
			const operations = without(s.operations, key);
			if (outcome.ok) return { ...s, operations, mounts: mounts(outcome.value) };
			return { ...s, operations, errors: withEntry(s.errors, key, { error: outcome.error, mount }) };
		});
	}

	/** Shows a mounted folder or a disk file in the file manager. */
	async reveal(path: string, key: string): Promise<void> {
		const outcome = await this.api.reveal(path);
		if (!outcome.ok)
			this.update((s) => ({ ...s, errors: withEntry(s.errors, key, { error: outcome.error }) }));
	}

	/** Records the user's confirmed choice to allow changes (copy-on-write) to a source. */
	setWritable(sourcePath: string, writable: boolean): void {
		this.update((s) => {
			const next = new Set(s.writable);
			if (writable) next.add(sourcePath);
			else next.delete(sourcePath);
			return { ...s, writable: next };
		});
	}

	/** Mount what is opened right away, or only list it. */
	setMountOnOpen(on: boolean): void {
		this.preferences?.setMountOnOpen(on);
		this.update((s) => ({ ...s, mountOnOpen: on }));
	}

	dismissError(key: string): void {
		this.update((s) => (s.errors.has(key) ? { ...s, errors: without(s.errors, key) } : s));
	}

	dismissNotice(): void {
		this.update((s) => (s.notice === null ? s : { ...s, notice: null }));
	}

	/** Takes an opened source off the list (its mounts stay, listed under "Also mounted"). */
	removeSource(key: string): void {
		this.update((s) => ({ ...s, sources: s.sources.filter((src) => src.key !== key) }));
	}

	/** Asks the daemon which helpers this computer has. */
	async loadHelpers(): Promise<void> {
		if (this.state.helpers.kind === 'loading') return;
		this.update((s) => ({
			...s,
			helpers: { kind: 'loading', report: s.helpers.kind === 'ready' ? s.helpers.report : null },
		}));
		const outcome = await this.api.doctor();
		this.update((s) => ({
			...s,
			helpers: outcome.ok
				? { kind: 'ready', report: outcome.value }
				: { kind: 'failed', error: outcome.error },
		}));
	}

	/** Opens an allow-listed help page in the browser. */
	async openHelp(page: InvokeArgs['vmdk:open-help'][0]): Promise<void> {
		const outcome = await this.api.openHelp(page);
		if (!outcome.ok) this.update((s) => ({ ...s, notice: outcome.error }));
	}

	/**
	 * Opens dropped files by their paths on disk (the preload's `webUtils.getPathForFile`); a drop
	 * of things without a path (from a browser, an archive) says so instead.
	 */
	async openDropped(files: readonly { readonly name: string; readonly size: number }[]): Promise<void> {
		const paths = files.map((f) => this.api.pathForFile(f)).filter((p) => p !== '');
		if (paths.length === 0) {
			this.showNotice({ title: STRINGS.drop.noPathTitle, description: STRINGS.drop.noPath });
			return;
		}
		await this.open(paths);
	}

	/** Shows a message of the window's own (a drop that carried no usable path). */
	showNotice(notice: Notice): void {
		this.update((s) => ({ ...s, notice }));
	}
}

/** The list with `disks` put in (replacing entries with the same id). */
function mergeMounts(current: readonly MountedDisk[], disks: readonly MountedDisk[]): readonly MountedDisk[] {
	return [...current.filter((d) => !disks.some((n) => n.id === d.id)), ...disks];
}

function withEntry<V>(map: ReadonlyMap<string, V>, key: string, value: V): ReadonlyMap<string, V> {
	const next = new Map(map);
	next.set(key, value);
	return next;
}

function without<V>(map: ReadonlyMap<string, V>, key: string): ReadonlyMap<string, V> {
	if (!map.has(key)) return map;
	const next = new Map(map);
	next.delete(key);
	return next;
}
