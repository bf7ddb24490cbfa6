// SPDX-License-Identifier: MIT
/**
 * Linux swap areas (mkswap's swap_header v1: signature in the last 10 bytes of the first page,
 * version/lastpage/uuid/label at 1 KiB). Page sizes 4 KiB..64 KiB are tried, as blkid does.
 */
import { Reader, assertOffset } from '../io/reader.js';
import type { FilesystemInfo } from './types.js';
import { type ProbeReader, checkedProduct, damaged, matches } from './probe-io.js';
import { cStringLabel, formatUuid } from './text.js';

/** Page sizes whose last 10 bytes may hold the signature. */
const SWAP_PAGE_SIZES_BYTES = [4096, 8192, 16384, 32768, 65536] as const;
/** Length of "SWAPSPACE2" / "SWAP-SPACE". */
const SWAP_MAGIC_LENGTH = 10;
/** The v1 header starts after 1 KiB of boot bits. */
const SWAP_HEADER_OFFSET_BYTES = 1024;
/** Bytes of the v1 header we read: version .. padding[33]. */
const SWAP_HEADER_READ_BYTES = 180;
/** blkid ignores swap smaller than 10 pages. */
const SWAP_MIN_SIZE_BYTES = 10 * 4096;
/** TuxOnIce hibernation image signature at offset 0 (blkid: not swap). */
const TUXONICE_MAGIC = [0xed, 0xc3, 0x02, 0xe9, 0x98, 0x56, 0xe5, 0x0c] as const;

/** Probes a Linux swap signature. */
export async function probeSwap(r: ProbeReader): Promise<FilesystemInfo | null> {
	if (r.sizeBytes < SWAP_MIN_SIZE_BYTES) return null;
	for (const pageSizeBytes of SWAP_PAGE_SIZES_BYTES) {
		const magic = await r.peek(pageSizeBytes - SWAP_MAGIC_LENGTH, SWAP_MAGIC_LENGTH);
		if (!magic) return null;
		const isV1 = matches(magic, 0, 'SWAPSPACE2');
		if (!isV1 && !matches(magic, 0, 'SWAP-SPACE')) continue;
		const start = await r.read(0, TUXONICE_MAGIC.length, 'swap page');
		if (matches(start, 0, TUXONICE_MAGIC)) return null;
		if (!isV1) return { type: 'swap', label: null, uuid: null, version: '0' };
		return readV1(r, pageSizeBytes);
	}
	return null;
}

async function readV1(r: ProbeReader, pageSizeBytes: number): Promise<FilesystemInfo> {
	const bytes = await r.read(SWAP_HEADER_OFFSET_BYTES, SWAP_HEADER_READ_BYTES, 'swap header');
	const h = new Reader(bytes, 'swap header', { offsetBytes: SWAP_HEADER_OFFSET_BYTES });
	const versionLe = h.u32le('version');
	const littleEndian = versionLe === 1;
	// blkid accepts a header written on a big-endian machine (version byte-swapped).
	if (!littleEndian && new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, false) !== 1) {
		damaged('swap header', `version is ${versionLe}, expected 1`, SWAP_HEADER_OFFSET_BYTES);
	}
	const lastPage = littleEndian ? h.u32le('lastpage') : h.u32be('lastpage');
	if (lastPage === 0) damaged('swap header', 'lastpage is 0', SWAP_HEADER_OFFSET_BYTES + 4);
	h.u32le('nr_badpages');
	const uuidBytes = h.bytesView(16, 'uuid');
	const volumeName = h.bytesView(16, 'volume_name');
	h.skip(32 * 4, 'padding[0..31]');
	const padding32 = h.u32le('padding[32]');
	const padding33 = h.u32le('padding[33]');
	assertOffset(h, SWAP_HEADER_READ_BYTES, 'swap header through padding[33]');
	// blkid's sanity check: label and UUID only when this padding is clean.
	const clean = padding32 === 0 && padding33 === 0;
	return {
		type: 'swap',
		label: clean ? cStringLabel(volumeName) : null,
		uuid: clean ? formatUuid(uuidBytes) : null,
		version: '1',
		sizeBytes: checkedProduct(pageSizeBytes, lastPage, 'swap size'),
		blockSizeBytes: pageSizeBytes,
	};
}
