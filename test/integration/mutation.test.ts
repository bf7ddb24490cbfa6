// SPDX-License-Identifier: MIT
// Seeded mutation test (issue: "thousands of random byte changes of valid images per run,
// reproducible from the seed"): every mutated image either opens and reads, or fails with our
// typed VmdkError — never another exception, never a hang, never runaway memory.
// Reproduce a failure with VMDK_FUZZ_SEED=<seed printed below> npx vitest run test/integration/mutation.test.ts
// (the fixtures are made from the seed too: seeded random bytes, and the CID qemu-img picks at
// random is pinned, so the same seed mutates the same bytes).
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeInspection, inspect, isVmdkError, openDisk } from '../../src/core/index.js';
import { WRITE_SUBFORMATS, writeVmdk, type WriteSource } from '../../src/core/write.js';
import { buildOvf } from '../helpers/build-ovf.js';
import { buildTar, type BuiltTar } from '../helpers/build-tar.js';
import { MemoryPlatform } from '../helpers/memory-platform.js';
import { memoryWritePlatform } from '../helpers/memory-write-platform.js';
import { prng, seedFromEnv } from '../helpers/prng.js';
import { runSync } from '../helpers/run.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const SEED = seedFromEnv('VMDK_FUZZ_SEED');
const ITERATIONS = Number(process.env.VMDK_FUZZ_ITERATIONS ?? 1000);
const HANG_MS = 10_000;

/** The CID every fixture gets instead of the random one qemu-img writes. */
const PINNED_CID = '5eed0c1d';
/** Where a hosted sparse header keeps descriptorOffset and descriptorSize (u64 LE sectors). */
const DESCRIPTOR_OFFSET_FIELD = 28;
const DESCRIPTOR_SIZE_FIELD = 36;
const SECTOR = 512;

/**
 * Rewrites the descriptor text in `area` (ended by its first NUL) with PINNED_CID, NUL-padded to
 * the area's size. This also drops the stale text QEMU can leave after the NUL when it rewrites
 * a CID shorter (descriptor-cid-rewrite.test.ts covers that case).
 */
function pinCid(area: Uint8Array): void {
	const end = area.indexOf(0);
	const text = Buffer.from(area.subarray(0, end < 0 ? area.length : end)).toString('latin1');
	const pinned = Buffer.from(text.replace(/^CID=[0-9a-f]+$/m, `CID=${PINNED_CID}`), 'latin1');
	if (!pinned.includes(`CID=${PINNED_CID}\n`) || pinned.length >= area.length) {
		throw new Error(`cannot pin the CID of ${JSON.stringify(text)}`);
	}
	area.fill(0);
	area.set(pinned);
}

/** The embedded descriptor area of a hosted sparse image. */
function embeddedDescriptor(image: Uint8Array): Uint8Array {
	const view = Buffer.from(image.buffer, image.byteOffset, image.byteLength);
	const at = Number(view.readBigUInt64LE(DESCRIPTOR_OFFSET_FIELD)) * SECTOR;
	const size = Number(view.readBigUInt64LE(DESCRIPTOR_SIZE_FIELD)) * SECTOR;
	return image.subarray(at, at + size);
}

let dir = '';
let cleanup: () => Promise<void> = async () => {};
/** Each variant: the file to mutate, plus untouched sibling files it needs. */
const images = new Map<string, { target: Uint8Array; siblings: Record<string, Uint8Array> }>();

beforeAll(async () => {
	({ dir, cleanup } = await makeTempDir('vmdk-mutation-'));
	const raw = join(dir, 'ref.raw');
	// 4 MiB: random, compressible and zero regions.
	runSync('qemu-img', ['create', '-f', 'raw', raw, '4M']);
	runSync('qemu-io', ['-f', 'raw', '-c', 'write -P 0x41 0 1M', '-c', 'write -P 0x7e 2M 512k', raw]);
	// 256 KiB of incompressible bytes at 2.5 MiB, from the seed.
	const rand = prng(SEED);
	const noise = Uint8Array.from({ length: 256 * 1024 }, () => Math.floor(rand() * 256));
	const ref = new Uint8Array(readFileSync(raw));
	ref.set(noise, 40 * 64 * 1024);
	writeFileSync(raw, ref);
	for (const sub of ['monolithicSparse', 'streamOptimized']) {
		const out = join(dir, `${sub}.vmdk`);
		runSync('qemu-img', ['convert', '-f', 'raw', '-O', 'vmdk', '-o', `subformat=${sub}`, raw, out]);
		const target = new Uint8Array(readFileSync(out));
		pinCid(embeddedDescriptor(target));
		images.set(sub, { target, siblings: {} });
	}
	// A text descriptor beside its flat extent: mutations hit the descriptor text.
	const flat = join(dir, 'flat.vmdk');
	runSync('qemu-img', ['convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=monolithicFlat', raw, flat]);
	const flatDescriptor = new Uint8Array(readFileSync(flat));
	pinCid(flatDescriptor);
	images.set('monolithicFlat', {
		target: flatDescriptor,
		siblings: { '/m/flat-flat.vmdk': new Uint8Array(readFileSync(join(dir, 'flat-flat.vmdk'))) },
	});
	// An OVA: OVF descriptor, manifest and the streamOptimized disk, as tar members.
	const disk = images.get('streamOptimized')!.target;
	const ovf = new TextEncoder().encode(
		buildOvf({ name: 'fuzz', disks: [{ href: 'fuzz-disk1.vmdk', capacityBytes: 4 * 1024 * 1024 }] }),
	);
	const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
	const mf = new TextEncoder().encode(
		`SHA256(fuzz.ovf)= ${sha(ovf)}\nSHA256(fuzz-disk1.vmdk)= ${sha(disk)}\n`,
	);
	ova = buildTar([
		{ name: 'fuzz.ovf', data: ovf },
		{ name: 'fuzz.mf', data: mf, pax: { path: 'fuzz.mf', comment: 'pax header to mutate' } },
		{ name: 'fuzz-disk1.vmdk', data: disk },
	]);
}, 60_000);

/** The OVA variant: its bytes and where its headers and members are. */
let ova: BuiltTar;

afterAll(async () => {
	await cleanup();
});

/** Picks a byte offset to mutate, biased towards metadata (header, descriptor, tables, footer). */
function pickOffset(rand: () => number, size: number): number {
	const r = rand();
	if (r < 0.35) return Math.floor(rand() * Math.min(size, 512)); // header
	if (r < 0.5) return Math.floor(rand() * Math.min(size, 2048)); // descriptor
	if (r < 0.75) return Math.floor(rand() * Math.min(size, 128 * 1024)); // GD / GTs / first grains
	if (r < 0.9) return Math.max(0, size - 1 - Math.floor(rand() * Math.min(size, 2048))); // footer, EOS
	return Math.floor(rand() * size);
}

async function exercise(bytes: Uint8Array, siblings: Record<string, Uint8Array>): Promise<string> {
	const platform = new MemoryPlatform({ ...siblings, '/m/disk.vmdk': bytes });
	let timer: NodeJS.Timeout | undefined;
	const hang = new Promise<never>((_, reject) => {
		timer = setTimeout(() => reject(new Error('HANG')), HANG_MS);
	});
	const work = (async () => {
		const disk = await openDisk('/m/disk.vmdk', platform);
		try {
			// Read everything (bounded: skip absurdly large capacities, read a sample instead).
			const size = disk.sizeBytes;
			const step = 1024 * 1024;
			const limit = Math.min(size, 16 * step);
			for (let at = 0; at < limit; at += step) await disk.read(at, Math.min(step, size - at));
			if (size > limit) await disk.read(size - Math.min(size, 4096), Math.min(size, 4096));
		} finally {
			await disk.close();
		}
	})();
	try {
		await Promise.race([work, hang]);
		return 'ok';
	} catch (e) {
		if (isVmdkError(e)) return e.code;
		throw e;
	} finally {
		clearTimeout(timer);
	}
}

/** Opens a mutated OVA as the CLI would (appliance, every disk, reads), bounded by HANG_MS. */
async function exerciseOva(bytes: Uint8Array): Promise<string> {
	const platform = new MemoryPlatform({ '/m/app.ova': bytes });
	let timer: NodeJS.Timeout | undefined;
	const hang = new Promise<never>((_, reject) => {
		timer = setTimeout(() => reject(new Error('HANG')), HANG_MS);
	});
	const work = (async () => {
		const inspection = await inspect('/m/app.ova', platform);
		try {
			for (const d of inspection.disks) {
				if (d.disk === undefined) throw d.error;
				const size = d.disk.sizeBytes;
				const step = 1024 * 1024;
				for (let at = 0; at < Math.min(size, 16 * step); at += step)
					await d.disk.read(at, Math.min(step, size - at));
			}
		} finally {
			await closeInspection(inspection);
		}
	})();
	try {
		await Promise.race([work, hang]);
		return 'ok';
	} catch (e) {
		if (isVmdkError(e)) return e.code;
		throw e;
	} finally {
		clearTimeout(timer);
	}
}

/** Picks a byte of the OVA to mutate: tar headers, the pax records, the OVF, or the disk's metadata. */
function pickOvaOffset(rand: () => number): number {
	const r = rand();
	const headers = ova.headerOffsets;
	if (r < 0.4) return headers[Math.floor(rand() * headers.length)]! + Math.floor(rand() * 1024); // headers (+ pax)
	if (r < 0.7) return ova.dataOffsets[0]! + Math.floor(rand() * 2048); // OVF text
	if (r < 0.9) return ova.dataOffsets[2]! + Math.floor(rand() * 4096); // disk header and descriptor
	return Math.floor(rand() * ova.bytes.length);
}

describe(`mutation (seed ${SEED}, ${ITERATIONS} iterations per image)`, () => {
	it('ova: mutated appliances give data or a typed VmdkError', async () => {
		expect(await exerciseOva(ova.bytes.slice()), 'ova unmutated').toBe('ok');
		const rand = prng(SEED ^ 0x0a0a);
		const outcomes = new Map<string, number>();
		const rssStart = process.memoryUsage().rss;
		for (let i = 0; i < ITERATIONS; i++) {
			const copy = ova.bytes.slice();
			const flips = 1 + Math.floor(rand() * 4);
			const changes: string[] = [];
			for (let f = 0; f < flips; f++) {
				const at = Math.min(copy.length - 1, pickOvaOffset(rand));
				const value = Math.floor(rand() * 256);
				changes.push(`${at}=${value}`);
				copy[at] = value;
			}
			// Some iterations also cut the archive short.
			const cut = rand() < 0.1 ? Math.floor(rand() * copy.length) : copy.length;
			let outcome: string;
			try {
				outcome = await exerciseOva(copy.subarray(0, cut));
			} catch (e) {
				throw new Error(`seed ${SEED} ova iteration ${i} (${changes.join(', ')}, cut ${cut}): ${String(e)}`, {
					cause: e,
				});
			}
			outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
		}
		expect((process.memoryUsage().rss - rssStart) / 2 ** 20).toBeLessThan(512);
		const seen = JSON.stringify([...outcomes]);
		expect(outcomes.get('ok') ?? 0, seen).toBeGreaterThan(0);
		// The archive layer must be reached: tar and OVF errors among the outcomes.
		expect(outcomes.get('OVA_BAD_ARCHIVE') ?? 0, seen).toBeGreaterThan(0);
		expect(outcomes.get('OVF_BAD_DESCRIPTOR') ?? 0, seen).toBeGreaterThan(0);
	}, 600_000);

	for (const sub of ['monolithicSparse', 'streamOptimized', 'monolithicFlat']) {
		it(`${sub}: mutated images give data or a typed VmdkError`, async () => {
			const { target: base, siblings } = images.get(sub)!;
			// The untouched image must read, or every outcome below means nothing.
			expect(await exercise(base.slice(), siblings), `${sub} unmutated`).toBe('ok');
			const rand = prng(SEED ^ sub.length);
			const outcomes = new Map<string, number>();
			const rssStart = process.memoryUsage().rss;
			for (let i = 0; i < ITERATIONS; i++) {
				const copy = base.slice();
				const flips = 1 + Math.floor(rand() * 4);
				const changes: string[] = [];
				for (let f = 0; f < flips; f++) {
					const at = pickOffset(rand, copy.length);
					const value = Math.floor(rand() * 256);
					changes.push(`${at}=${value}`);
					copy[at] = value;
				}
				let outcome: string;
				try {
					outcome = await exercise(copy, siblings);
				} catch (e) {
					throw new Error(`seed ${SEED} iteration ${i} (${changes.join(', ')}): ${String(e)}`, { cause: e });
				}
				outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
			}
			const rssGrowthMiB = (process.memoryUsage().rss - rssStart) / 2 ** 20;
			expect(rssGrowthMiB).toBeLessThan(512);
			// The run must exercise both paths, or the mutations are not reaching anything.
			const seen = JSON.stringify([...outcomes]);
			expect(outcomes.get('ok') ?? 0, seen).toBeGreaterThan(0);
			expect([...outcomes.keys()].filter((k) => k !== 'ok').length, seen).toBeGreaterThan(0);
		}, 600_000);
	}
});

/**
 * The writer's side (`convert`): a mutated VMDK that opens is converted in memory; the result
 * must reopen and read exactly as the mutated disk reads, or the conversion must fail with our
 * typed error. Disks whose mutated capacity is over 64 MiB are only converted, not compared.
 */
async function convertMutated(
	bytes: Uint8Array,
	siblings: Record<string, Uint8Array>,
	subformat: (typeof WRITE_SUBFORMATS)[number],
): Promise<string> {
	const platform = new MemoryPlatform({ ...siblings, '/m/disk.vmdk': bytes });
	let timer: NodeJS.Timeout | undefined;
	const hang = new Promise<never>((_, reject) => {
		timer = setTimeout(() => reject(new Error('HANG')), HANG_MS);
	});
	const work = (async () => {
		const disk = await openDisk('/m/disk.vmdk', platform);
		try {
			await writeVmdk(disk, memoryWritePlatform(platform, '/out'), {
				subformat,
				adapter: 'ide',
				baseName: 'c',
			});
			if (disk.sizeBytes > 64 * 1024 * 1024) return 'big';
			const copy = await openDisk('/out/c.vmdk', platform);
			try {
				const a = await disk.read(0, disk.sizeBytes);
				const b = await copy.read(0, copy.sizeBytes);
				if (
					b.length !== Math.ceil(a.length / 512) * 512 ||
					Buffer.compare(b.subarray(0, a.length), a) !== 0
				) {
					throw new Error('the converted disk reads differently from its input');
				}
				return 'ok';
			} finally {
				await copy.close();
			}
		} finally {
			await disk.close();
		}
	})();
	try {
		return await Promise.race([work, hang]);
	} catch (e) {
		if (isVmdkError(e)) return e.code;
		throw e;
	} finally {
		clearTimeout(timer);
	}
}

describe(`mutation of convert inputs (seed ${SEED})`, () => {
	for (const sub of ['monolithicSparse', 'streamOptimized']) {
		it(`${sub} inputs, mutated: a faithful VMDK or a typed VmdkError`, async () => {
			const { target: base, siblings } = images.get(sub)!;
			expect(await convertMutated(base.slice(), siblings, 'streamOptimized')).toBe('ok');
			const rand = prng(SEED ^ (sub.length * 31));
			const outcomes = new Map<string, number>();
			for (let i = 0; i < Math.ceil(ITERATIONS / 4); i++) {
				const copy = base.slice();
				const changes: string[] = [];
				for (let f = 0, n = 1 + Math.floor(rand() * 4); f < n; f++) {
					const at = pickOffset(rand, copy.length);
					const value = Math.floor(rand() * 256);
					changes.push(`${at}=${value}`);
					copy[at] = value;
				}
				const subformat = WRITE_SUBFORMATS[i % WRITE_SUBFORMATS.length]!;
				let outcome: string;
				try {
					outcome = await convertMutated(copy, siblings, subformat);
				} catch (e) {
					throw new Error(`seed ${SEED} iteration ${i} (${subformat}; ${changes.join(', ')}): ${String(e)}`, {
						cause: e,
					});
				}
				outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
			}
			const seen = JSON.stringify([...outcomes]);
			expect(outcomes.get('ok') ?? 0, seen).toBeGreaterThan(0);
			expect([...outcomes.keys()].filter((k) => k !== 'ok' && k !== 'big').length, seen).toBeGreaterThan(0);
		}, 600_000);
	}

	it('raw inputs of odd sizes convert to every subformat and read back equal', async () => {
		const rand = prng(SEED ^ 0x5eed);
		for (let i = 0; i < 40; i++) {
			const size = 1 + Math.floor(rand() * 3 * 1024 * 1024);
			const data = new Uint8Array(size);
			// Runs of random bytes, repeated bytes and zeros, at random lengths.
			for (let at = 0; at < size;) {
				const n = Math.min(size - at, 1 + Math.floor(rand() * 200_000));
				const kind = Math.floor(rand() * 3);
				if (kind === 1) for (let k = 0; k < n; k++) data[at + k] = Math.floor(rand() * 256);
				else if (kind === 2) data.fill(Math.floor(rand() * 256), at, at + n);
				at += n;
			}
			const source: WriteSource = {
				sizeBytes: size,
				mapRun: async (o, max) => ({ kind: 'data', lengthBytes: Math.min(max, size - o) }),
				readInto: async (o, dest, d, n) => void dest.set(data.subarray(o, o + n), d),
			};
			const subformat = WRITE_SUBFORMATS[i % WRITE_SUBFORMATS.length]!;
			const platform = new MemoryPlatform();
			await writeVmdk(source, memoryWritePlatform(platform, '/r'), {
				subformat,
				adapter: 'sata',
				baseName: 'r',
			});
			const disk = await openDisk('/r/r.vmdk', platform);
			try {
				const back = await disk.read(0, disk.sizeBytes);
				expect(back.length, `seed ${SEED} size ${size}`).toBe(Math.ceil(size / 512) * 512);
				expect(Buffer.compare(back.subarray(0, size), data), `seed ${SEED} size ${size} ${subformat}`).toBe(
					0,
				);
				expect(back.subarray(size).every((b) => b === 0)).toBe(true);
			} finally {
				await disk.close();
			}
		}
	}, 600_000);
});
