// SPDX-License-Identifier: MIT
/** Sizes and filesystem names as the window shows them (binary units, as the CLI prints). */
import type { FilesystemSummary } from '../../src/shared/models.js';
import { STRINGS } from './strings.js';

/** `1536` → `1.5 KiB`; below 1 KiB the exact count. */
export function formatBytes(bytes: number): string {
	let value = bytes;
	let unit = 0;
	while (value >= 1024 && unit < STRINGS.units.length - 1) {
		value /= 1024;
		unit++;
	}
	if (unit === 0) return `${bytes} ${STRINGS.units[0]}`;
	const digits = value >= 100 ? 0 : 1;
	return `${value.toFixed(digits).replace(/\.0$/, '')} ${STRINGS.units[unit]}`;
}

/** blkid type → the name people know; types not listed are shown as blkid names them. */
const FILESYSTEM_NAMES: Readonly<Record<string, string>> = {
	ntfs: 'NTFS',
	vfat: 'FAT',
	exfat: 'exFAT',
	hfs: 'HFS',
	hfsplus: 'HFS+',
	apfs: 'APFS',
	xfs: 'XFS',
	btrfs: 'Btrfs',
	iso9660: 'ISO 9660',
	udf: 'UDF',
	swap: 'swap',
	LVM2_member: 'LVM',
	crypto_LUKS: 'LUKS',
};

/** The type of a filesystem for the window (`FAT32`, `NTFS`, `ext4`), or undefined when unknown. */
export function filesystemName(fs: FilesystemSummary | null): string | undefined {
	if (fs === null) return undefined;
	// FAT's version says which FAT it is (FAT12/16/32), which people recognise.
	if (fs.type === 'vfat' && fs.version !== undefined && /^FAT(12|16|32)$/.test(fs.version)) return fs.version;
	return FILESYSTEM_NAMES[fs.type] ?? fs.type;
}

/** The last part of a path. */
export function baseName(path: string): string {
	const trimmed = path.replace(/\/+$/, '');
	return trimmed.slice(trimmed.lastIndexOf('/') + 1) || path;
}

/** The folder of a path. */
export function dirName(path: string): string {
	const trimmed = path.replace(/\/+$/, '');
	const i = trimmed.lastIndexOf('/');
	return i <= 0 ? '/' : trimmed.slice(0, i);
}
