// SPDX-License-Identifier: MIT
import { describe, expect, it } from 'vitest';
import {
	CREATE_TYPES,
	Limits,
	VmdkError,
	canonicalCreateType,
	isRawDeviceCreateType,
	parseDescriptor,
	trimDescriptorPadding,
} from '../../../../src/core/index.js';
import { ascii, bytes } from '../../../helpers/bytes.js';
import { prng, randomInt } from '../../../helpers/prng.js';

/** What qemu-img 7.2 writes for a 3 MiB monolithicFlat disk. */
const QEMU_FLAT = `# Disk DescriptorFile
version=1
CID=db131a5e
parentCID=ffffffff
createType="monolithicFlat"

# Extent description
RW 6144 FLAT "monolithicFlat-flat.vmdk" 0

# The Disk Data Base
#DDB

ddb.virtualHWVersion = "4"
ddb.geometry.cylinders = "6"
ddb.geometry.heads = "16"
ddb.geometry.sectors = "63"
ddb.adapterType = "ide"
ddb.toolsVersion = "2147483647"
`;

function parseError(text: string | Uint8Array): VmdkError {
	try {
		parseDescriptor(text, { file: 'x.vmdk' });
	} catch (e) {
		if (e instanceof VmdkError) return e;
		throw e;
	}
	throw new Error('expected parseDescriptor to throw');
}

/** A minimal valid descriptor with the given header lines and extents. */
function desc(
	header: string,
	extents = 'RW 2048 FLAT "a-flat.vmdk" 0',
	createType = 'monolithicFlat',
): string {
	return `# Disk DescriptorFile\nversion=1\nCID=00000001\nparentCID=ffffffff\ncreateType="${createType}"\n${header}\n${extents}\n`;
}

describe('parseDescriptor', () => {
	it('reads what qemu-img writes', () => {
		const d = parseDescriptor(QEMU_FLAT);
		expect(d.version).toBe(1);
		expect(d.encoding).toBe('UTF-8');
		expect(d.cid).toBe('db131a5e');
		expect(d.parentCid).toBe('ffffffff');
		expect(d.createType).toBe('monolithicFlat');
		expect(d.parentFileNameHint).toBeUndefined();
		expect(d.extents).toEqual([
			{
				access: 'RW',
				sizeSectors: 6144,
				type: 'FLAT',
				fileName: 'monolithicFlat-flat.vmdk',
				offsetSectors: 0,
				extra: [],
				lineNumber: 8,
			},
		]);
		expect(d.capacityBytes).toBe(6144 * 512);
		expect(d.ddb.geometry).toEqual({ cylinders: 6, heads: 16, sectors: 63 });
		expect(d.ddb.adapterType).toBe('ide');
		expect(d.ddb.virtualHwVersion).toBe('4');
		expect(d.ddb.toolsVersion).toBe('2147483647');
		expect(d.ddb.thinProvisioned).toBe(false);
		expect(d.warnings).toEqual([]);
	});

	it('reads the layouts VMware Workstation, ESXi and VirtualBox write', () => {
		const workstation = parseDescriptor(
			[
				'# Disk DescriptorFile',
				'version=1',
				'encoding="windows-1252"',
				'CID=5f3a9c21',
				'parentCID=ffffffff',
				'isNativeSnapshot="no"',
				'createType="twoGbMaxExtentSparse"',
				'',
				'# Extent description',
				'RW 8323072 SPARSE "Windows 10 x64-s001.vmdk"',
				'RW 8323072 SPARSE "Windows 10 x64-s002.vmdk"',
				'RW 2048 SPARSE "Windows 10 x64-s003.vmdk"',
				'',
				'# The Disk Data Base ',
				'#DDB',
				'',
				'ddb.adapterType = "lsisas1068"',
				'ddb.geometry.cylinders = "1044"',
				'ddb.geometry.heads = "255"',
				'ddb.geometry.sectors = "63"',
				'ddb.longContentID = "c2d0e2b44c1e7b2a5f3a9c21fffffffe"',
				'ddb.uuid = "60 00 C2 93 2e 8f 6a 11-c6 0d 4c 52 0e 6b 1a 3f"',
				'ddb.virtualHWVersion = "19"',
				'',
			].join('\r\n'),
		);
		expect(workstation.encoding).toBe('windows-1252');
		expect(workstation.extents.map((e) => e.fileName)).toEqual([
			'Windows 10 x64-s001.vmdk',
			'Windows 10 x64-s002.vmdk',
			'Windows 10 x64-s003.vmdk',
		]);
		expect(workstation.capacityBytes).toBe((8323072 * 2 + 2048) * 512);
		expect(workstation.ddb.virtualHwVersion).toBe('19');
		expect(workstation.entries.get('isnativesnapshot')).toBe('no');

		const esxi = parseDescriptor(
			'# Disk DescriptorFile\nversion=3\nencoding="UTF-8"\nCID=fffffffe\nparentCID=ffffffff\ncreateType="vmfs"\n\n' +
				'# Extent description\nRW 83886080 VMFS "web01-flat.vmdk"\n\n# Change Tracking File\nchangeTrackPath="web01-ctk.vmdk"\n\n' +
				'# The Disk Data Base\n#DDB\n\nddb.adapterType = "pvscsi"\nddb.thinProvisioned = "1"\nddb.toolsInstallType = "4"\n',
		);
		expect(esxi.version).toBe(3);
		expect(esxi.ddb.thinProvisioned).toBe(true);
		expect(esxi.entries.get('changetrackpath')).toBe('web01-ctk.vmdk');
		expect(esxi.ddb.entries.get('ddb.toolsinstalltype')).toBe('4');

		const vbox = parseDescriptor(
			'# Disk DescriptorFile\nversion=1\nCID=8a2b4c6d\nparentCID=1f2e3d4c\ncreateType="monolithicSparse"\n' +
				'parentFileNameHint="/home/u/VirtualBox VMs/deb/deb.vmdk"\n\n# Extent description\nRW 41943040 SPARSE "{d5c3e9f0-1a2b-4c3d-8e9f-0a1b2c3d4e5f}.vmdk"\n\n' +
				'# The disk Data Base\n#DDB\n\nddb.virtualHWVersion="4"\nddb.adapterType="ide"\n' +
				'ddb.uuid.image="d5c3e9f0-1a2b-4c3d-8e9f-0a1b2c3d4e5f"\nddb.uuid.parent="00000000-0000-0000-0000-000000000000"\n',
		);
		expect(vbox.parentFileNameHint).toBe('/home/u/VirtualBox VMs/deb/deb.vmdk');
		expect(vbox.ddb.entries.get('ddb.uuid.image')).toBe('d5c3e9f0-1a2b-4c3d-8e9f-0a1b2c3d4e5f');
		expect(vbox.ddb.adapterType).toBe('ide');
	});

	it('gives the same result for CRLF, lone CR, bytes and a UTF-8 BOM', () => {
		const lf = parseDescriptor(QEMU_FLAT);
		const crlf = parseDescriptor(QEMU_FLAT.replaceAll('\n', '\r\n'));
		const cr = parseDescriptor(QEMU_FLAT.replaceAll('\n', '\r'));
		const bom = parseDescriptor(bytes([0xef, 0xbb, 0xbf], ascii(QEMU_FLAT)));
		for (const d of [crlf, cr, bom]) {
			expect(d.extents).toEqual(lf.extents);
			expect(d.cid).toBe(lf.cid);
			expect(d.ddb.entries).toEqual(lf.ddb.entries);
		}
	});

	it('accepts "# Disk Descriptor File", any key case, spaces around = and unquoted values', () => {
		const d = parseDescriptor(
			'# Disk Descriptor File\r\n  VERSION = 2\r\ncid = ABCDEF\r\nParentCid=FFFFFFFF\r\nCREATETYPE = vmfs\r\n' +
				'rw 100 vmfs "disk with spaces-flat.vmdk"\r\nDDB.ThinProvisioned = "1"\r\nddb.UUID = "60 00 C2 9a"\r\n',
		);
		expect(d.version).toBe(2);
		expect(d.cid).toBe('00abcdef');
		expect(d.parentCid).toBe('ffffffff');
		expect(d.createType).toBe('vmfs');
		expect(d.extents[0]).toMatchObject({
			access: 'RW',
			type: 'VMFS',
			fileName: 'disk with spaces-flat.vmdk',
		});
		expect(d.ddb.thinProvisioned).toBe(true);
		expect(d.ddb.uuid).toBe('60 00 C2 9a');
	});

	it('accepts a descriptor without the signature comment when it starts with version= (as QEMU does)', () => {
		const d = parseDescriptor('# made by hand\nversion=1\ncreateType="custom"\nRW 8 ZERO\n');
		expect(d.extents[0]).toMatchObject({ type: 'ZERO', fileName: undefined });
		expect(d.cid).toBeUndefined();
	});

	it('keeps unknown keys and the whole disk database', () => {
		const d = parseDescriptor(
			desc('isNativeSnapshot="no"\nchangeTrackPath="x-ctk.vmdk"\nfutureKey = "42"') +
				'ddb.longContentID = "0123456789abcdef0123456789abcdef"\nddb.deletable = "true"\n' +
				'ddb.geometry.biosCylinders="1024"\nddb.geometry.biosHeads="255"\nddb.geometry.biosSectors="63"\n' +
				'ddb.uuid.image="8f1e4c3a-0000-4000-8000-000000000001"\n',
		);
		expect(d.entries.get('isnativesnapshot')).toBe('no');
		expect(d.entries.get('changetrackpath')).toBe('x-ctk.vmdk');
		expect(d.entries.get('futurekey')).toBe('42');
		expect(d.ddb.longContentId).toBe('0123456789abcdef0123456789abcdef');
		expect(d.ddb.entries.get('ddb.deletable')).toBe('true');
		expect(d.ddb.entries.get('ddb.uuid.image')).toBe('8f1e4c3a-0000-4000-8000-000000000001');
		expect(d.ddb.biosGeometry).toEqual({ cylinders: 1024, heads: 255, sectors: 63 });
		expect(d.ddb.geometry).toBeUndefined();
	});

	it('reads a snapshot descriptor with parentFileNameHint', () => {
		const d = parseDescriptor(
			'# Disk DescriptorFile\nversion=1\nCID=e4a96058\nparentCID=8dcaf59b\ncreateType="monolithicSparse"\n' +
				'parentFileNameHint="C:\\VMs\\Win\\base.vmdk"\nRW 6144 SPARSE "child.vmdk"\n',
		);
		expect(d.parentCid).toBe('8dcaf59b');
		expect(d.parentFileNameHint).toBe('C:\\VMs\\Win\\base.vmdk');
		expect(d.extents[0]).toMatchObject({ type: 'SPARSE', fileName: 'child.vmdk', offsetSectors: 0 });
	});

	it('reads every access mode and extent type, offsets and extra device tokens', () => {
		const d = parseDescriptor(
			desc(
				'',
				[
					'RW 10 FLAT "a" 5',
					'RDONLY 11 SPARSE "b"',
					'NOACCESS 12 ZERO',
					'rdonly 13 VMFS "c"',
					'RW 14 VMFSSPARSE "d-delta.vmdk"',
					'RW 15 SESPARSE "e-sesparse.vmdk"',
					'RW 16 VMFSRAW "/dev/sdb" 0',
					'RW 17 VMFSRDM "f-rdm.vmdk"',
					'RW 18 FLAT "g" 7 1234-5678 dev0',
				].join('\n'),
				'custom',
			),
		);
		expect(d.extents.map((e) => [e.access, e.sizeSectors, e.type, e.fileName, e.offsetSectors])).toEqual([
			['RW', 10, 'FLAT', 'a', 5],
			['RDONLY', 11, 'SPARSE', 'b', 0],
			['NOACCESS', 12, 'ZERO', undefined, 0],
			['RDONLY', 13, 'VMFS', 'c', 0],
			['RW', 14, 'VMFSSPARSE', 'd-delta.vmdk', 0],
			['RW', 15, 'SESPARSE', 'e-sesparse.vmdk', 0],
			['RW', 16, 'VMFSRAW', '/dev/sdb', 0],
			['RW', 17, 'VMFSRDM', 'f-rdm.vmdk', 0],
			['RW', 18, 'FLAT', 'g', 7],
		]);
		expect(d.extents[8]?.extra).toEqual(['1234-5678', 'dev0']);
		expect(d.extents.map((e) => e.lineNumber)).toEqual([7, 8, 9, 10, 11, 12, 13, 14, 15]);
		expect(d.capacityBytes).toBe((10 + 11 + 12 + 13 + 14 + 15 + 16 + 17 + 18) * 512);
	});

	it('decodes windows-1252 when declared, and falls back to it with a warning when UTF-8 is invalid', () => {
		// 0xe9 is é in windows-1252 and an invalid lone byte in UTF-8.
		const name = bytes(ascii('RW 8 FLAT "caf'), [0xe9], ascii('-flat.vmdk"\n'));
		const declared = parseDescriptor(bytes(ascii(desc('encoding="windows-1252"', '')), name));
		expect(declared.extents[0]?.fileName).toBe('café-flat.vmdk');
		expect(declared.encoding).toBe('windows-1252');
		expect(declared.warnings).toEqual([]);
		const undeclared = parseDescriptor(bytes(ascii(desc('', '')), name));
		expect(undeclared.extents[0]?.fileName).toBe('café-flat.vmdk');
		expect(undeclared.warnings[0]).toMatch(/not valid UTF-8/);
		const utf8 = parseDescriptor(
			bytes(ascii(desc('encoding="UTF-8"', '')), new TextEncoder().encode('RW 8 FLAT "日本-flat.vmdk"\n')),
		);
		expect(utf8.extents[0]?.fileName).toBe('日本-flat.vmdk');
		const sjis = parseDescriptor(
			bytes(ascii(desc('encoding="Shift_JIS"', '')), ascii('RW 8 FLAT "'), [0x82, 0xa0], ascii('.vmdk"\n')),
		);
		expect(sjis.extents[0]?.fileName).toBe('あ.vmdk');
	});

	it('names the line and byte offset of syntax errors', () => {
		const text = desc('this line is nonsense');
		const e = parseError(text);
		expect(e.code).toBe('VMDK_BAD_DESCRIPTOR');
		expect(e.message).toMatch(/line 6/);
		expect(e.file).toBe('x.vmdk');
		expect(e.offsetBytes).toBe(text.indexOf('this line'));
		expect(parseError(desc('ddb.adapterType = "ide')).message).toMatch(/line 6: unterminated quote/);
		expect(parseError(desc('', 'RW 12x FLAT "a"')).message).toMatch(/line 7: extent size "12x"/);
		expect(parseError(desc('', 'RW 0 FLAT "a"')).message).toMatch(/line 7: extent size 0/);
		expect(parseError(desc('', 'RW 8 FLAT')).message).toMatch(/line 7: FLAT extent names no file/);
		expect(parseError(desc('', 'RW 8')).message).toMatch(/line 7: extent line has no type/);
		expect(parseError(desc('', 'RW 8 FLAT "a')).message).toMatch(/line 7: unterminated quote/);
		expect(
			parseError('# Disk DescriptorFile\nversion=1\nCID=xyz\ncreateType="custom"\nRW 1 ZERO\n').message,
		).toMatch(/line 3: cid "xyz"/);
	});

	it('refuses unknown extent types and versions with their own codes', () => {
		const e = parseError(desc('', 'RW 8 VSANSPARSE "a"'));
		expect(e.code).toBe('VMDK_UNSUPPORTED_TYPE');
		expect(e.message).toMatch(/line 7/);
		const v = parseError('# Disk DescriptorFile\nversion=4\ncreateType="custom"\nRW 1 ZERO\n');
		expect(v.code).toBe('VMDK_UNSUPPORTED_VERSION');
		expect(v.message).toMatch(/line 2/);
		expect(parseError('# Disk DescriptorFile\nversion=0\ncreateType="custom"\nRW 1 ZERO\n').code).toBe(
			'VMDK_UNSUPPORTED_VERSION',
		);
		for (const version of [1, 2, 3]) {
			expect(
				parseDescriptor(`# Disk DescriptorFile\nversion=${version}\ncreateType="custom"\nRW 1 ZERO\n`)
					.version,
			).toBe(version);
		}
	});

	it('refuses text without the signature, without createType or without extents', () => {
		expect(parseError('hello world\nversion=1\n').message).toMatch(
			/line 1: expected "# Disk DescriptorFile"/,
		);
		expect(parseError('# Disk DescriptorFile\nversion=1\nRW 1 ZERO\n').message).toMatch(/no createType/);
		expect(parseError('# Disk DescriptorFile\nversion=1\ncreateType="custom"\n').message).toMatch(
			/no extents/,
		);
	});

	it('refuses a descriptor over the size limit with VMDK_LIMIT, before looking at it', () => {
		const big = new Uint8Array(2 * 1024 * 1024).fill(0x23); // '#' everywhere: a huge comment
		const e = parseError(big);
		expect(e.code).toBe('VMDK_LIMIT');
		expect(e.file).toBe('x.vmdk');
		expect(() => parseDescriptor(new Uint8Array(Limits.DESCRIPTOR_MAX_BYTES + 1).fill(0x0a))).toThrow(
			/maximum/,
		);
	});

	it('ends the text at a NUL byte; an error in the cut text says where it ended', () => {
		const source = desc('ddb.adapterType = "ide"');
		const text = ascii(source);
		const at = source.indexOf('ide"');
		text[at] = 0;
		const e = parseError(text);
		expect(e.code).toBe('VMDK_BAD_DESCRIPTOR');
		expect(e.message).toMatch(/line 6: unterminated quote/);
		expect(e.message).toContain(`the text ends at the NUL byte at offset ${at}`);
	});

	it('accepts trailing NUL padding (qemu-img pads descriptor files to a sector)', () => {
		const padded = bytes(ascii(QEMU_FLAT), new Uint8Array(512 - QEMU_FLAT.length));
		expect(parseDescriptor(padded).extents).toEqual(parseDescriptor(QEMU_FLAT).extents);
		// Like QEMU (a C string), bytes after the first NUL are not part of the text.
		const tail = parseDescriptor(bytes(ascii(QEMU_FLAT), [0, 0], ascii('# more\n')));
		expect(tail.extents).toEqual(parseDescriptor(QEMU_FLAT).extents);
	});

	it('cuts an embedded descriptor at its NUL padding', () => {
		const area = bytes(ascii(QEMU_FLAT), new Uint8Array(512));
		expect(parseDescriptor(trimDescriptorPadding(area)).cid).toBe('db131a5e');
		expect(trimDescriptorPadding(ascii('abc')).length).toBe(3);
	});

	it('limits the extent count and the total size', () => {
		const many = Array.from({ length: Limits.EXTENTS_MAX + 1 }, () => 'RW 1 ZERO').join('\n');
		expect(parseError(desc('', many, 'custom')).code).toBe('VMDK_LIMIT');
		const huge = `RW ${Limits.DISK_MAX_BYTES / 512} ZERO\nRW 1 ZERO`;
		const e = parseError(desc('', huge, 'custom'));
		expect(e.code).toBe('VMDK_LIMIT');
		expect(e.message).toMatch(/line 8/);
		expect(parseError(desc('', 'RW 99999999999999999999 ZERO', 'custom')).code).toBe('VMDK_BAD_DESCRIPTOR');
	});

	it('reports the offset inside the host file for an embedded descriptor', () => {
		const e = (() => {
			try {
				parseDescriptor(desc('oops'), { file: 'm.vmdk', offsetBytes: 512 });
			} catch (err) {
				return err as VmdkError;
			}
			throw new Error('no error');
		})();
		expect(e.offsetBytes).toBe(512 + desc('oops').indexOf('oops'));
		expect(e.message).toMatch(/^m\.vmdk at byte \d+: descriptor line 6/);
	});
});

describe('parseDescriptor on damaged input', () => {
	/** Parses, returning the error code or 'ok'; anything but a VmdkError fails the test. */
	function outcome(input: Uint8Array): string {
		try {
			parseDescriptor(input, { file: 'x.vmdk' });
			return 'ok';
		} catch (e) {
			if (e instanceof VmdkError) return e.code;
			throw e;
		}
	}

	it('never throws anything but a VmdkError for a truncation at any byte', () => {
		const text = ascii(QEMU_FLAT);
		const codes = new Set<string>();
		for (let n = 0; n <= text.length; n++) codes.add(outcome(text.subarray(0, n)));
		// A cut inside an extent type ("FL") reads as an unknown type.
		expect([...codes].sort()).toEqual(['VMDK_BAD_DESCRIPTOR', 'VMDK_UNSUPPORTED_TYPE', 'ok']);
	});

	it('never throws anything but a VmdkError for random byte changes', () => {
		const text = ascii(QEMU_FLAT);
		const random = prng(12345);
		const next = (n: number): number => randomInt(random, n);
		for (let i = 0; i < 2000; i++) {
			const damaged = text.slice();
			const changes = 1 + next(4);
			for (let c = 0; c < changes; c++) damaged[next(damaged.length)] = next(256);
			expect([
				'ok',
				'VMDK_BAD_DESCRIPTOR',
				'VMDK_UNSUPPORTED_TYPE',
				'VMDK_UNSUPPORTED_VERSION',
				'VMDK_LIMIT',
			]).toContain(outcome(damaged));
		}
	});
});

describe('createTypes', () => {
	it('parses every createType and maps its other spellings to one canonical name', () => {
		for (const t of CREATE_TYPES) {
			expect(parseDescriptor(desc('', 'RW 1 ZERO', t)).createType).toBe(t);
			expect(canonicalCreateType(t)).toBe(t);
			expect(canonicalCreateType(t.toUpperCase())).toBe(t);
		}
		expect(canonicalCreateType('2GbMaxExtentSparse')).toBe('twoGbMaxExtentSparse');
		expect(canonicalCreateType('2GbMaxExtentFlat')).toBe('twoGbMaxExtentFlat');
		expect(canonicalCreateType('vmfsRawDeviceMap')).toBe('vmfsRDM');
		expect(canonicalCreateType('vmfsPassthroughRawDeviceMap')).toBe('vmfsRDMP');
		expect(canonicalCreateType('vsanSparse')).toBeUndefined();
		expect(canonicalCreateType('qcow2')).toBeUndefined();
	});

	it('knows which createTypes are raw devices', () => {
		const raw = CREATE_TYPES.filter((t) => isRawDeviceCreateType(t));
		expect(raw).toEqual(['fullDevice', 'partitionedDevice', 'vmfsRaw', 'vmfsRDM', 'vmfsRDMP']);
	});
});
