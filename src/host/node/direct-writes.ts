// SPDX-License-Identifier: MIT
/**
 * Direct (uncached) writes for `export`: writing a multi-GiB raw file through the page cache
 * costs more CPU in the kernel than inflating the grains did (every page is copied, accounted and
 * later written back), and it pushes the user's own cache out. With `O_DIRECT` the disk reads our
 * buffers itself. Used only where it is known to work well — Linux, on local block filesystems —
 * and only for block-aligned pieces; everything else, and any refusal, goes through the cache.
 */
import { constants } from 'node:fs';
import { open, statfs, type FileHandle } from 'node:fs/promises';

/**
 * Alignment of offsets, lengths and memory for direct writes: 4 KiB covers every logical block
 * size of the disks we meet (512 or 4096) and the memory alignment they ask for.
 */
export const DIRECT_ALIGN_BYTES = 4096;

/**
 * `statfs` magic numbers of the local block filesystems where `O_DIRECT` is plain and fast. Not
 * NFS or FUSE (each direct write becomes a synchronous round trip), not tmpfs (no disk behind).
 */
const DIRECT_FILESYSTEMS = new Set<number>([
	0xef53, // ext2/3/4
	0x58465342, // xfs
	0x9123683e, // btrfs
	0xf2f52010, // f2fs
]);

/**
 * A second handle on `path` (already created) that writes around the page cache, or undefined
 * when this platform or filesystem should not: no `O_DIRECT` (macOS), another filesystem, or the
 * open is refused.
 */
export async function openDirect(path: string): Promise<FileHandle | undefined> {
	const flag = (constants as { O_DIRECT?: number }).O_DIRECT;
	if (flag === undefined || process.platform !== 'linux') return undefined;
	try {
		if (!DIRECT_FILESYSTEMS.has((await statfs(path)).type)) return undefined;
		// eslint-disable-next-line no-bitwise -- open flags are bits
		return await open(path, constants.O_WRONLY | flag);
	} catch {
		return undefined;
	}
}

/**
 * `bytes` of zeroed memory whose address is page-aligned, as direct writes require. A
 * WebAssembly memory is reserved by V8 in whole pages; should it ever not be aligned, the
 * first direct write fails with EINVAL and the writer goes back to cached writes.
 */
export function pageAlignedBuffer(bytes: number): Uint8Array {
	const pages = Math.max(1, Math.ceil(bytes / WASM_PAGE_BYTES));
	const memory = new (globalThis as unknown as WasmGlobal).WebAssembly.Memory({
		initial: pages,
		maximum: pages,
	});
	return new Uint8Array(memory.buffer, 0, bytes);
}

const WASM_PAGE_BYTES = 65536;

/** The one piece of the WebAssembly API used here (not in Node's type declarations). */
interface WasmGlobal {
	readonly WebAssembly: {
		readonly Memory: new (descriptor: { initial: number; maximum: number }) => {
			readonly buffer: ArrayBuffer;
		};
	};
}

/** True if a write of `length` bytes at file `position` from `offset` in an aligned buffer can go direct. */
export function isDirectAligned(offset: number, length: number, position: number): boolean {
	return (
		length > 0 &&
		offset % DIRECT_ALIGN_BYTES === 0 &&
		length % DIRECT_ALIGN_BYTES === 0 &&
		position % DIRECT_ALIGN_BYTES === 0
	);
}
