// SPDX-License-Identifier: MIT
/**
 * VMware's "dictionary" text files: `.vmx` (VM configuration) and `.vmsd` (snapshot tree) share
 * one syntax — `key = "value"` lines, `#` comments, keys case-insensitive, an optional
 * `.encoding = "…"` line naming the character set, and `|XX` hex escapes inside values (`|22` is
 * a double quote, `|7C` a bar). Facts checked against libvirt's `src/vmx/vmx.c` and real files;
 * no code copied.
 *
 * Decisions:
 * - Keys are stored lower-cased; a repeated key keeps its last value, as VMware does on reload.
 * - A line that is neither blank, a comment nor `key = value`, or that holds control characters
 *   (binary junk), is a `VMX_BAD_FILE` error naming the line; we do not guess.
 * - Without `.encoding`, UTF-8 is tried first and windows-1252 is the fallback (old Windows
 *   hosts wrote the ANSI code page), with a warning.
 * - Attached disks are ordered by controller type **ide, scsi, sata, nvme**, then controller
 *   number, then unit — a fixed, documented order rather than VMware's configurable boot order
 *   (`bios.bootOrder`), which only says "hdd" and not which one.
 */
import { VmdkError, type ErrorLocation } from '../errors.js';
import { checkLimit } from '../io/limits.js';
import { extensionOf } from '../io/paths.js';

/** Largest .vmx / .vmsd we read: real ones are a few KiB, encrypted VMs' a few dozen. */
export const VMX_MAX_BYTES = 1024 * 1024;

/** The controller families whose disks we list, in the order we list them. */
export const DISK_BUS_ORDER = ['ide', 'scsi', 'sata', 'nvme'] as const;

/** A disk controller family; `other` is a VirtualBox controller we do not map (USB, floppy). */
export type DiskBus = (typeof DISK_BUS_ORDER)[number] | 'other';

/** A parsed dictionary file. Keys are lower-cased; values are decoded and unescaped. */
export class VmxFile {
	/** Every `key = value` pair; keys lower-cased, last occurrence wins. */
	readonly entries: ReadonlyMap<string, string>;
	/** The character set the bytes were decoded with (the `.encoding` value or our fallback). */
	readonly encoding: string;
	/** Problems that did not stop parsing (unknown encoding, fallback decoding). */
	readonly warnings: readonly string[];

	constructor(entries: ReadonlyMap<string, string>, encoding: string, warnings: readonly string[]) {
		this.entries = entries;
		this.encoding = encoding;
		this.warnings = warnings;
	}

	/** The value of `key` (any case), or undefined. */
	get(key: string): string | undefined {
		return this.entries.get(key.toLowerCase());
	}

	/** `TRUE`/`FALSE` (also yes/no, 1/0, any case) as a boolean; undefined if absent or not boolean. */
	getBoolean(key: string): boolean | undefined {
		const v = this.get(key)?.trim().toLowerCase();
		if (v === 'true' || v === 'yes' || v === '1') return true;
		if (v === 'false' || v === 'no' || v === '0') return false;
		return undefined;
	}
}

/** What a `.vmx` says about the VM itself. */
export interface VmxDescription {
	/** `displayName`: the name VMware shows, or null. */
	readonly displayName: string | null;
	/** `guestOS`: VMware's guest identifier (`windows9-64`, `ubuntu-64`, …), or null. */
	readonly guestOS: string | null;
	/** `virtualHW.version`: the virtual hardware generation (e.g. 19), or null. */
	readonly virtualHwVersion: number | null;
	/** The file's `.encoding` (or the fallback we decoded it with). */
	readonly encoding: string;
	/** `uuid.bios` as written, or null. */
	readonly uuidBios: string | null;
	/** True when the VM is encrypted (`encryption.keySafe` present): its disks are unreadable to us. */
	readonly encrypted: boolean;
}

/** A hard disk attached to a VM, in the order `DISK_BUS_ORDER` defines. */
export interface AttachedDisk {
	/** The slot, VMware style: `scsi0:0`, `sata0:1`, `ide1:0`, `nvme0:0`. */
	readonly controller: string;
	/** The controller family. */
	readonly bus: DiskBus;
	/** Controller number (the `0` of `scsi0:1`). */
	readonly busNumber: number;
	/** Unit (target) on that controller (the `1` of `scsi0:1`). */
	readonly unitNumber: number;
	/** The file name exactly as the configuration writes it. */
	readonly fileName: string;
	/**
	 * The path we resolved: relative names against the configuration's folder; an absolute path
	 * that does not exist here falls back to the same file name next to the configuration.
	 */
	readonly path: string;
	/**
	 * Disk mode, lower-cased: `persistent` (default), `independent-persistent`,
	 * `independent-nonpersistent`, `nonpersistent`; for VirtualBox the medium type
	 * (`normal`, `immutable`, `writethrough`, `shareable`, `readonly`, `multiattach`).
	 */
	readonly mode: string;
	/** True if `path` is an existing file; missing disks are listed with a warning. */
	readonly exists: boolean;
	/** VirtualBox only: the controller's name as the .vbox writes it (`SATA`, `IDE Controller`). */
	readonly controllerName?: string | undefined;
	/** VirtualBox only: the medium format of the attached image (`VMDK`, `VDI`, …). */
	readonly format?: string | undefined;
	/** VirtualBox only: the image chain from the media registry, leaf first, resolved paths. */
	readonly chain?: readonly string[] | undefined;
}

/** One hard-disk slot of a .vmx, before its file is looked up. */
export interface VmxDiskSlot {
	/** `scsi0:0` etc. */
	readonly controller: string;
	/** The controller family. */
	readonly bus: DiskBus;
	/** Controller number. */
	readonly busNumber: number;
	/** Unit on that controller. */
	readonly unitNumber: number;
	/** `fileName` as written. */
	readonly fileName: string;
	/** `mode`, lower-cased, `persistent` when absent. */
	readonly mode: string;
}

/**
 * Parses a `.vmx` (or any VMware dictionary file). `text` as bytes honours `.encoding`; as a
 * string it is taken as already decoded. Throws `VMX_BAD_FILE` with the line number on junk and
 * `VMDK_LIMIT` above `VMX_MAX_BYTES`.
 */
export function parseVmx(text: Uint8Array | string, location: ErrorLocation = {}): VmxFile {
	return parseDictionary(text, location, '.vmx');
}

/** The dictionary parser behind `parseVmx` and `parseVmsd`; `what` names the file kind in errors. */
export function parseDictionary(text: Uint8Array | string, location: ErrorLocation, what: string): VmxFile {
	checkLimit(`${what} file`, text.length, VMX_MAX_BYTES, location);
	const warnings: string[] = [];
	const { lines, encoding } =
		typeof text === 'string' ? splitString(text) : decodeLines(text, location, what, warnings);
	const entries = new Map<string, string>();
	for (const line of lines) {
		const entry = parseLine(line, location, what);
		if (entry) entries.set(entry[0], entry[1]);
	}
	return new VmxFile(entries, encoding, warnings);
}

/** What `displayName`, `guestOS` and friends say. */
export function describeVmx(vmx: VmxFile): VmxDescription {
	const hw = vmx.get('virtualHW.version');
	const hwNumber = hw !== undefined && /^\s*\d{1,4}\s*$/.test(hw) ? Number(hw) : null;
	return {
		displayName: vmx.get('displayName') ?? null,
		guestOS: vmx.get('guestOS') ?? null,
		virtualHwVersion: hwNumber,
		encoding: vmx.encoding,
		uuidBios: vmx.get('uuid.bios') ?? null,
		encrypted: vmx.get('encryption.keySafe') !== undefined,
	};
}

const DISK_FILENAME_KEY = /^(ide|scsi|sata|nvme)(\d{1,3}):(\d{1,3})\.filename$/;

/**
 * The hard-disk slots of a .vmx, ordered (see the module comment). CD-ROMs and devices that are
 * not present (or on a controller that is not) are skipped silently; raw/physical disks and
 * other device types are skipped with a warning.
 */
export function listVmxDiskSlots(vmx: VmxFile): { slots: VmxDiskSlot[]; warnings: string[] } {
	const slots: VmxDiskSlot[] = [];
	const warnings: string[] = [];
	for (const [key, fileName] of vmx.entries) {
		const m = DISK_FILENAME_KEY.exec(key);
		if (!m) continue;
		const bus = m[1] as VmxDiskSlot['bus'];
		const busNumber = Number(m[2]);
		const unitNumber = Number(m[3]);
		const controller = `${bus}${busNumber}:${unitNumber}`;
		// Sibling keys are looked up with the numbers as written (`scsi00:0` is its own slot).
		const prefix = `${bus}${m[2]}:${m[3]}`;
		if (vmx.getBoolean(`${bus}${m[2]}.present`) === false) continue;
		const present = vmx.getBoolean(`${prefix}.present`);
		const deviceType = vmx.get(`${prefix}.deviceType`)?.trim().toLowerCase();
		// CD-ROM images are never the VM's disks; skip them before complaining about anything.
		if (deviceType?.includes('cdrom')) continue;
		if (present === false) continue;
		if (present === undefined) {
			warnings.push(`${controller} names "${fileName}" but is not marked present; skipped`);
			continue;
		}
		if (!isHardDiskType(deviceType, fileName)) {
			warnings.push(
				`${controller} (${deviceType ?? 'no deviceType'}) "${fileName}" is not a virtual disk; skipped`,
			);
			continue;
		}
		const mode = vmx.get(`${prefix}.mode`)?.trim().toLowerCase() || 'persistent';
		slots.push({ controller, bus, busNumber, unitNumber, fileName, mode });
	}
	slots.sort(compareDiskSlots);
	return { slots, warnings };
}

/** Orders slots by `DISK_BUS_ORDER`, then controller number, then unit. */
export function compareDiskSlots(
	a: Pick<VmxDiskSlot, 'bus' | 'busNumber' | 'unitNumber'>,
	b: Pick<VmxDiskSlot, 'bus' | 'busNumber' | 'unitNumber'>,
): number {
	return busRank(a.bus) - busRank(b.bus) || a.busNumber - b.busNumber || a.unitNumber - b.unitNumber;
}

function busRank(bus: DiskBus): number {
	const i = (DISK_BUS_ORDER as readonly string[]).indexOf(bus);
	return i < 0 ? DISK_BUS_ORDER.length : i;
}

function isHardDiskType(deviceType: string | undefined, fileName: string): boolean {
	// Hosted VMs write scsi-hardDisk / ata-hardDisk / disk; old IDE entries often omit deviceType.
	if (deviceType === undefined) return extensionOf(fileName) === 'vmdk';
	return deviceType === 'disk' || deviceType.endsWith('harddisk');
}

/** One raw line with where it starts, for error locations. */
interface Line {
	readonly text: string;
	readonly number: number;
	readonly offsetBytes: number | undefined;
}

const LF = 0x0a;
const ENCODING_LINE = /^\s*\.encoding\s*=\s*"([^"]*)"/i;
const DEFAULT_ENCODING = 'UTF-8';
const FALLBACK_ENCODING = 'windows-1252';

function splitString(text: string): { lines: Line[]; encoding: string } {
	const lines = text.split('\n').map((t, i) => ({ text: t, number: i + 1, offsetBytes: undefined }));
	const declared = lines.map((l) => ENCODING_LINE.exec(l.text)?.[1]).find((e) => e !== undefined);
	return { lines, encoding: declared ?? DEFAULT_ENCODING };
}

function decodeLines(
	bytes: Uint8Array,
	location: ErrorLocation,
	what: string,
	warnings: string[],
): { lines: Line[]; encoding: string } {
	const raw: { bytes: Uint8Array; offsetBytes: number }[] = [];
	let start = 0;
	// A UTF-8 byte-order mark is not part of the first key.
	if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) start = 3;
	while (start <= bytes.length) {
		let end = bytes.indexOf(LF, start);
		if (end < 0) end = bytes.length;
		raw.push({ bytes: bytes.subarray(start, end), offsetBytes: start });
		start = end + 1;
	}
	// `.encoding` is ASCII in every encoding VMware writes, so find it before decoding.
	const latin1 = new TextDecoder('latin1');
	let declared: string | undefined;
	for (const r of raw) {
		declared = ENCODING_LINE.exec(latin1.decode(r.bytes))?.[1];
		if (declared !== undefined) break;
	}
	let decoder = makeDecoder(declared ?? DEFAULT_ENCODING);
	let encoding = declared ?? DEFAULT_ENCODING;
	if (!decoder) {
		warnings.push(`${what}: unknown .encoding "${declared}"; read as ${DEFAULT_ENCODING}`);
		decoder = makeDecoder(DEFAULT_ENCODING)!;
		encoding = DEFAULT_ENCODING;
	}
	let lines = decodeEach(raw, decoder);
	if (typeof lines === 'number' && declared === undefined) {
		warnings.push(`${what}: not valid UTF-8 and no .encoding; read as ${FALLBACK_ENCODING}`);
		encoding = FALLBACK_ENCODING;
		lines = decodeEach(raw, makeDecoder(FALLBACK_ENCODING)!);
	}
	if (typeof lines === 'number') {
		const bad = raw[lines]!;
		throw new VmdkError('VMX_BAD_FILE', `${what} line ${lines + 1} is not valid ${encoding} text`, {
			file: location.file,
			offsetBytes: (location.offsetBytes ?? 0) + bad.offsetBytes,
		});
	}
	return { lines, encoding };
}

/** Decodes every line; returns the index of the first undecodable one instead on failure. */
function decodeEach(
	raw: readonly { bytes: Uint8Array; offsetBytes: number }[],
	decoder: TextDecoder,
): Line[] | number {
	const out: Line[] = [];
	for (let i = 0; i < raw.length; i++) {
		const r = raw[i]!;
		try {
			out.push({ text: decoder.decode(r.bytes), number: i + 1, offsetBytes: r.offsetBytes });
		} catch {
			return i;
		}
	}
	return out;
}

function makeDecoder(label: string): TextDecoder | undefined {
	try {
		return new TextDecoder(label.trim(), { fatal: true });
	} catch {
		return undefined;
	}
}

// Tab is allowed; every other C0 control (and DEL) means this is not a text file.
// eslint-disable-next-line no-control-regex
const CONTROL_CHAR = /[\u0000-\u0008\u000b-\u001f\u007f]/;
const KEY = /^[^\s="#]+$/;

function parseLine(line: Line, location: ErrorLocation, what: string): [string, string] | undefined {
	const text = line.text.endsWith('\r') ? line.text.slice(0, -1) : line.text;
	const fail = (why: string): never => {
		throw new VmdkError('VMX_BAD_FILE', `${what} line ${line.number}: ${why}`, {
			file: location.file,
			offsetBytes:
				line.offsetBytes === undefined ? undefined : (location.offsetBytes ?? 0) + line.offsetBytes,
		});
	};
	if (CONTROL_CHAR.test(text)) fail('contains binary data (control characters)');
	const trimmed = text.trim();
	if (trimmed === '' || trimmed.startsWith('#')) return undefined;
	const eq = trimmed.indexOf('=');
	if (eq < 0) fail('expected `key = "value"`');
	const key = trimmed.slice(0, eq).trim();
	if (!KEY.test(key)) fail(`invalid key "${key.slice(0, 40)}"`);
	const rest = trimmed.slice(eq + 1).trim();
	let value: string;
	if (rest.startsWith('"')) {
		const close = rest.indexOf('"', 1);
		if (close < 0) fail('unterminated quoted value');
		const after = rest.slice(close + 1).trim();
		if (after !== '' && !after.startsWith('#')) fail('text after the closing quote');
		value = unescapeValue(rest.slice(1, close));
	} else {
		// Unquoted values appear in hand-edited files; a `#` starts a comment.
		const hash = rest.indexOf('#');
		value = (hash < 0 ? rest : rest.slice(0, hash)).trim();
	}
	return [key.toLowerCase(), value];
}

/** Decodes VMware's `|XX` escapes (two hex digits); a lone `|` stays. */
function unescapeValue(v: string): string {
	if (!v.includes('|')) return v;
	return v.replace(/\|([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}
