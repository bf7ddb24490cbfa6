// SPDX-License-Identifier: MIT
import { describe, expect, it } from 'vitest';
import { VmdkError, parseOvf, unitMultiplier } from '../../../../src/core/index.js';
import { buildOvf } from '../../../helpers/build-ovf.js';

/** A descriptor as VirtualBox 7 exports it: capacity in bytes, no Name, IDE + SATA controllers. */
const VIRTUALBOX_OVF = `<?xml version="1.0"?>
<Envelope ovf:version="1.0" xml:lang="en-US" xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:vbox="http://www.virtualbox.org/ovf/machine">
  <References>
    <File ovf:id="file1" ovf:href="Debian-disk001.vmdk"/>
    <File ovf:id="file2" ovf:href="Debian-disk002.vmdk"/>
  </References>
  <DiskSection>
    <Info>List of the virtual disks used in the package</Info>
    <Disk ovf:capacity="21474836480" ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized" vbox:uuid="6d9c6f1c-1"/>
    <Disk ovf:capacity="1073741824" ovf:diskId="vmdisk2" ovf:fileRef="file2" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized" vbox:uuid="6d9c6f1c-2"/>
  </DiskSection>
  <VirtualSystem ovf:id="Debian &amp; friends">
    <Info>A virtual machine</Info>
    <OperatingSystemSection ovf:id="96">
      <Info>The kind of installed guest operating system</Info>
      <Description>Debian_64</Description>
      <vbox:OSType ovf:required="false">Debian_64</vbox:OSType>
    </OperatingSystemSection>
    <VirtualHardwareSection>
      <Info>Virtual hardware requirements for a virtual machine</Info>
      <Item><rasd:Address>0</rasd:Address><rasd:Caption>ideController0</rasd:Caption><rasd:InstanceID>3</rasd:InstanceID><rasd:ResourceSubType>PIIX4</rasd:ResourceSubType><rasd:ResourceType>5</rasd:ResourceType></Item>
      <Item><rasd:Address>1</rasd:Address><rasd:Caption>ideController1</rasd:Caption><rasd:InstanceID>4</rasd:InstanceID><rasd:ResourceSubType>PIIX4</rasd:ResourceSubType><rasd:ResourceType>5</rasd:ResourceType></Item>
      <Item><rasd:Address>0</rasd:Address><rasd:Caption>sataController0</rasd:Caption><rasd:InstanceID>5</rasd:InstanceID><rasd:ResourceSubType>AHCI</rasd:ResourceSubType><rasd:ResourceType>20</rasd:ResourceType></Item>
      <Item><rasd:AddressOnParent>1</rasd:AddressOnParent><rasd:Caption>disk2</rasd:Caption><rasd:HostResource>/disk/vmdisk2</rasd:HostResource><rasd:InstanceID>9</rasd:InstanceID><rasd:Parent>5</rasd:Parent><rasd:ResourceType>17</rasd:ResourceType></Item>
      <Item><rasd:AddressOnParent>0</rasd:AddressOnParent><rasd:Caption>disk1</rasd:Caption><rasd:HostResource>/disk/vmdisk1</rasd:HostResource><rasd:InstanceID>8</rasd:InstanceID><rasd:Parent>4</rasd:Parent><rasd:ResourceType>17</rasd:ResourceType></Item>
      <Item><rasd:AddressOnParent>0</rasd:AddressOnParent><rasd:Caption>cdrom1</rasd:Caption><rasd:InstanceID>10</rasd:InstanceID><rasd:Parent>3</rasd:Parent><rasd:ResourceType>15</rasd:ResourceType></Item>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
`;

function error(fn: () => unknown): VmdkError {
	try {
		fn();
	} catch (e) {
		expect(e).toBeInstanceOf(VmdkError);
		return e as VmdkError;
	}
	throw new Error('did not throw');
}

describe('parseOvf', () => {
	it('reads an ovftool-style descriptor: files, disks with capacities, slots from the rasd items', () => {
		const ovf = parseOvf(
			buildOvf({
				name: 'App <1>',
				osType: 'ubuntu64Guest',
				disks: [
					{ href: 'a.vmdk', capacityBytes: 16 * 2 ** 30, unit: 0 },
					{
						href: 'b.vmdk',
						capacityBytes: 4096 + 512,
						controller: 'nvme',
						unit: 3,
						chunkSize: 1000,
						sizeBytes: 12,
					},
				],
			}),
		);
		expect([...ovf.files.values()]).toEqual([
			{
				id: 'file1',
				href: 'a.vmdk',
				sizeBytes: undefined,
				compression: undefined,
				chunkSizeBytes: undefined,
			},
			{ id: 'file2', href: 'b.vmdk', sizeBytes: 12, compression: undefined, chunkSizeBytes: 1000 },
		]);
		expect(ovf.disks.map((d) => [d.diskId, d.fileRef, d.capacityBytes])).toEqual([
			['vmdisk1', 'file1', 16 * 2 ** 30],
			['vmdisk2', 'file2', 4608],
		]);
		expect(ovf.systems).toEqual([
			{
				id: 'App <1>',
				name: 'App <1>',
				guestOS: 'ubuntu64Guest',
				attachments: [
					{ diskId: 'vmdisk2', controller: 'nvme0:3', bus: 'nvme', busNumber: 0, unitNumber: 3 },
					{ diskId: 'vmdisk1', controller: 'scsi0:0', bus: 'scsi', busNumber: 0, unitNumber: 0 },
				],
			},
		]);
		expect(ovf.warnings).toEqual([]);
	});

	it('reads a VirtualBox export: byte capacities, controller numbers from Address, OS from Description', () => {
		const ovf = parseOvf(VIRTUALBOX_OVF);
		expect(ovf.disks.map((d) => d.capacityBytes)).toEqual([21474836480, 1073741824]);
		expect(ovf.systems[0]).toMatchObject({
			id: 'Debian & friends',
			name: null,
			guestOS: 'Debian_64',
			attachments: [
				{ diskId: 'vmdisk2', controller: 'sata0:1' },
				{ diskId: 'vmdisk1', controller: 'ide1:0' },
			],
		});
	});

	it('reads systems inside a collection and OVF 0.9 sections', () => {
		const ovf = parseOvf(`<ovf:Envelope xmlns:ovf="http://www.vmware.com/schema/ovf/1/envelope" xmlns:xsi="x">
  <References><File ovf:id="f" ovf:href="d.vmdk"/></References>
  <Section xsi:type="ovf:DiskSection_Type"><Disk ovf:diskId="d" ovf:fileRef="f" ovf:capacity="1" ovf:capacityAllocationUnits="GigaBytes"/></Section>
  <Content ovf:id="pair" xsi:type="ovf:VirtualSystemCollection_Type">
    <Content ovf:id="web" xsi:type="ovf:VirtualSystem_Type"><Name><![CDATA[Web <front>]]></Name></Content>
    <Content ovf:id="db" xsi:type="ovf:VirtualSystem_Type"/>
  </Content>
  <VirtualSystemCollection ovf:id="direct"><VirtualSystem ovf:id="solo"/></VirtualSystemCollection>
</ovf:Envelope>`);
		expect(ovf.disks[0]?.capacityBytes).toBe(2 ** 30);
		expect(ovf.systems.map((s) => [s.id, s.name])).toEqual([
			['web', 'Web <front>'],
			['db', null],
			['solo', null],
		]);
	});

	it('warns about what concerns one disk and refuses what makes the whole file ambiguous', () => {
		const ovf = parseOvf(`<Envelope><References><File id="f" href="d.vmdk" size="x"/></References>
  <DiskSection><Disk diskId="d" fileRef="f" capacity="\${size}"/><Disk diskId="e" capacity="1" capacityAllocationUnits="furlongs"/></DiskSection>
  <VirtualSystem id="v"><VirtualHardwareSection>
    <Item><InstanceID>1</InstanceID><ResourceType>17</ResourceType><HostResource>ovf:/disk/nope</HostResource></Item>
    <Item><InstanceID>2</InstanceID><ResourceType>17</ResourceType><HostResource>ovf:/file/f</HostResource></Item>
    <Item><InstanceID>3</InstanceID><ResourceType>17</ResourceType><HostResource>ovf:/disk/d</HostResource></Item>
  </VirtualHardwareSection></VirtualSystem></Envelope>`);
		expect(ovf.disks.map((d) => d.capacityBytes)).toEqual([undefined, undefined]);
		expect(ovf.systems[0]?.attachments).toEqual([
			{ diskId: 'd', controller: 'other0:0', bus: 'other', busNumber: 0, unitNumber: 0 },
		]);
		expect(ovf.warnings).toEqual([
			'file f size "x" is not a number of bytes',
			'disk d: capacity "${size}" is not a size we can read',
			'disk e: capacity "1" (furlongs) is not a size we can read',
			'v: a disk item names disk "nope", which the DiskSection does not list',
			'v: a disk item names no OVF disk (ovf:/file/f); skipped',
		]);
		expect(
			error(() =>
				parseOvf(
					'<Envelope><References><File id="a" href="1"/><File id="a" href="2"/></References></Envelope>',
				),
			).message,
		).toMatch(/two <File> elements have the id "a"/);
		expect(
			error(() =>
				parseOvf('<Envelope><DiskSection><Disk diskId="a"/><Disk diskId="a"/></DiskSection></Envelope>'),
			).message,
		).toMatch(/two <Disk>/);
		expect(error(() => parseOvf('<Envelope><DiskSection><Disk/></DiskSection></Envelope>')).message).toMatch(
			/no diskId/,
		);
		expect(error(() => parseOvf('<VirtualBox/>')).message).toMatch(/not an OVF <Envelope>/);
		const syntax = error(() => parseOvf('<Envelope>\n<a>\n</Envelope>', { file: 'x.ovf' }));
		expect(syntax).toMatchObject({ code: 'OVF_BAD_DESCRIPTOR', file: 'x.ovf' });
		expect(syntax.message).toMatch(/XML line 3/);
		expect(error(() => parseOvf('<!DOCTYPE x [<!ENTITY a "b">]><Envelope/>')).message).toMatch(/DOCTYPE/);
		expect(error(() => parseOvf(new Uint8Array(4 * 1024 * 1024 + 1))).code).toBe('VMDK_LIMIT');
	});
});

describe('unitMultiplier', () => {
	it('reads programmatic units and the old named ones', () => {
		expect(unitMultiplier(undefined)).toBe(1);
		expect(unitMultiplier('byte')).toBe(1);
		expect(unitMultiplier('byte * 2^30')).toBe(2 ** 30);
		expect(unitMultiplier('byte*10^3')).toBe(1000);
		expect(unitMultiplier('MegaBytes')).toBe(2 ** 20);
		expect(unitMultiplier('byte * 2^99')).toBeUndefined();
		expect(unitMultiplier('bit')).toBeUndefined();
	});
});
