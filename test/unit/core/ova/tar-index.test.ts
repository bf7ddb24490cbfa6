// SPDX-License-Identifier: MIT
import { describe, expect, it } from 'vitest';
import {
	TAR_EXTENDED_HEADER_MAX_BYTES,
	TAR_MAX_MEMBERS,
	VmdkError,
	isTarHeader,
	readTarIndex,
	type RandomAccessFile,
} from '../../../../src/core/index.js';
import { buildTar, padded, paxRecords, tarHeader } from '../../../helpers/build-tar.js';
import { MemoryRandomAccessFile } from '../../../helpers/build-cowd.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

function file(bytes: Uint8Array): RandomAccessFile {
	return new MemoryRandomAccessFile(bytes, '/x/app.ova');
}

async function indexError(bytes: Uint8Array): Promise<VmdkError> {
	try {
		await readTarIndex(file(bytes));
	} catch (error) {
		expect(error).toBeInstanceOf(VmdkError);
		return error as VmdkError;
	}
	throw new Error('readTarIndex did not fail');
}

function join(...parts: Uint8Array[]): Uint8Array {
	const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
	let at = 0;
	for (const p of parts) {
		out.set(p, at);
		at += p.length;
	}
	return out;
}

describe('readTarIndex', () => {
	it('indexes ustar members: names, types, data offsets and sizes, without reading data', async () => {
		const ovf = enc('<Envelope/>');
		const disk = new Uint8Array(1300).fill(7);
		const built = buildTar([
			{ name: './app.ovf', data: ovf },
			{ name: 'disks/', typeFlag: '5' },
			{ name: 'disks/app-disk1.vmdk', data: disk },
			{ name: 'latest', typeFlag: '2', linkName: 'disks/app-disk1.vmdk' },
		]);
		const reads: number[] = [];
		const f = file(built.bytes);
		const counting: RandomAccessFile = {
			path: f.path,
			sizeBytes: f.sizeBytes,
			readInto: (p, d, o, n) => {
				reads.push(n);
				return f.readInto(p, d, o, n);
			},
			close: () => f.close(),
		};
		const index = await readTarIndex(counting);
		expect(index.members.map((m) => [m.name, m.path, m.type, m.dataOffsetBytes, m.sizeBytes])).toEqual([
			['app.ovf', 'app.ovf', 'file', built.dataOffsets[0], ovf.length],
			['disks/', 'disks', 'directory', built.dataOffsets[1], 0],
			['disks/app-disk1.vmdk', 'disks/app-disk1.vmdk', 'file', built.dataOffsets[2], 1300],
			['latest', 'latest', 'link', built.dataOffsets[3], 0],
		]);
		expect(index.members[3]?.linkName).toBe('disks/app-disk1.vmdk');
		expect(index.warnings).toEqual([]);
		// One header read per member plus the end marker: member data is never read.
		expect(reads).toEqual([512, 512, 512, 512, 512]);
	});

	it('joins the POSIX prefix and name, and reads pax path/size and GNU long names', async () => {
		const long = `${'d'.repeat(120)}/${'n'.repeat(90)}.vmdk`;
		const data = new Uint8Array(700).fill(1);
		const built = buildTar([
			{ name: 'disk.vmdk', data, header: { prefix: 'appliance/v1' } },
			{ name: 'short-name', data, pax: { path: long, mtime: '1700000000.5' } },
			{ name: long, data, gnuLongName: true },
			// pax size overrides a header that says 0 (as for members over 8 GiB).
			{ name: 'sized', data, pax: { size: '700' }, header: { size: 0 } },
		]);
		const index = await readTarIndex(file(built.bytes));
		expect(index.members.map((m) => [m.name, m.sizeBytes, m.dataOffsetBytes])).toEqual([
			['appliance/v1/disk.vmdk', 700, built.dataOffsets[0]],
			[long, 700, built.dataOffsets[1]],
			[long, 700, built.dataOffsets[2]],
			['sized', 700, built.dataOffsets[3]],
		]);
		expect(index.members[1]?.headerOffsetBytes).toBe(built.headerOffsets[1]);
		expect(index.warnings).toEqual([
			`/x/app.ova: member "${long}" appears more than once; the last copy is used`,
		]);
	});

	it('reads GNU base-256 sizes and accepts GNU magic', async () => {
		const data = new Uint8Array(1025).fill(3);
		const built = buildTar([{ name: 'big.vmdk', data, header: { base256Size: true, magic: 'gnu' } }]);
		const index = await readTarIndex(file(built.bytes));
		expect(index.members[0]).toMatchObject({ name: 'big.vmdk', sizeBytes: 1025, type: 'file' });
	});

	it('flags absolute names and names with .. as unsafe, and GNU sparse members as other', async () => {
		const built = buildTar([
			{ name: '/etc/passwd', data: enc('x') },
			{ name: '../escape.vmdk', data: enc('x') },
			{ name: 'a/../../b.vmdk', data: enc('x') },
			{ name: 'ok/../fine.vmdk', data: enc('x') },
			{ name: 'sparse.vmdk', data: enc('x'), typeFlag: 'S' },
			{ name: 'paxsparse.vmdk', data: enc('x'), pax: { 'GNU.sparse.major': '1' } },
			{ name: 'fifo', typeFlag: '6' },
		]);
		const index = await readTarIndex(file(built.bytes));
		expect(index.members.map((m) => [m.path, m.unsafe, m.type])).toEqual([
			['/etc/passwd', true, 'file'],
			['../escape.vmdk', true, 'file'],
			['../b.vmdk', true, 'file'],
			['fine.vmdk', false, 'file'],
			['sparse.vmdk', false, 'other'],
			['paxsparse.vmdk', false, 'other'],
			['fifo', false, 'other'],
		]);
	});

	it('warns when the end-of-archive blocks are missing after a complete member', async () => {
		const built = buildTar([{ name: 'a.ovf', data: enc('x') }], 0);
		const index = await readTarIndex(file(built.bytes));
		expect(index.members).toHaveLength(1);
		expect(index.warnings).toEqual(['/x/app.ova: no end-of-archive marker after the last member']);
		// A last member whose data is complete but whose padding was cut off is still readable.
		const unpadded = built.bytes.subarray(0, built.dataOffsets[0]! + 1);
		expect((await readTarIndex(file(unpadded))).members[0]?.sizeBytes).toBe(1);
	});

	it('refuses a header with a bad checksum, naming its offset', async () => {
		const built = buildTar([
			{ name: 'a.ovf', data: enc('x') },
			{ name: 'b.vmdk', data: enc('y'), header: { checksum: 1234 } },
		]);
		const e = await indexError(built.bytes);
		expect(e.code).toBe('OVA_BAD_ARCHIVE');
		expect(e.offsetBytes).toBe(built.headerOffsets[1]);
		expect(e.message).toMatch(/checksum mismatch.*wrong size/);
	});

	it('names a member that says it is larger than what is left of the archive', async () => {
		const built = buildTar([{ name: 'disk.vmdk', data: new Uint8Array(2000) }], 0);
		const e = await indexError(built.bytes.subarray(0, 512 + 1000));
		expect(e.code).toBe('VMDK_TRUNCATED');
		expect(e.message).toMatch(
			/"disk\.vmdk" says it holds 2000 bytes from byte 512, but the archive ends at byte 1512/,
		);
	});

	it('a member whose size field lies (too small) makes the next "header" fail its checksum', async () => {
		const data = new Uint8Array(3000).fill(0x41);
		const built = buildTar([
			{ name: 'liar.vmdk', data, header: { size: 1000 } },
			{ name: 'next.vmdk', data: enc('z') },
		]);
		const e = await indexError(built.bytes);
		expect(e.code).toBe('OVA_BAD_ARCHIVE');
		expect(e.offsetBytes).toBe(512 + 1024);
	});

	it('gives a typed error at every truncation point', async () => {
		const built = buildTar([
			{ name: 'a.ovf', data: enc('<Envelope/>'), pax: { path: 'app.ovf' } },
			{ name: 'disk.vmdk', data: new Uint8Array(1500).fill(9) },
		]);
		for (let cut = 1; cut < built.bytes.length; cut++) {
			try {
				const index = await readTarIndex(file(built.bytes.subarray(0, cut)));
				// Only cuts at a member boundary (or in the end marker / padding) may succeed.
				expect(index.members.length).toBeGreaterThan(0);
			} catch (error) {
				expect(error, `cut at ${cut}`).toBeInstanceOf(VmdkError);
				expect(['VMDK_TRUNCATED', 'OVA_BAD_ARCHIVE']).toContain((error as VmdkError).code);
			}
		}
	});

	it('refuses malformed numbers and pax records', async () => {
		const bad = buildTar([{ name: 'a', data: enc('x'), header: { rawSize: '12x4567\0' } }]);
		expect((await indexError(bad.bytes)).message).toMatch(/size field "12x4567" is not an octal number/);

		const negative = tarHeader({ name: 'n', size: 0 });
		negative[124] = 0xff;
		// Re-sum the checksum for the changed byte.
		const fixed = tarHeader({ name: 'n', size: 0, checksum: sumWithSpaces(negative) });
		fixed[124] = 0xff;
		expect((await indexError(join(fixed, new Uint8Array(1024)))).message).toMatch(/negative/);

		for (const records of ['5 a=b', '99 path=x\n', 'x path=y\n', '8 novalue\n']) {
			const rec = enc(records);
			const bytes = join(
				tarHeader({ name: 'p', size: rec.length, typeFlag: 'x' }),
				padded(rec),
				new Uint8Array(1024),
			);
			const e = await indexError(bytes);
			expect(e.code, records).toBe('OVA_BAD_ARCHIVE');
		}
		const badSize = paxRecords({ size: '12abc' });
		const e = await indexError(
			join(
				tarHeader({ name: 'p', size: badSize.length, typeFlag: 'x' }),
				padded(badSize),
				new Uint8Array(1024),
			),
		);
		expect(e.message).toMatch(/pax size "12abc" is not a number/);
	});

	it('caps extended headers, member counts, and needs a member after an extended header', async () => {
		const huge = tarHeader({ name: 'p', size: TAR_EXTENDED_HEADER_MAX_BYTES + 1, typeFlag: 'x' });
		const hugeTar = join(huge, new Uint8Array(TAR_EXTENDED_HEADER_MAX_BYTES + 512));
		expect((await indexError(hugeTar)).code).toBe('VMDK_LIMIT');

		const many = buildTar(Array.from({ length: TAR_MAX_MEMBERS + 1 }, (_, i) => ({ name: `f${i}` })));
		expect((await indexError(many.bytes)).message).toMatch(/more than 10000 members/);

		const rec = paxRecords({ path: 'x.vmdk' });
		const dangling = join(tarHeader({ name: 'p', size: rec.length, typeFlag: 'x' }), padded(rec));
		expect((await indexError(dangling)).code).toBe('VMDK_TRUNCATED');
	});

	it('isTarHeader accepts a checksummed header only', () => {
		const h = tarHeader({ name: 'a', size: 1 });
		expect(isTarHeader(h)).toBe(true);
		const broken = h.slice();
		broken[0] = 0x42;
		expect(isTarHeader(broken)).toBe(false);
		expect(isTarHeader(new Uint8Array(512))).toBe(false);
		expect(isTarHeader(h.subarray(0, 100))).toBe(false);
	});
});

function sumWithSpaces(h: Uint8Array): number {
	let sum = 0;
	for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
	return sum;
}
