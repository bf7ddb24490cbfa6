// SPDX-License-Identifier: MIT
/**
 * A scripted `Host` for unit tests of the mount service: it mounts nothing, keeps a mount
 * table in memory, records every call, and fails where a test tells it to. The real Linux host
 * is exercised by the integration tests; this one lets the service's orchestration (rollback,
 * retries, partial failures, recovery) be tested step by step.
 */
import { LINUX_HELPER_TABLE } from '../../src/host/linux/helper-table.js';
import type {
	BusyProcess,
	Host,
	HostProbe,
	MountedVolumeHandle,
	MountHooks,
	RecoveryReport,
	RecoveryScope,
	VolumeTarget,
} from '../../src/host/index.js';
import type { MountAttempt } from '../../src/core/index.js';
import type {
	BackendFile,
	BackendMountOptions,
	ExportHandlers,
	FuseBackend,
	MountedBackend,
} from '../../src/daemon/fuse/fuse-backend.js';
import { AppError } from '../../src/shared/app-error.js';

/** What the fake does for one volume file (by its export name, `p1`, `p2` …). */
export type ScriptedMount =
	| { readonly kind: 'ok'; readonly attachment?: string }
	| { readonly kind: 'fail'; readonly message: string; readonly attachment?: string }
	| { readonly kind: 'hang' };

/** A probe with every Linux helper present, as a user (FUSE helpers only). */
export function fakeProbe(over: Partial<HostProbe> = {}): HostProbe {
	return {
		platform: 'linux',
		osDescription: 'Fakeix 1.0',
		isRoot: false,
		tools: new Set(['fuse2fs', 'ntfs-3g', 'fusefat', 'fusermount3', 'mount', 'umount', 'losetup']),
		kernelFilesystems: new Set(),
		helperTable: LINUX_HELPER_TABLE,
		toolList: [],
		installCommand: null,
		fuse: { available: true, binding: 'fuse3', exportAccess: 'owner' },
		notes: [],
		...over,
	};
}

/** The fake host. */
export class FakeHost implements Host {
	readonly platform = 'linux';
	readonly choosesMountpoints = false;
	probe: HostProbe;
	/** Mountpoints currently "mounted". */
	readonly mounted = new Set<string>();
	/** Every call, in order, as `method arg`. */
	readonly calls: string[] = [];
	/** Per volume file name: what mounting it does (default ok). */
	readonly script = new Map<string, ScriptedMount>();
	/** Unmounts of these mountpoints fail this many more times. */
	readonly unmountFailures = new Map<string, number>();
	recoverReport: RecoveryReport = { done: [], refused: [] };
	lastRecoveryScope: RecoveryScope | undefined;

	constructor(probe: HostProbe = fakeProbe()) {
		this.probe = probe;
	}

	async refresh(): Promise<HostProbe> {
		return this.probe;
	}

	async mountVolume(
		attempts: readonly MountAttempt[],
		target: VolumeTarget,
		hooks?: MountHooks,
	): Promise<MountedVolumeHandle> {
		const name = target.rawPath.split('/').pop() ?? '';
		this.calls.push(`mount ${name}`);
		const attempt = attempts[0];
		if (attempt === undefined || target.mountpoint === null)
			throw new AppError('NO_HELPER', 'no helper to try');
		const step = this.script.get(name) ?? { kind: 'ok' };
		if (step.kind === 'hang') {
			// What the real host does when its helper's timeout fires.
			await new Promise((r) => setTimeout(r, 5));
			throw new AppError(
				'MOUNT_FAILED',
				`could not mount (tried ${attempt.label}: ${attempt.label} timed out)`,
			);
		}
		if (step.attachment !== undefined) hooks?.onAttached?.(step.attachment);
		if (step.kind === 'fail')
			throw new AppError('MOUNT_FAILED', `could not mount (tried ${attempt.label}: ${step.message})`);
		this.mounted.add(target.mountpoint);
		return { mountpoint: target.mountpoint, attempt, attachment: step.attachment, fuseHelper: true };
	}

	async unmountVolume(volume: {
		readonly mountpoint: string;
		readonly attachment?: string | undefined;
	}): Promise<void> {
		this.calls.push(`unmount ${volume.mountpoint}`);
		const failures = this.unmountFailures.get(volume.mountpoint) ?? 0;
		if (failures > 0) {
			this.unmountFailures.set(volume.mountpoint, failures - 1);
			throw new AppError('VOLUME_BUSY', `${volume.mountpoint} is busy`);
		}
		this.mounted.delete(volume.mountpoint);
		if (volume.attachment !== undefined) this.calls.push(`release ${volume.attachment}`);
	}

	async releaseAttachment(attachment: string): Promise<void> {
		this.calls.push(`release ${attachment}`);
	}

	async isMounted(path: string): Promise<boolean> {
		return this.mounted.has(path);
	}

	async recover(scope: RecoveryScope): Promise<RecoveryReport> {
		this.lastRecoveryScope = scope;
		return this.recoverReport;
	}

	watchUnmounts(): () => void {
		return () => undefined;
	}

	isProcessAlive(pid: number): boolean {
		return pid === process.pid;
	}

	async processesUsing(): Promise<readonly BusyProcess[]> {
		return [];
	}

	async preallocate(path: string, sizeBytes: number): Promise<void> {
		this.calls.push(`preallocate ${path.split('/').pop() ?? ''} ${sizeBytes}`);
	}

	async tuneExport(): Promise<void> {
		this.calls.push('tune export');
	}
}

/** A FUSE binding that mounts nothing; its unmount fails while `failUnmounts` > 0. */
export class FakeFuseBackend implements FuseBackend {
	readonly name = 'fuse3';
	failUnmounts = 0;
	readonly live = new Set<string>();
	readonly handlers = new Map<string, ExportHandlers>();

	async mount(
		mountpoint: string,
		_files: readonly BackendFile[],
		_options: BackendMountOptions,
		handlers: ExportHandlers,
	): Promise<MountedBackend> {
		this.live.add(mountpoint);
		this.handlers.set(mountpoint, handlers);
		return {
			binding: 'fuse3',
			unmount: async () => {
				if (this.failUnmounts > 0) {
					this.failUnmounts--;
					throw new AppError('TOOL_FAILED', `could not unmount ${mountpoint}: busy`);
				}
				this.live.delete(mountpoint);
			},
		};
	}
}
