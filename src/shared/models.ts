// SPDX-License-Identifier: MIT
/**
 * Serialisable models that cross processes (CLI JSON, daemon protocol, renderer). They follow
 * DESIGN.md's CLI contract; fields may be added, never renamed.
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
	readonly health?:
		| {
				readonly needsRecovery?: boolean | undefined;
				readonly dirty?: boolean | undefined;
				readonly hibernated?: boolean | undefined;
				readonly journalDirty?: boolean | undefined;
		  }
		| undefined;
	readonly problem?: string | undefined;
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
	readonly partitionTable: { readonly scheme: 'mbr' | 'gpt' | 'apm' | 'none'; readonly diskId?: string | undefined };
	readonly volumes: readonly VolumeInfo[];
	readonly warnings: readonly string[];
}

/** The VM around the disks, when a bundle or folder was opened. */
export interface VmInfo {
	readonly vmxPath: string;
	readonly displayName: string | null;
	readonly locked: boolean;
	readonly staleLock?: boolean | undefined;
}

/** `info --json` output. */
export interface InfoResult {
	readonly disks: readonly DiskInfo[];
	readonly vm: VmInfo | null;
}
