// SPDX-License-Identifier: MIT
/**
 * Pointing a VM at a new snapshot of one of its disks (`unmount --keep --attach`): every hard-disk
 * slot's `fileName` that names the parent is rewritten to name the child, and nothing else of
 * the `.vmx` changes (other lines, order, comments, line ends stay byte for byte). Matching a
 * `fileName` to the parent needs the file system (relative names, symlinks), so the caller
 * decides it. VMware's snapshot tree (`.vmsd`) is not touched (docs/vmdk-format.md).
 */
import { VmdkError } from '../errors.js';

/** A hard-disk slot's file line: `scsi0:0.fileName = "disk.vmdk"` (any case, any spacing). */
const FILE_NAME_LINE = /^(\s*((?:scsi|sata|ide|nvme)\d+:\d+)\.filename\s*=\s*)"([^"]*)"(.*)$/i;

/** What {@link repointVmxDisks} changed. */
export interface VmxRepointResult {
	/** The new text. */
	readonly text: string;
	/** The slots that now name the child (`scsi0:0` …). */
	readonly slots: readonly string[];
}

/**
 * Rewrites the `fileName` of each disk slot for which `isParent(fileName)` holds to `newFileName`.
 * `text` is the file as one char per byte (latin1), so bytes we do not touch stay as they were;
 * `newFileName` is given the same way. Throws VMX_BAD_FILE when no slot names the parent.
 */
export function repointVmxDisks(
	text: string,
	isParent: (fileName: string) => boolean,
	newFileName: string,
	vmxPath?: string,
): VmxRepointResult {
	const slots: string[] = [];
	const lines = text.split('\n').map((line) => {
		const cr = line.endsWith('\r') ? '\r' : '';
		const body = cr === '' ? line : line.slice(0, -1);
		const m = FILE_NAME_LINE.exec(body);
		if (m === null) return line;
		const value = (m[3] ?? '').replace(/\|([0-9A-Fa-f]{2})/g, (_s, h: string) =>
			String.fromCharCode(parseInt(h, 16)),
		);
		if (!isParent(value)) return line;
		slots.push((m[2] ?? '').toLowerCase());
		return `${m[1] ?? ''}"${escapeValue(newFileName)}"${m[4] ?? ''}${cr}`;
	});
	if (slots.length === 0) {
		throw new VmdkError('VMX_BAD_FILE', 'no hard disk of this VM uses the disk the snapshot was made of', {
			file: vmxPath,
		});
	}
	return { text: lines.join('\n'), slots };
}

/** VMware's value escapes: `|` and `"` as `|7C` and `|22`. */
function escapeValue(value: string): string {
	return value.replace(/\|/g, '|7C').replace(/"/g, '|22');
}
