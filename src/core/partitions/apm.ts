// SPDX-License-Identifier: MIT
/**
 * Apple Partition Map (Inside Macintosh: Devices, "SCSI Manager"): a Driver Descriptor Map
 * with signature 'ER' in block 0, then one 'PM' entry per block from block 1. All fields are
 * big-endian. Partitions are numbered by map slot, as Linux does, and map/driver/free entries
 * are not listed as data partitions.
 */
import type { ByteSource } from '../io/byte-source.js';
import { Reader } from '../io/reader.js';
import { apmTypeName } from './type-names.js';
import type { Partition } from './types.js';

/** 'ER': Driver Descriptor Map signature. */
const DDM_SIGNATURE = 0x4552;
/** 'PM': partition map entry signature. */
const ENTRY_SIGNATURE = 0x504d;
/** Block size assumed when the DDM gives a nonsensical one. */
const DEFAULT_BLOCK_SIZE_BYTES = 512;
/** Largest block size we accept from the DDM (CDs use 2048). */
const BLOCK_SIZE_MAX_BYTES = 65536;
/** Most map entries we read; real maps have well under 64. */
const APM_ENTRIES_MAX = 256;
/** Bytes of an entry we parse (signature through pmParType). */
const ENTRY_PARSED_BYTES = 80;
/** Length of the name and type strings. */
const NAME_BYTES = 32;

/** A partition map as read, before clamping. */
export interface ApmTable {
	/** Block size from the DDM used for every start and count. */
	readonly blockSizeBytes: number;
	/** Data partitions (HFS, UFS, Linux …), numbered by map slot. */
	readonly partitions: readonly Partition[];
	/** Problems met while reading. */
	readonly warnings: readonly string[];
}

/** True for entries that describe the map itself, drivers, patches or free space. */
function isNonDataType(type: string): boolean {
	return (
		type === 'Apple_partition_map' ||
		type === 'Apple_Free' ||
		type === 'Apple_Void' ||
		type === 'Apple_Scratch' ||
		type === 'Apple_Patches' ||
		type.startsWith('Apple_Driver') ||
		type.startsWith('Apple_FWDriver')
	);
}

/** Decodes a NUL-terminated byte string (Mac Roman; ASCII in practice). */
function cString(raw: Uint8Array): string {
	const end = raw.indexOf(0);
	return String.fromCharCode(...(end === -1 ? raw : raw.subarray(0, end)));
}

/** Reads the 16-bit signature at a byte offset, or null past the end. */
async function signatureAt(src: ByteSource, offsetBytes: number): Promise<number | null> {
	if (offsetBytes + 2 > src.sizeBytes) return null;
	const b = await src.read(offsetBytes, 2);
	return (b[0]! << 8) | b[1]!;
}

/**
 * Reads an Apple Partition Map, or returns null when block 0 is not a DDM followed by a 'PM'
 * entry. Never throws for bad content.
 */
export async function readApm(src: ByteSource): Promise<ApmTable | null> {
	if (src.sizeBytes < 2 * DEFAULT_BLOCK_SIZE_BYTES) return null;
	if ((await signatureAt(src, 0)) !== DDM_SIGNATURE) return null;
	const warnings: string[] = [];
	const ddm = new Reader(await src.read(0, 8), 'APM driver descriptor map', { offsetBytes: 0 });
	ddm.u16be('sbSig');
	let blockSizeBytes = ddm.u16be('sbBlkSize');
	if (
		blockSizeBytes < DEFAULT_BLOCK_SIZE_BYTES ||
		blockSizeBytes > BLOCK_SIZE_MAX_BYTES ||
		blockSizeBytes % 512 !== 0
	) {
		if ((await signatureAt(src, DEFAULT_BLOCK_SIZE_BYTES)) !== ENTRY_SIGNATURE) return null;
		warnings.push(`APM: block size ${blockSizeBytes} is invalid; using ${DEFAULT_BLOCK_SIZE_BYTES}`);
		blockSizeBytes = DEFAULT_BLOCK_SIZE_BYTES;
	}
	if ((await signatureAt(src, blockSizeBytes)) !== ENTRY_SIGNATURE) return null;

	const partitions: Partition[] = [];
	let mapEntries = 1;
	for (let slot = 1; slot <= mapEntries; slot++) {
		const offsetBytes = slot * blockSizeBytes;
		if (offsetBytes + ENTRY_PARSED_BYTES > src.sizeBytes) {
			warnings.push(`APM: entry ${slot} is past the end of the disk`);
			break;
		}
		const r = new Reader(await src.read(offsetBytes, ENTRY_PARSED_BYTES), 'APM partition entry', {
			offsetBytes,
		});
		if (r.u16be('pmSig') !== ENTRY_SIGNATURE) {
			warnings.push(`APM: entry ${slot} has no 'PM' signature; map cut`);
			break;
		}
		r.skip(2, 'pmSigPad');
		const count = r.u32be('pmMapBlkCnt');
		if (slot === 1) {
			mapEntries = Math.min(count, APM_ENTRIES_MAX);
			if (count > APM_ENTRIES_MAX)
				warnings.push(`APM: map claims ${count} entries; reading ${APM_ENTRIES_MAX}`);
		}
		const startBlock = r.u32be('pmPyPartStart');
		const blockCount = r.u32be('pmPartBlkCnt');
		const name = cString(r.bytesView(NAME_BYTES, 'pmPartName'));
		const type = cString(r.bytesView(NAME_BYTES, 'pmParType'));
		if (isNonDataType(type) || blockCount === 0) continue;
		partitions.push({
			index: slot,
			startBytes: startBlock * blockSizeBytes,
			sizeBytes: blockCount * blockSizeBytes,
			typeId: type,
			typeName: apmTypeName(type),
			name,
		});
	}
	return { blockSizeBytes, partitions, warnings };
}
