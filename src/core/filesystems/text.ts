// SPDX-License-Identifier: MIT
/**
 * Labels and UUIDs the way libblkid turns on-disk bytes into strings: C strings end at the
 * first NUL, trailing whitespace is trimmed (`blkid_rtrim_whitespace`), an empty label is no
 * label, and an all-zero UUID is no UUID.
 */

const utf8 = new TextDecoder('utf-8');

/** Characters C's isspace() accepts; blkid trims them from the end of labels. */
const TRAILING_C_SPACE = /[ \t\n\v\f\r]+$/u;

function finish(text: string): string | null {
	const trimmed = text.replace(TRAILING_C_SPACE, '');
	return trimmed.length === 0 ? null : trimmed;
}

/** A fixed-size, NUL-padded byte label (ext, xfs, btrfs, swap, FAT …), decoded as UTF-8. */
export function cStringLabel(bytes: Uint8Array): string | null {
	const end = bytes.indexOf(0);
	return finish(utf8.decode(end < 0 ? bytes : bytes.subarray(0, end)));
}

/** One byte per character (ISO-8859-1), up to the first NUL. */
export function latin1Label(bytes: Uint8Array): string | null {
	let text = '';
	for (const byte of bytes) {
		if (byte === 0) break;
		text += String.fromCharCode(byte);
	}
	return finish(text);
}

/** UTF-16 code units (NTFS, exFAT: little-endian; HFS+, Joliet, UDF: big-endian), up to a NUL. */
export function utf16Label(bytes: Uint8Array, littleEndian: boolean): string | null {
	return finish(decodeUtf16(bytes, littleEndian));
}

/** Decodes UTF-16 without trimming, stopping at the first NUL code unit. */
export function decodeUtf16(bytes: Uint8Array, littleEndian: boolean): string {
	const units: number[] = [];
	for (let i = 0; i + 1 < bytes.length; i += 2) {
		const a = bytes[i] ?? 0;
		const b = bytes[i + 1] ?? 0;
		const unit = littleEndian ? a | (b << 8) : (a << 8) | b;
		if (unit === 0) break;
		units.push(unit);
	}
	return String.fromCharCode(...units);
}

/** Hex digits of bytes in order. */
export function hex(bytes: Uint8Array, upperCase = false): string {
	const text = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
	return upperCase ? text.toUpperCase() : text;
}

/** A 16-byte UUID as `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (blkid_unparse_uuid), null if all zero. */
export function formatUuid(bytes: Uint8Array): string | null {
	if (bytes.length !== 16 || bytes.every((b) => b === 0)) return null;
	const h = hex(bytes);
	return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A 4-byte little-endian volume serial as FAT/exFAT print it: `ABCD-1234`. */
export function formatSerial32(bytes: Uint8Array): string {
	const h = hex(Uint8Array.from(bytes).reverse(), true);
	return `${h.slice(0, 4)}-${h.slice(4, 8)}`;
}
