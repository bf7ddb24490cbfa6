// SPDX-License-Identifier: MIT
/**
 * ByteSources for LVM logical volumes: a linear LV maps each byte range through its
 * segments onto the PVs; an LV we cannot map (striped, thin, raid …) gets a source that
 * refuses reads with a typed error, so it can still be listed with its size.
 */
import { VmdkError } from '../errors.js';
import { lastAtOrBelow } from '../io/bisect.js';
import { checkRange, readToNewBuffer, type ByteSource } from '../io/byte-source.js';

/** One contiguous piece of a linear LV. */
export interface LinearPiece {
	/** Offset of the piece inside the LV, in bytes. */
	readonly lvOffsetBytes: number;
	/** Length of the piece in bytes. */
	readonly lengthBytes: number;
	/** The PV (or any source) holding the piece. */
	readonly pv: ByteSource;
	/** Offset of the piece on that PV, in bytes. */
	readonly pvOffsetBytes: number;
}

/** A linear LV: pieces laid end to end from offset 0, each read from its PV. */
export class LinearVolumeSource implements ByteSource {
	readonly sizeBytes: number;
	/** Pieces sorted by `lvOffsetBytes`, contiguous from 0. */
	readonly pieces: readonly LinearPiece[];
	/** `lvOffsetBytes` of each piece, for the binary search. */
	private readonly starts: readonly number[];

	/** Throws VMDK_CORRUPT when pieces leave gaps, overlap, or fall outside their PV. */
	constructor(pieces: readonly LinearPiece[]) {
		let expected = 0;
		for (const p of pieces) {
			if (p.lvOffsetBytes !== expected) {
				throw new VmdkError(
					'VMDK_CORRUPT',
					`LV segment at byte ${p.lvOffsetBytes} does not follow byte ${expected}`,
				);
			}
			if (p.pvOffsetBytes < 0 || p.pvOffsetBytes + p.lengthBytes > p.pv.sizeBytes) {
				throw new VmdkError(
					'VMDK_CORRUPT',
					`LV segment at PV byte ${p.pvOffsetBytes} (${p.lengthBytes} bytes) lies outside the PV (${p.pv.sizeBytes} bytes)`,
				);
			}
			expected += p.lengthBytes;
		}
		this.pieces = pieces;
		this.starts = pieces.map((p) => p.lvOffsetBytes);
		this.sizeBytes = expected;
	}

	read(offsetBytes: number, length: number): Promise<Uint8Array> {
		return readToNewBuffer(this, offsetBytes, length);
	}

	/** Reads each piece straight from its PV into `dest` (no copy on the FUSE path). */
	async readInto(offsetBytes: number, dest: Uint8Array, destOffset: number, length: number): Promise<void> {
		checkRange(offsetBytes, length, this.sizeBytes);
		let done = 0;
		let i = lastAtOrBelow(this.starts, offsetBytes);
		while (done < length) {
			const piece = this.pieces[i++]!;
			const inPiece = offsetBytes + done - piece.lvOffsetBytes;
			const n = Math.min(length - done, piece.lengthBytes - inPiece);
			await piece.pv.readInto(piece.pvOffsetBytes + inPiece, dest, destOffset + done, n);
			done += n;
		}
	}
}

/** The bytes of an LV we list but cannot map: every read fails with VMDK_UNSUPPORTED_TYPE. */
export class UnsupportedVolumeSource implements ByteSource {
	readonly sizeBytes: number;
	/** Why reads are refused (`not supported yet: striped`). */
	readonly reason: string;

	constructor(sizeBytes: number, reason: string) {
		this.sizeBytes = sizeBytes;
		this.reason = reason;
	}

	read(offsetBytes: number, length: number): Promise<Uint8Array> {
		return Promise.reject(this.refusal(offsetBytes, length));
	}

	readInto(offsetBytes: number, _dest: Uint8Array, _destOffset: number, length: number): Promise<void> {
		return Promise.reject(this.refusal(offsetBytes, length));
	}

	private refusal(offsetBytes: number, length: number): VmdkError {
		return new VmdkError(
			'VMDK_UNSUPPORTED_TYPE',
			`cannot read ${length} bytes at ${offsetBytes}: ${this.reason}`,
		);
	}
}
