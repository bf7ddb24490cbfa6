// SPDX-License-Identifier: MIT
/**
 * Shared plumbing of the filesystem probes: a cached reader over the volume, the typed
 * "damaged superblock" error, and the result type. Probes read a handful of small structures
 * at fixed places (0, 1 KiB, 32 KiB, 64 KiB …), often the same ones, so reads go through a small
 * block cache instead of hitting the disk once per probe.
 */
import { isRangeInside, type ByteSource } from '../io/byte-source.js';
import { VmdkError, isVmdkError, type VmdkErrorCode } from '../errors.js';

/** Granularity of the probe cache. */
const CACHE_BLOCK_BYTES = 4096;
/** At most this many cached blocks (1 MiB); probes need far fewer. */
const CACHE_MAX_BLOCKS = 256;
/** No single probe read may be larger than this (catalog nodes, root directories are smaller). */
export const PROBE_MAX_READ_BYTES = 1024 * 1024;

/** Random access for the probes: bounds-checked reads with a small block cache. */
export class ProbeReader {
	/** Size of the probed volume. */
	readonly sizeBytes: number;
	private readonly src: ByteSource;
	private readonly cache = new Map<number, Uint8Array>();

	constructor(src: ByteSource) {
		this.src = src;
		this.sizeBytes = src.sizeBytes;
	}

	/** True when [offset, offset+length) lies inside the volume. */
	has(offsetBytes: number, length: number): boolean {
		return isRangeInside(offsetBytes, length, this.sizeBytes);
	}

	/** Bytes at an offset, or null when the volume is too small to hold them (no signature there). */
	async peek(offsetBytes: number, length: number): Promise<Uint8Array | null> {
		if (!this.has(offsetBytes, length)) return null;
		return this.read(offsetBytes, length, 'signature');
	}

	/**
	 * Exactly `length` bytes at `offsetBytes`; throws VMDK_TRUNCATED naming `what` when the volume
	 * ends first. The result may be shared with the cache: treat it as read-only.
	 */
	async read(offsetBytes: number, length: number, what: string): Promise<Uint8Array> {
		if (length > PROBE_MAX_READ_BYTES) {
			throw new VmdkError('VMDK_LIMIT', `${what} read of ${length} bytes exceeds ${PROBE_MAX_READ_BYTES}`, {
				offsetBytes,
			});
		}
		if (!this.has(offsetBytes, length)) {
			throw new VmdkError(
				'VMDK_TRUNCATED',
				`${what} needs bytes ${offsetBytes}..${offsetBytes + length} but the volume has ${this.sizeBytes}`,
				{ offsetBytes },
			);
		}
		const first = Math.floor(offsetBytes / CACHE_BLOCK_BYTES);
		const last = Math.floor((offsetBytes + Math.max(length, 1) - 1) / CACHE_BLOCK_BYTES);
		if (first === last) {
			const block = await this.block(first);
			const at = offsetBytes - first * CACHE_BLOCK_BYTES;
			return block.subarray(at, at + length);
		}
		const out = new Uint8Array(length);
		for (let index = first; index <= last; index++) {
			const block = await this.block(index);
			const blockStart = index * CACHE_BLOCK_BYTES;
			const from = Math.max(offsetBytes, blockStart);
			const to = Math.min(offsetBytes + length, blockStart + block.length);
			out.set(block.subarray(from - blockStart, to - blockStart), from - offsetBytes);
		}
		return out;
	}

	private async block(index: number): Promise<Uint8Array> {
		const cached = this.cache.get(index);
		if (cached) return cached;
		const start = index * CACHE_BLOCK_BYTES;
		const length = Math.min(CACHE_BLOCK_BYTES, this.sizeBytes - start);
		let bytes: Uint8Array;
		try {
			// Copy: sources may hand out views of buffers they reuse.
			bytes = (await this.src.read(start, length)).slice();
		} catch (error) {
			if (isVmdkError(error)) throw error;
			throw new VmdkError(
				'VMDK_IO',
				`read of ${length} bytes failed: ${String(error)}`,
				{ offsetBytes: start },
				{
					cause: error,
				},
			);
		}
		if (bytes.length !== length) {
			throw new VmdkError('VMDK_IO', `short read: ${bytes.length} of ${length} bytes`, {
				offsetBytes: start,
			});
		}
		if (this.cache.size >= CACHE_MAX_BLOCKS) this.cache.clear();
		this.cache.set(index, bytes);
		return bytes;
	}
}

/** Throws the typed error for "signature found, structure broken" (STYLE §20). */
export function damaged(
	what: string,
	reason: string,
	offsetBytes?: number,
	code: VmdkErrorCode = 'VMDK_BAD_HEADER',
): never {
	throw new VmdkError(code, `${what}: ${reason}`, { offsetBytes });
}

/** True when every byte of `bytes` equals the ASCII of `magic` starting at `at`. */
export function matches(bytes: Uint8Array, at: number, magic: string | readonly number[]): boolean {
	const codes = typeof magic === 'string' ? Array.from(magic, (c) => c.charCodeAt(0)) : magic;
	if (at + codes.length > bytes.length) return false;
	return codes.every((code, i) => bytes[at + i] === code);
}

/** True for 1, 2, 4, 8 … */
export function isPowerOfTwo(value: number): boolean {
	return Number.isSafeInteger(value) && value > 0 && (value & (value - 1)) === 0;
}

/** Multiplies two on-disk values into a byte count, or throws when it exceeds 2^53. */
export function checkedProduct(a: number, b: number, what: string): number {
	const product = a * b;
	if (!Number.isSafeInteger(product)) damaged(what, `${a} × ${b} exceeds 2^53`, undefined, 'VMDK_LIMIT');
	return product;
}
