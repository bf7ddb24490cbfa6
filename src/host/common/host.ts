// SPDX-License-Identifier: MIT
/**
 * The one interface between the daemon (and the CLI) and the operating system. Everything
 * platform-specific — which helpers exist, how a volume file becomes a mounted folder, how a
 * dead daemon's leftovers are found, who holds a busy volume — lives behind it, in
 * `src/host/<os>`; `src/host/index.ts` picks the implementation for `process.platform`.
 * Outside `src/host`, code imports only this file and `index.ts` (the linter enforces it).
 *
 * A second platform is one new folder implementing {@link Host}.
 */
import type { HelperTable, HostCapabilities, MountAttempt } from '../../core/index.js';
import type { FuseBindingName } from './fuse-binding.js';

/** The platforms we run on. */
export type HostPlatform = 'linux' | 'darwin';

/** A helper or system tool as the host sees it (for `doctor`). */
export interface HostTool {
	/** Tool id (`fuse2fs`, `ntfs-3g`, `losetup`, `hdiutil` …), as the helper table names it. */
	readonly id: string;
	/** Absolute path, or null when missing. */
	readonly path: string | null;
	/** The blkid types it mounts (empty for system tools). */
	readonly types: readonly string[];
	/** The exact step that installs it (`apt-get install fuse2fs`, `brew install --cask macfuse`). */
	readonly install: string;
	/** Why it cannot work for this user even when installed, if so. */
	readonly note?: string | undefined;
}

/** What the FUSE export can count on here. */
export interface HostFuse {
	/** FUSE can be used by this user (device or framework present and allowed). */
	readonly available: boolean;
	/** Why not, with the fix, when it cannot. */
	readonly problem?: string | undefined;
	/** The binding the export uses: our libfuse 3 addon, or fuse-native (libfuse 2). */
	readonly binding: FuseBindingName;
	/**
	 * Let processes with other credentials reach the export (a setuid-root helper on Linux, the
	 * disk-image helper on macOS): `allow_other` on Linux, `allow_root` on macFUSE.
	 */
	readonly exportAccess: 'owner' | 'allow_other' | 'allow_root';
}

/** A probe of this host, taken once when the daemon starts (and by `doctor`). */
export interface HostProbe extends HostCapabilities {
	readonly platform: HostPlatform;
	/** Human-readable OS and version (`Linux 6.1.0`, `macOS 15.4 arm64`). */
	readonly osDescription: string;
	/** The helper table the mount plan uses here. */
	readonly helperTable: HelperTable;
	/** Every tool the host looked for, found or not. */
	readonly toolList: readonly HostTool[];
	/** One command that installs everything missing, or null. */
	readonly installCommand: string | null;
	readonly fuse: HostFuse;
	/** Notes for `doctor` (e.g. macFUSE's approval step, `user_allow_other`). */
	readonly notes: readonly string[];
}

/** Where and as what a volume is to be mounted. */
export interface VolumeTarget {
	/** The export file serving the volume's bytes. */
	readonly rawPath: string;
	/** The name users see for the volume (its label, else `p1` …): Finder's name on macOS. */
	readonly volumeName: string;
	/**
	 * An empty folder made by the daemon, or null when the host chooses the mountpoint itself
	 * ({@link Host.choosesMountpoints}, e.g. `/Volumes/<name>` on macOS).
	 */
	readonly mountpoint: string | null;
}

/** What was mounted and how to undo it. Persisted in the registry, so plain data. */
export interface MountedVolumeHandle {
	/** Where the files are. */
	readonly mountpoint: string;
	/** The attempt that worked (its `label` is what lists show). */
	readonly attempt: MountAttempt;
	/** A device the host attached for it (`/dev/loop3`, `/dev/disk5`), released on unmount. */
	readonly attachment?: string | undefined;
	/** True when a userspace (FUSE) helper serves the mount. */
	readonly fuseHelper: boolean;
}

/** Calls the host makes while mounting, so that the registry records resources at once. */
export interface MountHooks {
	/** A device was attached (before the helper runs): crash clean-up must know it. */
	onAttached?(attachment: string): void;
}

/** What the daemon owns, for crash recovery: the host touches nothing outside it. */
export interface RecoveryScope {
	/** The runtime folder of exports (`<runtime>/disks`): FUSE exports live in `<id>/` below. */
	readonly exportsDir: string;
	/** The mount root (real, absolute): our volume mounts live below it. */
	readonly mountRoot: string;
	/** The FUSE source name prefix of our exports (`vmdk-mounter:`). */
	readonly sourcePrefix: string;
	/** Volume mounts and attachments the dead daemon recorded (already validated). */
	readonly recorded: readonly {
		readonly exportDir: string;
		readonly mountpoint: string | null;
		readonly attachment?: string | undefined;
	}[];
}

/** What recovery did, one sentence each, and what it refused to touch. */
export interface RecoveryReport {
	readonly done: readonly string[];
	/** Recorded things that were not provably ours and were left alone (logged). */
	readonly refused: readonly string[];
}

/** A process using a mounted volume. */
export interface BusyProcess {
	readonly pid: number;
	/** Its command name. */
	readonly command: string;
	/** How it uses the volume: `cwd`, `root` or `open file`. */
	readonly how: string;
}

/** The platform. */
export interface Host {
	readonly platform: HostPlatform;
	/** The probe taken when this host object was made. */
	readonly probe: HostProbe;
	/** True when the host picks mountpoints itself (macOS: `/Volumes`); the daemon makes none. */
	readonly choosesMountpoints: boolean;
	/** Probes again (tools installed meanwhile); returns the new probe and keeps it. */
	refresh(): Promise<HostProbe>;

	/** Tries `attempts` in order; the error names each helper tried and why it failed. */
	mountVolume(
		attempts: readonly MountAttempt[],
		target: VolumeTarget,
		hooks?: MountHooks,
	): Promise<MountedVolumeHandle>;
	/**
	 * Unmounts a volume and releases its attachment. A busy volume is refused with the
	 * processes that hold it (`VOLUME_BUSY`), unless `force`, which detaches it lazily. Resolves
	 * only once the mount table no longer shows the mountpoint.
	 */
	unmountVolume(
		volume: {
			readonly mountpoint: string;
			readonly attachment?: string | undefined;
			readonly fuseHelper: boolean;
		},
		options: { readonly force: boolean },
	): Promise<void>;
	/** Detaches a device attached by a mount that then failed; a device already gone is fine. */
	releaseAttachment(attachment: string): Promise<void>;
	/** True when `path` is a mountpoint now (from the mount table, never by touching `path`). */
	isMounted(path: string): Promise<boolean>;
	/** Cleans up after a dead daemon, touching only what {@link RecoveryScope} proves ours. */
	recover(scope: RecoveryScope): Promise<RecoveryReport>;
	/**
	 * Calls `listener` with mountpoints that left the mount table (Finder eject, a user's
	 * `umount`) among `watched()`. Returns a stop function.
	 */
	watchUnmounts(watched: () => readonly string[], listener: (gone: readonly string[]) => void): () => void;

	/** True when process `pid` is alive (a zombie is dead). */
	isProcessAlive(pid: number): boolean;
	/** Processes holding anything under `mountpoint` (never touches the volume itself). */
	processesUsing(mountpoint: string): Promise<readonly BusyProcess[]>;
	/**
	 * Allocates `sizeBytes` of disk space for the file at `path` (which exists), so that writes
	 * into that range can never fail for lack of space. Linux: `fallocate(1)`.
	 */
	preallocate(path: string, sizeBytes: number): Promise<void>;
	/** Platform tuning of a freshly mounted FUSE export (Linux: kernel read-ahead). Best effort. */
	tuneExport(mountpoint: string): Promise<void>;
}
