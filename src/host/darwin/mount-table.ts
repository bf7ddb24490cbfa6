// SPDX-License-Identifier: MIT
/**
 * The mount table as `mount` (no arguments) prints it on macOS:
 * `<from> on <mountpoint> (<type>, <flag>, …[, mounted by <user>])`. Spaces in either path are
 * printed as they are, unescaped, so a line is split at the last ` (`, and at the first
 * ` on /` before it (a mountpoint is absolute; a source with ` on /` in it would be
 * misread, which is why ownership checks match the source against our own export paths
 * only). Type names seen: `apfs`, `hfs`, `msdos`, `exfat`, `ntfs`, `macfuse` (macFUSE 4+),
 * `osxfuse`/`osxfusefs` (older), `nfs` (FUSE-T and other local NFS servers), flag `fskit`.
 */

/** One line of `mount`. */
export interface MountLine {
	/** What is mounted: `/dev/disk4s1`, a FUSE helper's fsname (our export file), `map auto_home` … */
	readonly source: string;
	/** Where. */
	readonly mountPoint: string;
	/** Filesystem type. */
	readonly fsType: string;
	/** The other words in the parentheses. */
	readonly flags: readonly string[];
}

/** FUSE mount types on macOS (macFUSE, its predecessors; FUSE-T shows `nfs`). */
export const FUSE_MOUNT_TYPES: ReadonlySet<string> = new Set(['macfuse', 'osxfuse', 'osxfusefs', 'nfs']);

/** Parses one line; undefined for anything else. */
export function parseMountLine(line: string): MountLine | undefined {
	const text = line.replace(/\r$/, '');
	if (!text.endsWith(')')) return undefined;
	const open = text.lastIndexOf(' (');
	if (open < 0) return undefined;
	const head = text.slice(0, open);
	const on = head.indexOf(' on /');
	if (on < 0) return undefined;
	const [fsType, ...flags] = text
		.slice(open + 2, -1)
		.split(',')
		.map((w) => w.trim());
	if (fsType === undefined || fsType === '') return undefined;
	return { source: head.slice(0, on), mountPoint: head.slice(on + ' on '.length), fsType, flags };
}

/** Parses `mount` output. */
export function parseMountTable(text: string): MountLine[] {
	return text.split('\n').flatMap((line) => parseMountLine(line) ?? []);
}
