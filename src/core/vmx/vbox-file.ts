// SPDX-License-Identifier: MIT
/**
 * VirtualBox machine files (`.vbox`, XML). We read only what finding the disks needs:
 * `Machine` (`name`, `OSType`, `snapshotFolder`), the hard disks of its `MediaRegistry`
 * (`HardDisk uuid location format type`, nested `HardDisk` = differencing child of its parent),
 * and the current state's `StorageController`s with their `AttachedDevice type="HardDisk"` →
 * `Image uuid` attachments. Controllers inside `Snapshot` elements describe old states and are
 * ignored. Layout checked against VirtualBox's settings format (Main/xml/Settings.cpp, schema
 * VirtualBox-settings.xsd); the XML reader is our own and deliberately tiny: elements,
 * attributes, the five predefined entities and numeric references. No DTDs (refused), no
 * external anything, and caps on size, depth and element count.
 */
import { VmdkError, type ErrorLocation } from '../errors.js';
import { checkLimit } from '../io/limits.js';
import type { DiskBus } from './vmx-file.js';

/** Largest .vbox we read; machines with hundreds of snapshots stay far below. */
export const VBOX_MAX_BYTES = 8 * 1024 * 1024;
/** Deepest element nesting we accept (differencing chains nest one level per snapshot). */
export const XML_MAX_DEPTH = 256;
/** Most elements we accept in one file. */
export const XML_MAX_ELEMENTS = 200_000;
/** Most attributes on one element. */
export const XML_MAX_ATTRIBUTES = 256;

/** One XML element: its name, attributes and child elements (text is dropped). */
export interface XmlElement {
	/** The tag name as written (may carry a `prefix:`). */
	readonly name: string;
	/** Attributes with entities decoded. */
	readonly attributes: ReadonlyMap<string, string>;
	/** Child elements in document order. */
	readonly children: readonly XmlElement[];
	/** Byte offset of the `<` of its start tag, in the decoded text (≈ bytes for ASCII XML). */
	readonly offset: number;
}

/** A hard disk of the media registry. */
export interface VboxMedium {
	/** The medium uuid, lower-cased, with braces as VirtualBox writes them. */
	readonly uuid: string;
	/** `location`: relative to the .vbox folder, or absolute (possibly a Windows path). */
	readonly location: string;
	/** `format`: `VMDK`, `VDI`, `VHD`, … */
	readonly format: string;
	/** `type` (`Normal`, `Immutable`, …) as written on the base; differencing children inherit it. */
	readonly type: string | null;
	/** The uuid of the medium it is nested in (its parent), or null for a base. */
	readonly parentUuid: string | null;
}

/** A hard-disk attachment of the current machine state. */
export interface VboxAttachment {
	/** The controller's `name` (`SATA`, `IDE Controller`). */
	readonly controllerName: string;
	/** The controller's `type` (`AHCI`, `PIIX4`, `LsiLogic`, `NVMe`, …). */
	readonly controllerType: string;
	/** The controller family. */
	readonly bus: DiskBus;
	/** Index of this controller among those of the same family, in document order. */
	readonly controllerIndex: number;
	/** `port` of the attachment. */
	readonly port: number;
	/** `device` of the attachment. */
	readonly device: number;
	/** The attached medium's uuid (lower-cased). */
	readonly uuid: string;
}

/** What we read from a .vbox. */
export interface VboxFile {
	/** `Machine name`, or null. */
	readonly name: string | null;
	/** `Machine OSType`, or null. */
	readonly osType: string | null;
	/** `Machine snapshotFolder` (where differencing images go), or null. */
	readonly snapshotFolder: string | null;
	/** Hard disks of the media registry by uuid (lower-cased). */
	readonly media: ReadonlyMap<string, VboxMedium>;
	/** Hard-disk attachments, in document order. */
	readonly attachments: readonly VboxAttachment[];
	/** Things skipped or odd, for the user. */
	readonly warnings: readonly string[];
}

/** Parses a .vbox. Throws `VMX_BAD_FILE` (with the line) on malformed XML or a missing `Machine`. */
export function parseVbox(text: Uint8Array | string, location: ErrorLocation = {}): VboxFile {
	const root = parseXml(text, location);
	const fail = (why: string, offset = 0): never => {
		throw new VmdkError('VMX_BAD_FILE', `.vbox: ${why}`, { file: location.file, offsetBytes: offset });
	};
	if (localName(root.name) !== 'VirtualBox') fail(`root element is <${root.name}>, not <VirtualBox>`);
	const machine = root.children.find((c) => localName(c.name) === 'Machine');
	if (!machine) return fail('no <Machine> element (a global VirtualBox.xml is not a machine file)');
	const warnings: string[] = [];
	const media = new Map<string, VboxMedium>();
	for (const registry of childrenNamed(machine, 'MediaRegistry')) {
		for (const disks of childrenNamed(registry, 'HardDisks')) {
			for (const disk of childrenNamed(disks, 'HardDisk')) collectMedium(disk, null, null, media, warnings);
		}
	}
	const attachments: VboxAttachment[] = [];
	const busCounts = new Map<DiskBus, number>();
	for (const controllers of currentStorageControllers(machine)) {
		for (const ctl of childrenNamed(controllers, 'StorageController')) {
			const controllerName = ctl.attributes.get('name') ?? '';
			const controllerType = ctl.attributes.get('type') ?? '';
			const bus = busOfControllerType(controllerType);
			const controllerIndex = busCounts.get(bus) ?? 0;
			busCounts.set(bus, controllerIndex + 1);
			for (const dev of childrenNamed(ctl, 'AttachedDevice')) {
				if (dev.attributes.get('type') !== 'HardDisk') continue;
				const image = childrenNamed(dev, 'Image')[0];
				const uuid = image?.attributes.get('uuid');
				if (uuid === undefined) continue;
				const port = Number(dev.attributes.get('port') ?? '0');
				const device = Number(dev.attributes.get('device') ?? '0');
				if (!Number.isSafeInteger(port) || !Number.isSafeInteger(device) || port < 0 || device < 0) {
					warnings.push(`${controllerName}: attachment with invalid port/device skipped`);
					continue;
				}
				attachments.push({
					controllerName,
					controllerType,
					bus,
					controllerIndex,
					port,
					device,
					uuid: uuid.toLowerCase(),
				});
			}
		}
	}
	return {
		name: machine.attributes.get('name') ?? null,
		osType: machine.attributes.get('OSType') ?? null,
		snapshotFolder: machine.attributes.get('snapshotFolder') ?? null,
		media,
		attachments,
		warnings,
	};
}

function collectMedium(
	el: XmlElement,
	parentUuid: string | null,
	parentType: string | null,
	media: Map<string, VboxMedium>,
	warnings: string[],
): void {
	const uuid = el.attributes.get('uuid')?.toLowerCase();
	const location = el.attributes.get('location');
	if (uuid === undefined || location === undefined) {
		warnings.push('a <HardDisk> without uuid or location was skipped');
		return;
	}
	const type = el.attributes.get('type') ?? parentType;
	media.set(uuid, { uuid, location, format: el.attributes.get('format') ?? '', type, parentUuid });
	for (const child of childrenNamed(el, 'HardDisk')) collectMedium(child, uuid, type, media, warnings);
}

/** `StorageControllers` of the current state: under `Machine/Hardware` (≥ 4.x) or `Machine` (older). */
function currentStorageControllers(machine: XmlElement): XmlElement[] {
	return [
		...childrenNamed(machine, 'StorageControllers'),
		...childrenNamed(machine, 'Hardware').flatMap((h) => childrenNamed(h, 'StorageControllers')),
	];
}

/** Maps VirtualBox's controller `type` to a family. */
export function busOfControllerType(type: string): DiskBus {
	switch (type.toLowerCase()) {
		case 'piix3':
		case 'piix4':
		case 'ich6':
			return 'ide';
		case 'ahci':
			return 'sata';
		case 'lsilogic':
		case 'buslogic':
		case 'lsilogicsas':
		case 'virtioscsi':
			return 'scsi';
		case 'nvme':
			return 'nvme';
		default:
			return 'other';
	}
}

function childrenNamed(el: XmlElement, name: string): XmlElement[] {
	return el.children.filter((c) => localName(c.name) === name);
}

function localName(name: string): string {
	const i = name.indexOf(':');
	return i < 0 ? name : name.slice(i + 1);
}

// --- a tiny XML reader --------------------------------------------------------------------

const ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const NAME_START = /[A-Za-z_:\u00c0-\uffff]/;
const NAME_CHAR = /[A-Za-z0-9_:.\-\u00b7\u00c0-\uffff]/;
// XML 1.0 forbids C0 controls other than tab, LF and CR anywhere in a document.
// eslint-disable-next-line no-control-regex
const XML_FORBIDDEN = /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/;

interface MutableElement {
	name: string;
	attributes: Map<string, string>;
	children: MutableElement[];
	offset: number;
}

/** Parses an XML document into its root element. Throws `VMX_BAD_FILE` with a line number. */
export function parseXml(input: Uint8Array | string, location: ErrorLocation = {}): XmlElement {
	checkLimit('.vbox file', input.length, VBOX_MAX_BYTES, location);
	const text = typeof input === 'string' ? input : decodeUtf8(input, location);
	const fail = (why: string, at: number): never => {
		const line = lineOf(text, at);
		throw new VmdkError('VMX_BAD_FILE', `XML line ${line}: ${why}`, {
			file: location.file,
			offsetBytes: (location.offsetBytes ?? 0) + at,
		});
	};
	const forbidden = XML_FORBIDDEN.exec(text);
	if (forbidden) fail('contains binary data (control characters)', forbidden.index);

	let pos = text.startsWith('\ufeff') ? 1 : 0;
	const stack: MutableElement[] = [];
	let root: MutableElement | undefined;
	let elementCount = 0;

	const skipPast = (terminator: string, what: string): void => {
		const end = text.indexOf(terminator, pos);
		if (end < 0) fail(`unterminated ${what}`, pos);
		pos = end + terminator.length;
	};
	const readName = (): string => {
		const start = pos;
		if (!NAME_START.test(text[pos] ?? '')) fail('expected a name', pos);
		while (pos < text.length && NAME_CHAR.test(text[pos]!)) pos++;
		return text.slice(start, pos);
	};
	const skipSpace = (): void => {
		while (pos < text.length && /\s/.test(text[pos]!)) pos++;
	};

	while (pos < text.length) {
		const lt = text.indexOf('<', pos);
		if (lt < 0) {
			if (text.slice(pos).trim() !== '') fail('text outside the root element', pos);
			break;
		}
		if (stack.length === 0 && text.slice(pos, lt).trim() !== '') fail('text outside the root element', pos);
		pos = lt;
		if (text.startsWith('<?', pos)) {
			skipPast('?>', 'processing instruction');
		} else if (text.startsWith('<!--', pos)) {
			skipPast('-->', 'comment');
		} else if (text.startsWith('<![CDATA[', pos)) {
			if (stack.length === 0) fail('CDATA outside the root element', pos);
			skipPast(']]>', 'CDATA section');
		} else if (text.startsWith('<!', pos)) {
			// DTDs can define entities (and entity bombs); VirtualBox never writes one.
			fail('DOCTYPE declarations are not accepted', pos);
		} else if (text.startsWith('</', pos)) {
			const at = pos;
			pos += 2;
			const name = readName();
			skipSpace();
			if (text[pos] !== '>') fail(`expected > to close </${name}`, pos);
			pos++;
			const open = stack.pop();
			if (!open || open.name !== name) fail(`</${name}> does not match <${open?.name ?? 'nothing'}>`, at);
		} else {
			const at = pos;
			pos++;
			const el: MutableElement = { name: readName(), attributes: new Map(), children: [], offset: at };
			if (++elementCount > XML_MAX_ELEMENTS) fail(`more than ${XML_MAX_ELEMENTS} elements`, at);
			let selfClosing = false;
			for (;;) {
				const beforeSpace = pos;
				skipSpace();
				if (text.startsWith('/>', pos)) {
					pos += 2;
					selfClosing = true;
					break;
				}
				if (text[pos] === '>') {
					pos++;
					break;
				}
				if (pos === beforeSpace) fail(`malformed start tag <${el.name}`, pos);
				const attrName = readName();
				skipSpace();
				if (text[pos] !== '=') fail(`attribute ${attrName} has no value`, pos);
				pos++;
				skipSpace();
				const quote = text[pos];
				if (quote !== '"' && quote !== "'") fail(`attribute ${attrName} value is not quoted`, pos);
				const end = text.indexOf(quote!, pos + 1);
				if (end < 0) fail(`unterminated value of attribute ${attrName}`, pos);
				const raw = text.slice(pos + 1, end);
				if (raw.includes('<')) fail(`< inside the value of attribute ${attrName}`, pos);
				if (el.attributes.has(attrName)) fail(`duplicate attribute ${attrName}`, pos);
				if (el.attributes.size >= XML_MAX_ATTRIBUTES) fail(`more than ${XML_MAX_ATTRIBUTES} attributes`, pos);
				el.attributes.set(
					attrName,
					decodeEntities(raw, (why) => fail(why, pos)),
				);
				pos = end + 1;
			}
			const parent = stack[stack.length - 1];
			if (parent) {
				parent.children.push(el);
			} else {
				if (root) fail('a second root element', at);
				root = el;
			}
			if (!selfClosing) {
				if (stack.length >= XML_MAX_DEPTH) fail(`elements nested deeper than ${XML_MAX_DEPTH}`, at);
				stack.push(el);
			}
		}
	}
	const unclosed = stack[stack.length - 1];
	if (unclosed) fail(`<${unclosed.name}> is never closed`, unclosed.offset);
	if (!root) return fail('no root element', 0);
	return root;
}

function decodeEntities(raw: string, fail: (why: string) => never): string {
	if (!raw.includes('&')) return raw;
	return raw.replace(/&([^;&\s]{0,12});?/g, (whole, body: string) => {
		if (!whole.endsWith(';')) fail(`bare & in "${raw.slice(0, 40)}"`);
		const named = ENTITIES[body];
		if (named !== undefined) return named;
		const m = /^#(?:x([0-9A-Fa-f]{1,6})|([0-9]{1,7}))$/.exec(body);
		const code = m ? parseInt(m[1] ?? m[2]!, m[1] !== undefined ? 16 : 10) : NaN;
		if (!(code > 0 && code <= 0x10ffff)) fail(`unknown entity &${body};`);
		return String.fromCodePoint(code);
	});
}

function decodeUtf8(bytes: Uint8Array, location: ErrorLocation): string {
	try {
		return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
	} catch {
		throw new VmdkError('VMX_BAD_FILE', 'XML is not valid UTF-8 text', location);
	}
}

function lineOf(text: string, at: number): number {
	let line = 1;
	for (let i = text.indexOf('\n'); i >= 0 && i < at; i = text.indexOf('\n', i + 1)) line++;
	return line;
}
