// SPDX-License-Identifier: MIT
/**
 * The checksums the probes verify before trusting a superblock, and MD5 for the HFS UUID
 * derivation. Written from the algorithm definitions (RFC 1321, Castagnoli CRC, Apple's APFS
 * reference); the engine has no crypto library of its own.
 */

/** Reflected CRC-32C (Castagnoli) polynomial: ext4, xfs, btrfs. */
const CRC32C_POLY_REFLECTED = 0x82f63b78;
/** Reflected CRC-32 (IEEE 802.3) polynomial: the LVM2 label. */
const CRC32_POLY_REFLECTED = 0xedb88320;

function makeTable(poly: number): Uint32Array {
	const table = new Uint32Array(256);
	for (let n = 0; n < 256; n++) {
		let c = n;
		for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ poly : c >>> 1;
		table[n] = c >>> 0;
	}
	return table;
}

const CRC32C_TABLE = makeTable(CRC32C_POLY_REFLECTED);
const CRC32_TABLE = makeTable(CRC32_POLY_REFLECTED);

function crcUpdate(table: Uint32Array, crc: number, bytes: Uint8Array): number {
	let c = crc >>> 0;
	for (const byte of bytes) c = ((table[(c ^ byte) & 0xff] ?? 0) ^ (c >>> 8)) >>> 0;
	return c;
}

/** CRC-32C register update without pre- or post-inversion (callers choose, as ext4 does). */
export function crc32cUpdate(crc: number, bytes: Uint8Array): number {
	return crcUpdate(CRC32C_TABLE, crc, bytes);
}

/** Standard CRC-32C (init ~0, final inversion). */
export function crc32c(bytes: Uint8Array): number {
	return ~crc32cUpdate(0xffffffff, bytes) >>> 0;
}

/** CRC-32 (IEEE) register update without inversions; LVM2 seeds it with its own constant. */
export function crc32Update(crc: number, bytes: Uint8Array): number {
	return crcUpdate(CRC32_TABLE, crc, bytes);
}

/** 2^32 − 1, the Fletcher-64 modulus of APFS. */
const FLETCHER_MODULUS = 0xffffffff;

/**
 * APFS object checksum (Fletcher-64 over 32-bit words) of `bytes`, the object without its first
 * 8 bytes. Returns the [low, high] 32-bit halves as stored little-endian in the object header.
 */
export function apfsFletcher64(bytes: Uint8Array): [number, number] {
	const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
	let sum1 = 0;
	let sum2 = 0;
	for (let at = 0; at + 4 <= bytes.length; at += 4) {
		sum1 = (sum1 + view.getUint32(at, true)) % FLETCHER_MODULUS;
		sum2 = (sum2 + sum1) % FLETCHER_MODULUS;
	}
	const low = FLETCHER_MODULUS - ((sum1 + sum2) % FLETCHER_MODULUS);
	const high = FLETCHER_MODULUS - ((sum1 + low) % FLETCHER_MODULUS);
	return [low >>> 0, high >>> 0];
}

/** Per-round left-rotation amounts of MD5 (RFC 1321 §3.4). */
const MD5_SHIFTS = [
	7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9,
	14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15,
	21, 6, 10, 15, 21,
] as const;
/** MD5 additive constants: floor(|sin(i + 1)| × 2^32). */
const MD5_CONSTANTS = Array.from(
	{ length: 64 },
	(_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) >>> 0,
);

/** MD5 digest (RFC 1321) of `bytes`; used only to derive the HFS/HFS+ UUID the way blkid does. */
export function md5(bytes: Uint8Array): Uint8Array {
	const paddedLength = Math.ceil((bytes.length + 9) / 64) * 64;
	const padded = new Uint8Array(paddedLength);
	padded.set(bytes);
	padded[bytes.length] = 0x80;
	const view = new DataView(padded.buffer);
	const bitLength = bytes.length * 8;
	view.setUint32(paddedLength - 8, bitLength >>> 0, true);
	view.setUint32(paddedLength - 4, Math.floor(bitLength / 2 ** 32), true);
	let a0 = 0x67452301;
	let b0 = 0xefcdab89;
	let c0 = 0x98badcfe;
	let d0 = 0x10325476;
	for (let chunk = 0; chunk < paddedLength; chunk += 64) {
		let a = a0;
		let b = b0;
		let c = c0;
		let d = d0;
		for (let i = 0; i < 64; i++) {
			let f: number;
			let g: number;
			if (i < 16) {
				f = (b & c) | (~b & d);
				g = i;
			} else if (i < 32) {
				f = (d & b) | (~d & c);
				g = (5 * i + 1) % 16;
			} else if (i < 48) {
				f = b ^ c ^ d;
				g = (3 * i + 5) % 16;
			} else {
				f = c ^ (b | ~d);
				g = (7 * i) % 16;
			}
			const sum = (f + a + (MD5_CONSTANTS[i] ?? 0) + view.getUint32(chunk + g * 4, true)) | 0;
			const shift = MD5_SHIFTS[i] ?? 0;
			a = d;
			d = c;
			c = b;
			b = (b + ((sum << shift) | (sum >>> (32 - shift)))) | 0;
		}
		a0 = (a0 + a) | 0;
		b0 = (b0 + b) | 0;
		c0 = (c0 + c) | 0;
		d0 = (d0 + d) | 0;
	}
	const digest = new Uint8Array(16);
	const out = new DataView(digest.buffer);
	out.setUint32(0, a0 >>> 0, true);
	out.setUint32(4, b0 >>> 0, true);
	out.setUint32(8, c0 >>> 0, true);
	out.setUint32(12, d0 >>> 0, true);
	return digest;
}
