// SPDX-License-Identifier: MIT
// Seeded mutation test: random byte flips in valid MBR, GPT, APM and LVM2 images must only
// ever yield warnings or typed VmdkErrors — no crash, no hang, nothing outside the disk.
// Reproduce a failure with VMDK_MUTATION_SEED=<printed seed>.
import { describe, expect, it } from 'vitest';
import { MemoryByteSource, VmdkError, listVolumes, type DiskLayout } from '../../../../src/core/index.js';
import {
	BASIC_DATA,
	EFI_SYSTEM,
	LINUX_FS,
	MDA_OFFSET,
	apmDdm,
	apmEntry,
	diskWith,
	fillExtent,
	gptDisk,
	lvmMetadataText,
	lvmPv,
	mbrEntry,
	mbrSector,
	resignGpt,
} from '../../../helpers/build-partition-tables.js';
import { prng, seedFromEnv } from '../../../helpers/prng.js';

const ITERATIONS_PER_IMAGE = 500;
const SEED = seedFromEnv('VMDK_MUTATION_SEED');
/** A single listVolumes call on these small images takes milliseconds; this means a hang. */
const HANG_MS = 5000;

interface Subject {
	name: string;
	disk: Uint8Array;
	/** Byte ranges worth mutating (the metadata). */
	regions: [number, number][];
	/** Called after mutation on half of the runs, to get past checksums. */
	resign?: (disk: Uint8Array) => void;
}

function subjects(): Subject[] {
	const ext = 1000;
	const mbr = diskWith(2000, [
		[
			0,
			mbrSector(
				[mbrEntry(0x80, 0x83, 100, 800), mbrEntry(0, 0x07, 900, 50), mbrEntry(0, 0x05, ext, 900)],
				0xcafe,
			),
		],
		[ext, mbrSector([mbrEntry(0, 0x83, 10, 400), mbrEntry(0, 0x05, 500, 300)])],
		[ext + 500, mbrSector([mbrEntry(0, 0x8e, 10, 200), mbrEntry(0, 0x05, 800, 50)])],
		[ext + 800, mbrSector([mbrEntry(0, 0x82, 5, 40)])],
	]);
	const gpt = gptDisk({
		sectors: 400,
		entries: [
			{
				type: EFI_SYSTEM,
				uuid: '11111111-2222-3333-4444-555555555555',
				firstLba: 40,
				lastLba: 99,
				name: 'EFI',
			},
			{
				type: LINUX_FS,
				uuid: '11111111-2222-3333-4444-555555555556',
				firstLba: 100,
				lastLba: 199,
				name: 'root',
			},
			{
				type: BASIC_DATA,
				uuid: '11111111-2222-3333-4444-555555555557',
				firstLba: 200,
				lastLba: 300,
				name: 'data',
			},
		],
	});
	const apm = diskWith(1500, [
		[0, apmDdm(512, 1500)],
		[1, apmEntry(4, 1, 63, 'Apple', 'Apple_partition_map')],
		[2, apmEntry(4, 64, 32, 'Macintosh', 'Apple_Driver43')],
		[3, apmEntry(4, 96, 1000, 'Macintosh HD', 'Apple_HFS')],
		[4, apmEntry(4, 1096, 400, 'Linux', 'Apple_UNIX_SVR2')],
	]);
	const lvm = lvmPv(
		lvmMetadataText('vg', [
			{
				name: 'root',
				segments: [
					{ start: 0, count: 2, stripes: [['pv0', 0]] },
					{ start: 2, count: 1, stripes: [['pv0', 5]] },
				],
			},
			{
				name: 'wide',
				segments: [
					{
						start: 0,
						count: 2,
						stripes: [
							['pv0', 3],
							['pv0', 4],
						],
					},
				],
			},
		]),
		256 * 1024,
	);
	for (let pe = 0; pe < 6; pe++) fillExtent(lvm, pe, pe);
	return [
		{
			name: 'MBR',
			disk: mbr,
			regions: [
				[0, 512],
				[ext * 512, (ext + 1) * 512],
				[(ext + 500) * 512, (ext + 501) * 512],
				[(ext + 800) * 512, (ext + 801) * 512],
			],
		},
		{
			name: 'GPT',
			disk: gpt,
			regions: [
				[0, 34 * 512],
				[(400 - 33) * 512, 400 * 512],
			],
			resign: (d) => resignGpt(d, 1),
		},
		{ name: 'APM', disk: apm, regions: [[0, 5 * 512]] },
		{
			name: 'LVM',
			disk: lvm,
			regions: [
				[512, 1024],
				[MDA_OFFSET, MDA_OFFSET + 512 + 2500],
			],
		},
	];
}

async function withDeadline<T>(promise: Promise<T>, what: string): Promise<T> {
	let timer: NodeJS.Timeout | undefined;
	const deadline = new Promise<never>((_, reject) => {
		timer = setTimeout(() => reject(new Error(`hang: ${what}`)), HANG_MS);
	});
	try {
		return await Promise.race([promise, deadline]);
	} finally {
		clearTimeout(timer);
	}
}

/** Everything a layout promises: in-bounds partitions, readable supported volumes. */
async function checkLayout(layout: DiskLayout, diskSize: number): Promise<void> {
	for (const p of layout.partitionTable.partitions) {
		expect(p.startBytes >= 0 && p.sizeBytes > 0 && p.startBytes + p.sizeBytes <= diskSize).toBe(true);
	}
	expect(layout.volumes.length).toBeLessThan(20000);
	for (const w of layout.warnings) expect(typeof w).toBe('string');
	for (const v of layout.volumes) {
		if (v.unsupported !== undefined || v.sizeBytes === 0) continue;
		const n = Math.min(512, v.sizeBytes);
		try {
			expect((await v.source.read(v.sizeBytes - n, n)).length).toBe(n);
		} catch (error) {
			if (!(error instanceof VmdkError)) throw error;
		}
	}
}

describe('mutation', () => {
	it(`survives ${4 * ITERATIONS_PER_IMAGE} random corruptions (seed ${SEED})`, async () => {
		console.log(`partition/LVM mutation seed: ${SEED} (set VMDK_MUTATION_SEED to reproduce)`);
		const random = prng(SEED);
		const outcomes: Record<string, { ok: number; warned: number; typedErrors: number }> = {};
		for (const subject of subjects()) {
			const tally = { ok: 0, warned: 0, typedErrors: 0 };
			outcomes[subject.name] = tally;
			const pristine = subject.disk.slice();
			for (let i = 0; i < ITERATIONS_PER_IMAGE; i++) {
				const disk = subject.disk;
				const flips = 1 + Math.floor(random() * 8);
				for (let f = 0; f < flips; f++) {
					const [lo, hi] = subject.regions[Math.floor(random() * subject.regions.length)]!;
					const at = lo + Math.floor(random() * (hi - lo));
					// Mostly single-bit flips; sometimes a whole random byte or an extreme value.
					const mode = random();
					disk[at] =
						mode < 0.6
							? disk[at]! ^ (1 << Math.floor(random() * 8))
							: mode < 0.9
								? Math.floor(random() * 256)
								: 0xff;
				}
				if (subject.resign !== undefined && random() < 0.5) subject.resign(disk);
				const what = `${subject.name} iteration ${i} (seed ${SEED})`;
				try {
					const layout = await withDeadline(
						listVolumes(new MemoryByteSource(disk), async () => null),
						what,
					);
					await checkLayout(layout, disk.length);
					if (layout.warnings.length > 0) tally.warned++;
					else tally.ok++;
				} catch (error) {
					if (!(error instanceof VmdkError)) throw new Error(`${what}: untyped failure`, { cause: error });
					tally.typedErrors++;
				}
				disk.set(pristine);
			}
		}
		console.log(JSON.stringify(outcomes));
		// The mutations must actually reach the parsers: every image produced some warnings.
		for (const [name, tally] of Object.entries(outcomes)) expect(tally.warned, name).toBeGreaterThan(0);
	}, 120_000);
});
