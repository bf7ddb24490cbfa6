// SPDX-License-Identifier: MIT
// Builds tar archives in memory, field by field, for the tar-index unit tests and the mutation
// suite: ustar headers (octal or base-256 sizes), pax extended headers and GNU long names.
// Real archives from GNU tar and Python's tarfile are compared in test/integration/ova.test.ts.

const BLOCK = 512;
const encoder = new TextEncoder();

/** Header fields a test may set; everything else gets what GNU tar writes. */
export interface TarHeaderFields {
	name: string;
	/** Data size; written in octal unless `base256Size`. */
	size: number;
	/** `0` file, `5` folder, `2` symlink, `x` pax, `L` GNU long name … */
	typeFlag?: string;
	linkName?: string;
	/** ustar prefix (POSIX long names). */
	prefix?: string;
	/** Write the size as GNU base-256. */
	base256Size?: boolean;
	/** `ustar\0` + `00` (POSIX, default) or `ustar  \0` (GNU). */
	magic?: 'posix' | 'gnu';
	/** Overrides the computed checksum. */
	checksum?: number;
	/** Raw size field text (12 bytes), overriding `size`. */
	rawSize?: string;
}

/** One 512-byte header. */
export function tarHeader(f: TarHeaderFields): Uint8Array {
	const h = new Uint8Array(BLOCK);
	const put = (at: number, len: number, text: string): void => {
		const bytes = encoder.encode(text);
		if (bytes.length > len) throw new Error(`${text} does not fit in ${len} bytes`);
		h.set(bytes, at);
	};
	const octal = (n: number, len: number): string => `${n.toString(8).padStart(len - 1, '0')}\0`;
	put(0, 100, f.name); // name
	put(100, 8, octal(0o644, 8)); // mode
	put(108, 8, octal(0, 8)); // uid
	put(116, 8, octal(0, 8)); // gid
	if (f.rawSize !== undefined) put(124, 12, f.rawSize);
	else if (f.base256Size === true) {
		h[124] = 0x80; // base-256 marker, then big-endian
		let n = f.size;
		for (let i = 135; i > 124; i--) {
			h[i] = n % 256;
			n = Math.floor(n / 256);
		}
	} else put(124, 12, octal(f.size, 12)); // size
	put(136, 12, octal(1_700_000_000, 12)); // mtime
	h.fill(0x20, 148, 156); // chksum, spaces while summing
	put(156, 1, f.typeFlag ?? '0'); // typeflag
	put(157, 100, f.linkName ?? ''); // linkname
	if (f.magic === 'gnu') put(257, 8, 'ustar  \0');
	else put(257, 8, 'ustar\u000000'); // magic + version
	put(265, 32, 'root'); // uname
	put(297, 32, 'root'); // gname
	put(345, 155, f.prefix ?? ''); // prefix
	let sum = 0;
	for (const b of h) sum += b;
	put(148, 8, `${(f.checksum ?? sum).toString(8).padStart(6, '0')}\0 `);
	return h;
}

/** `data` padded with zeros to whole blocks. */
export function padded(data: Uint8Array): Uint8Array {
	const out = new Uint8Array(Math.ceil(data.length / BLOCK) * BLOCK);
	out.set(data);
	return out;
}

/** pax records `"<len> key=value\n"` (the length counts itself). */
export function paxRecords(entries: Record<string, string>): Uint8Array {
	let text = '';
	for (const [k, v] of Object.entries(entries)) {
		const body = ` ${k}=${v}\n`;
		let len = encoder.encode(body).length + 1;
		while (String(len).length + encoder.encode(body).length !== len) len++;
		text += `${len}${body}`;
	}
	return encoder.encode(text);
}

/** A member for {@link buildTar}. */
export interface TarEntry {
	name: string;
	data?: Uint8Array;
	typeFlag?: string;
	linkName?: string;
	/** Precede with a pax header holding these records. */
	pax?: Record<string, string>;
	/** Precede with a GNU long-name header (`L`) holding the name. */
	gnuLongName?: boolean;
	/** Header field overrides. */
	header?: Partial<TarHeaderFields>;
}

/** What {@link buildTar} made, with where each member's data starts. */
export interface BuiltTar {
	bytes: Uint8Array;
	/** Data offset of each entry, in order. */
	dataOffsets: number[];
	/** Header offset of each entry (its first header, extended ones included). */
	headerOffsets: number[];
}

/** Builds an archive: entries, then two zero blocks unless `endBlocks` says otherwise. */
export function buildTar(entries: readonly TarEntry[], endBlocks = 2): BuiltTar {
	const parts: Uint8Array[] = [];
	const dataOffsets: number[] = [];
	const headerOffsets: number[] = [];
	let at = 0;
	const push = (b: Uint8Array): void => {
		parts.push(b);
		at += b.length;
	};
	for (const e of entries) {
		headerOffsets.push(at);
		const data = e.data ?? new Uint8Array(0);
		if (e.pax !== undefined) {
			const records = paxRecords(e.pax);
			push(tarHeader({ name: 'PaxHeaders/x', size: records.length, typeFlag: 'x' }));
			push(padded(records));
		}
		let name = e.name;
		if (e.gnuLongName === true) {
			const long = encoder.encode(`${e.name}\0`);
			push(tarHeader({ name: '././@LongLink', size: long.length, typeFlag: 'L', magic: 'gnu' }));
			push(padded(long));
			name = e.name.slice(0, 99);
		}
		push(tarHeader({ name, size: data.length, typeFlag: e.typeFlag, linkName: e.linkName, ...e.header }));
		dataOffsets.push(at);
		push(padded(data));
	}
	for (let i = 0; i < endBlocks; i++) push(new Uint8Array(BLOCK));
	const bytes = new Uint8Array(at);
	let o = 0;
	for (const p of parts) {
		bytes.set(p, o);
		o += p.length;
	}
	return { bytes, dataOffsets, headerOffsets };
}
