// SPDX-License-Identifier: MIT
/**
 * A deliberately tiny XML reader for the configuration files we read (`.vbox`, `.ovf`):
 * elements, attributes, character data (with CDATA), the five predefined entities and numeric
 * references. No DTDs (refused: they can define entity bombs), no external anything, and caps on
 * size, depth, element and attribute counts. Namespaces are not resolved: callers compare local
 * names (`ovf:href` → `href`), which is how every reader of these files we know of works.
 */
import { VmdkError, type ErrorLocation, type VmdkErrorCode } from '../errors.js';
import { checkLimit } from '../io/limits.js';

/** Deepest element nesting we accept (VirtualBox differencing chains nest one level per snapshot). */
export const XML_MAX_DEPTH = 256;
/** Most elements we accept in one file. */
export const XML_MAX_ELEMENTS = 200_000;
/** Most attributes on one element. */
export const XML_MAX_ATTRIBUTES = 256;

/** One XML element: its name, attributes, child elements and its own text. */
export interface XmlElement {
	/** The tag name as written (may carry a `prefix:`). */
	readonly name: string;
	/** Attributes with entities decoded. */
	readonly attributes: ReadonlyMap<string, string>;
	/** Child elements in document order. */
	readonly children: readonly XmlElement[];
	/** Character data directly inside this element (not its children's), entities decoded. */
	readonly text: string;
	/** Offset of the `<` of its start tag, in the decoded text (≈ bytes for ASCII XML). */
	readonly offset: number;
}

/** Who is reading: names the file kind in errors and sets its limits. */
export interface XmlReadOptions {
	/** The kind of file, for messages (`.vbox`, `OVF descriptor`). */
	readonly what: string;
	/** Largest input accepted, bytes (or UTF-16 units for a string). */
	readonly maxBytes: number;
	/** The code of every syntax error. */
	readonly code: VmdkErrorCode;
}

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
	text: string;
	offset: number;
}

/** Parses an XML document into its root element. Throws `options.code` with a line number. */
export function readXml(
	input: Uint8Array | string,
	location: ErrorLocation,
	options: XmlReadOptions,
): XmlElement {
	checkLimit(options.what, input.length, options.maxBytes, location);
	const text = typeof input === 'string' ? input : decodeUtf8(input, location, options);
	const fail = (why: string, at: number): never => {
		const line = lineOf(text, at);
		throw new VmdkError(options.code, `XML line ${line}: ${why}`, {
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

	const skipPast = (terminator: string, what: string): number => {
		const end = text.indexOf(terminator, pos);
		if (end < 0) fail(`unterminated ${what}`, pos);
		pos = end + terminator.length;
		return end;
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
		const open = stack[stack.length - 1];
		if (open === undefined) {
			if (text.slice(pos, lt).trim() !== '') fail('text outside the root element', pos);
		} else if (lt > pos) {
			const at = pos;
			open.text += decodeEntities(text.slice(pos, lt), (why) => fail(why, at));
		}
		pos = lt;
		if (text.startsWith('<?', pos)) {
			skipPast('?>', 'processing instruction');
		} else if (text.startsWith('<!--', pos)) {
			skipPast('-->', 'comment');
		} else if (text.startsWith('<![CDATA[', pos)) {
			if (open === undefined) fail('CDATA outside the root element', pos);
			const start = pos + '<![CDATA['.length;
			const end = skipPast(']]>', 'CDATA section');
			open!.text += text.slice(start, end);
		} else if (text.startsWith('<!', pos)) {
			fail('DOCTYPE declarations are not accepted', pos);
		} else if (text.startsWith('</', pos)) {
			const at = pos;
			pos += 2;
			const name = readName();
			skipSpace();
			if (text[pos] !== '>') fail(`expected > to close </${name}`, pos);
			pos++;
			const closed = stack.pop();
			if (!closed || closed.name !== name)
				fail(`</${name}> does not match <${closed?.name ?? 'nothing'}>`, at);
		} else {
			const at = pos;
			pos++;
			const el: MutableElement = {
				name: readName(),
				attributes: new Map(),
				children: [],
				text: '',
				offset: at,
			};
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
			if (open) {
				open.children.push(el);
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

/** The part of a tag or attribute name after its namespace prefix. */
export function localName(name: string): string {
	const i = name.indexOf(':');
	return i < 0 ? name : name.slice(i + 1);
}

/** Child elements whose local name is `name`. */
export function childrenNamed(el: XmlElement, name: string): XmlElement[] {
	return el.children.filter((c) => localName(c.name) === name);
}

/** The value of the attribute whose local name is `name` (`ovf:href` for `href`), if any. */
export function attributeNamed(el: XmlElement, name: string): string | undefined {
	const exact = el.attributes.get(name);
	if (exact !== undefined) return exact;
	for (const [key, value] of el.attributes) if (localName(key) === name) return value;
	return undefined;
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

function decodeUtf8(bytes: Uint8Array, location: ErrorLocation, options: XmlReadOptions): string {
	try {
		return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
	} catch {
		throw new VmdkError(options.code, `${options.what} is not valid UTF-8 text`, location);
	}
}

function lineOf(text: string, at: number): number {
	let line = 1;
	for (let i = text.indexOf('\n'); i >= 0 && i < at; i = text.indexOf('\n', i + 1)) line++;
	return line;
}
