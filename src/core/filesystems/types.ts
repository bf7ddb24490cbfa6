// SPDX-License-Identifier: MIT
/** What a filesystem probe reports about a volume. */

/** Cheap health flags read from the superblock; they decide whether read-write is safe. */
export interface FilesystemHealth {
	/** ext3/4 journal needs recovery (`needs_recovery` incompat flag). Absent when the type has no such flag. */
	readonly needsRecovery?: boolean | undefined;
	/**
	 * Not cleanly unmounted: NTFS volume dirty flag, FAT / exFAT dirty bit, ext `s_state` without
	 * VALID_FS, HFS+ without kHFSVolumeUnmountedBit.
	 */
	readonly dirty?: boolean | undefined;
	/** NTFS hibernated (Windows fast start-up) — read-write would lose data. Not probed yet (needs hiberfil.sys). */
	readonly hibernated?: boolean | undefined;
	/** HFS+ journal has unreplayed transactions. */
	readonly journalDirty?: boolean | undefined;
}

/** A detected filesystem (or container) in blkid's vocabulary. */
export interface FilesystemInfo {
	/**
	 * blkid TYPE: `ntfs`, `vfat`, `exfat`, `hfs`, `hfsplus`, `apfs`, `ext2`, `ext3`, `ext4`, `xfs`,
	 * `btrfs`, `iso9660`, `udf`, `swap`, `LVM2_member`, `crypto_LUKS` — or `unknown` when a
	 * signature was found but the superblock is damaged (see `problem`).
	 */
	readonly type: string;
	/** Volume label, or null when the filesystem has none. */
	readonly label: string | null;
	/** UUID as blkid prints it (format depends on the type), or null. */
	readonly uuid: string | null;
	/** blkid VERSION where it has one (`FAT32`, `1.0`, LUKS `2` …). */
	readonly version?: string | undefined;
	/** Size of the filesystem in bytes, as the superblock records it. */
	readonly sizeBytes?: number | undefined;
	/**
	 * Devices the filesystem spans, when more than one (a multi-device btrfs): `sizeBytes` is then
	 * the whole filesystem's, not this volume's share.
	 */
	readonly deviceCount?: number | undefined;
	/** Block or cluster size in bytes. */
	readonly blockSizeBytes?: number | undefined;
	readonly health?: FilesystemHealth | undefined;
	/**
	 * Names of the volumes inside a container (APFS), in superblock order. blkid reports none, so
	 * `label` stays null for a container; this is what a UI shows instead.
	 */
	readonly volumeNames?: readonly string[] | undefined;
	/** Why a found signature could not be read (only with type `unknown`). */
	readonly problem?: string | undefined;
}
