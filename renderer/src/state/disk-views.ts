// SPDX-License-Identifier: MIT
/**
 * What the window draws, derived from the state in one pure function: each opened source with
 * its disks and volumes, joined with the daemon's mount list (by the disk's real path and the
 * volume's index), what is under way and what failed; then the disks mounted elsewhere (the
 * CLI, an earlier session). Order is stable — the order of opening, then the daemon's — so rows
 * never move when the mount list changes.
 */
import type { UiError } from '../../../src/shared/ipc-contract.js';
import type { DiskInfo, MountedDisk, MountedVolume, VmInfo, VolumeInfo } from '../../../src/shared/models.js';
import { baseName, dirName, filesystemName } from '../format.js';
import type { ActionError, AppState, OpenedSource, Operation } from './app-state.js';

/** Filesystems no helper mounts (they are listed, not offered). */
const NOT_MOUNTABLE = new Set(['swap', 'LVM2_member', 'crypto_LUKS']);

/** One volume row. */
export interface VolumeView {
	readonly key: string;
	readonly index: number;
	/** The volume's name in the export (`p1`, `disk`, `vg-lv`). */
	readonly name: string;
	/** Filesystem for people (`FAT32`, `ext4`), undefined when unknown. */
	readonly typeName: string | undefined;
	readonly label: string | null;
	readonly sizeBytes: number | null;
	readonly helper: string | null;
	readonly mountpoint: string | null;
	readonly state: 'not-mounted' | 'mounted' | 'unavailable' | 'degraded';
	/** Why it is not (or not well) mounted, or why it cannot be mounted. */
	readonly problem: string | null;
	/** The volume can be mounted on its own now. */
	readonly canMount: boolean;
	/** The volume can be unmounted on its own (its disk's other volumes stay mounted). */
	readonly canUnmount: boolean;
	/** The disk is mounted writable without this volume, so it cannot be added now. */
	readonly blockedByOtherVolume: boolean;
}

/** One disk. */
export interface DiskView {
	/** Stable key (the disk's path). */
	readonly key: string;
	readonly path: string;
	readonly name: string;
	/** Where mount requests, progress and errors for this disk go (the path to mount). */
	readonly actionPath: string;
	readonly capacityBytes: number | null;
	readonly createType: string | null;
	readonly scheme: DiskInfo['partitionTable']['scheme'] | null;
	readonly controller: string | null;
	/** File names of the snapshot chain, newest first (one entry: no snapshots). */
	readonly chain: readonly string[];
	readonly openError: string | null;
	/**
	 * False for a disk inside an `.ova` archive: it has no file of its own, so it is mounted,
	 * revealed and unmounted with its appliance ("Mount all"), not alone.
	 */
	readonly standalone: boolean;
	readonly warnings: readonly string[];
	readonly mounted: MountedDisk | null;
	readonly state: 'not-mounted' | 'mounting' | 'unmounting' | 'mounted-read-only' | 'mounted-writable';
	readonly operation: Operation | null;
	readonly error: ActionError | null;
	readonly volumes: readonly VolumeView[];
}

/** Something opened (or, for `kind: 'mounted'`, a disk mounted elsewhere). */
export interface SourceView {
	readonly key: string;
	readonly path: string;
	readonly name: string;
	readonly folder: string;
	readonly kind: 'disk' | 'vm' | 'mounted';
	readonly status: OpenedSource['status'];
	readonly error: UiError | null;
	readonly vm: VmInfo | null;
	readonly lock: 'none' | 'locked' | 'stale';
	readonly writable: boolean;
	/** "Mount all" of a bundle under way. */
	readonly operation: Operation | null;
	/** "Mount all" of a bundle that failed. */
	readonly actionError: ActionError | null;
	readonly disks: readonly DiskView[];
	readonly anyMounted: boolean;
	/** Some disk can be mounted (opened without error and not mounted). */
	readonly canMount: boolean;
}

/** The window's content. */
export interface WindowView {
	readonly sources: readonly SourceView[];
	/** Disks mounted that no opened source shows. */
	readonly others: readonly SourceView[];
	readonly mountedVolumeCount: number;
	readonly busy: boolean;
}

/** Derives everything the window draws from the state. */
export function buildWindowView(state: AppState): WindowView {
	const byPath = new Map(state.mounts.map((d) => [d.path, d]));
	const shown = new Set<string>();
	const sources = state.sources.map((source) => {
		const view = sourceView(state, source, byPath);
		for (const d of view.disks) if (d.mounted !== null) shown.add(d.mounted.id);
		return view;
	});
	const others = state.mounts.filter((d) => !shown.has(d.id)).map((d) => mountedOnlyView(state, d));
	const mountedVolumeCount = state.mounts.reduce(
		(n, d) => n + d.volumes.filter((v) => v.mountpoint !== null).length,
		0,
	);
	return { sources, others, mountedVolumeCount, busy: state.operations.size > 0 };
}

/**
 * A {@link buildWindowView} that hands back the very same `SourceView` object for a source
 * whose inputs did not change, so the window re-renders only the card that changed (opening
 * fifty disks then costs fifty card renders, not fifty times the whole list).
 */
export function createWindowViewBuilder(): (state: AppState) => WindowView {
	let cache = new Map<string, { deps: readonly unknown[]; view: SourceView }>();
	return (state) => {
		const fresh = buildWindowView(state);
		const byPath = new Map(state.mounts.map((d) => [d.path, d]));
		const next = new Map<string, { deps: readonly unknown[]; view: SourceView }>();
		const reuse = (view: SourceView, deps: readonly unknown[]): SourceView => {
			const hit = cache.get(view.key);
			const kept = hit !== undefined && sameItems(hit.deps, deps) ? hit.view : view;
			next.set(view.key, { deps, view: kept });
			return kept;
		};
		const sources = fresh.sources.map((view, i) => {
			const source = state.sources[i] as OpenedSource;
			return reuse(view, sourceInputs(state, source, byPath));
		});
		const others = fresh.others.map((view) => {
			const disk = view.disks[0]?.mounted ?? null;
			const key = disk?.id ?? '';
			return reuse(view, [disk, state.operations.get(key), state.errors.get(key)]);
		});
		cache = next;
		return { ...fresh, sources, others };
	};
}

/** Everything a source's view is derived from (compared by identity). */
function sourceInputs(
	state: AppState,
	source: OpenedSource,
	byPath: ReadonlyMap<string, MountedDisk>,
): readonly unknown[] {
	const inputs: unknown[] = [
		source,
		state.foreign,
		state.writable.has(source.path),
		state.operations.get(source.path),
		state.errors.get(source.path),
	];
	for (const disk of source.info?.disks ?? []) {
		inputs.push(byPath.get(disk.path), state.operations.get(disk.path), state.errors.get(disk.path));
	}
	return inputs;
}

function sameItems(a: readonly unknown[], b: readonly unknown[]): boolean {
	return a.length === b.length && a.every((x, i) => Object.is(x, b[i]));
}

function sourceView(
	state: AppState,
	source: OpenedSource,
	byPath: ReadonlyMap<string, MountedDisk>,
): SourceView {
	const info = source.info;
	const vm = info?.vm ?? null;
	const single = info !== null && vm === null && info.disks.length === 1;
	// An `.ova`'s disks are members of the archive (an unpacked `.ovf`'s are files).
	const inArchive = vm?.kind === 'ova' && vm.vmxPath.toLowerCase().endsWith('.ova');
	const operation = single
		? null
		: (state.operations.get(source.path) ?? foreignOperation(state, [source.path]));
	const disks = (info?.disks ?? []).map((disk) =>
		diskView(
			state,
			disk,
			byPath.get(disk.path) ?? null,
			single ? source.path : disk.path,
			operation,
			!inArchive,
		),
	);
	const name = vm?.displayName ?? baseName(vm?.vmxPath ?? source.path);
	return {
		key: source.key,
		path: source.path,
		name,
		folder: dirName(source.path),
		kind: vm === null ? 'disk' : 'vm',
		status: source.status,
		error: source.error,
		vm,
		lock: vm?.locked === true ? (vm.staleLock === true ? 'stale' : 'locked') : 'none',
		writable: state.writable.has(source.path),
		operation,
		actionError: single ? null : (state.errors.get(source.path) ?? null),
		disks,
		anyMounted: disks.some((d) => d.mounted !== null),
		canMount: disks.some((d) => d.openError === null && d.mounted === null),
	};
}

function diskView(
	state: AppState,
	disk: DiskInfo,
	mounted: MountedDisk | null,
	actionPath: string,
	sourceOperation: Operation | null,
	standalone: boolean,
): DiskView {
	const operation =
		state.operations.get(actionPath) ?? sourceOperation ?? foreignOperation(state, [disk.path, actionPath]);
	const byIndex = new Map((mounted?.volumes ?? []).map((v) => [v.index, v]));
	const busy = operation !== null;
	const volumes = disk.volumes.map((v) =>
		volumeView(disk.path, v, mounted, byIndex.get(v.index), busy || !standalone),
	);
	return {
		key: disk.path,
		path: disk.path,
		name: baseName(disk.path),
		actionPath,
		capacityBytes: disk.capacityBytes,
		createType: disk.createType,
		scheme: disk.partitionTable.scheme,
		controller: disk.controller ?? null,
		chain: disk.chain.map((link) => baseName(link.path)),
		openError: disk.error?.message ?? null,
		standalone,
		warnings: [...disk.warnings, ...(mounted?.warnings ?? [])],
		mounted,
		state: diskState(operation, mounted),
		operation,
		error: state.errors.get(actionPath) ?? null,
		volumes,
	};
}

/** Work someone else started on one of `paths` (the daemon reports it by path), as an operation. */
function foreignOperation(state: AppState, paths: readonly string[]): Operation | null {
	for (const event of state.foreign.values()) {
		if (!paths.includes(event.path)) continue;
		const kind = event.phase === 'unmounting-volume' ? 'unmounting' : 'mounting';
		return { kind, operationId: event.operationId, progress: event };
	}
	return null;
}

function diskState(operation: Operation | null, mounted: MountedDisk | null): DiskView['state'] {
	if (operation !== null) return operation.kind;
	if (mounted === null) return 'not-mounted';
	return mounted.readWrite ? 'mounted-writable' : 'mounted-read-only';
}

function volumeView(
	diskPath: string,
	v: VolumeInfo,
	disk: MountedDisk | null,
	mounted: MountedVolume | undefined,
	busy: boolean,
): VolumeView {
	const type = v.filesystem?.type;
	const mountable = v.unsupported === undefined && (type === undefined || !NOT_MOUNTABLE.has(type));
	const state = volumeState(mounted);
	// A volume joins its disk's mount when the disk is not mounted, mounted read-only (its export
	// serves every volume), or mounted writable with this volume among those given an overlay.
	const canJoin = disk === null || !disk.readWrite || mounted !== undefined;
	return {
		key: `${diskPath}#${v.index}`,
		index: v.index,
		name: v.name,
		typeName: filesystemName(v.filesystem),
		label: v.filesystem?.label ?? v.partitionName ?? v.lvmName ?? null,
		sizeBytes: v.sizeBytes,
		helper: mounted?.helper ?? null,
		mountpoint: mounted?.mountpoint ?? null,
		state: mountable || state !== 'not-mounted' ? state : 'unavailable',
		problem: mounted?.problem ?? v.unsupported ?? v.filesystem?.problem ?? null,
		canMount: mountable && !busy && state === 'not-mounted' && canJoin,
		canUnmount: mounted?.mountpoint != null && !busy,
		blockedByOtherVolume: mountable && state === 'not-mounted' && !canJoin,
	};
}

function volumeState(mounted: MountedVolume | undefined): VolumeView['state'] {
	if (mounted === undefined) return 'not-mounted';
	if (mounted.state === 'degraded') return 'degraded';
	if (mounted.mountpoint !== null) return 'mounted';
	// Unmounted on its own (no reason given) is simply not mounted; a reason means it cannot be.
	return mounted.problem === undefined ? 'not-mounted' : 'unavailable';
}

/** A disk mounted elsewhere, from what the mount list says about it. */
function mountedOnlyView(state: AppState, disk: MountedDisk): SourceView {
	const key = disk.id;
	const operation = state.operations.get(key) ?? null;
	const volumes: VolumeView[] = disk.volumes.map((v) => ({
		key: `${disk.path}#${v.index}`,
		index: v.index,
		name: v.name,
		typeName: filesystemName(v.filesystem),
		label: v.filesystem?.label ?? null,
		sizeBytes: v.filesystem?.sizeBytes ?? null,
		helper: v.helper,
		mountpoint: v.mountpoint,
		state: volumeState(v),
		problem: v.problem ?? null,
		canMount: false,
		canUnmount: v.mountpoint !== null && operation === null,
		blockedByOtherVolume: false,
	}));
	const view: DiskView = {
		key: disk.path,
		path: disk.path,
		name: baseName(disk.path),
		actionPath: key,
		capacityBytes: null,
		createType: null,
		scheme: null,
		controller: null,
		chain: [baseName(disk.path)],
		openError: null,
		standalone: true,
		warnings: disk.warnings ?? [],
		mounted: disk,
		state: diskState(operation, disk),
		operation,
		error: state.errors.get(key) ?? null,
		volumes,
	};
	return {
		key: `mounted-${disk.id}`,
		path: disk.path,
		name: baseName(disk.path),
		folder: dirName(disk.path),
		kind: 'mounted',
		status: 'ready',
		error: null,
		vm: null,
		lock: 'none',
		writable: disk.readWrite,
		operation: null,
		actionError: null,
		disks: [view],
		anyMounted: true,
		canMount: false,
	};
}
