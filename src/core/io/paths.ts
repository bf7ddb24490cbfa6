// SPDX-License-Identifier: MIT
/**
 * Pure path arithmetic for file names found inside VMDK descriptors and .vmx files. The engine
 * has no `node:path`; these handle POSIX paths plus the Windows forms VMware writes
 * (`C:\VMs\disk.vmdk`, `\\server\share\disk.vmdk`) well enough to find a sibling file.
 */

/** True for `/x`, `C:\x`, `C:/x` and `\\server\x`. */
export function isAbsolutePath(p: string): boolean {
	return p.startsWith('/') || isWindowsAbsolute(p);
}

/** True for drive-letter and UNC paths. */
export function isWindowsAbsolute(p: string): boolean {
	return /^[A-Za-z]:[\\/]/.test(p) || p.startsWith('\\\\');
}

/** The folder part of a POSIX path (`/a/b.vmdk` → `/a`, `b.vmdk` → `.`). */
export function dirname(p: string): string {
	const i = p.lastIndexOf('/');
	if (i < 0) return '.';
	if (i === 0) return '/';
	return p.slice(0, i);
}

/** The last component of a POSIX or Windows path. */
export function basename(p: string): string {
	const i = Math.max(p.lastIndexOf('/'), p.lastIndexOf('\\'));
	return p.slice(i + 1);
}

/** Joins a POSIX folder and a relative path, normalising `.` and `..`. */
export function joinPath(dir: string, rel: string): string {
	if (rel.startsWith('/')) return normalizePath(rel);
	return normalizePath(`${dir}/${rel}`);
}

/** Collapses `//`, `.` and `..` segments of a POSIX path. */
export function normalizePath(p: string): string {
	const absolute = p.startsWith('/');
	const out: string[] = [];
	for (const seg of p.split('/')) {
		if (seg === '' || seg === '.') continue;
		if (seg === '..') {
			if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
			else if (!absolute) out.push('..');
			continue;
		}
		out.push(seg);
	}
	const joined = out.join('/');
	if (absolute) return `/${joined}`;
	return joined === '' ? '.' : joined;
}

/** The file-name extension in lower case, without the dot (`a.VMDK` → `vmdk`). */
export function extensionOf(p: string): string {
	const name = basename(p);
	const i = name.lastIndexOf('.');
	return i <= 0 ? '' : name.slice(i + 1).toLowerCase();
}
