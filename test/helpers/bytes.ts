// SPDX-License-Identifier: MIT
// Building binary structures inline in tests, one field a line: each value sits beside its field.

export type ByteChunk = Uint8Array | number[];

export function u8(v: number): Uint8Array {
	return Uint8Array.of(v & 0xff);
}
export function u16le(v: number): Uint8Array {
	const b = new Uint8Array(2);
	new DataView(b.buffer).setUint16(0, v, true);
	return b;
}
export function u32le(v: number): Uint8Array {
	const b = new Uint8Array(4);
	new DataView(b.buffer).setUint32(0, v >>> 0, true);
	return b;
}
export function u64le(v: bigint | number): Uint8Array {
	const b = new Uint8Array(8);
	new DataView(b.buffer).setBigUint64(0, BigInt(v), true);
	return b;
}
export function u16be(v: number): Uint8Array {
	const b = new Uint8Array(2);
	new DataView(b.buffer).setUint16(0, v, false);
	return b;
}
export function u32be(v: number): Uint8Array {
	const b = new Uint8Array(4);
	new DataView(b.buffer).setUint32(0, v >>> 0, false);
	return b;
}
export function ascii(s: string): Uint8Array {
	return Uint8Array.from(s, (c) => c.charCodeAt(0));
}
export function zeros(n: number): Uint8Array {
	return new Uint8Array(n);
}
/** Concatenates chunks. */
export function bytes(...chunks: ByteChunk[]): Uint8Array {
	const parts = chunks.map((c) => (c instanceof Uint8Array ? c : Uint8Array.from(c)));
	const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
	let at = 0;
	for (const p of parts) {
		out.set(p, at);
		at += p.length;
	}
	return out;
}
/** Pads to a multiple of `unit` bytes (default one sector). */
export function padTo(b: Uint8Array, unit = 512): Uint8Array {
	const n = Math.ceil(b.length / unit) * unit;
	if (n === b.length) return b;
	const out = new Uint8Array(n);
	out.set(b);
	return out;
}
