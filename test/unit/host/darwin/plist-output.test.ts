// SPDX-License-Identifier: MIT
// Reading real hdiutil / diskutil output (test/fixtures/darwin, SOURCES.md) — and refusing text output.
import { describe, expect, it } from 'vitest';
import {
	imageDiskOf,
	isApfsVolume,
	parseApfsContainers,
	parseAttachOutput,
	parseDiskutilInfo,
	parseHdiutilInfo,
	parsePlistOutput,
	type ImageEntity,
} from '../../../../src/host/darwin/plist-output.js';
import { isAppError } from '../../../../src/shared/app-error.js';
import { darwinFixture } from '../../../helpers/tool-transcript.js';

describe('hdiutil attach -plist (real samples)', () => {
	it('reads an Apple-partition-map image whose whole disk comes after its partitions', () => {
		const entities = parseAttachOutput(
			darwinFixture('hdiutil-attach-plist_apm-hfs-mounted-mountrandom_homebrew.plist'),
		);
		expect(entities.map((e) => e.devEntry)).toEqual(['/dev/disk3s1', '/dev/disk3', '/dev/disk3s2']);
		expect(imageDiskOf(entities)).toBe('/dev/disk3');
		expect(entities[2]).toMatchObject({
			contentHint: 'Apple_HFS',
			potentiallyMountable: true,
			mountPoint: '/private/tmp/dmg.BhfS2g',
		});
		expect(entities[0]?.potentiallyMountable).toBe(false);
	});

	it('finds the APFS volume on the synthesized second disk, and the image disk apart from it', () => {
		const entities = parseAttachOutput(darwinFixture('hdiutil-attach-plist_gpt-apfs-mounted_outset.plist'));
		expect(entities.filter(isApfsVolume).map((e) => e.devEntry)).toEqual(['/dev/disk5s1']);
		expect(imageDiskOf(entities)).toBe('/dev/disk4');
		expect(entities.find((e) => e.devEntry === '/dev/disk4s1')?.unmappedContentHint).toBe(
			'7C3457EF-0000-11AA-AA11-00306543ECAC',
		);
	});

	it('reads a single whole-disk entity without a partition map', () => {
		const entities = parseAttachOutput(
			darwinFixture('hdiutil-attach-plist_single-entity-hfs-no-partition-map_outset.plist'),
		);
		expect(entities).toEqual([
			{
				devEntry: '/dev/disk6',
				contentHint: 'Apple_HFS',
				unmappedContentHint: undefined,
				potentiallyMountable: true,
				mountPoint: '/Volumes/Demo',
			},
		]);
	});

	it('ignores text around the XML: a licence agreement before, a macOS 27 deprecation warning after', () => {
		const plist = darwinFixture('hdiutil-attach-plist_gpt-apfs-mounted_outset.plist');
		const noisy = [
			'SOFTWARE LICENSE AGREEMENT\nBy using this software you agree <to> the terms.\n',
			plist,
			// Real warning text (hdiutil-messages_attach-detach-errors_issues.txt).
			"hdiutil: WARNING: 'hdiutil attach -nobrowse -readonly ...' is deprecated. Please use 'diskutil image attach --mountOptions nobrowse --readOnly ...' instead.\n",
		].join('');
		expect(parseAttachOutput(noisy)).toEqual(parseAttachOutput(plist));
	});

	it('keeps entities in whatever order they come and orders devices as macOS numbers them', () => {
		const entities: ImageEntity[] = [
			{ devEntry: '/dev/disk12s1', contentHint: 'Apple_HFS' },
			{ devEntry: '/dev/disk12', contentHint: 'GUID_partition_scheme' },
			{ devEntry: '/dev/disk13s1', contentHint: '41504653-0000-11AA-AA11-00306543ECAC' },
		];
		expect(imageDiskOf(entities)).toBe('/dev/disk12');
		expect(imageDiskOf(entities.slice(0, 1))).toBe('/dev/disk12');
	});

	it('refuses an answer without devices, and a dev-entry that is not a disk', () => {
		const empty = '<plist version="1.0"><dict><key>system-entities</key><array/></dict></plist>';
		expect(() => parseAttachOutput(empty)).toThrow(/no device/);
		const odd =
			'<plist version="1.0"><dict><key>system-entities</key><array><dict><key>dev-entry</key><string>/etc/passwd</string></dict></array></dict></plist>';
		expect(() => parseAttachOutput(odd)).toThrow(/no device/);
	});
});

describe('text output is never scraped', () => {
	it.each([
		'hdiutil-attach-text_gpt-apfs-dmg-mounted_apfs-related.txt',
		'diskutil-list-text_synthesized-apfs-container_apfs-related.txt',
		'diskutil-info-text_fuse-fsbundle-volume_fusehfs-issue22.txt',
		'hdiutil-messages_attach-detach-errors_issues.txt',
	])('%s is refused as "no property list"', (name) => {
		try {
			parsePlistOutput(darwinFixture(name), 'the tool');
			expect.unreachable();
		} catch (error) {
			expect(isAppError(error, 'TOOL_FAILED')).toBe(true);
			expect((error as Error).message).toBe('the tool printed no property list');
		}
	});

	it('a broken property list is a typed error, not a crash', () => {
		expect(() => parsePlistOutput('<plist version="1.0"><dict><key>a</key></plist>', 'hdiutil')).toThrow(
			/cannot be read/,
		);
		expect(() => parsePlistOutput('<plist version="1.0"><array/></plist>', 'hdiutil')).toThrow(
			/not a dictionary/,
		);
	});
});

describe('hdiutil info -plist (real samples, macOS 10.13)', () => {
	it('lists nothing when no image is attached', () => {
		expect(parseHdiutilInfo(darwinFixture('hdiutil-info-plist_no-images_macos10.13_ramup.plist'))).toEqual(
			[],
		);
	});

	it('gives the image path and its device for an image attached without mounting', () => {
		const images = parseHdiutilInfo(
			darwinFixture('hdiutil-info-plist_ram-image-attached-nomount_macos10.13_ramup.plist'),
		);
		expect(images).toEqual([
			{
				imagePath: 'ram://4194304',
				entities: [
					{
						devEntry: '/dev/disk2',
						contentHint: '',
						unmappedContentHint: undefined,
						potentiallyMountable: undefined,
						mountPoint: undefined,
					},
				],
			},
		]);
	});
});

describe('diskutil info -plist (real samples)', () => {
	it('a mounted whole-disk FAT32 volume: mountpoint with a space, type, writable', () => {
		const info = parseDiskutilInfo(
			darwinFixture('diskutil-info-plist_whole-disk-fat32-mounted_hst-imager.plist'),
		);
		expect(info).toMatchObject({
			deviceIdentifier: 'disk2',
			mountPoint: '/Volumes/NO NAME',
			filesystemType: 'msdos',
			volumeName: 'NO NAME',
			writableVolume: true,
			wholeDisk: true,
			sizeBytes: 15682240512,
		});
	});

	it('an unmounted disk: the empty MountPoint means "not mounted"', () => {
		const info = parseDiskutilInfo(
			darwinFixture('diskutil-info-plist_whole-disk-mbr-nofs-usb-ide-adapter_hst-imager.plist'),
		);
		expect(info.mountPoint).toBeUndefined();
		expect(info.filesystemType).toBeUndefined();
		expect(info.writableVolume).toBe(false);
	});

	it('a synthesized APFS container names its physical store', () => {
		const info = parseDiskutilInfo(
			darwinFixture('diskutil-info-plist_apfs-container-disk1_hst-imager.plist'),
		);
		expect(info.apfsPhysicalStores).toEqual(['disk0s2']);
		expect(info.mountPoint).toBeUndefined();
	});

	it('an internal disk whose IOKitSize is a <real>', () => {
		const info = parseDiskutilInfo(darwinFixture('diskutil-info-plist_internal-ssd-disk0_hst-imager.plist'));
		expect(info).toMatchObject({
			deviceIdentifier: 'disk0',
			sizeBytes: 512110190592,
			apfsPhysicalStores: [],
		});
	});

	it('the error property list of a failed diskutil info is a typed error', () => {
		const failed =
			'<plist version="1.0"><dict><key>ErrorMessage</key><string>Could not find disk: disk9</string></dict></plist>';
		expect(() => parseDiskutilInfo(failed)).toThrow('diskutil info: Could not find disk: disk9');
	});
});

describe('diskutil list -plist (real samples)', () => {
	it.each([
		'diskutil-list-plist_apfs-boot+fat32-usb-stick_hst-imager.plist',
		'diskutil-list-plist_apfs-boot+usb-ide-adapter_hst-imager.plist',
	])('%s: the APFS container, its physical store and its volumes', (name) => {
		const containers = parseApfsContainers(darwinFixture(name));
		expect(containers).toHaveLength(1);
		expect(containers[0]?.deviceIdentifier).toBe('disk1');
		expect(containers[0]?.physicalStores).toEqual(['disk0s2']);
		expect(containers[0]?.volumes[0]).toBe('disk1s1');
		expect(containers[0]?.volumes).toContain('disk1s5s1');
	});

	it('a whole-disk FAT stick with a <real> size and no container', () => {
		expect(
			parseApfsContainers(darwinFixture('diskutil-list-external-plist_fat32-usb-stick_hst-imager.plist')),
		).toEqual([]);
		expect(
			parseApfsContainers(
				darwinFixture('diskutil-list-external-plist_mbr-fat32-usb-ide-adapter_hst-imager.plist'),
			),
		).toEqual([]);
	});
});
