// SPDX-License-Identifier: MIT
/**
 * The macOS host: volumes in /Volumes, visible in Finder and ejectable from it — native types
 * through the system's own drivers on the export file attached as a disk image, the rest
 * through FUSE helpers. Everything it runs goes through `DarwinSystem.run` (the project's
 * `runTool`), so its command sequences are tested on Linux by replaying recorded answers
 * (test/unit/host/darwin); macOS itself is not available there (docs/macos.md says what was
 * not verified on a Mac).
 */
import { writeZeros } from '../node/write-zeros.js';
import type { MountAttempt } from '../../core/index.js';
import type {
	BusyProcess,
	Host,
	MountedVolumeHandle,
	MountHooks,
	RecoveryReport,
	RecoveryScope,
	VolumeTarget,
} from '../common/host.js';
import { isPidAlive } from '../node/lock-liveness.js';
import { processesUsing } from './busy.js';
import { probeDarwin, type DarwinProbe } from './capabilities.js';
import { isMounted, readMounts, type DarwinContext } from './context.js';
import { detachImage } from './disk-images.js';
import { mountWithAttempts, unmountVolume } from './mounter.js';
import { recoverDarwin } from './recovery.js';
import { nodeDarwinSystem, type DarwinSystem } from './system.js';

/** How often the mount table is read while volumes are mounted, in ms. */
const WATCH_INTERVAL_MS = 2_000;

/** Options of the macOS host (tests replace the machine). */
export interface DarwinHostOptions {
	readonly system?: DarwinSystem | undefined;
	/** Prefix of every path the probe looks at (tests). */
	readonly root?: string | undefined;
	readonly env?: NodeJS.ProcessEnv | undefined;
	/** How often `watchUnmounts` reads the mount table, in ms. */
	readonly watchIntervalMs?: number | undefined;
}

/** Probes this Mac and returns its host. */
export async function createDarwinHost(options: DarwinHostOptions = {}): Promise<DarwinHost> {
	const system = options.system ?? nodeDarwinSystem();
	return new DarwinHost(system, await probeDarwin(system, options), options);
}

/** The macOS implementation of {@link Host}. */
export class DarwinHost implements Host {
	readonly platform = 'darwin';
	/** macOS picks /Volumes/<label> itself; the daemon makes no folders. */
	readonly choosesMountpoints = true;
	probe: DarwinProbe;
	private readonly system: DarwinSystem;
	private readonly options: DarwinHostOptions;
	private readonly attached = new Map<string, string>();

	constructor(system: DarwinSystem, probe: DarwinProbe, options: DarwinHostOptions = {}) {
		this.system = system;
		this.probe = probe;
		this.options = options;
	}

	private get ctx(): DarwinContext {
		return { system: this.system, probe: this.probe, attached: this.attached };
	}

	async refresh(): Promise<DarwinProbe> {
		this.probe = await probeDarwin(this.system, this.options);
		return this.probe;
	}

	mountVolume(
		attempts: readonly MountAttempt[],
		target: VolumeTarget,
		hooks?: MountHooks,
	): Promise<MountedVolumeHandle> {
		return mountWithAttempts(this.ctx, attempts, target, hooks);
	}

	unmountVolume(
		volume: {
			readonly mountpoint: string;
			readonly attachment?: string | undefined;
			readonly fuseHelper: boolean;
		},
		options: { readonly force: boolean },
	): Promise<void> {
		return unmountVolume(this.ctx, volume, options);
	}

	/** The volume is already unmounted (or never was): nothing of the user's is lost by forcing. */
	releaseAttachment(attachment: string): Promise<void> {
		return detachImage(this.ctx, attachment, { force: true });
	}

	isMounted(path: string): Promise<boolean> {
		return isMounted(this.ctx, path);
	}

	recover(scope: RecoveryScope): Promise<RecoveryReport> {
		return recoverDarwin(this.ctx, scope);
	}

	/**
	 * Polls `mount` while something is watched. DiskArbitration would call us on each unmount,
	 * but Node has no binding to it and a native helper for it would be one more thing to build
	 * and sign; one `mount` every two seconds, only while volumes are mounted, catches every
	 * way a volume can go — Finder's eject, `diskutil`, `umount`, a helper that died.
	 */
	watchUnmounts(watched: () => readonly string[], listener: (gone: readonly string[]) => void): () => void {
		let reading = false;
		const timer = setInterval(() => {
			const want = watched();
			if (want.length === 0 || reading) return;
			reading = true;
			readMounts(this.ctx)
				.then(
					(mounts) => {
						const present = new Set(mounts.map((m) => m.mountPoint));
						const gone = want.filter((mp) => !present.has(mp));
						if (gone.length > 0) listener(gone);
					},
					() => undefined,
				)
				.finally(() => {
					reading = false;
				});
		}, this.options.watchIntervalMs ?? WATCH_INTERVAL_MS);
		timer.unref();
		return () => clearInterval(timer);
	}

	isProcessAlive(pid: number): boolean {
		return isPidAlive(pid);
	}

	processesUsing(mountpoint: string): Promise<readonly BusyProcess[]> {
		return processesUsing(this.system, this.probe.toolPaths.get('lsof'), mountpoint);
	}

	/** Nothing to tune on macOS. */
	/** macOS has no fallocate(1): the overlay's space is taken by writing zeros over it. */
	preallocate(path: string, sizeBytes: number): Promise<void> {
		return writeZeros(path, sizeBytes);
	}

	async tuneExport(): Promise<void> {}
}
