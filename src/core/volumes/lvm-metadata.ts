// SPDX-License-Identifier: MIT
/**
 * LVM2 text metadata: the metadata-area header (`mda_header`, lvm2
 * `lib/format_text/layout.h`), the circular buffer holding the current VG text, a small
 * hand-written parser for LVM's config syntax (`name { key = value }`, strings, numbers,
 * arrays, `#` comments), and the interpretation of a volume group from it.
 */
import { VmdkError, type ErrorLocation } from '../errors.js';
import type { ByteSource } from '../io/byte-source.js';
import { Reader } from '../io/reader.js';
import { crc32Update } from '../partitions/crc32.js';
import { LVM_INITIAL_CRC, LVM_SECTOR_SIZE_BYTES, type LvmLabel } from './lvm-label.js';

/** Magic of the metadata-area header: " LVM2 x[5A%r0N*>". */
const MDA_MAGIC = ' LVM2 x[5A%r0N*>';
/** The mda header occupies the first sector of the area; the text buffer follows it. */
const MDA_HEADER_SIZE_BYTES = 512;
/** The header checksum covers the sector after its own 4-byte field. */
const MDA_CRC_START = 4;
/** raw_locn flag: this metadata copy is ignored (`pvchange --metadataignore`). */
const RAW_LOCN_IGNORED = 0x1;
/** Largest metadata text we read; real VGs are a few KiB. */
const LVM_METADATA_MAX_BYTES = 1024 * 1024;
/** Deepest section nesting we parse (LVM uses 4). */
const CONFIG_DEPTH_MAX = 32;
/** Most segments per LV and LVs per VG we interpret. */
const LVM_ITEMS_MAX = 4096;

/** A scalar or array value in LVM config text. */
export type LvmValue = string | number | readonly LvmValue[];

/** A `name { … }` block: its `key = value` pairs and its sub-sections, in file order. */
export interface LvmSection {
	/** `key = value` pairs. */
	readonly values: ReadonlyMap<string, LvmValue>;
	/** Nested sections by name, in file order (Map keeps insertion order). */
	readonly sections: ReadonlyMap<string, LvmSection>;
}

/** One physical volume of a VG as its metadata describes it. */
export interface LvmPhysicalVolume {
	/** Key in `physical_volumes` (`pv0`), which segments refer to. */
	readonly key: string;
	/** PV UUID without dashes (matches the label's `pvUuid`). */
	readonly id: string;
	/** Device path at the time of writing (a hint only). */
	readonly deviceHint: string | undefined;
	/** First extent's offset from the PV start, in 512-byte sectors. */
	readonly peStartSectors: number;
	/** Number of extents on this PV. */
	readonly peCount: number;
}

/** One stripe of a segment: where its extents start on which PV. */
export interface LvmStripe {
	/** PV key (`pv0`). */
	readonly pvKey: string;
	/** First physical extent on that PV. */
	readonly startExtent: number;
}

/** A segment of a logical volume. */
export interface LvmSegment {
	/** First logical extent of the segment. */
	readonly startExtent: number;
	/** Number of logical extents. */
	readonly extentCount: number;
	/** Segment type (`striped`, `thin`, `raid1`, `mirror`, `snapshot` …). */
	readonly type: string;
	/** `stripe_count` for striped segments (1 = linear), else 0. */
	readonly stripeCount: number;
	/** `stripes` for striped segments. */
	readonly stripes: readonly LvmStripe[];
}

/** A logical volume. */
export interface LvmLogicalVolume {
	/** LV name. */
	readonly name: string;
	/** LV UUID without dashes. */
	readonly id: string;
	/** False for internal LVs (`_tmeta`, `_rimage_0`, snapshot COW …) that LVM hides. */
	readonly visible: boolean;
	/** Segments ordered by `startExtent`. */
	readonly segments: readonly LvmSegment[];
}

/** A volume group. */
export interface LvmVolumeGroup {
	/** VG name. */
	readonly name: string;
	/** VG UUID without dashes. */
	readonly id: string;
	/** Metadata sequence number; the highest copy is current. */
	readonly seqno: number;
	/** Extent size in 512-byte sectors. */
	readonly extentSizeSectors: number;
	/** PVs by key. */
	readonly physicalVolumes: ReadonlyMap<string, LvmPhysicalVolume>;
	/** LVs in file order. */
	readonly logicalVolumes: readonly LvmLogicalVolume[];
}

/**
 * Reads the current metadata text of a PV: the first metadata area whose header has the
 * LVM2 magic and a non-ignored, in-bounds raw location. Checksum mismatches are warnings.
 */
export async function readLvmMetadataText(
	pv: ByteSource,
	label: LvmLabel,
	location: ErrorLocation = {},
): Promise<{ text: string | null; warnings: string[] }> {
	const warnings: string[] = [];
	for (const area of label.metadataAreas) {
		const at = area.offsetBytes;
		if (at + MDA_HEADER_SIZE_BYTES > pv.sizeBytes) {
			warnings.push(`LVM metadata area at byte ${at} is outside the PV`);
			continue;
		}
		const header = await pv.read(at, MDA_HEADER_SIZE_BYTES);
		const r = new Reader(header, 'LVM mda_header', {
			...location,
			offsetBytes: (location.offsetBytes ?? 0) + at,
		});
		const storedCrc = r.u32le('checksum_xl');
		if (String.fromCharCode(...r.bytesView(MDA_MAGIC.length, 'magic')) !== MDA_MAGIC) {
			warnings.push(`LVM metadata area at byte ${at} has no mda_header magic`);
			continue;
		}
		if (crc32Update(LVM_INITIAL_CRC, header.subarray(MDA_CRC_START)) !== storedCrc) {
			warnings.push(`LVM metadata area header at byte ${at} has a bad checksum`);
		}
		r.u32le('version');
		r.u64le('start');
		const mdaSize = r.u64le('size');
		const offset = r.u64le('raw_locn offset');
		const size = r.u64le('raw_locn size');
		const textCrc = r.u32le('raw_locn checksum');
		const flags = r.u32le('raw_locn flags');
		if (offset === 0n || (flags & RAW_LOCN_IGNORED) !== 0) continue;
		const problem = checkLocation(mdaSize, offset, size, area.sizeBytes);
		if (problem !== undefined) {
			warnings.push(`LVM metadata area at byte ${at}: ${problem}`);
			continue;
		}
		const areaSize = Number(mdaSize);
		const textOffset = Number(offset);
		const textSize = Number(size);
		// The buffer is circular: text that runs past the end continues after the header.
		const firstPart = Math.min(textSize, areaSize - textOffset);
		const parts: [number, number][] = [[at + textOffset, firstPart]];
		if (firstPart < textSize) parts.push([at + MDA_HEADER_SIZE_BYTES, textSize - firstPart]);
		if (parts.some(([o, n]) => o + n > pv.sizeBytes)) {
			warnings.push(`LVM metadata text at byte ${at + textOffset} runs past the end of the PV`);
			continue;
		}
		const raw = new Uint8Array(textSize);
		let filled = 0;
		for (const [o, n] of parts) {
			raw.set(await pv.read(o, n), filled);
			filled += n;
		}
		if (crc32Update(LVM_INITIAL_CRC, raw) !== textCrc) {
			warnings.push(`LVM metadata text at byte ${at + textOffset} has a bad checksum`);
		}
		const end = raw.indexOf(0);
		return { text: new TextDecoder('utf-8').decode(end === -1 ? raw : raw.subarray(0, end)), warnings };
	}
	if (label.metadataAreas.length === 0) warnings.push('LVM PV has no metadata area');
	return { text: null, warnings };
}

/** Validates a raw location against its area; returns a reason when unusable. */
function checkLocation(
	mdaSize: bigint,
	offset: bigint,
	size: bigint,
	labelAreaSize: number,
): string | undefined {
	if (mdaSize <= BigInt(MDA_HEADER_SIZE_BYTES) || mdaSize > BigInt(Number.MAX_SAFE_INTEGER)) {
		return `invalid area size ${mdaSize}`;
	}
	if (labelAreaSize !== 0 && mdaSize !== BigInt(labelAreaSize)) {
		return `area size ${mdaSize} differs from the PV header's ${labelAreaSize}`;
	}
	if (offset < BigInt(MDA_HEADER_SIZE_BYTES) || offset >= mdaSize)
		return `text offset ${offset} outside the area`;
	if (
		size === 0n ||
		size > BigInt(LVM_METADATA_MAX_BYTES) ||
		size > mdaSize - BigInt(MDA_HEADER_SIZE_BYTES)
	) {
		return `text size ${size} is invalid (limit ${LVM_METADATA_MAX_BYTES} bytes)`;
	}
	return undefined;
}

// ---- Config text parser ----

type Token =
	| { kind: 'word'; text: string; line: number }
	| { kind: 'string'; text: string; line: number }
	| { kind: 'punct'; text: '{' | '}' | '[' | ']' | '=' | ','; line: number };

const WORD_CHAR = /[A-Za-z0-9_.+-]/;

function tokenize(source: string, location: ErrorLocation): Token[] {
	const tokens: Token[] = [];
	let line = 1;
	let i = 0;
	while (i < source.length) {
		const c = source[i]!;
		if (c === '\n') {
			line++;
			i++;
		} else if (c === ' ' || c === '\t' || c === '\r') {
			i++;
		} else if (c === '#') {
			while (i < source.length && source[i] !== '\n') i++;
		} else if (c === '{' || c === '}' || c === '[' || c === ']' || c === '=' || c === ',') {
			tokens.push({ kind: 'punct', text: c, line });
			i++;
		} else if (c === '"') {
			let text = '';
			i++;
			for (;;) {
				if (i >= source.length) throw syntaxError('unterminated string', line, location);
				const s = source[i]!;
				if (s === '"') break;
				if (s === '\\' && i + 1 < source.length) {
					text += source[i + 1];
					i += 2;
					continue;
				}
				if (s === '\n') line++;
				text += s;
				i++;
			}
			i++;
			tokens.push({ kind: 'string', text, line });
		} else if (WORD_CHAR.test(c)) {
			const start = i;
			while (i < source.length && WORD_CHAR.test(source[i]!)) i++;
			tokens.push({ kind: 'word', text: source.slice(start, i), line });
		} else {
			throw syntaxError(`unexpected character ${JSON.stringify(c)}`, line, location);
		}
	}
	return tokens;
}

function syntaxError(message: string, line: number, location: ErrorLocation): VmdkError {
	return new VmdkError('VMDK_CORRUPT', `LVM metadata line ${line}: ${message}`, location);
}

/**
 * Parses LVM config text into nested sections. Throws VMDK_CORRUPT (with the line) on a
 * syntax error, a number beyond 2^53, or nesting deeper than 32.
 */
export function parseLvmConfig(source: string, location: ErrorLocation = {}): LvmSection {
	if (source.length > LVM_METADATA_MAX_BYTES) {
		throw new VmdkError(
			'VMDK_LIMIT',
			`LVM metadata of ${source.length} bytes exceeds ${LVM_METADATA_MAX_BYTES}`,
			location,
		);
	}
	const tokens = tokenize(source, location);
	let pos = 0;
	const lastLine = tokens.at(-1)?.line ?? 1;
	const peek = (): Token | undefined => tokens[pos];
	const next = (what: string): Token => {
		const t = tokens[pos++];
		if (t === undefined) throw syntaxError(`unexpected end of text, expected ${what}`, lastLine, location);
		return t;
	};

	const parseValue = (depth: number): LvmValue => {
		const t = next('a value');
		if (t.kind === 'string') return t.text;
		if (t.kind === 'word') {
			if (!/^-?\d+(\.\d+)?$/.test(t.text)) throw syntaxError(`"${t.text}" is not a value`, t.line, location);
			const n = Number(t.text);
			if (!Number.isSafeInteger(n) && !t.text.includes('.')) {
				throw syntaxError(`number ${t.text} exceeds 2^53`, t.line, location);
			}
			return n;
		}
		if (t.text !== '[') throw syntaxError(`unexpected "${t.text}"`, t.line, location);
		if (depth > CONFIG_DEPTH_MAX) throw syntaxError('arrays nested too deeply', t.line, location);
		const items: LvmValue[] = [];
		for (;;) {
			const p = peek();
			if (p?.kind === 'punct' && p.text === ']') {
				pos++;
				return items;
			}
			items.push(parseValue(depth + 1));
			const sep = next('"," or "]"');
			if (sep.kind === 'punct' && sep.text === ']') return items;
			if (sep.kind !== 'punct' || sep.text !== ',')
				throw syntaxError(`expected "," in array`, sep.line, location);
		}
	};

	const parseBody = (depth: number, closing: boolean): LvmSection => {
		const values = new Map<string, LvmValue>();
		const sections = new Map<string, LvmSection>();
		for (;;) {
			const t = peek();
			if (t === undefined) {
				if (closing) throw syntaxError('missing "}"', lastLine, location);
				return { values, sections };
			}
			pos++;
			if (t.kind === 'punct' && t.text === '}') {
				if (!closing) throw syntaxError('unbalanced "}"', t.line, location);
				return { values, sections };
			}
			if (t.kind !== 'word' && t.kind !== 'string')
				throw syntaxError(`unexpected "${t.text}"`, t.line, location);
			const op = next('"=" or "{"');
			if (op.kind === 'punct' && op.text === '=') {
				values.set(t.text, parseValue(depth));
			} else if (op.kind === 'punct' && op.text === '{') {
				if (depth >= CONFIG_DEPTH_MAX) throw syntaxError('sections nested too deeply', op.line, location);
				sections.set(t.text, parseBody(depth + 1, true));
			} else {
				throw syntaxError(`expected "=" or "{" after "${t.text}"`, op.line, location);
			}
		}
	};
	return parseBody(0, false);
}

// ---- Volume group interpretation ----

function corrupt(message: string, location: ErrorLocation): VmdkError {
	return new VmdkError('VMDK_CORRUPT', `LVM metadata: ${message}`, location);
}

function getString(section: LvmSection, key: string, where: string, location: ErrorLocation): string {
	const v = section.values.get(key);
	if (typeof v !== 'string') throw corrupt(`${where}: "${key}" missing or not a string`, location);
	return v;
}

function getCount(section: LvmSection, key: string, where: string, location: ErrorLocation): number {
	const v = section.values.get(key);
	if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
		throw corrupt(`${where}: "${key}" missing or not a non-negative integer`, location);
	}
	return v;
}

function stringArray(v: LvmValue | undefined): string[] {
	return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/**
 * Interprets parsed metadata as a volume group: the one top-level section that has
 * `physical_volumes`. Throws VMDK_CORRUPT when a required field is missing or malformed.
 */
export function interpretVolumeGroup(config: LvmSection, location: ErrorLocation = {}): LvmVolumeGroup {
	const entry = [...config.sections].find(([, s]) => s.sections.has('physical_volumes'));
	if (entry === undefined) throw corrupt('no volume group section', location);
	const [name, vg] = entry;
	const extentSizeSectors = getCount(vg, 'extent_size', `VG ${name}`, location);
	if (extentSizeSectors === 0) throw corrupt(`VG ${name}: extent_size is 0`, location);

	const physicalVolumes = new Map<string, LvmPhysicalVolume>();
	for (const [key, pv] of vg.sections.get('physical_volumes')?.sections ?? []) {
		const where = `PV ${key}`;
		const device = pv.values.get('device');
		physicalVolumes.set(key, {
			key,
			id: getString(pv, 'id', where, location).replace(/-/g, ''),
			deviceHint: typeof device === 'string' ? device : undefined,
			peStartSectors: getCount(pv, 'pe_start', where, location),
			peCount: getCount(pv, 'pe_count', where, location),
		});
	}

	const logicalVolumes: LvmLogicalVolume[] = [];
	for (const [lvName, lv] of vg.sections.get('logical_volumes')?.sections ?? []) {
		if (logicalVolumes.length >= LVM_ITEMS_MAX) throw corrupt(`more than ${LVM_ITEMS_MAX} LVs`, location);
		const where = `LV ${lvName}`;
		const segments: LvmSegment[] = [];
		for (const [segName, seg] of lv.sections) {
			if (!/^segment\d+$/.test(segName)) continue;
			if (segments.length >= LVM_ITEMS_MAX)
				throw corrupt(`${where}: more than ${LVM_ITEMS_MAX} segments`, location);
			segments.push(interpretSegment(seg, `${where} ${segName}`, location));
		}
		segments.sort((a, b) => a.startExtent - b.startExtent);
		logicalVolumes.push({
			name: lvName,
			id: getString(lv, 'id', where, location).replace(/-/g, ''),
			visible: stringArray(lv.values.get('status')).includes('VISIBLE'),
			segments,
		});
	}
	return {
		name,
		id: getString(vg, 'id', `VG ${name}`, location).replace(/-/g, ''),
		seqno: getCount(vg, 'seqno', `VG ${name}`, location),
		extentSizeSectors,
		physicalVolumes,
		logicalVolumes,
	};
}

function interpretSegment(seg: LvmSection, where: string, location: ErrorLocation): LvmSegment {
	const type = getString(seg, 'type', where, location);
	const startExtent = getCount(seg, 'start_extent', where, location);
	const extentCount = getCount(seg, 'extent_count', where, location);
	if (type !== 'striped') return { startExtent, extentCount, type, stripeCount: 0, stripes: [] };
	const stripeCount = getCount(seg, 'stripe_count', where, location);
	const list = seg.values.get('stripes');
	if (!Array.isArray(list) || list.length !== stripeCount * 2) {
		throw corrupt(`${where}: "stripes" must list ${stripeCount} (pv, extent) pairs`, location);
	}
	const stripes: LvmStripe[] = [];
	for (let i = 0; i < list.length; i += 2) {
		const pvKey: unknown = list[i];
		const pe: unknown = list[i + 1];
		if (typeof pvKey !== 'string' || typeof pe !== 'number' || !Number.isSafeInteger(pe) || pe < 0) {
			throw corrupt(`${where}: stripe ${i / 2} is not a (pv, extent) pair`, location);
		}
		stripes.push({ pvKey, startExtent: pe });
	}
	return { startExtent, extentCount, type, stripeCount, stripes };
}

/** Extent size in bytes, checked. */
export function extentSizeBytes(vg: LvmVolumeGroup): number {
	return vg.extentSizeSectors * LVM_SECTOR_SIZE_BYTES;
}
