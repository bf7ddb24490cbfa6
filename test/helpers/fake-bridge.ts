// SPDX-License-Identifier: MIT
// A scripted `window.vmdk` for the store's unit tests: records calls, answers from a script,
// and fires events on demand. (The e2e suite runs the window on the real bridge and daemon.)
import type { ProgressEvent } from '../../src/shared/daemon-contract.js';
import type {
	DaemonState,
	InvokeArgs,
	IpcOutcome,
	OpenRequestEvent,
	UiError,
	VmdkApi,
} from '../../src/shared/ipc-contract.js';
import type { DoctorReport, InfoResult, MountedDisk } from '../../src/shared/models.js';

type Listener<T> = (value: T) => void;

/** A UiError with a code (the words do not matter to the store). */
export function uiError(code: UiError['code'], message = `${code} happened`): UiError {
	return { code, title: `${code} title`, description: `${code} description`, message };
}

export class FakeBridge implements VmdkApi {
	readonly calls: { method: string; args: unknown[] }[] = [];
	/** Answers, per method; a function gets the call's arguments. */
	inspectAnswer: (paths: readonly string[]) => IpcOutcome<InfoResult[]> = () => ({ ok: true, value: [] });
	mountAnswer: (request: InvokeArgs['vmdk:mount'][0]) => IpcOutcome<readonly MountedDisk[]> = () => ({
		ok: true,
		value: [],
	});
	unmountAnswer: (request: InvokeArgs['vmdk:unmount'][0]) => IpcOutcome<readonly MountedDisk[]> = () => ({
		ok: true,
		value: [],
	});
	listAnswer: IpcOutcome<readonly MountedDisk[]> = { ok: true, value: [] };
	doctorAnswer: IpcOutcome<DoctorReport> = { ok: false, error: uiError('INTERNAL') };
	dialogAnswer: IpcOutcome<readonly string[]> = { ok: true, value: [] };
	/** File name → path, as the preload's webUtils.getPathForFile would answer. */
	readonly filePaths = new Map<string, string>();
	/** Holds every mount until released (to look at the state while it runs). */
	gate: Promise<void> | undefined;

	private readonly listeners = {
		mounts: new Set<Listener<readonly MountedDisk[]>>(),
		progress: new Set<Listener<ProgressEvent>>(),
		daemon: new Set<Listener<DaemonState>>(),
		open: new Set<Listener<OpenRequestEvent>>(),
	};

	private record(method: string, ...args: unknown[]): void {
		this.calls.push({ method, args });
	}

	callsOf(method: string): unknown[][] {
		return this.calls.filter((c) => c.method === method).map((c) => c.args);
	}

	async inspect(paths: readonly string[]) {
		this.record('inspect', paths);
		return this.inspectAnswer(paths);
	}
	async mount(request: InvokeArgs['vmdk:mount'][0]) {
		this.record('mount', request);
		if (this.gate !== undefined) await this.gate;
		return this.mountAnswer(request);
	}
	async unmount(request: InvokeArgs['vmdk:unmount'][0]) {
		this.record('unmount', request);
		return this.unmountAnswer(request);
	}
	async list() {
		this.record('list');
		return this.listAnswer;
	}
	async doctor() {
		this.record('doctor');
		return this.doctorAnswer;
	}
	async reveal(path: string): Promise<IpcOutcome<null>> {
		this.record('reveal', path);
		return { ok: true, value: null };
	}
	async openDialog() {
		this.record('openDialog');
		return this.dialogAnswer;
	}
	async openHelp(page: InvokeArgs['vmdk:open-help'][0]): Promise<IpcOutcome<null>> {
		this.record('openHelp', page);
		return { ok: true, value: null };
	}
	pathForFile(file: { readonly name: string; readonly size: number }): string {
		return this.filePaths.get(file.name) ?? '';
	}
	private on<T>(set: Set<Listener<T>>, l: Listener<T>): () => void {
		set.add(l);
		return () => set.delete(l);
	}
	onMountsChanged(l: Listener<readonly MountedDisk[]>) {
		return this.on(this.listeners.mounts, l);
	}
	onProgress(l: Listener<ProgressEvent>) {
		return this.on(this.listeners.progress, l);
	}
	onDaemonState(l: Listener<DaemonState>) {
		return this.on(this.listeners.daemon, l);
	}
	onOpenPaths(l: Listener<OpenRequestEvent>) {
		return this.on(this.listeners.open, l);
	}

	emitMounts(disks: readonly MountedDisk[]): void {
		for (const l of this.listeners.mounts) l(disks);
	}
	emitProgress(event: ProgressEvent): void {
		for (const l of this.listeners.progress) l(event);
	}
	emitDaemon(state: DaemonState): void {
		for (const l of this.listeners.daemon) l(state);
	}
	emitOpen(paths: readonly string[]): void {
		for (const l of this.listeners.open) l({ paths });
	}
	listenerCount(): number {
		return Object.values(this.listeners).reduce((n, s) => n + s.size, 0);
	}
}

/** A one-disk InfoResult: MBR, p1 ext4 "DATA", p2 swap. */
export function diskInfo(path: string, vm: InfoResult['vm'] = null): InfoResult {
	return {
		vm,
		disks: [
			{
				path,
				createType: 'monolithicSparse',
				capacityBytes: 64 * 1024 * 1024,
				chain: [{ path, createType: 'monolithicSparse', cid: '00000001', parentCid: 'ffffffff' }],
				partitionTable: { scheme: 'mbr' },
				volumes: [
					{
						index: 1,
						name: 'p1',
						kind: 'partition',
						startBytes: 1048576,
						sizeBytes: 32 * 1024 * 1024,
						filesystem: { type: 'ext4', label: 'DATA', uuid: null },
					},
					{
						index: 2,
						name: 'p2',
						kind: 'partition',
						startBytes: 34603008,
						sizeBytes: 8 * 1024 * 1024,
						filesystem: { type: 'swap', label: null, uuid: null },
					},
				],
				warnings: [],
			},
		],
	};
}

/** The daemon's record of `path` mounted with its volume 1 at `mountpoint`. */
export function mountedDisk(path: string, id: string, mountpoint: string, readWrite = false): MountedDisk {
	return {
		id,
		path,
		rawPath: `/run/disks/${id}/disk`,
		readWrite,
		volumes: [
			{
				index: 1,
				name: 'p1',
				mountpoint,
				rawPath: `/run/disks/${id}/p1`,
				filesystem: { type: 'ext4', label: 'DATA', uuid: null },
				helper: 'fuse2fs',
				readOnly: !readWrite,
			},
			{
				index: 2,
				name: 'p2',
				mountpoint: null,
				rawPath: `/run/disks/${id}/p2`,
				filesystem: { type: 'swap', label: null, uuid: null },
				helper: null,
				readOnly: true,
				problem: 'swap space holds no files',
			},
		],
	};
}
