// SPDX-License-Identifier: MIT
/**
 * `probeFilesystem`: which filesystem (or container) a volume holds, in blkid's vocabulary.
 *
 * Probes run in an order that avoids false positives the way libblkid's does: containers and
 * signatures that other formats' weak magics could shadow come first (LUKS, LVM2, swap), NTFS and
 * exFAT before FAT (their boot sectors also start with a jump and end in 0x55AA), UDF before ISO
 * 9660 (hybrid discs), HFS+ before HFS (wrapped volumes). A probe that finds its signature but a
 * broken structure throws a VmdkError; the search goes on, and only when no other probe accepts
 * the volume is the result `{ type: 'unknown', problem }`.
 */
import type { ByteSource } from '../io/byte-source.js';
import { isVmdkError } from '../errors.js';
import type { FilesystemInfo } from './types.js';
import { ProbeReader } from './probe-io.js';
import { probeApfs } from './apfs.js';
import { probeBtrfs } from './btrfs.js';
import { probeExfat } from './exfat.js';
import { probeExt } from './ext.js';
import { probeFat } from './fat.js';
import { probeHfs } from './hfs.js';
import { probeIso9660 } from './iso9660.js';
import { probeLuks } from './luks.js';
import { probeLvm2 } from './lvm2.js';
import { probeNtfs } from './ntfs.js';
import { probeSwap } from './swap.js';
import { probeUdf } from './udf.js';
import { probeXfs } from './xfs.js';

/** One probe: null when its signature is absent; throws VmdkError when present but broken. */
type Probe = (r: ProbeReader) => Promise<FilesystemInfo | null>;

/** Probe order (see the module comment). */
const PROBES: readonly (readonly [string, Probe])[] = [
	['crypto_LUKS', probeLuks],
	['LVM2_member', probeLvm2],
	['swap', probeSwap],
	['ntfs', probeNtfs],
	['exfat', probeExfat],
	['vfat', probeFat],
	['xfs', probeXfs],
	['ext', probeExt],
	['udf', probeUdf],
	['iso9660', probeIso9660],
	['hfs', probeHfs],
	['btrfs', probeBtrfs],
	['apfs', probeApfs],
];

/** Prefix of the problem text when a probe failed with something other than a VmdkError (a bug). */
export const PROBE_INTERNAL_ERROR = 'probe failed unexpectedly';

/**
 * Detects the filesystem on `src`. Returns null when no known signature is present, and
 * `{ type: 'unknown', label: null, uuid: null, problem }` when a signature was found but its
 * superblock is damaged or truncated. Never throws; reads only the few blocks it needs.
 */
export async function probeFilesystem(src: ByteSource): Promise<FilesystemInfo | null> {
	const reader = new ProbeReader(src);
	let problem: string | null = null;
	for (const [name, probe] of PROBES) {
		try {
			const info = await probe(reader);
			if (info) return info;
		} catch (error) {
			if (problem !== null) continue;
			if (isVmdkError(error)) {
				// Offsets are relative to the probed volume (a partition, not the .vmdk file).
				const at = error.offsetBytes === undefined ? '' : ` (at volume byte ${error.offsetBytes})`;
				problem = `${name}: ${error.message}${at}`;
			} else {
				problem = `${PROBE_INTERNAL_ERROR} (${name}): ${error instanceof Error ? error.message : String(error)}`;
			}
		}
	}
	return problem === null ? null : { type: 'unknown', label: null, uuid: null, problem };
}
