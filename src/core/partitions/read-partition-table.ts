// SPDX-License-Identifier: MIT
/**
 * Finds a disk's partition table. Order: a protective MBR leads to the GPT; then an Apple
 * Partition Map (before MBR, as Linux checks, so hybrid CD images read as APM); then a plain
 * MBR; then a GPT without protective MBR; else `none` (a filesystem may start at byte 0).
 * Bad tables never throw: problems become warnings and partitions are clamped or skipped.
 * A hybrid MBR (protective entry plus real ones) reads as GPT with a warning; a protective
 * MBR whose GPT is unusable reads as an empty GPT, or as MBR when it has other entries.
 */
import type { ByteSource } from '../io/byte-source.js';
import { readApm } from './apm.js';
import { hasGptSignature, readGpt, type GptTable } from './gpt.js';
import { MBR_TYPE_GPT_PROTECTIVE, readMbr } from './mbr.js';
import type { Partition, PartitionTable } from './types.js';

/** Sector sizes a GPT is looked for with: 512 first, then 4096 (4Kn disks). */
const GPT_SECTOR_SIZES_BYTES = [512, 4096] as const;
/** Most warnings kept per table; garbage tables could otherwise yield thousands. */
const PARTITION_WARNINGS_MAX = 64;

/** Reads the partition table of a flat disk. Throws only when the source itself fails. */
export async function readPartitionTable(src: ByteSource): Promise<PartitionTable> {
	const mbr = await readMbr(src);
	if (mbr?.hasProtectiveEntry) {
		const gpt = await findGpt(src);
		const others = mbr.primaryEntries.filter((e) => e.type !== MBR_TYPE_GPT_PROTECTIVE);
		if (gpt.table !== null) {
			const warnings = [...gpt.warnings];
			if (others.length > 0) {
				warnings.push(
					`hybrid MBR: ${others.length} MBR entr${others.length === 1 ? 'y' : 'ies'} besides the GPT protective one; the GPT is used`,
				);
			}
			return finish('gpt', gpt.table.partitions, gpt.table.diskGuid, warnings, src.sizeBytes);
		}
		if (others.length === 0) {
			return finish(
				'gpt',
				[],
				undefined,
				['protective MBR found but no usable GPT', ...gpt.warnings],
				src.sizeBytes,
			);
		}
		const warnings = [
			'protective MBR entry found but no usable GPT; using the MBR entries',
			...gpt.warnings,
			...mbr.warnings,
		];
		return finish('mbr', mbr.partitions, mbr.diskSignature, warnings, src.sizeBytes);
	}
	const apm = await readApm(src);
	if (apm !== null) return finish('apm', apm.partitions, undefined, [...apm.warnings], src.sizeBytes);
	if (mbr !== null) return finish('mbr', mbr.partitions, mbr.diskSignature, [...mbr.warnings], src.sizeBytes);

	// A GPT whose protective MBR was wiped (some imaging tools do this) is still a GPT.
	for (const sectorSize of GPT_SECTOR_SIZES_BYTES) {
		if (!(await hasGptSignature(src, 1, sectorSize))) continue;
		const gpt = await readGpt(src, sectorSize);
		if (gpt.table === null) continue;
		const warnings = ['GPT found without a protective MBR', ...gpt.warnings];
		return finish('gpt', gpt.table.partitions, gpt.table.diskGuid, warnings, src.sizeBytes);
	}
	return { scheme: 'none', partitions: [], warnings: [] };
}

/** Reads the GPT with 512-byte sectors, or with 4096 when only that finds a signature. */
async function findGpt(src: ByteSource): Promise<{ table: GptTable | null; warnings: string[] }> {
	const first = await readGpt(src, GPT_SECTOR_SIZES_BYTES[0]);
	if (first.table !== null) return first;
	for (const sectorSize of GPT_SECTOR_SIZES_BYTES.slice(1)) {
		if (!(await hasGptSignature(src, 1, sectorSize))) continue;
		const other = await readGpt(src, sectorSize);
		if (other.table !== null) return other;
	}
	return first;
}

/** Clamps partitions to the disk, drops those outside it, and reports overlaps. */
function finish(
	scheme: PartitionTable['scheme'],
	found: readonly Partition[],
	diskId: string | undefined,
	warnings: string[],
	diskSizeBytes: number,
): PartitionTable {
	const partitions: Partition[] = [];
	for (const p of found) {
		if (p.sizeBytes <= 0) continue;
		if (p.startBytes >= diskSizeBytes) {
			warnings.push(
				`partition ${p.index} starts at byte ${p.startBytes}, past the end of the disk (${diskSizeBytes} bytes); skipped`,
			);
			continue;
		}
		if (p.startBytes + p.sizeBytes > diskSizeBytes) {
			const sizeBytes = diskSizeBytes - p.startBytes;
			warnings.push(
				`partition ${p.index} ends past the end of the disk; clamped from ${p.sizeBytes} to ${sizeBytes} bytes`,
			);
			partitions.push({ ...p, sizeBytes });
			continue;
		}
		partitions.push(p);
	}
	const byStart = [...partitions].sort((a, b) => a.startBytes - b.startBytes || a.index - b.index);
	let furthest: Partition | undefined;
	for (const p of byStart) {
		if (furthest !== undefined && p.startBytes < furthest.startBytes + furthest.sizeBytes) {
			warnings.push(`partitions ${furthest.index} and ${p.index} overlap`);
		}
		if (furthest === undefined || p.startBytes + p.sizeBytes > furthest.startBytes + furthest.sizeBytes)
			furthest = p;
	}
	return { scheme, partitions, diskId, warnings: capWarnings(warnings) };
}

/** Keeps the first PARTITION_WARNINGS_MAX warnings and says how many were dropped. */
function capWarnings(warnings: string[]): string[] {
	if (warnings.length <= PARTITION_WARNINGS_MAX) return warnings;
	const kept = warnings.slice(0, PARTITION_WARNINGS_MAX);
	kept.push(`… and ${warnings.length - PARTITION_WARNINGS_MAX} more warnings`);
	return kept;
}
