// SPDX-License-Identifier: MIT
/**
 * Serialisable models that cross processes (CLI JSON, daemon protocol, renderer). They are the
 * CLI's `--json` contract (README "The command line"); fields may be added, never renamed.
 */

/** One image of a snapshot chain (`info` chain[], leaf first). */
export interface ChainLinkInfo {
	readonly path: string;
	readonly createType: string;
	readonly cid: string;
	readonly parentCid: string;
}

/** A filesystem as `info`, `mount` and `list` print it. */
export interface FilesystemSummary {
	readonly type: string;
	readonly label: string | null;
	readonly uuid: string | null;
	readonly version?: string | undefined;
	readonly sizeBytes?: number | undefined;
	/** Devices the filesystem spans, when more than one (btrfs): `sizeBytes` is then all of them. */
	readonly deviceCount?: number | undefined;
	readonly health?:
		| {
				readonly needsRecovery?: boolean | undefined;
				readonly dirty?: boolean | undefined;
				readonly hibernated?: boolean | undefined;
				readonly journalDirty?: boolean | undefined;
		  }
		| undefined;
	readonly problem?: string | undefined;
	/** APFS: names of the volumes inside the container. */
	readonly volumeNames?: readonly string[] | undefined;
}

/** A volume in `info --json`. */
export interface VolumeInfo {
	readonly index: number;
	readonly name: string;
	readonly kind: 'whole-disk' | 'partition' | 'lvm';
	readonly startBytes: number;
	readonly sizeBytes: number;
	readonly partitionType?: { readonly id: string; readonly name: string } | undefined;
	readonly partitionName?: string | undefined;
	readonly lvmName?: string | undefined;
	readonly filesystem: FilesystemSummary | null;
	readonly unsupported?: string | undefined;
}

/** One disk in `info --json`. */
export interface DiskInfo {
	readonly path: string;
	readonly createType: string;
	readonly capacityBytes: number;
	readonly chain: readonly ChainLinkInfo[];
	readonly partitionTable: {
		readonly scheme: 'mbr' | 'gpt' | 'apm' | 'none';
		readonly diskId?: string | undefined;
	};
	readonly volumes: readonly VolumeInfo[];
	readonly warnings: readonly string[];
	/** VM slot (`scsi0:0`, `sata0:1`) when the disk came from a VM configuration. */
	readonly controller?: string | undefined;
	/** Set when this disk of a VM or folder could not be opened (the others are still shown). */
	readonly error?: { readonly code: string; readonly message: string } | undefined;
}

/** A snapshot of the VM (`.vmsd`), for `info`. */
export interface SnapshotInfo {
	readonly uid: string;
	readonly parentUid: string | null;
	readonly displayName: string | null;
	readonly description: string | null;
	readonly createTimeUtc?: string | undefined;
	/** Disk files this snapshot point uses, by slot. */
	readonly disks: readonly { readonly node: string; readonly fileName: string }[];
	/** True for the snapshot the current state descends from. */
	readonly current: boolean;
}

/** The result of checking an appliance against its manifest (`--verify`). */
export interface ManifestCheckInfo {
	/** The `.mf` file (a member path for an `.ova`). */
	readonly path: string;
	/** True when every listed file matches. */
	readonly ok: boolean;
	readonly files: readonly {
		readonly fileName: string;
		readonly algorithm: string;
		readonly ok: boolean;
	}[];
	/** Disk files the manifest does not list (not checked). */
	readonly notListed: readonly string[];
}

/** The VM around the disks, when a bundle, folder or appliance was opened. */
export interface VmInfo {
	/**
	 * The `.vmx` (VMware) or `.vbox` (VirtualBox) file; for a plain folder, the folder; for an
	 * appliance, the `.ova` (or the `.ovf` of an unpacked one).
	 */
	readonly vmxPath: string;
	readonly kind: 'vmware' | 'virtualbox' | 'folder' | 'ova';
	readonly displayName: string | null;
	readonly guestOS?: string | null | undefined;
	/** VMware `.lck` directories present: the VM looks like it is running. */
	readonly locked: boolean;
	/** The lock's owner is a process of this host that is gone. */
	readonly staleLock?: boolean | undefined;
	readonly lockPaths?: readonly string[] | undefined;
	/** The `.vmsd` snapshot tree (empty when there is none). */
	readonly snapshots?: readonly SnapshotInfo[] | undefined;
	/** The snapshot point the disks are shown at (`--snapshot`); absent for the current state. */
	readonly snapshot?: { readonly uid: string; readonly displayName: string | null } | undefined;
	/** Appliance: its OVF descriptor (a member path for an `.ova`). */
	readonly ovfPath?: string | undefined;
	/** Appliance: its manifest (`.mf`), or null when it has none. */
	readonly manifestPath?: string | null | undefined;
	/** Appliance: the manifest check, with `--verify`. */
	readonly manifestCheck?: ManifestCheckInfo | undefined;
	readonly warnings?: readonly string[] | undefined;
}

/** `info --json` output. */
export interface InfoResult {
	readonly disks: readonly DiskInfo[];
	readonly vm: VmInfo | null;
}

/** One volume of a mounted disk (`mount --json`, `list --json`). */
export interface MountedVolume {
	/** 1-based volume index (as `info` and `--partition N` number them). */
	readonly index: number;
	/** Its file name in the FUSE export (`disk`, `p1`, `vg-lv` …). */
	readonly name: string;
	/** Where its files are, or null when it could not be mounted (see `problem`). */
	readonly mountpoint: string | null;
	/** The FUSE file serving this volume's bytes. */
	readonly rawPath: string;
	readonly filesystem: FilesystemSummary | null;
	/** The helper that mounted it (`fuse2fs`, `ntfs-3g`, `kernel ext4 (loop)` …), or null. */
	readonly helper: string | null;
	readonly readOnly: boolean;
	/**
	 * `degraded` when it can no longer be trusted to keep writes (its overlay failed) or was
	 * unmounted outside the app; absent means mounted and well.
	 */
	readonly state?: 'mounted' | 'degraded' | undefined;
	/** Why it is not mounted (swap, LUKS, every helper failed …) or why it is degraded. */
	readonly problem?: string | undefined;
}

/** One mounted disk. */
export interface MountedDisk {
	/** Daemon-assigned id (also the FUSE export folder's name). */
	readonly id: string;
	/** The disk path the user opened (the leaf `.vmdk`). */
	readonly path: string;
	/** The FUSE file serving the whole disk. */
	readonly rawPath: string;
	/** True for a `--rw` (copy-on-write overlay) mount. */
	readonly readWrite: boolean;
	readonly volumes: readonly MountedVolume[];
	/** Warnings from opening the disk (e.g. an ignored CID mismatch). */
	readonly warnings?: readonly string[] | undefined;
}

/** A `--rw` mount's changes kept as a snapshot (`unmount --keep`). */
export interface KeptSnapshotInfo {
	/** The disk the changes were made to. */
	readonly diskPath: string;
	/** The new snapshot's descriptor (`<disk>-NNNNNN.vmdk`), whose parent is the disk. */
	readonly childPath: string;
	readonly cid: string;
	readonly parentCid: string;
	/** 64 KiB grains the snapshot holds. */
	readonly grains: number;
	/** With `--attach`: the `.vmx` now using the snapshot, and the slots changed. */
	readonly attached?: { readonly vmxPath: string; readonly slots: readonly string[] } | undefined;
	/** With `--attach`, when the snapshot was kept but the `.vmx` could not be changed: why. */
	readonly attachProblem?: string | undefined;
}

/** `mount --json`, `list --json` and `unmount --json` output. */
export interface MountListResult {
	readonly disks: readonly MountedDisk[];
	/** `unmount --keep`: the snapshots written. */
	readonly kept?: readonly KeptSnapshotInfo[] | undefined;
	/**
	 * `unmount` of one volume whose disk stays mounted: that volume's mountpoint (the disk is
	 * listed as it is now). Absent when whole disks were unmounted (they are listed as they were).
	 */
	readonly unmountedVolume?: string | undefined;
}

/** A helper program as `doctor` reports it. */
export interface HelperStatus {
	/** Its id (`fuse2fs`, `ntfs-3g`, `losetup`, `hdiutil` …). */
	readonly id: string;
	/** Absolute path, or null when missing. */
	readonly path: string | null;
	/** blkid types it mounts. */
	readonly types: readonly string[];
	/** The step that installs it when it is missing. */
	readonly install: string;
	/** Why it cannot work for this user even when installed (exfat-fuse without root), if so. */
	readonly note?: string;
}

/** `doctor --json` output. */
export interface DoctorReport {
	readonly platform: string;
	/** OS name, version and architecture. */
	readonly osDescription: string;
	readonly isRoot: boolean;
	readonly fuseAvailable: boolean;
	/** Why FUSE cannot be used, with the fix. */
	readonly fuseProblem?: string | undefined;
	/**
	 * The FUSE binding the daemon's exports use: our libfuse 3 addon (`fuse3`) when it is built
	 * and loads, else `fuse-native` (libfuse 2, slower sequential reads).
	 */
	readonly fuseBinding: 'fuse3' | 'fuse-native';
	readonly helpers: readonly HelperStatus[];
	/** Filesystems the kernel mounts (`/proc/filesystems`), used for loop mounts as root. */
	readonly kernelFilesystems: readonly string[];
	/** Types that can be mounted on this host right now, and by what. */
	readonly coverage: readonly { readonly type: string; readonly helpers: readonly string[] }[];
	/** One command that installs everything missing (`sudo apt-get install …`, `brew install …`), or null. */
	readonly installCommand: string | null;
	/** Further things to know (an approval step, a fuse.conf line, an invalid settings file). */
	readonly notes: readonly string[];
	readonly socketPath: string;
	readonly logPath: string;
	readonly stateDir: string;
	readonly mountRoot: string;
	readonly settingsPath: string;
	/** Whether a daemon answered, and its pid. */
	readonly daemon: { readonly running: boolean; readonly pid: number | null };
}
