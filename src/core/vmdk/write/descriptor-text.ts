// SPDX-License-Identifier: MIT
/**
 * Text of a new descriptor, in the order and spelling VMware's own products write it
 * (docs/vmdk-format.md "Descriptor we write"). Our parser reads it back in the tests.
 */
import { VmdkError } from '../../errors.js';
import type { DiskGeometry, ExtentType } from '../descriptor.js';

/** One extent line to write. */
export interface ExtentLine {
	/** Sectors of the virtual disk this extent covers. */
	readonly sizeSectors: number;
	/** `SPARSE` or `FLAT`. */
	readonly type: Extract<ExtentType, 'SPARSE' | 'FLAT'>;
	/** File name relative to the descriptor's folder. */
	readonly fileName: string;
}

/** What a new descriptor says. */
export interface DescriptorFields {
	/** Content ID, 8 hex digits; never ffffffff or fffffffe. */
	readonly cid: string;
	/** Parent's CID; `ffffffff` for a base disk. */
	readonly parentCid: string;
	/** `monolithicSparse`, `streamOptimized` … */
	readonly createType: string;
	/** Path of the parent's descriptor, for a snapshot. */
	readonly parentFileNameHint?: string | undefined;
	readonly extents: readonly ExtentLine[];
	/** `ddb.adapterType` value. */
	readonly adapterType: string;
	readonly geometry: DiskGeometry;
	/** `ddb.virtualHWVersion`. */
	readonly virtualHwVersion: number;
	/** `ddb.uuid` as VMware writes it (see {@link formatDdbUuid}); omitted for snapshots. */
	readonly uuid?: string | undefined;
	/** 24 random hex digits; `ddb.longContentID` is these followed by the CID, as VMware writes it. */
	readonly longContentIdPrefix: string;
}

/** `ddb.toolsVersion` for a disk no VMware Tools have written to: open-vmdk and QEMU write this. */
export const TOOLS_VERSION_UNKNOWN = '2147483647';

/** CID values readers treat specially: "no parent" and "no content yet". */
const RESERVED_CIDS = new Set(['ffffffff', 'fffffffe']);

/** A fresh CID from 4 random bytes, never one of the reserved values. */
export function makeCid(random: (length: number) => Uint8Array): string {
	for (;;) {
		const cid = hex(random(4));
		if (!RESERVED_CIDS.has(cid)) return cid;
	}
}

/** `ddb.uuid` text for 16 bytes: `60 00 c2 9a …-… ` — pairs separated by spaces, one dash in the middle. */
export function formatDdbUuid(bytes: Uint8Array): string {
	const pairs = [...bytes.subarray(0, 16)].map((b) => b.toString(16).padStart(2, '0'));
	return `${pairs.slice(0, 8).join(' ')}-${pairs.slice(8).join(' ')}`;
}

/** The descriptor text (LF line ends, UTF-8). */
export function formatDescriptor(fields: DescriptorFields): string {
	if (!/^[0-9a-f]{8}$/.test(fields.cid) || !/^[0-9a-f]{8}$/.test(fields.parentCid)) {
		throw new RangeError(`CIDs must be 8 lower-case hex digits: ${fields.cid}, ${fields.parentCid}`);
	}
	const lines = [
		'# Disk DescriptorFile',
		'version=1',
		'encoding="UTF-8"',
		`CID=${fields.cid}`,
		`parentCID=${fields.parentCid}`,
		'isNativeSnapshot="no"',
		`createType="${fields.createType}"`,
	];
	if (fields.parentFileNameHint !== undefined) {
		lines.push(`parentFileNameHint="${quoteSafe(fields.parentFileNameHint, 'parentFileNameHint')}"`);
	}
	lines.push('', '# Extent description');
	for (const e of fields.extents) {
		const offset = e.type === 'FLAT' ? ' 0' : '';
		lines.push(`RW ${e.sizeSectors} ${e.type} "${quoteSafe(e.fileName, 'extent file name')}"${offset}`);
	}
	const longContentId = `${fields.longContentIdPrefix}${fields.cid}`;
	lines.push(
		'',
		'# The Disk Data Base',
		'#DDB',
		'',
		`ddb.adapterType = "${fields.adapterType}"`,
		`ddb.geometry.cylinders = "${fields.geometry.cylinders}"`,
		`ddb.geometry.heads = "${fields.geometry.heads}"`,
		`ddb.geometry.sectors = "${fields.geometry.sectors}"`,
		`ddb.longContentID = "${longContentId}"`,
		`ddb.toolsVersion = "${TOOLS_VERSION_UNKNOWN}"`,
	);
	if (fields.uuid !== undefined) lines.push(`ddb.uuid = "${fields.uuid}"`);
	lines.push(`ddb.virtualHWVersion = "${fields.virtualHwVersion}"`, '');
	return lines.join('\n');
}

/** Descriptor values are quoted and have no escapes: a quote or line break cannot be written. */
function quoteSafe(value: string, what: string): string {
	if (/["\r\n\0]/.test(value)) {
		throw new VmdkError('VMDK_BAD_DESCRIPTOR', `${what} "${value}" contains a quote or line break`);
	}
	return value;
}

/** Lower-case hex of `bytes`. */
export function hex(bytes: Uint8Array): string {
	return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}
