// SPDX-License-Identifier: MIT
import { VmdkError, type ErrorLocation } from '../errors.js';

/** Safety caps on sizes and counts read from files: every one is hostile until checked. */
export const Limits = {
	/** Largest text descriptor we parse (QEMU reads at most 20 sectors embedded; files are small). */
	DESCRIPTOR_MAX_BYTES: 1024 * 1024,
	/** Deepest snapshot chain we follow. */
	CHAIN_MAX_DEPTH: 64,
	/** Most extents in one descriptor. */
	EXTENTS_MAX: 4096,
	/** Largest grain (sectors); VMware writes 128, 2^16 sectors = 32 MiB is far above. */
	GRAIN_MAX_SECTORS: 65536,
	/** Largest virtual disk we accept: 64 TiB (seSparse's limit), in bytes. */
	DISK_MAX_BYTES: 64 * 2 ** 40,
} as const;

/** Throws VMDK_LIMIT when `value` is above `max`. */
export function checkLimit(field: string, value: number, max: number, location: ErrorLocation = {}): void {
	if (!(value <= max)) {
		throw new VmdkError('VMDK_LIMIT', `${field} has invalid size ${value} (maximum ${max})`, location);
	}
}
