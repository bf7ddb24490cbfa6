// SPDX-License-Identifier: MIT
import { describe, expect, it } from 'vitest';
import {
	VMX_MAX_BYTES,
	VmdkError,
	describeVmx,
	listVmxDiskSlots,
	parseVmx,
	type VmxFile,
} from '../../../../src/core/index.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

function catchError(fn: () => unknown): VmdkError {
	try {
		fn();
	} catch (error) {
		if (error instanceof VmdkError) return error;
		throw error;
	}
	throw new Error('expected a VmdkError');
}

describe('parseVmx', () => {
	it('reads key = "value" lines, case-insensitive keys, comments, CRLF and |XX escapes', () => {
		const vmx = parseVmx(
			enc(
				[
					'#!/usr/bin/vmware',
					'.encoding = "UTF-8"',
					'config.version = "8"',
					'displayName = "My |22quoted|22 VM |7C bar"',
					'  GuestOS="ubuntu-64"   # trailing comment',
					'memsize = 2048',
					'',
					'# a comment',
					'displayName = "Last wins"\r',
				].join('\r\n'),
			),
		);
		expect(vmx.get('DISPLAYNAME')).toBe('Last wins');
		expect(vmx.get('guestos')).toBe('ubuntu-64');
		expect(vmx.get('memsize')).toBe('2048');
		expect(vmx.get('config.version')).toBe('8');
		expect(vmx.encoding).toBe('UTF-8');
		expect(vmx.warnings).toEqual([]);
		expect(parseVmx('a = "x|22y|7cz|zz|"').get('a')).toBe('x"y|z|zz|');
	});

	it('honours .encoding (windows-1252, Shift_JIS)', () => {
		const latin = Uint8Array.of(
			...enc('.encoding = "windows-1252"\ndisplayName = "Caf'),
			0xe9,
			...enc('"\n'),
		);
		expect(parseVmx(latin).get('displayName')).toBe('Café');
		// 日本 in Shift_JIS is 93 fa 96 7b.
		const sjis = Uint8Array.of(
			...enc('.encoding = "Shift_JIS"\ndisplayName = "'),
			0x93,
			0xfa,
			0x96,
			0x7b,
			0x22,
		);
		const vmx = parseVmx(sjis);
		expect(vmx.get('displayName')).toBe('日本');
		expect(vmx.encoding).toBe('Shift_JIS');
	});

	it('falls back to windows-1252 with a warning when undeclared bytes are not UTF-8', () => {
		const vmx = parseVmx(Uint8Array.of(...enc('displayName = "M'), 0xfc, ...enc('ller"\n')));
		expect(vmx.get('displayName')).toBe('Müller');
		expect(vmx.encoding).toBe('windows-1252');
		expect(vmx.warnings.join()).toMatch(/not valid UTF-8/);
	});

	it('rejects bytes that do not decode in the declared encoding, naming the line', () => {
		const bad = Uint8Array.of(...enc('.encoding = "UTF-8"\na = "b"\nc = "'), 0xff, 0xfe, 0x22);
		const e = catchError(() => parseVmx(bad, { file: 'x.vmx' }));
		expect(e.code).toBe('VMX_BAD_FILE');
		expect(e.message).toMatch(/line 3/);
		expect(e.offsetBytes).toBe(28);
		expect(e.file).toBe('x.vmx');
	});

	it('rejects binary junk with the line number and byte offset', () => {
		const junk = Uint8Array.of(...enc('a = "1"\nb = "2"\n'), 0x00, 0x13, 0x37, 0x88, 0x0a);
		const e = catchError(() => parseVmx(junk, { file: 'junk.vmx' }));
		expect(e.code).toBe('VMX_BAD_FILE');
		expect(e.message).toMatch(/^junk\.vmx at byte 16: \.vmx line 3: contains binary data/);
	});

	it('rejects lines that are not key = value, and unterminated quotes', () => {
		expect(catchError(() => parseVmx('a = "1"\nthis is not a setting\n')).message).toMatch(
			/line 2: expected/,
		);
		expect(catchError(() => parseVmx('a = "1\n')).message).toMatch(/line 1: unterminated/);
		expect(catchError(() => parseVmx('a = "1" junk\n')).message).toMatch(/after the closing quote/);
		expect(catchError(() => parseVmx(' = "1"\n')).message).toMatch(/invalid key/);
	});

	it('refuses text over VMX_MAX_BYTES before parsing', () => {
		const big = 'a'.repeat(VMX_MAX_BYTES + 1);
		expect(catchError(() => parseVmx(big)).code).toBe('VMDK_LIMIT');
	});
});

describe('describeVmx', () => {
	it('exposes displayName, guestOS, virtualHW.version, encoding and encryption', () => {
		const d = describeVmx(
			parseVmx(
				'.encoding = "UTF-8"\ndisplayName = "Win 11"\nguestOS = "windows11-64"\nvirtualHW.version = "19"\nuuid.bios = "56 4d 11"\n',
			),
		);
		expect(d).toEqual({
			displayName: 'Win 11',
			guestOS: 'windows11-64',
			virtualHwVersion: 19,
			encoding: 'UTF-8',
			uuidBios: '56 4d 11',
			encrypted: false,
		});
		const empty = describeVmx(
			parseVmx('encryption.keySafe = "vmware:key/list/..."\nvirtualHW.version = "x"'),
		);
		expect(empty).toMatchObject({
			displayName: null,
			guestOS: null,
			virtualHwVersion: null,
			encrypted: true,
		});
	});
});

describe('listVmxDiskSlots', () => {
	const vmx: VmxFile = parseVmx(
		[
			'nvme0.present = "TRUE"',
			'nvme0:0.present = "TRUE"',
			'nvme0:0.fileName = "n.vmdk"',
			'sata0.present = "TRUE"',
			'sata0:1.present = "TRUE"',
			'sata0:1.fileName = "s.vmdk"',
			'sata0:1.mode = "Independent-Persistent"',
			'scsi0.present = "TRUE"',
			'scsi0:10.present = "TRUE"',
			'scsi0:10.fileName = "ten.vmdk"',
			'scsi0:2.present = "TRUE"',
			'scsi0:2.fileName = "two.vmdk"',
			'scsi0:2.deviceType = "scsi-hardDisk"',
			'scsi1.present = "TRUE"',
			'scsi1:0.present = "TRUE"',
			'scsi1:0.fileName = "/vmfs/volumes/ds1/vm/abs.vmdk"',
			'ide1:0.present = "TRUE"',
			'ide1:0.fileName = "ide.vmdk"',
			'ide0:0.present = "TRUE"',
			'ide0:0.deviceType = "cdrom-image"',
			'ide0:0.fileName = "ubuntu.iso"',
			'ide0:1.present = "TRUE"',
			'ide0:1.deviceType = "atapi-cdrom"',
			'ide0:1.fileName = "auto detect"',
			'scsi0:3.present = "FALSE"',
			'scsi0:3.fileName = "removed.vmdk"',
			'scsi2.present = "FALSE"',
			'scsi2:0.present = "TRUE"',
			'scsi2:0.fileName = "on-absent-controller.vmdk"',
			'scsi0:4.fileName = "no-present-key.vmdk"',
			'scsi0:5.present = "TRUE"',
			'scsi0:5.deviceType = "rawDisk"',
			'scsi0:5.fileName = "physical.vmdk"',
			'floppy0.fileName = "a.flp"',
		].join('\n'),
	);

	it('lists hard disks ordered ide, scsi, sata, nvme, then bus and unit numerically', () => {
		const { slots } = listVmxDiskSlots(vmx);
		expect(slots.map((s) => `${s.controller}=${s.fileName}`)).toEqual([
			'ide1:0=ide.vmdk',
			'scsi0:2=two.vmdk',
			'scsi0:10=ten.vmdk',
			'scsi1:0=/vmfs/volumes/ds1/vm/abs.vmdk',
			'sata0:1=s.vmdk',
			'nvme0:0=n.vmdk',
		]);
		expect(slots[4]).toEqual({
			controller: 'sata0:1',
			bus: 'sata',
			busNumber: 0,
			unitNumber: 1,
			fileName: 's.vmdk',
			mode: 'independent-persistent',
		});
		expect(slots[0]!.mode).toBe('persistent');
	});

	it('skips CD-ROMs and absent devices silently, unmarked and raw disks with a warning', () => {
		const { warnings } = listVmxDiskSlots(vmx);
		expect(warnings).toHaveLength(2);
		expect(warnings[0]).toMatch(/scsi0:4 .*no-present-key\.vmdk.*not marked present/);
		expect(warnings[1]).toMatch(/scsi0:5 \(rawdisk\).*not a virtual disk/);
	});
});
