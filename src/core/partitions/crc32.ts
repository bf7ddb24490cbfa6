// SPDX-License-Identifier: MIT
/**
 * CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), written here rather than imported
 * because `src/core` has no `node:zlib`. GPT uses the standard form (initial value and final
 * xor 0xFFFFFFFF); LVM2 uses the raw update with its own seed and no final xor.
 */

/** The reflected IEEE polynomial. */
const CRC32_POLYNOMIAL = 0xedb88320;

/** Byte-at-a-time lookup table, built once on first use. */
let table: Uint32Array | undefined;

function crcTable(): Uint32Array {
	if (table !== undefined) return table;
	const t = new Uint32Array(256);
	for (let n = 0; n < 256; n++) {
		let c = n;
		for (let k = 0; k < 8; k++) c = c & 1 ? CRC32_POLYNOMIAL ^ (c >>> 1) : c >>> 1;
		t[n] = c >>> 0;
	}
	table = t;
	return t;
}

/** Feeds `data` into a running CRC register without pre- or post-inversion (LVM2's form). */
export function crc32Update(crc: number, data: Uint8Array): number {
	const t = crcTable();
	let c = crc >>> 0;
	for (const byte of data) c = t[(c ^ byte) & 0xff]! ^ (c >>> 8);
	return c >>> 0;
}

/** The standard CRC-32 of `data` (what zlib, PNG and the UEFI GPT headers use). */
export function crc32(data: Uint8Array): number {
	return (crc32Update(0xffffffff, data) ^ 0xffffffff) >>> 0;
}
