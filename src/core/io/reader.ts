// SPDX-License-Identifier: MIT
import { VmdkError, type ErrorLocation } from '../errors.js';

/**
 * A little-endian cursor over a byte array. Structs are read field by field in order, so
 * offsets follow from the reads instead of being typed in (a typed-in offset is how a
 * reader ends up one field off).
 */
export class Reader {
	private readonly view: DataView;
	offset = 0;
	readonly bytes: Uint8Array;
	/** Used in truncation errors. */
	readonly structName: string;
	readonly location: ErrorLocation;

	constructor(bytes: Uint8Array, structName: string, location: ErrorLocation = {}) {
		this.bytes = bytes;
		this.structName = structName;
		this.location = location;
		this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
	}

	private need(n: number, field: string): number {
		const at = this.offset;
		if (at + n > this.bytes.length) {
			throw new VmdkError(
				'VMDK_TRUNCATED',
				`${this.structName} is truncated: field ${field} needs bytes ${at}..${at + n}, only ${this.bytes.length} present`,
				{ file: this.location.file, offsetBytes: (this.location.offsetBytes ?? 0) + at },
			);
		}
		this.offset = at + n;
		return at;
	}

	u8(field = 'u8'): number {
		return this.view.getUint8(this.need(1, field));
	}
	u16le(field = 'u16'): number {
		return this.view.getUint16(this.need(2, field), true);
	}
	u32le(field = 'u32'): number {
		return this.view.getUint32(this.need(4, field), true);
	}
	u64le(field = 'u64'): bigint {
		return this.view.getBigUint64(this.need(8, field), true);
	}
	u16be(field = 'u16'): number {
		return this.view.getUint16(this.need(2, field), false);
	}
	u32be(field = 'u32'): number {
		return this.view.getUint32(this.need(4, field), false);
	}
	u64be(field = 'u64'): bigint {
		return this.view.getBigUint64(this.need(8, field), false);
	}
	/** A view (not a copy) of the next `n` bytes. */
	bytesView(n: number, field = 'bytes'): Uint8Array {
		const at = this.need(n, field);
		return this.bytes.subarray(at, at + n);
	}
	skip(n: number, field = 'padding'): void {
		this.need(n, field);
	}
}

/** Asserts that a struct reader stopped where the spec says the struct ends. */
export function assertOffset(reader: Reader, expected: number, what: string): void {
	if (reader.offset !== expected) {
		// A programming error, not a file error: the struct definition is wrong.
		throw new Error(`${what}: reader at ${reader.offset}, expected ${expected}`);
	}
}
