// SPDX-License-Identifier: MIT
/**
 * LUKS v1 and v2 headers (cryptsetup's on-disk format documents). Like `blkid -p` (safe probe)
 * only the primary header at offset 0 is read; LUKS2's secondary copies are not searched.
 */
import { Reader, assertOffset } from '../io/reader.js';
import type { FilesystemInfo } from './types.js';
import { type ProbeReader, damaged, matches } from './probe-io.js';
import { cStringLabel } from './text.js';

/** 'LUKS' 0xBA 0xBE: the primary header magic. */
const LUKS_MAGIC = [0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe] as const;
/** Bytes of the LUKS2 binary header we read (up to and including hdr_offset). */
const LUKS2_HEADER_READ_BYTES = 264;

/** Probes a LUKS header at offset 0. */
export async function probeLuks(r: ProbeReader): Promise<FilesystemInfo | null> {
	const bytes = await r.peek(0, LUKS2_HEADER_READ_BYTES);
	if (!bytes || !matches(bytes, 0, LUKS_MAGIC)) return null;
	const h = new Reader(bytes, 'LUKS header');
	h.skip(6, 'magic');
	const version = h.u16be('version');
	if (version === 1) {
		h.skip(32 + 32 + 32, 'cipherName, cipherMode, hashSpec');
		h.u32be('payloadOffset');
		h.u32be('keyBytes');
		h.skip(20 + 32, 'mkDigest, mkDigestSalt');
		h.u32be('mkDigestIterations');
		assertOffset(h, 168, 'LUKS1 header before uuid');
		const uuid = cStringLabel(h.bytesView(40, 'uuid'));
		return { type: 'crypto_LUKS', label: null, uuid, version: '1' };
	}
	if (version === 2) {
		h.u64be('hdr_size');
		h.u64be('seqid');
		const label = cStringLabel(h.bytesView(48, 'label'));
		h.skip(32 + 64, 'checksum_alg, salt');
		assertOffset(h, 168, 'LUKS2 header before uuid');
		const uuid = cStringLabel(h.bytesView(40, 'uuid'));
		h.skip(48, 'subsystem');
		const headerOffsetBytes = h.u64be('hdr_offset');
		// blkid: a primary LUKS2 header must say it is at offset 0.
		if (headerOffsetBytes !== 0n)
			damaged('LUKS2 header', `hdr_offset is ${headerOffsetBytes}, expected 0`, 256);
		return { type: 'crypto_LUKS', label, uuid, version: '2' };
	}
	return damaged('LUKS header', `unsupported version ${version}`, 6, 'VMDK_UNSUPPORTED_VERSION');
}
