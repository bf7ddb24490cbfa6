// SPDX-License-Identifier: MIT
/**
 * Which kind of VMDK file this is, from its first bytes — and, when it is none, what it looks
 * like instead, so the user learns "that is a QCOW2 image" rather than "bad magic".
 * `DETECT_PREFIX_BYTES` bytes are enough for every signature checked here.
 */

/** The kinds of file a VMDK disk is made of that can be opened by themselves. */
export type VmdkKind =
	/** A text descriptor (`# Disk DescriptorFile`). */
	| 'descriptor'
	/** A hosted sparse extent (`KDMV`): monolithicSparse, streamOptimized, split or snapshot. */
	| 'hosted-sparse'
	/** An ESX sparse extent (`COWD`, vmfsSparse redo logs). */
	| 'cowd'
	/** An ESXi space-efficient sparse extent (magic 0xCAFEBABE). */
	| 'sesparse';

/** How many leading bytes detection looks at (covers the ISO 9660 volume descriptor at 32 KiB). */
export const DETECT_PREFIX_BYTES = 36 * 1024;

/** `KDMV` at byte 0 of a hosted sparse extent. */
const KDMV_SIGNATURE = [0x4b, 0x44, 0x4d, 0x56];
/** `COWD` at byte 0 of an ESX sparse extent. */
const COWD_SIGNATURE = [0x43, 0x4f, 0x57, 0x44];
/** seSparse const-header magic, u64 little-endian 0x00000000CAFEBABE. */
const SESPARSE_SIGNATURE = [0xbe, 0xba, 0xfe, 0xca, 0, 0, 0, 0];
/** How many leading bytes a text descriptor's signature must appear in. */
const DESCRIPTOR_SCAN_BYTES = 4096;

/** The kind of VMDK file `first` (the file's leading bytes) starts, or undefined. */
export function detectVmdkKind(first: Uint8Array): VmdkKind | undefined {
	if (startsWith(first, KDMV_SIGNATURE)) return 'hosted-sparse';
	if (startsWith(first, COWD_SIGNATURE)) return 'cowd';
	if (startsWith(first, SESPARSE_SIGNATURE)) return 'sesparse';
	if (looksLikeDescriptor(first)) return 'descriptor';
	return undefined;
}

/**
 * True if the text begins like a descriptor: after blank lines, `# Disk DescriptorFile` (or
 * `# Disk Descriptor File`), or — as QEMU accepts — comments followed by `version=N`.
 */
function looksLikeDescriptor(first: Uint8Array): boolean {
	let text = ascii(first.subarray(0, DESCRIPTOR_SCAN_BYTES));
	if (text.startsWith('\u00ef\u00bb\u00bf')) text = text.slice(3);
	let firstContent = true;
	for (const line of text.split(/\r\n|\n|\r/)) {
		const t = line.trim();
		if (t === '') continue;
		if (firstContent && /^#\s*disk\s*descriptor\s*file\s*$/i.test(t)) return true;
		firstContent = false;
		if (t.startsWith('#')) continue;
		return /^version\s*=\s*"?\d+"?$/i.test(t);
	}
	return false;
}

/**
 * A phrase saying what a non-VMDK file looks like ("a QCOW2 image", "empty", "a raw disk image
 * with an MBR" …), for VMDK_NOT_VMDK messages. `first` is the file's leading bytes.
 */
export function describeNonVmdk(first: Uint8Array): string {
	if (first.length === 0) return 'empty';
	const text = ascii(first.subarray(0, 64));
	if (text.startsWith('QFI\u00fb')) return first[7] === 1 ? 'a QCOW image' : 'a QCOW2 image';
	if (text.startsWith('conectix')) return 'a VHD image';
	if (text.startsWith('vhdxfile')) return 'a VHDX image';
	if (text.startsWith('<<< ') && text.includes('VirtualBox')) return 'a VirtualBox VDI image';
	if (readU32le(first, 0x40) === 0xbeda107f) return 'a VirtualBox VDI image';
	if (text.startsWith('WithoutFreeSpace') || text.startsWith('WithouFreSpacExt')) return 'a Parallels image';
	if (text.startsWith('PK\u0003\u0004')) return 'a zip archive (extract the .vmdk from it first)';
	if (first[0] === 0x1f && first[1] === 0x8b) return 'a gzip archive (extract the .vmdk from it first)';
	if (text.startsWith('\u00fd7zXZ\u0000')) return 'an xz archive (extract the .vmdk from it first)';
	if (text.startsWith('BZh')) return 'a bzip2 archive (extract the .vmdk from it first)';
	if (text.startsWith('7z\u00bc\u00af\u0027\u001c'))
		return 'a 7-Zip archive (extract the .vmdk from it first)';
	if (ascii(first.subarray(257, 262)) === 'ustar') {
		return 'a tar archive (an OVA appliance? name it .ova to open it in place)';
	}
	if (ascii(first.subarray(3, 11)) === 'NTFS    ') return 'a raw NTFS filesystem image';
	if (readU16le(first, 1080) === 0xef53) return 'a raw ext2/3/4 filesystem image';
	if (ascii(first.subarray(0, 4)) === 'XFSB') return 'a raw XFS filesystem image';
	if (ascii(first.subarray(0x8001, 0x8006)) === 'CD001') return 'an ISO 9660 (CD/DVD) image';
	if (ascii(first.subarray(512, 520)) === 'EFI PART') return 'a raw disk image with a GPT partition table';
	if (first[510] === 0x55 && first[511] === 0xaa) {
		if (ascii(first.subarray(54, 57)) === 'FAT' || ascii(first.subarray(82, 85)) === 'FAT') {
			return 'a raw FAT filesystem image';
		}
		return 'a raw disk image with an MBR';
	}
	if (isMostlyText(first)) {
		const sample = ascii(first.subarray(0, DESCRIPTOR_SCAN_BYTES));
		if (/^\s*(\.encoding|config\.version|virtualhw\.version)\s*=/im.test(sample)) {
			return 'a VMware .vmx configuration file (open the VM bundle or the .vmdk it names)';
		}
		return 'text that is not a VMDK descriptor';
	}
	if (first.every((b) => b === 0)) return `all zero bytes in its first ${first.length} bytes (a raw disk?)`;
	const hex = [...first.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
	return `binary data of an unknown kind (starts ${hex})`;
}

function startsWith(bytes: Uint8Array, signature: readonly number[]): boolean {
	return bytes.length >= signature.length && signature.every((b, i) => bytes[i] === b);
}

/** One char per byte, so ASCII signatures can be compared as strings. */
function ascii(bytes: Uint8Array): string {
	let s = '';
	for (const b of bytes) s += String.fromCharCode(b);
	return s;
}

function readU16le(bytes: Uint8Array, at: number): number | undefined {
	const lo = bytes[at];
	const hi = bytes[at + 1];
	return lo === undefined || hi === undefined ? undefined : lo | (hi << 8);
}

function readU32le(bytes: Uint8Array, at: number): number | undefined {
	const lo = readU16le(bytes, at);
	const hi = readU16le(bytes, at + 2);
	return lo === undefined || hi === undefined ? undefined : (lo + hi * 0x10000) >>> 0;
}

/** True if the first KiB is printable ASCII/UTF-8 text (tabs and line breaks allowed). */
function isMostlyText(bytes: Uint8Array): boolean {
	const sample = bytes.subarray(0, 1024);
	let printable = 0;
	for (const b of sample) {
		if (b === 0) return false;
		if (b === 0x09 || b === 0x0a || b === 0x0d || (b >= 0x20 && b !== 0x7f)) printable++;
	}
	return printable >= sample.length * 0.95;
}
