// SPDX-License-Identifier: MIT
/** Partition-table model shared by the MBR, GPT and APM readers (plain readonly data). */

/** Which kind of table a disk has; `none` means a filesystem (or nothing) starts at byte 0. */
export type PartitionScheme = 'mbr' | 'gpt' | 'apm' | 'none';

/** One partition as the table describes it, clamped to the disk. */
export interface Partition {
	/** 1-based number as Linux names it (`p1` …; MBR logical partitions start at 5). */
	readonly index: number;
	/** Byte offset of the first sector on the disk. */
	readonly startBytes: number;
	/** Length in bytes (after clamping to the disk end, see warnings). */
	readonly sizeBytes: number;
	/** Type id as written: MBR `0x83`, GPT type GUID (lower case), APM type string. */
	readonly typeId: string;
	/** Human name of the type (`Linux filesystem`, `Microsoft basic data`, …) or `unknown`. */
	readonly typeName: string;
	/** GPT/APM partition name, if any. */
	readonly name?: string | undefined;
	/** GPT unique partition GUID (lower case), if any. */
	readonly uuid?: string | undefined;
	/** MBR boot flag. */
	readonly bootable?: boolean | undefined;
	/** MBR: primary, or logical inside the extended partition. */
	readonly mbrKind?: 'primary' | 'logical' | undefined;
}

/** A disk's partition table. */
export interface PartitionTable {
	readonly scheme: PartitionScheme;
	/** Data partitions (not the MBR extended container, not GPT's protective entry). */
	readonly partitions: readonly Partition[];
	/** GPT disk GUID or MBR disk signature (`0x…`), if any. */
	readonly diskId?: string | undefined;
	/** Non-fatal problems: clamped or skipped partitions, a backup GPT used, a hybrid MBR. */
	readonly warnings: readonly string[];
}
