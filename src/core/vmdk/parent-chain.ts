// SPDX-License-Identifier: MIT
/**
 * Snapshot-chain rules: where a child's parent is (`parentFileNameHint`) and whether the parent
 * is the one the child was made from (CID / parentCID).
 *
 * Where we look for a parent, in order:
 * 1. a POSIX-absolute hint as written;
 * 2. a relative hint joined to the child's folder (backslashes read as separators);
 * 3. the hint's file name in the child's folder — this also covers Windows paths
 *    (`C:\VMs\x\base.vmdk`) and VMs moved since the snapshot was taken;
 * 4. the hint's file name in each of `parentSearchDirs`.
 */
import { VmdkError } from '../errors.js';
import { basename, dirname, isWindowsAbsolute, joinPath, normalizePath } from '../io/paths.js';
import type { DiskPlatform } from '../platform.js';
import { NO_PARENT_CID, type Descriptor } from './descriptor.js';

/** The paths tried for a parent hint, most specific first, without duplicates. */
function parentCandidates(childPath: string, hint: string, searchDirs: readonly string[] = []): string[] {
	const dir = dirname(childPath);
	const name = basename(hint);
	const out: string[] = [];
	if (hint.startsWith('/')) out.push(normalizePath(hint));
	else if (!isWindowsAbsolute(hint)) out.push(joinPath(dir, hint.replaceAll('\\', '/')));
	if (name !== '') {
		out.push(joinPath(dir, name));
		for (const d of searchDirs) out.push(joinPath(d, name));
	}
	return [...new Set(out)];
}

/** Finds the parent file of `childPath`; throws VMDK_MISSING_PARENT naming the hint and where it looked. */
export async function resolveParent(
	childPath: string,
	hint: string,
	platform: DiskPlatform,
	searchDirs: readonly string[] = [],
): Promise<string> {
	const candidates = parentCandidates(childPath, hint, searchDirs);
	for (const candidate of candidates) {
		if (await platform.fileExists(candidate)) return candidate;
	}
	throw new VmdkError(
		'VMDK_MISSING_PARENT',
		`the parent disk "${hint}" (parentFileNameHint) was not found; looked for ${candidates.join(', ')}`,
		{ file: childPath },
	);
}

/**
 * Describes a CID mismatch between a child and its parent, or returns undefined when they
 * agree (or either side has no CID to compare).
 */
export function cidMismatch(
	childPath: string,
	child: Descriptor,
	parentPath: string,
	parent: Descriptor,
): string | undefined {
	if (child.parentCid === undefined || parent.cid === undefined) return undefined;
	if (child.parentCid === parent.cid) return undefined;
	const what =
		child.parentCid === NO_PARENT_CID
			? `${childPath} has parentCID ${child.parentCid} (no parent) but names parent ${parentPath} (CID ${parent.cid})`
			: `${childPath} has parentCID ${child.parentCid} but its parent ${parentPath} has CID ${parent.cid}`;
	return `${what}: the parent changed after the snapshot was taken, so the combined disk may be inconsistent`;
}
