// SPDX-License-Identifier: MIT
import type { ByteSource } from '../io/byte-source.js';
import type { FilesystemInfo } from '../filesystems/types.js';
import type { Partition, PartitionTable } from '../partitions/types.js';

/** A mountable unit inside a disk: the whole disk, a partition, or an LVM logical volume. */
export interface Volume {
	/** 1-based position in the disk's volume list (stable for `--partition N`). */
	readonly index: number;
	/** File name the FUSE export serves it under: `disk`, `p1`, `p5`, `vg-lv` … */
	readonly name: string;
	/** What it is. */
	readonly kind: 'whole-disk' | 'partition' | 'lvm';
	/** Byte offset on the disk (for LVM: of the first segment). */
	readonly startBytes: number;
	readonly sizeBytes: number;
	/** Its bytes (a slice of the disk, or the LV's segments mapped). */
	readonly source: ByteSource;
	readonly partition?: Partition | undefined;
	/** `vg/lv` for LVM volumes. */
	readonly lvmName?: string | undefined;
	readonly filesystem: FilesystemInfo | null;
	/** Set when the volume cannot be used (e.g. striped LVM: "not supported yet"). */
	readonly unsupported?: string | undefined;
}

/** Everything found inside one flat disk. */
export interface DiskLayout {
	readonly partitionTable: PartitionTable;
	readonly volumes: readonly Volume[];
	readonly warnings: readonly string[];
}
