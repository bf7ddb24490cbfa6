// SPDX-License-Identifier: MIT
import { describe, expect, it } from 'vitest';
import { isVmdkError } from '../../../../src/core/index.js';
import { interpretVolumeGroup, parseLvmConfig } from '../../../../src/core/volumes/lvm-metadata.js';
import {
	EXTENT_SECTORS,
	PE_START_SECTORS,
	PV_UUID,
	lvmMetadataText,
} from '../../../helpers/build-partition-tables.js';

function parseError(text: string): string {
	try {
		parseLvmConfig(text);
	} catch (error) {
		if (isVmdkError(error, 'VMDK_CORRUPT') || isVmdkError(error, 'VMDK_LIMIT')) return error.message;
		throw error;
	}
	throw new Error('parsed');
}

describe('LVM config parser', () => {
	it('parses sections, strings with escapes, numbers, arrays and comments', () => {
		const config = parseLvmConfig(
			[
				'# a comment',
				'vg {',
				'  name = "a \\"quoted\\" \\\\ string" # trailing comment',
				'  n = 42',
				'  neg = -7',
				'  list = ["x", 1, ["nested"]]',
				'  empty = []',
				'  inner { deep { k = 1 } }',
				'}',
				'version = 1',
			].join('\n'),
		);
		const vg = config.sections.get('vg')!;
		expect(vg.values.get('name')).toBe('a "quoted" \\ string');
		expect(vg.values.get('n')).toBe(42);
		expect(vg.values.get('neg')).toBe(-7);
		expect(vg.values.get('list')).toEqual(['x', 1, ['nested']]);
		expect(vg.values.get('empty')).toEqual([]);
		expect(vg.sections.get('inner')!.sections.get('deep')!.values.get('k')).toBe(1);
		expect(config.values.get('version')).toBe(1);
	});

	it.each([
		['vg {\n a = "unterminated\n}', 'LVM metadata line 3: unterminated string'],
		['vg {\n a = 1\n', 'LVM metadata line 2: missing "}"'],
		['}', 'LVM metadata line 1: unbalanced "}"'],
		['a = @', 'LVM metadata line 1: unexpected character "@"'],
		['a = [1 2]', 'LVM metadata line 1: expected "," in array'],
		['a = 99999999999999999999', 'LVM metadata line 1: number 99999999999999999999 exceeds 2^53'],
		['a b', 'LVM metadata line 1: expected "=" or "{" after "a"'],
		['a =', 'LVM metadata line 1: unexpected end of text, expected a value'],
		['x {'.repeat(40) + '}'.repeat(40), 'LVM metadata line 1: sections nested too deeply'],
		['a = ' + '['.repeat(40) + ']'.repeat(40), 'LVM metadata line 1: arrays nested too deeply'],
	])('rejects %j with a typed error naming the line', (text, message) => {
		expect(parseError(text)).toBe(message);
	});

	it('interprets a volume group as lvm2 writes it', () => {
		const text = lvmMetadataText('vg0', [
			{
				name: 'root',
				segments: [
					{ start: 0, count: 2, stripes: [['pv0', 0]] },
					{ start: 2, count: 1, stripes: [['pv0', 5]] },
				],
			},
			{ name: 'pool_tmeta', visible: false, segments: [{ start: 0, count: 1, stripes: [['pv0', 9]] }] },
			{ name: 'thin', segments: [{ type: 'thin', start: 0, count: 4 }] },
		]);
		const vg = interpretVolumeGroup(parseLvmConfig(text));
		expect(vg.name).toBe('vg0');
		expect(vg.seqno).toBe(3);
		expect(vg.extentSizeSectors).toBe(EXTENT_SECTORS);
		expect(vg.physicalVolumes.get('pv0')).toEqual({
			key: 'pv0',
			id: PV_UUID,
			deviceHint: '/dev/loop0',
			peStartSectors: PE_START_SECTORS,
			peCount: 64,
		});
		expect(
			vg.logicalVolumes.map((lv) => [
				lv.name,
				lv.visible,
				lv.segments.map((s) => [s.type, s.startExtent, s.extentCount, s.stripes]),
			]),
		).toEqual([
			[
				'root',
				true,
				[
					['striped', 0, 2, [{ pvKey: 'pv0', startExtent: 0 }]],
					['striped', 2, 1, [{ pvKey: 'pv0', startExtent: 5 }]],
				],
			],
			['pool_tmeta', false, [['striped', 0, 1, [{ pvKey: 'pv0', startExtent: 9 }]]]],
			['thin', true, [['thin', 0, 4, []]]],
		]);
	});

	it('rejects metadata without the required fields', () => {
		expect(() => interpretVolumeGroup(parseLvmConfig('contents = "x"'))).toThrow(
			'LVM metadata: no volume group section',
		);
		expect(() =>
			interpretVolumeGroup(parseLvmConfig('vg { id = "x" seqno = 1 physical_volumes { } }')),
		).toThrow('VG vg: "extent_size" missing or not a non-negative integer');
		const badStripes =
			'vg { id = "x" seqno = 1 extent_size = 8 physical_volumes { } logical_volumes { lv { id = "y" segment1 { start_extent = 0 extent_count = 1 type = "striped" stripe_count = 1 stripes = ["pv0"] } } } }';
		expect(() => interpretVolumeGroup(parseLvmConfig(badStripes))).toThrow(
			'"stripes" must list 1 (pv, extent) pairs',
		);
	});
});
