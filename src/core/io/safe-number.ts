// SPDX-License-Identifier: MIT
import { VmdkError, type ErrorLocation } from '../errors.js';

/** Bytes per sector, the unit of every VMDK offset and size. */
export const SECTOR_SIZE_BYTES = 512;

/** Converts an on-disk u64 to a number once, naming the field if it does not fit
 * (a silent rounding above 2^53 would read the wrong sector). */
export function toSafeNumber(value: bigint, field: string, location: ErrorLocation = {}): number {
	if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
		throw new VmdkError('VMDK_LIMIT', `${field} ${value} exceeds 2^53`, location);
	}
	return Number(value);
}

/** Sectors to bytes, checked to stay exact. */
export function sectorsToBytes(sectors: number, field = 'sectors', location: ErrorLocation = {}): number {
	const bytes = sectors * SECTOR_SIZE_BYTES;
	if (!Number.isSafeInteger(bytes)) {
		throw new VmdkError('VMDK_LIMIT', `${field} ${sectors} sectors exceeds 2^53 bytes`, location);
	}
	return bytes;
}
