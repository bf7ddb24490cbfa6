// SPDX-License-Identifier: MIT
/**
 * The member index of a tar archive (an `.ova` is one), read in place: one 512-byte header per
 * member plus any extended headers, never the member data. Formats (POSIX.1-2001 `pax`, with
 * GNU tar's manual as the reference for the GNU extensions; summary in docs/ova.md):
 *
 * - ustar header (512 bytes): name[100] mode[8] uid[8] gid[8] size[12] mtime[12] chksum[8]
 *   typeflag[1] linkname[100] magic[6] version[2] uname[32] gname[32] devmajor[8] devminor[8]
 *   prefix[155] pad[12]. Numbers are octal text; GNU/star write sizes ≥ 8 GiB as base-256
 *   (first byte 0x80, then big-endian). The checksum is the byte sum of the header with the
 *   checksum field read as spaces (some old writers summed signed bytes; both are accepted).
 * - typeflag `x`: a pax extended header whose records (`"<len> <key>=<value>\n"`) override the
 *   next member's `path`, `linkpath` and `size`; `g`: global pax header (read and ignored:
 *   OVA writers do not use it for paths); `L`/`K`: GNU long name / long link name for the next
 *   member. Data is padded to 512 bytes; the archive ends with zero blocks.
 *
 * Decisions:
 * - A bad checksum, a malformed number or pax record, or a member whose data runs past the end
 *   of the archive is `OVA_BAD_ARCHIVE`; an archive that ends inside a header or inside a
 *   member's data is `VMDK_TRUNCATED` (an interrupted download); missing end-of-archive zero
 *   blocks after a complete last member only warn (GNU tar accepts that too).
 * - Member names are kept as written (`./` stripped); `unsafe` marks absolute names and names
 *   with `..` segments, which callers never resolve.
 * - GNU sparse members (`S`, or pax `GNU.sparse.*`) are listed as `other`: their data is not
 *   stored contiguously, so it cannot be read in place.
 * - Memory is bounded: at most TAR_MAX_MEMBERS members, extended headers up to
 *   TAR_EXTENDED_HEADER_MAX_BYTES each, names up to TAR_NAME_MAX_CHARS.
 */
import { VmdkError, type ErrorLocation } from '../errors.js';
import { normalizePath } from '../io/paths.js';
import type { RandomAccessFile } from '../platform.js';

/** Size of a tar header and of the blocks data is padded to. */
export const TAR_BLOCK_BYTES = 512;
/** Most members we index in one archive (an OVA has a handful). */
export const TAR_MAX_MEMBERS = 10_000;
/** Largest pax extended header or GNU long-name payload we read. */
export const TAR_EXTENDED_HEADER_MAX_BYTES = 1024 * 1024;
/** Longest member name we accept, in characters (with TAR_MAX_MEMBERS, caps the index at ~10 MB). */
export const TAR_NAME_MAX_CHARS = 1024;

/** What a member is. */
export type TarMemberType = 'file' | 'directory' | 'link' | 'other';

/** One member of the archive. */
export interface TarMember {
	/** The name as written (pax `path`, GNU long name or ustar prefix/name), `./` stripped. */
	readonly name: string;
	/** The name normalised (`a//b/./c` → `a/b/c`); the key callers look members up by. */
	readonly path: string;
	/** What it is; only `file` members have readable data. */
	readonly type: TarMemberType;
	/** The typeflag character as written (`0`, `5`, `2`, `S` …), for messages. */
	readonly typeFlag: string;
	/** True for absolute names or names with `..` segments: never resolved by callers. */
	readonly unsafe: boolean;
	/** Byte offset of its first header (extended headers included). */
	readonly headerOffsetBytes: number;
	/** Byte offset of its data in the archive. */
	readonly dataOffsetBytes: number;
	/** Size of its data in bytes. */
	readonly sizeBytes: number;
	/** Symbolic or hard link target, for `link` members. */
	readonly linkName?: string | undefined;
}

/** The index of an archive. */
export interface TarIndex {
	/** Members in archive order. */
	readonly members: readonly TarMember[];
	/** Size of the archive file when indexed. */
	readonly archiveSizeBytes: number;
	/** Things that are odd but readable (missing end marker, duplicate names). */
	readonly warnings: readonly string[];
}

/** Overrides from extended headers for the next member. */
interface PendingExtensions {
	path?: string;
	linkPath?: string;
	size?: number;
	sparse?: boolean;
}

/** True if `block` (512 bytes) is a tar header with a valid checksum. */
export function isTarHeader(block: Uint8Array): boolean {
	if (block.length < TAR_BLOCK_BYTES || isZeroBlock(block)) return false;
	const stored = parseOctal(block.subarray(148, 156));
	return stored !== undefined && checksumMatches(block, stored);
}

/**
 * Reads the member index of the tar archive in `file`. Throws `OVA_BAD_ARCHIVE`,
 * `VMDK_TRUNCATED` or `VMDK_LIMIT` naming the byte offset at fault.
 */
export async function readTarIndex(file: RandomAccessFile): Promise<TarIndex> {
	const size = file.sizeBytes;
	const members: TarMember[] = [];
	const warnings: string[] = [];
	const header = new Uint8Array(TAR_BLOCK_BYTES);
	let pending: PendingExtensions = {};
	/** Where the headers of the member being assembled began. */
	let memberStart: number | undefined;
	let at = 0;
	let ended = false;
	for (;;) {
		if (at === size) break;
		if (at + TAR_BLOCK_BYTES > size) {
			throw new VmdkError(
				'VMDK_TRUNCATED',
				`the archive ends inside a tar header (${size - at} of ${TAR_BLOCK_BYTES} bytes present): it was cut short`,
				{ file: file.path, offsetBytes: at },
			);
		}
		await file.readInto(at, header, 0, TAR_BLOCK_BYTES);
		if (isZeroBlock(header)) {
			ended = true;
			break;
		}
		const location: ErrorLocation = { file: file.path, offsetBytes: at };
		const entry = parseHeader(header, location);
		memberStart ??= at;
		const dataAt = at + TAR_BLOCK_BYTES;
		const dataSize =
			entry.typeFlag === 'x' || entry.typeFlag === 'L' || entry.typeFlag === 'K' || entry.typeFlag === 'g'
				? entry.size
				: (pending.size ?? entry.size);
		const paddedEnd = dataAt + roundUp(dataSize);
		if (!Number.isSafeInteger(paddedEnd)) {
			throw new VmdkError('OVA_BAD_ARCHIVE', `tar member size ${dataSize} is impossible`, location);
		}
		if (dataAt + dataSize > size) {
			const name = pending.path ?? entry.name;
			throw new VmdkError(
				'VMDK_TRUNCATED',
				`tar member "${name}" says it holds ${dataSize} bytes from byte ${dataAt}, but the archive ends at byte ${size}: the archive was cut short or the member's size is wrong`,
				location,
			);
		}
		switch (entry.typeFlag) {
			case 'x':
			case 'g': {
				const records = await readExtension(file, dataAt, dataSize, location);
				if (entry.typeFlag === 'x') pending = { ...pending, ...parsePax(records, location) };
				break;
			}
			case 'L':
			case 'K': {
				const bytes = await readExtension(file, dataAt, dataSize, location);
				const name = decodeName(trimNul(bytes), location);
				if (entry.typeFlag === 'L') pending.path ??= name;
				else pending.linkPath ??= name;
				break;
			}
			default: {
				if (members.length >= TAR_MAX_MEMBERS) {
					throw new VmdkError('VMDK_LIMIT', `the archive has more than ${TAR_MAX_MEMBERS} members`, location);
				}
				members.push(makeMember(entry, pending, memberStart, dataAt, dataSize, location));
				pending = {};
				memberStart = undefined;
			}
		}
		at = paddedEnd > size ? size : paddedEnd;
	}
	if (memberStart !== undefined) {
		throw new VmdkError(
			'VMDK_TRUNCATED',
			'the archive ends after an extended header, before the member it describes',
			{ file: file.path, offsetBytes: memberStart },
		);
	}
	if (!ended) warnings.push(`${file.path}: no end-of-archive marker after the last member`);
	const seen = new Set<string>();
	for (const m of members) {
		if (m.type !== 'directory' && seen.has(m.path)) {
			warnings.push(`${file.path}: member "${m.name}" appears more than once; the last copy is used`);
		}
		seen.add(m.path);
	}
	return { members, archiveSizeBytes: size, warnings };
}

/** The fields of one 512-byte header we use. */
interface RawHeader {
	readonly name: string;
	readonly linkName: string;
	readonly size: number;
	readonly typeFlag: string;
}

function parseHeader(block: Uint8Array, location: ErrorLocation): RawHeader {
	const storedSum = parseOctal(block.subarray(148, 156));
	if (storedSum === undefined || !checksumMatches(block, storedSum)) {
		throw new VmdkError(
			'OVA_BAD_ARCHIVE',
			'not a valid tar header (checksum mismatch): the archive is damaged, or the member before it has a wrong size',
			location,
		);
	}
	const size = parseNumber(block.subarray(124, 136), 'size', location);
	const typeFlag = block[156] === 0 ? '0' : String.fromCharCode(block[156]!);
	const isUstar = ascii(block.subarray(257, 262)) === 'ustar';
	let name = decodeName(trimNul(block.subarray(0, 100)), location);
	// POSIX ustar splits long names into prefix + name; GNU's "ustar  " magic has no prefix field.
	if (isUstar && block[262] === 0) {
		const prefix = decodeName(trimNul(block.subarray(345, 500)), location);
		if (prefix !== '') name = `${prefix}/${name}`;
	}
	return { name, linkName: decodeName(trimNul(block.subarray(157, 257)), location), size, typeFlag };
}

function makeMember(
	entry: RawHeader,
	pending: PendingExtensions,
	headerOffsetBytes: number,
	dataOffsetBytes: number,
	sizeBytes: number,
	location: ErrorLocation,
): TarMember {
	const name = stripDotSlash(pending.path ?? entry.name);
	if (name.length > TAR_NAME_MAX_CHARS) {
		throw new VmdkError('VMDK_LIMIT', `tar member name is ${name.length} characters long`, location);
	}
	const path = normalizePath(name.replace(/\/+$/, ''));
	const unsafe = name.startsWith('/') || path === '..' || path.startsWith('../') || path === '.';
	let type: TarMemberType;
	switch (entry.typeFlag) {
		case '0':
		case '7':
			type = pending.sparse === true ? 'other' : 'file';
			break;
		case '5':
			type = 'directory';
			break;
		case '1':
		case '2':
			type = 'link';
			break;
		default:
			// Devices, FIFOs, GNU sparse files, volume labels, vendor extensions.
			type = 'other';
	}
	// An old-style directory: a regular entry whose name ends in "/".
	if (type === 'file' && name.endsWith('/')) type = 'directory';
	const linkName = type === 'link' ? (pending.linkPath ?? entry.linkName) : undefined;
	return {
		name,
		path,
		type,
		typeFlag: entry.typeFlag,
		unsafe,
		headerOffsetBytes,
		dataOffsetBytes,
		sizeBytes,
		...(linkName === undefined ? {} : { linkName }),
	};
}

async function readExtension(
	file: RandomAccessFile,
	at: number,
	size: number,
	location: ErrorLocation,
): Promise<Uint8Array> {
	if (size > TAR_EXTENDED_HEADER_MAX_BYTES) {
		throw new VmdkError(
			'VMDK_LIMIT',
			`tar extended header has invalid size ${size} (maximum ${TAR_EXTENDED_HEADER_MAX_BYTES})`,
			location,
		);
	}
	const out = new Uint8Array(size);
	await file.readInto(at, out, 0, size);
	return out;
}

/** Parses pax records `"<len> <key>=<value>\n"`; keeps the keys that change where data is. */
function parsePax(bytes: Uint8Array, location: ErrorLocation): PendingExtensions {
	const out: PendingExtensions = {};
	let at = 0;
	while (at < bytes.length) {
		// Some writers pad the record area with NULs.
		if (bytes[at] === 0) break;
		const space = bytes.indexOf(0x20, at);
		const lengthText = space < 0 ? '' : ascii(bytes.subarray(at, space));
		const length = /^[0-9]{1,8}$/.test(lengthText) ? Number(lengthText) : NaN;
		if (!(length > 0) || at + length > bytes.length || bytes[at + length - 1] !== 0x0a) {
			throw new VmdkError(
				'OVA_BAD_ARCHIVE',
				`malformed pax record at byte ${at} of the extended header`,
				location,
			);
		}
		const record = bytes.subarray(space + 1, at + length - 1);
		const eq = record.indexOf(0x3d);
		if (eq <= 0) {
			throw new VmdkError('OVA_BAD_ARCHIVE', `pax record at byte ${at} has no key=value`, location);
		}
		const key = ascii(record.subarray(0, eq));
		const value = record.subarray(eq + 1);
		switch (key) {
			case 'path':
				out.path = decodeName(value, location);
				break;
			case 'linkpath':
				out.linkPath = decodeName(value, location);
				break;
			case 'size': {
				const text = ascii(value);
				const n = /^[0-9]{1,16}$/.test(text) ? Number(text) : NaN;
				if (!Number.isSafeInteger(n)) {
					throw new VmdkError('OVA_BAD_ARCHIVE', `pax size "${text.slice(0, 40)}" is not a number`, location);
				}
				out.size = n;
				break;
			}
			default:
				if (key.startsWith('GNU.sparse.')) out.sparse = true;
		}
		at += length;
	}
	return out;
}

/** A numeric header field: octal text, or GNU base-256 when the high bit of byte 0 is set. */
function parseNumber(field: Uint8Array, what: string, location: ErrorLocation): number {
	const first = field[0] ?? 0;
	if (first & 0x80) {
		// 0xff starts a negative base-256 number: never a valid size.
		if (first !== 0x80) {
			throw new VmdkError('OVA_BAD_ARCHIVE', `tar ${what} field is a negative number`, location);
		}
		let n = 0;
		for (let i = 1; i < field.length; i++) n = n * 256 + field[i]!;
		if (!Number.isSafeInteger(n)) {
			throw new VmdkError('OVA_BAD_ARCHIVE', `tar ${what} field exceeds 2^53`, location);
		}
		return n;
	}
	const n = parseOctal(field);
	if (n === undefined) {
		throw new VmdkError(
			'OVA_BAD_ARCHIVE',
			`tar ${what} field "${ascii(trimNul(field)).slice(0, 12)}" is not an octal number`,
			location,
		);
	}
	return n;
}

/** Octal text padded with spaces or NULs; undefined if anything else is there. */
function parseOctal(field: Uint8Array): number | undefined {
	let i = 0;
	while (i < field.length && field[i] === 0x20) i++;
	let n = 0;
	let digits = 0;
	for (; i < field.length; i++) {
		const b = field[i]!;
		if (b === 0 || b === 0x20) break;
		if (b < 0x30 || b > 0x37) return undefined;
		n = n * 8 + (b - 0x30);
		digits++;
	}
	for (; i < field.length; i++) if (field[i] !== 0 && field[i] !== 0x20) return undefined;
	return digits === 0 ? 0 : n;
}

function checksumMatches(block: Uint8Array, stored: number): boolean {
	let unsigned = 0;
	let signed = 0;
	for (let i = 0; i < TAR_BLOCK_BYTES; i++) {
		const b = i >= 148 && i < 156 ? 0x20 : block[i]!;
		unsigned += b;
		signed += b > 127 ? b - 256 : b;
	}
	return stored === unsigned || stored === signed;
}

function isZeroBlock(block: Uint8Array): boolean {
	for (const b of block) if (b !== 0) return false;
	return true;
}

function roundUp(n: number): number {
	return Math.ceil(n / TAR_BLOCK_BYTES) * TAR_BLOCK_BYTES;
}

function trimNul(bytes: Uint8Array): Uint8Array {
	const end = bytes.indexOf(0);
	return end < 0 ? bytes : bytes.subarray(0, end);
}

function stripDotSlash(name: string): string {
	let out = name;
	while (out.startsWith('./')) out = out.slice(2);
	return out;
}

/** Names are UTF-8 (pax says so; modern writers use it for ustar too); Latin-1 if not valid. */
function decodeName(bytes: Uint8Array, location: ErrorLocation): string {
	if (bytes.length > TAR_NAME_MAX_CHARS * 4) {
		throw new VmdkError('VMDK_LIMIT', `tar member name is ${bytes.length} bytes long`, location);
	}
	try {
		return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
	} catch {
		return ascii(bytes);
	}
}

/** One char per byte. */
function ascii(bytes: Uint8Array): string {
	let s = '';
	for (const b of bytes) s += String.fromCharCode(b);
	return s;
}
