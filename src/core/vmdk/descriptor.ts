// SPDX-License-Identifier: MIT
/**
 * The VMDK text descriptor (docs/vmdk-format.md §1): a `# Disk DescriptorFile` header, `key=value`
 * lines, extent lines (`RW 6144 FLAT "disk-flat.vmdk" 0`) and the disk database (`ddb.*`).
 *
 * Decisions:
 * - Keys are case-insensitive and kept lower-cased; unknown keys are kept, never rejected.
 * - Values may be quoted; an unterminated quote is an error (it usually means a damaged file).
 * - Like QEMU's probe, a file whose first non-comment line is `version=N` is accepted even
 *   without the `# Disk DescriptorFile` comment.
 * - Lines are split on bytes and decoded one by one, so every error names its line and the
 *   exact byte offset of that line.
 * - A descriptor declaring no encoding, or UTF-8, whose bytes are not valid UTF-8 is decoded
 *   as windows-1252 (what older Windows VMware products wrote) with a warning.
 * - The text ends at its first NUL byte, as in QEMU, which reads it as a C string.
 *   qemu-img pads descriptor files with NULs, and when QEMU rewrites the CID with fewer hex
 *   digits (it writes them unpadded, about 1 image in 256) the end of the older, longer text
 *   stays after that NUL: refusing it made such valid disks fail to open.
 */
import { VmdkError, type ErrorLocation } from '../errors.js';
import { Limits, checkLimit } from '../io/limits.js';
import { sectorsToBytes } from '../io/safe-number.js';

/** Access modes of an extent line. */
const EXTENT_ACCESS_MODES = ['RW', 'RDONLY', 'NOACCESS'] as const;
/** How an extent may be accessed. `NOACCESS` extents must not be read. */
export type ExtentAccess = (typeof EXTENT_ACCESS_MODES)[number];

/** Extent types of an extent line. */
export const EXTENT_TYPES = [
	'FLAT',
	'SPARSE',
	'ZERO',
	'VMFS',
	'VMFSSPARSE',
	'SESPARSE',
	'VMFSRAW',
	'VMFSRDM',
] as const;
/** What kind of file backs an extent. */
export type ExtentType = (typeof EXTENT_TYPES)[number];

/** One extent line of the descriptor. */
export interface DescriptorExtent {
	/** `RW`, `RDONLY` or `NOACCESS`. */
	readonly access: ExtentAccess;
	/** Size of this extent in the virtual disk, in sectors. */
	readonly sizeSectors: number;
	/** Extent type. */
	readonly type: ExtentType;
	/** File name as written (relative to the descriptor's folder, or absolute); undefined for ZERO. */
	readonly fileName: string | undefined;
	/** Start of the data inside the file, in sectors (FLAT/VMFS/raw extents; 0 when absent). */
	readonly offsetSectors: number;
	/** Tokens after the offset (VMware Player device extents add a partition UUID and device id). */
	readonly extra: readonly string[];
	/** 1-based line number in the descriptor, for error messages. */
	readonly lineNumber: number;
}

/** A CHS geometry from the disk database. */
export interface DiskGeometry {
	/** Cylinder count. */
	readonly cylinders: number;
	/** Heads per cylinder. */
	readonly heads: number;
	/** Sectors per track. */
	readonly sectors: number;
}

/** The disk database (`ddb.*` keys). Typed views of the well-known keys plus every entry. */
export interface DiskDatabase {
	/** `ddb.virtualHWVersion`: the VMware virtual hardware version that made the disk. */
	readonly virtualHwVersion: string | undefined;
	/** `ddb.adapterType`: `ide`, `buslogic`, `lsilogic`, `legacyESX` … */
	readonly adapterType: string | undefined;
	/** `ddb.geometry.{cylinders,heads,sectors}`, when all three are valid numbers. */
	readonly geometry: DiskGeometry | undefined;
	/** `ddb.geometry.bios{Cylinders,Heads,Sectors}`, when all three are valid numbers. */
	readonly biosGeometry: DiskGeometry | undefined;
	/** `ddb.uuid` as written (VMware writes 16 hex bytes separated by spaces and a dash). */
	readonly uuid: string | undefined;
	/** `ddb.longContentID`: 32 hex digits that change with the content. */
	readonly longContentId: string | undefined;
	/** `ddb.toolsVersion`. */
	readonly toolsVersion: string | undefined;
	/** `ddb.thinProvisioned = "1"` (ESXi thin disks with createType `vmfs`). */
	readonly thinProvisioned: boolean;
	/** Every `ddb.*` entry, keys lower-cased (including `ddb.`), values unquoted. */
	readonly entries: ReadonlyMap<string, string>;
}

/** A parsed descriptor. */
export interface Descriptor {
	/** `version`: 1, 2 or 3 (3 adds change tracking, which readers may ignore). */
	readonly version: number;
	/** The text encoding used to decode the descriptor (`UTF-8` unless it said otherwise). */
	readonly encoding: string;
	/** `CID`: content ID, 8 lower-case hex digits; undefined when the descriptor has none. */
	readonly cid: string | undefined;
	/** `parentCID`: the parent's CID when this was made; `ffffffff` means no parent. */
	readonly parentCid: string | undefined;
	/** `createType` exactly as written (see create-types.ts for its meaning). */
	readonly createType: string;
	/** `parentFileNameHint`: the parent descriptor's path (relative, POSIX- or Windows-absolute). */
	readonly parentFileNameHint: string | undefined;
	/** Extent lines in order; they are laid end to end to form the disk. */
	readonly extents: readonly DescriptorExtent[];
	/** The disk database. */
	readonly ddb: DiskDatabase;
	/** Every header (non-`ddb.`) entry, keys lower-cased, values unquoted; unknown keys too. */
	readonly entries: ReadonlyMap<string, string>;
	/** Sum of the extents' sizes, in bytes. */
	readonly capacityBytes: number;
	/** Things that did not stop parsing but that the user may want to know. */
	readonly warnings: readonly string[];
}

/** The CID value meaning "no parent" (and "unknown"). */
export const NO_PARENT_CID = 'ffffffff';

const LF = 0x0a;
const CR = 0x0d;
const NUL = 0x00;
const UTF8_BOM = [0xef, 0xbb, 0xbf] as const;
const DEFAULT_ENCODING = 'UTF-8';
/** The encoding older Windows VMware products wrote without declaring it. */
const FALLBACK_ENCODING = 'windows-1252';
/** Versions we read; VMware KB 2064959: version 3 only adds change tracking. */
const MIN_VERSION = 1;
const MAX_VERSION = 3;
/** Longest excerpt of a bad line quoted in an error. */
const EXCERPT_MAX_CHARS = 60;

const SIGNATURE_RE = /^#\s*disk\s*descriptor\s*file\s*$/i;
const EXTENT_START_RE = /^(RW|RDONLY|NOACCESS)\s/i;
const KEY_VALUE_RE = /^([A-Za-z0-9_.:-]+)\s*=\s*(.*)$/;
const DECIMAL_RE = /^\d+$/;
const HEX_CID_RE = /^[0-9a-f]{1,8}$/i;
const ENCODING_SCAN_RE = /^[ \t]*encoding[ \t]*=[ \t]*"?([^"\r\n]*?)"?[ \t]*$/im;

/** One line of the descriptor as bytes, with its position. */
interface RawLine {
	readonly number: number;
	readonly offsetBytes: number;
	readonly bytes: Uint8Array;
}

/**
 * Cuts an embedded descriptor at its first NUL: the descriptor area of a sparse extent is
 * zero-padded to whole sectors, and the padding is not part of the text.
 */
export function trimDescriptorPadding(area: Uint8Array): Uint8Array {
	const end = area.indexOf(NUL);
	return end < 0 ? area : area.subarray(0, end);
}

/**
 * Parses a text descriptor. `location` names the file (and, for an embedded descriptor, the
 * byte offset of the descriptor inside it) in errors. The text ends at the first NUL byte;
 * whatever follows it (padding, or the stale end of an older text) is ignored, as QEMU does.
 * Throws VMDK_LIMIT over `Limits.DESCRIPTOR_MAX_BYTES`, VMDK_BAD_DESCRIPTOR on
 * syntax errors (with the line), VMDK_UNSUPPORTED_VERSION / VMDK_UNSUPPORTED_TYPE for versions
 * and extent types we do not read.
 */
export function parseDescriptor(text: Uint8Array | string, location: ErrorLocation = {}): Descriptor {
	const given = typeof text === 'string' ? new TextEncoder().encode(text) : text;
	const base = location.offsetBytes ?? 0;
	checkLimit('descriptor', given.length, Limits.DESCRIPTOR_MAX_BYTES, location);
	// C-string semantics (see the module comment): the first NUL ends the text.
	const nulAt = given.indexOf(NUL);
	const bytes = nulAt < 0 ? given : given.subarray(0, nulAt);
	// When text was cut off (a NUL inside a damaged file), errors say where the text ended.
	const cutNote =
		nulAt >= 0 && given.subarray(nulAt).some((b) => b !== NUL)
			? ` (the text ends at the NUL byte at offset ${base + nulAt}; what follows it is ignored)`
			: '';
	const warnings: string[] = [];
	const { decoder, encoding } = chooseDecoder(bytes, warnings);
	const parser = new DescriptorParser(location, warnings, cutNote);
	let sawContent = false;
	for (const raw of splitLines(bytes)) {
		const line = decoder.decode(raw.bytes).trim();
		if (!sawContent) {
			if (line === '') continue;
			sawContent = true;
			if (!SIGNATURE_RE.test(line) && !startsWithVersion(bytes)) {
				throw parser.error(raw, `expected "# Disk DescriptorFile" but found "${excerpt(line)}"`);
			}
		}
		parser.line(raw, line);
	}
	return parser.finish(encoding);
}

/** Accumulates entries and extents line by line, then validates the whole. */
class DescriptorParser {
	private readonly location: ErrorLocation;
	private readonly warnings: string[];
	private readonly entries = new Map<string, string>();
	private readonly ddbEntries = new Map<string, string>();
	/** Line of each header key, for errors about its value. */
	private readonly keyLines = new Map<string, RawLine>();
	private readonly extents: DescriptorExtent[] = [];
	private capacitySectors = 0;
	private lastLine: RawLine = { number: 0, offsetBytes: 0, bytes: new Uint8Array(0) };
	/** Appended to every error when the text was cut at a NUL with more bytes after it. */
	private readonly cutNote: string;

	constructor(location: ErrorLocation, warnings: string[], cutNote = '') {
		this.location = location;
		this.warnings = warnings;
		this.cutNote = cutNote;
	}

	error(
		raw: RawLine,
		message: string,
		code:
			| 'VMDK_BAD_DESCRIPTOR'
			| 'VMDK_UNSUPPORTED_VERSION'
			| 'VMDK_UNSUPPORTED_TYPE'
			| 'VMDK_LIMIT' = 'VMDK_BAD_DESCRIPTOR',
	): VmdkError {
		return new VmdkError(code, `descriptor line ${raw.number}: ${message}${this.cutNote}`, {
			file: this.location.file,
			offsetBytes: (this.location.offsetBytes ?? 0) + raw.offsetBytes,
		});
	}

	line(raw: RawLine, line: string): void {
		this.lastLine = raw;
		if (line === '' || line.startsWith('#')) return;
		if (EXTENT_START_RE.test(line)) {
			this.extent(raw, line);
			return;
		}
		const kv = KEY_VALUE_RE.exec(line);
		if (kv === null) {
			throw this.error(raw, `cannot parse "${excerpt(line)}" (expected key=value or an extent line)`);
		}
		const key = (kv[1] ?? '').toLowerCase();
		const value = this.unquote(raw, (kv[2] ?? '').trim());
		if (key.startsWith('ddb.')) {
			this.ddbEntries.set(key, value);
		} else {
			this.entries.set(key, value);
			this.keyLines.set(key, raw);
		}
	}

	private unquote(raw: RawLine, value: string): string {
		if (!value.startsWith('"')) return value;
		const close = value.indexOf('"', 1);
		if (close < 0) throw this.error(raw, `unterminated quote in "${excerpt(value)}"`);
		const rest = value.slice(close + 1).trim();
		if (rest !== '' && !rest.startsWith('#')) {
			throw this.error(raw, `unexpected text after the quoted value: "${excerpt(rest)}"`);
		}
		return value.slice(1, close);
	}

	/** `ACCESS SECTORS TYPE ["file name" [OFFSET [extra…]]]`. */
	private extent(raw: RawLine, line: string): void {
		checkLimit('extent count', this.extents.length + 1, Limits.EXTENTS_MAX, this.locationOf(raw));
		const tokens = this.tokenize(raw, line);
		const [accessText = '', sizeText = '', typeText = ''] = tokens;
		const access = EXTENT_ACCESS_MODES.find((a) => a === accessText.toUpperCase());
		if (access === undefined) throw this.error(raw, `unknown extent access "${accessText}"`);
		if (!DECIMAL_RE.test(sizeText))
			throw this.error(raw, `extent size "${sizeText}" is not a number of sectors`);
		const sizeSectors = Number(sizeText);
		if (!Number.isSafeInteger(sizeSectors) || sizeSectors === 0) {
			throw this.error(raw, `extent size ${sizeText} sectors is invalid`);
		}
		if (typeText === '') throw this.error(raw, 'extent line has no type');
		const type = EXTENT_TYPES.find((t) => t === typeText.toUpperCase());
		if (type === undefined) {
			throw this.error(
				raw,
				`extent type "${typeText}" is not one we read (${EXTENT_TYPES.join(', ')})`,
				'VMDK_UNSUPPORTED_TYPE',
			);
		}
		let fileName: string | undefined;
		let rest = tokens.slice(3);
		if (type !== 'ZERO') {
			fileName = rest[0];
			if (fileName === undefined || fileName === '') throw this.error(raw, `${type} extent names no file`);
			rest = rest.slice(1);
		}
		let offsetSectors = 0;
		const offsetText = rest[0];
		if (offsetText !== undefined && DECIMAL_RE.test(offsetText)) {
			offsetSectors = Number(offsetText);
			if (!Number.isSafeInteger(offsetSectors))
				throw this.error(raw, `extent offset ${offsetText} is too large`);
			sectorsToBytes(offsetSectors, 'extent offset', this.locationOf(raw));
			rest = rest.slice(1);
		}
		this.capacitySectors += sizeSectors;
		const capacityBytes = sectorsToBytes(this.capacitySectors, 'disk size', this.locationOf(raw));
		if (capacityBytes > Limits.DISK_MAX_BYTES) {
			throw this.error(
				raw,
				`extents add up to ${capacityBytes} bytes, over the ${Limits.DISK_MAX_BYTES}-byte limit`,
				'VMDK_LIMIT',
			);
		}
		this.extents.push({
			access,
			sizeSectors,
			type,
			fileName,
			offsetSectors,
			extra: rest,
			lineNumber: raw.number,
		});
	}

	/** Splits on blanks, keeping a double-quoted file name (which may hold spaces) whole. */
	private tokenize(raw: RawLine, line: string): string[] {
		const tokens: string[] = [];
		let i = 0;
		while (i < line.length) {
			const c = line[i] ?? '';
			if (c === ' ' || c === '\t') {
				i++;
			} else if (c === '"') {
				const close = line.indexOf('"', i + 1);
				if (close < 0) throw this.error(raw, `unterminated quote in "${excerpt(line)}"`);
				tokens.push(line.slice(i + 1, close));
				i = close + 1;
			} else {
				let j = i;
				while (j < line.length && line[j] !== ' ' && line[j] !== '\t') j++;
				tokens.push(line.slice(i, j));
				i = j;
			}
		}
		return tokens;
	}

	private locationOf(raw: RawLine): ErrorLocation {
		return { file: this.location.file, offsetBytes: (this.location.offsetBytes ?? 0) + raw.offsetBytes };
	}

	finish(encoding: string): Descriptor {
		const versionText = this.entries.get('version');
		let version = MIN_VERSION;
		if (versionText !== undefined) {
			const raw = this.keyLines.get('version') ?? this.lastLine;
			if (!DECIMAL_RE.test(versionText)) throw this.error(raw, `version "${versionText}" is not a number`);
			version = Number(versionText);
			if (version < MIN_VERSION || version > MAX_VERSION) {
				throw this.error(
					raw,
					`descriptor version ${version} is not one we read (${MIN_VERSION}–${MAX_VERSION})`,
					'VMDK_UNSUPPORTED_VERSION',
				);
			}
		}
		const createType = this.entries.get('createtype');
		if (createType === undefined || createType === '') {
			throw this.error(this.lastLine, 'the descriptor has no createType');
		}
		if (this.extents.length === 0) throw this.error(this.lastLine, 'the descriptor lists no extents');
		const hint = this.entries.get('parentfilenamehint');
		return {
			version,
			encoding,
			cid: this.cid('cid'),
			parentCid: this.cid('parentcid'),
			createType,
			parentFileNameHint: hint === undefined || hint === '' ? undefined : hint,
			extents: this.extents,
			ddb: diskDatabase(this.ddbEntries),
			entries: this.entries,
			capacityBytes: sectorsToBytes(this.capacitySectors, 'disk size', this.location),
			warnings: this.warnings,
		};
	}

	/** A CID in canonical form: 8 lower-case hex digits. */
	private cid(key: string): string | undefined {
		const value = this.entries.get(key);
		if (value === undefined) return undefined;
		if (!HEX_CID_RE.test(value)) {
			throw this.error(
				this.keyLines.get(key) ?? this.lastLine,
				`${key} "${excerpt(value)}" is not 8 hex digits`,
			);
		}
		return value.toLowerCase().padStart(8, '0');
	}
}

function diskDatabase(entries: ReadonlyMap<string, string>): DiskDatabase {
	const geometry = (c: string, h: string, s: string): DiskGeometry | undefined => {
		const [cylinders, heads, sectors] = [c, h, s].map((k) => {
			const v = entries.get(`ddb.geometry.${k}`);
			return v !== undefined && DECIMAL_RE.test(v) ? Number(v) : undefined;
		});
		if (cylinders === undefined || heads === undefined || sectors === undefined) return undefined;
		return { cylinders, heads, sectors };
	};
	return {
		virtualHwVersion: entries.get('ddb.virtualhwversion'),
		adapterType: entries.get('ddb.adaptertype'),
		geometry: geometry('cylinders', 'heads', 'sectors'),
		biosGeometry: geometry('bioscylinders', 'biosheads', 'biossectors'),
		uuid: entries.get('ddb.uuid'),
		longContentId: entries.get('ddb.longcontentid'),
		toolsVersion: entries.get('ddb.toolsversion'),
		thinProvisioned: entries.get('ddb.thinprovisioned') === '1',
		entries,
	};
}

/** Splits on LF, CRLF or lone CR, keeping each line's byte offset. */
function splitLines(bytes: Uint8Array): RawLine[] {
	const lines: RawLine[] = [];
	let start = 0;
	if (UTF8_BOM.every((b, i) => bytes[i] === b)) start = UTF8_BOM.length;
	let number = 1;
	for (let i = start; i <= bytes.length; i++) {
		const b = bytes[i];
		if (i === bytes.length || b === LF || b === CR) {
			lines.push({ number, offsetBytes: start, bytes: bytes.subarray(start, i) });
			number++;
			if (b === CR && bytes[i + 1] === LF) i++;
			start = i + 1;
		}
	}
	return lines;
}

/** Latin-1 view of bytes: every byte one char, so ASCII keys can be found before decoding. */
function latin1(bytes: Uint8Array): string {
	let s = '';
	const CHUNK = 8192;
	for (let i = 0; i < bytes.length; i += CHUNK) {
		s += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
	}
	return s;
}

/** True if the first line that is neither blank nor a comment is `version=…` (QEMU's probe). */
function startsWithVersion(bytes: Uint8Array): boolean {
	for (const line of latin1(bytes).split(/\r\n|\n|\r/)) {
		const t = line.trim();
		if (t === '' || t.startsWith('#')) continue;
		return /^version\s*=/i.test(t);
	}
	return false;
}

/** Picks the decoder named by the `encoding` key, falling back as the module comment says. */
function chooseDecoder(bytes: Uint8Array, warnings: string[]): { decoder: TextDecoder; encoding: string } {
	const declared = ENCODING_SCAN_RE.exec(latin1(bytes))?.[1]?.trim();
	const label = declared === undefined || declared === '' ? DEFAULT_ENCODING : declared;
	let decoder: TextDecoder;
	try {
		decoder = new TextDecoder(label, { fatal: true });
	} catch {
		warnings.push(`descriptor encoding "${label}" is not supported here; decoded as ${FALLBACK_ENCODING}`);
		return { decoder: fallbackDecoder(), encoding: FALLBACK_ENCODING };
	}
	try {
		decoder.decode(bytes);
		return { decoder, encoding: label };
	} catch {
		warnings.push(`descriptor is not valid ${label}; decoded as ${FALLBACK_ENCODING}`);
		return { decoder: fallbackDecoder(), encoding: FALLBACK_ENCODING };
	}
}

/** windows-1252 where the runtime has it (Node with ICU), otherwise Latin-1, which never fails. */
function fallbackDecoder(): TextDecoder {
	try {
		return new TextDecoder(FALLBACK_ENCODING);
	} catch {
		return { decode: (input?: Uint8Array) => latin1(input ?? new Uint8Array(0)) };
	}
}

function excerpt(s: string): string {
	return s.length <= EXCERPT_MAX_CHARS ? s : `${s.slice(0, EXCERPT_MAX_CHARS)}…`;
}
