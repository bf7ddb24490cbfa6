// SPDX-License-Identifier: MIT
// Differential test of the filesystem probes against util-linux blkid: every image is made at
// test time by the real mkfs tool (sparse files in a temp dir) and `blkid -p -o export` is asked
// for TYPE, LABEL, UUID and VERSION, which ours must equal. HFS/HFS+ are hand-built (Debian has no
// mkfs.hfsplus) and compared with blkid too. The same images, cut short and with seeded byte
// flips in their superblocks (checksums re-sealed every other round where we can), must never
// make the probe throw or hang. VMDK_FUZZ_ROUNDS / VMDK_FUZZ_SEED run a longer or different
// reproducible fuzz (default 150 rounds per image, seed 0x5eed1234).
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
	PartitionView,
	probeFilesystem,
	type ByteSource,
	type FilesystemInfo,
} from '../../src/core/index.js';
import { apfsFletcher64, crc32c, crc32cUpdate } from '../../src/core/filesystems/checksums.js';
import { PROBE_INTERNAL_ERROR } from '../../src/core/filesystems/probe.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { buildExt, buildFat, buildNtfs } from '../unit/core/filesystems/fs-builders.js';
import {
	buildHfsPlusVolume,
	buildHfsVolume,
	buildWrappedHfsPlusVolume,
} from '../unit/core/filesystems/hfs-builders.js';
import { FileByteSource } from '../../src/host/node/file-byte-source.js';
import { describeNeeding, rootMissing } from '../helpers/capability.js';

const MIB = 1024 * 1024;

/** A source that returns `inner`'s bytes with some bytes replaced. */
class PatchedSource implements ByteSource {
	readonly sizeBytes: number;
	private readonly inner: ByteSource;
	private readonly patches: ReadonlyMap<number, number>;
	constructor(inner: ByteSource, patches: ReadonlyMap<number, number>) {
		this.inner = inner;
		this.sizeBytes = inner.sizeBytes;
		this.patches = patches;
	}
	async read(offsetBytes: number, length: number): Promise<Uint8Array> {
		const bytes = (await this.inner.read(offsetBytes, length)).slice();
		for (const [at, value] of this.patches) {
			if (at >= offsetBytes && at < offsetBytes + length) bytes[at - offsetBytes] = value;
		}
		return bytes;
	}
	async readInto(offsetBytes: number, dest: Uint8Array, destOffset: number, length: number): Promise<void> {
		dest.set(await this.read(offsetBytes, length), destOffset);
	}
}

function run(tool: string, args: string[]): string {
	return execFileSync(tool, args, {
		encoding: 'utf8',
		stdio: ['ignore', 'pipe', 'pipe'],
		env: { ...process.env, LC_ALL: 'C.UTF-8' },
		timeout: 60_000,
	});
}

/**
 * Undoes blkid's export escaping: a backslash before shell-special characters, and bytes ≥ 0x80
 * or control bytes in `cat -v` notation (`M-x`, `M-^x`, `^x`). The bytes are then UTF-8.
 */
function unescapeBlkid(text: string): string {
	const out: number[] = [];
	let i = 0;
	const literal = (): number => {
		if (text[i] === '\\') i++;
		return text.charCodeAt(i++);
	};
	while (i < text.length) {
		let high = 0;
		if (text.startsWith('M-', i)) {
			high = 0x80;
			i += 2;
		}
		let byte: number;
		if (text[i] === '^' && i + 1 < text.length) {
			// After '^' the character is taken as is: `M-^` and a backslash is 0x9c, not an escape.
			const c = text.charCodeAt(i + 1);
			i += 2;
			byte = c === 0x3f ? 0x7f : c ^ 0x40;
		} else {
			byte = literal();
		}
		out.push(high | byte);
	}
	return Buffer.from(out).toString('utf8');
}

/** `blkid -p -o export` as a map (values unescaped); empty when blkid finds nothing. */
function blkid(path: string): Record<string, string> {
	let out: string;
	try {
		out = run('blkid', ['-p', '-o', 'export', path]);
	} catch {
		return {};
	}
	const result: Record<string, string> = {};
	for (const line of out.split('\n')) {
		const eq = line.indexOf('=');
		if (eq <= 0) continue;
		const key = line.slice(0, eq);
		const value = line.slice(eq + 1);
		// `M-` is ambiguous (an LVM UUID may contain it): only labels get the cat -v decoding.
		result[key] = key === 'LABEL' ? unescapeBlkid(value) : value.replace(/\\(.)/gu, '$1');
	}
	return result;
}

/** The fields blkid and we both report. */
function comparable(info: FilesystemInfo | null): Record<string, string | undefined> {
	return {
		TYPE: info?.type,
		LABEL: info?.label ?? undefined,
		UUID: info?.uuid ?? undefined,
		VERSION: info?.version,
	};
}

interface Case {
	readonly name: string;
	readonly sizeMiB: number;
	/** Formats the (already created, sparse) file. */
	readonly make: (path: string) => void | Promise<void>;
	/** Byte ranges holding the superblock, for the mutation test. */
	readonly superblock: readonly (readonly [number, number])[];
	/** Expected type, checked in addition to blkid's. */
	readonly type: string;
	/**
	 * Recomputes the checksum of the first superblock range after a mutation, so flips reach the
	 * parsing behind the checksum gate instead of stopping at it.
	 */
	readonly reseal?: (superblock: Uint8Array) => void;
	/** A length that cuts through the superblock after its signature: must give 'unknown'. */
	readonly truncatedTo?: number;
	/** Checks on the size we report, when the filesystem records one. */
	readonly sizeBytes?: (fileBytes: number) => [number, number];
}

const setU32le = (bytes: Uint8Array, at: number, value: number): void =>
	new DataView(bytes.buffer, bytes.byteOffset).setUint32(at, value, true);
/** ext4 metadata_csum: raw CRC-32C of the superblock's first 1020 bytes at 1020. */
const resealExt4 = (sb: Uint8Array): void =>
	setU32le(sb, 1020, crc32cUpdate(0xffffffff, sb.subarray(0, 1020)));
/** xfs v5: CRC-32C of the sector with sb_crc zeroed, at 224. */
const resealXfs = (sb: Uint8Array): void => {
	setU32le(sb, 224, 0);
	setU32le(sb, 224, crc32c(sb));
};
/** btrfs: CRC-32C of bytes 32..4096 at 0. */
const resealBtrfs = (sb: Uint8Array): void => setU32le(sb, 0, crc32c(sb.subarray(32)));
/** APFS: Fletcher-64 of bytes 8..4096 at 0. */
const resealApfs = (sb: Uint8Array): void => {
	const [low, high] = apfsFletcher64(sb.subarray(8));
	setU32le(sb, 0, low);
	setU32le(sb, 4, high);
};

const UUID = '0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9';
const wholeFile = (fileBytes: number): [number, number] => [fileBytes, fileBytes];
const almostWholeFile = (fileBytes: number): [number, number] => [fileBytes - MIB, fileBytes];

const CASES: Case[] = [
	{
		name: 'ext2',
		type: 'ext2',
		sizeMiB: 4,
		make: (p) => void run('mkfs.ext2', ['-q', '-F', '-L', 'ext2 label', '-U', UUID, p]),
		truncatedTo: 1500,
		superblock: [[1024, 1024]],
		sizeBytes: wholeFile,
	},
	{
		name: 'ext3',
		type: 'ext3',
		sizeMiB: 8,
		make: (p) => void run('mkfs.ext3', ['-q', '-F', '-L', 'E3', '-U', UUID, p]),
		superblock: [[1024, 1024]],
		sizeBytes: wholeFile,
	},
	{
		name: 'ext4',
		type: 'ext4',
		sizeMiB: 8,
		make: (p) => void run('mkfs.ext4', ['-q', '-F', '-L', 'E4LABEL', '-U', UUID, p]),
		reseal: resealExt4,
		truncatedTo: 2000,
		superblock: [[1024, 1024]],
		sizeBytes: wholeFile,
	},
	{
		name: 'ext4 without journal',
		type: 'ext4',
		sizeMiB: 4,
		make: (p) => void run('mkfs.ext4', ['-q', '-F', '-O', '^has_journal,^metadata_csum', p]),
		superblock: [[1024, 1024]],
		sizeBytes: wholeFile,
	},
	{
		name: 'ext3 external journal (jbd)',
		type: 'jbd',
		sizeMiB: 8,
		make: (p) => void run('mkfs.ext4', ['-q', '-F', '-O', 'journal_dev', '-b', '4096', '-L', 'JRNL', p]),
		superblock: [[1024, 1024]],
	},
	{
		name: 'FAT12',
		type: 'vfat',
		sizeMiB: 4,
		make: (p) => void run('mkfs.vfat', ['-F', '12', '-n', 'FAT12LBL', '-i', '1234ABCD', p]),
		superblock: [
			[0, 512],
			[512 * 5, 64],
		],
		sizeBytes: wholeFile,
	},
	{
		name: 'FAT16 without label',
		type: 'vfat',
		sizeMiB: 16,
		make: (p) => void run('mkfs.vfat', ['-F', '16', '-i', '0badf00d', p]),
		superblock: [[0, 512]],
		sizeBytes: wholeFile,
	},
	{
		name: 'FAT32',
		type: 'vfat',
		sizeMiB: 40,
		make: (p) => void run('mkfs.vfat', ['-F', '32', '-n', 'MY FAT32', '-i', 'DEADBEEF', p]),
		truncatedTo: 600,
		superblock: [[0, 1024]],
		sizeBytes: wholeFile,
	},
	{
		name: 'exFAT',
		type: 'exfat',
		sizeMiB: 4,
		make: (p) => void run('mkfs.exfat', ['-L', 'ExLabel', p]),
		truncatedTo: 1024,
		superblock: [[0, 512]],
		sizeBytes: wholeFile,
	},
	{
		name: 'NTFS',
		type: 'ntfs',
		sizeMiB: 4,
		make: (p) => void run('mkntfs', ['-F', '-f', '-q', '-L', 'NTFS Label', '-Q', p]),
		truncatedTo: 16384 + 512,
		superblock: [[0, 512]],
		sizeBytes: almostWholeFile,
	},
	{
		name: 'NTFS hibernated, big root index',
		type: 'ntfs',
		sizeMiB: 8,
		make: (p) => makeNtfsWithHiberfil(p, 'HIBR', 40),
		// Boot sector and MFT records 0..7 (mkntfs puts $MFT at cluster 4 on small volumes).
		superblock: [
			[0, 512],
			[16384, 8192],
		],
	},
	{
		name: 'NTFS resumed (wake)',
		type: 'ntfs',
		sizeMiB: 8,
		make: (p) => makeNtfsWithHiberfil(p, 'wake', 0),
		superblock: [[0, 512]],
	},
	{
		name: 'xfs',
		type: 'xfs',
		sizeMiB: 300,
		make: (p) => void run('mkfs.xfs', ['-q', '-f', '-L', 'xfslabel', '-m', `uuid=${UUID}`, p]),
		reseal: resealXfs,
		truncatedTo: 100,
		superblock: [[0, 512]],
		sizeBytes: wholeFile,
	},
	{
		name: 'btrfs',
		type: 'btrfs',
		sizeMiB: 114,
		make: (p) => void run('mkfs.btrfs', ['-q', '-f', '-L', 'btrfs label', '-U', UUID, p]),
		reseal: resealBtrfs,
		superblock: [[65536, 4096]],
		sizeBytes: wholeFile,
	},
	{
		name: 'swap',
		type: 'swap',
		sizeMiB: 1,
		make: (p) => void run('mkswap', ['-L', 'swaplabel', '-U', UUID, p]),
		superblock: [[0, 4096]],
		sizeBytes: almostWholeFile,
	},
	{
		name: 'LUKS1',
		type: 'crypto_LUKS',
		sizeMiB: 4,
		make: (p) => luksFormat(p, ['--type', 'luks1']),
		superblock: [[0, 600]],
	},
	{
		name: 'LUKS2',
		type: 'crypto_LUKS',
		sizeMiB: 20,
		make: (p) => luksFormat(p, ['--type', 'luks2', '--pbkdf', 'pbkdf2', '--label', 'luks two']),
		superblock: [[0, 600]],
	},
	{
		name: 'iso9660',
		type: 'iso9660',
		sizeMiB: 0,
		make: (p) => makeIso(p, []),
		truncatedTo: 32768 + 1000,
		superblock: [[32768, 2048 * 3]],
	},
	{
		name: 'iso9660 Joliet',
		type: 'iso9660',
		sizeMiB: 0,
		make: (p) => makeIso(p, ['-J']),
		superblock: [[32768, 2048 * 3]],
	},
	{
		name: 'udf',
		type: 'udf',
		sizeMiB: 4,
		make: (p) => void run('mkudffs', ['--label=UDF Label', p]),
		superblock: [
			[32768, 4096],
			[256 * 512, 512],
		],
	},
	{
		name: 'apfs',
		type: 'apfs',
		sizeMiB: 300,
		make: (p) => void run('mkapfs', ['-L', 'Mac Volume', p]),
		reseal: resealApfs,
		truncatedTo: 2048,
		superblock: [[0, 4096]],
		sizeBytes: wholeFile,
	},
	{
		name: 'ext4 UTF-8 label',
		type: 'ext4',
		sizeMiB: 4,
		make: (p) => void run('mkfs.ext4', ['-q', '-F', '-L', 'Grüße ✓', p]),
		superblock: [[1024, 1024]],
	},
	{
		name: 'NTFS Unicode label',
		type: 'ntfs',
		sizeMiB: 4,
		make: (p) => void run('mkntfs', ['-F', '-f', '-q', '-L', 'Données ✓', '-Q', p]),
		superblock: [[0, 512]],
	},
	{
		name: 'exFAT Unicode label',
		type: 'exfat',
		sizeMiB: 4,
		make: (p) => void run('mkfs.exfat', ['-L', 'Grüße ✓', p]),
		superblock: [[0, 512]],
	},
	{
		name: 'udf 2 KiB blocks, UTF-16 label',
		type: 'udf',
		sizeMiB: 4,
		make: (p) => void run('mkudffs', ['-b', '2048', '--label=Ünïcødé ✓', p]),
		superblock: [
			[32768, 4096],
			[256 * 2048, 512],
		],
	},
	{
		name: 'iso9660 Joliet Unicode',
		type: 'iso9660',
		sizeMiB: 0,
		make: (p) => makeIso(p, ['-J', '-input-charset', 'utf-8'], 'Grüße ✓ Disc'),
		superblock: [[32768, 2048 * 3]],
	},
	{
		name: 'btrfs xxhash checksums',
		type: 'btrfs',
		sizeMiB: 114,
		make: (p) => void run('mkfs.btrfs', ['-q', '-f', '--csum', 'xxhash', '-L', 'xx', p]),
		superblock: [[65536, 4096]],
	},
	{
		name: 'FAT32 4 KiB sectors',
		type: 'vfat',
		sizeMiB: 40,
		make: (p) => void run('mkfs.vfat', ['-S', '4096', '-F', '32', '-n', 'BIGSEC', p]),
		superblock: [[0, 4096]],
		sizeBytes: wholeFile,
	},
	{
		name: 'FAT12 1 KiB sectors',
		type: 'vfat',
		sizeMiB: 8,
		make: (p) => void run('mkfs.vfat', ['-S', '1024', '-F', '12', '-n', 'SEC1K', p]),
		superblock: [[0, 1024]],
		sizeBytes: wholeFile,
	},
	{
		name: 'xfs v4 (no CRCs)',
		type: 'xfs',
		sizeMiB: 300,
		make: (p) => void run('mkfs.xfs', ['-q', '-f', '-m', 'crc=0', '-L', 'v4', p]),
		superblock: [[0, 512]],
		sizeBytes: wholeFile,
	},
	{
		name: 'ext4 64bit, 4 KiB blocks',
		type: 'ext4',
		sizeMiB: 16,
		make: (p) => void run('mkfs.ext4', ['-q', '-F', '-b', '4096', '-O', '64bit', '-L', 'big', p]),
		superblock: [[1024, 1024]],
		reseal: resealExt4,
		sizeBytes: wholeFile,
	},
	{
		name: 'udf + iso9660 hybrid (udf wins, as in blkid)',
		type: 'udf',
		sizeMiB: 0,
		make: (p) => makeIso(p, ['-udf'], 'HYBRIDVOL'),
		superblock: [[32768, 8192]],
	},
	{
		name: 'hfsplus (hand-built)',
		type: 'hfsplus',
		sizeMiB: 0,
		make: (p) => writeFile(p, buildHfsPlusVolume({ name: 'Macintosh HD' })),
		truncatedTo: 1100,
		superblock: [
			[1024, 512],
			[8192, 64],
			[12288, 64],
		],
	},
	{
		name: 'hfsx (hand-built)',
		type: 'hfsplus',
		sizeMiB: 0,
		make: (p) => writeFile(p, buildHfsPlusVolume({ name: 'Case Sensitive', hfsx: true })),
		superblock: [[1024, 512]],
	},
	{
		name: 'hfs (hand-built)',
		type: 'hfs',
		sizeMiB: 0,
		make: (p) => writeFile(p, buildHfsVolume('Old Mac')),
		superblock: [[1024, 162]],
	},
	{
		name: 'FAT12 (hand-built, root label + boot label)',
		type: 'vfat',
		sizeMiB: 0,
		make: (p) => writeFile(p, buildFat({ bootLabel: 'BOOTLABEL', rootLabel: 'ROOTLABEL' })),
		superblock: [
			[0, 512],
			[8704, 96],
		],
	},
	{
		name: 'FAT12 (hand-built, NO NAME)',
		type: 'vfat',
		sizeMiB: 0,
		make: (p) => writeFile(p, buildFat({ bootLabel: 'NO NAME' })),
		superblock: [[0, 512]],
	},
	{
		name: 'NTFS (hand-built)',
		type: 'ntfs',
		sizeMiB: 0,
		make: (p) => writeFile(p, buildNtfs({ name: 'Hand Made', dirty: true, attrsOffset: 56 })),
		superblock: [
			[0, 512],
			[16384 + 3072, 1024],
		],
	},
	{
		name: 'ext3 (hand-built, needs recovery)',
		type: 'ext3',
		sizeMiB: 0,
		make: (p) => writeFile(p, buildExt({ compat: 0x4, incompat: 0x6, label: 'rec' })),
		superblock: [[1024, 1024]],
	},
	{
		name: 'hfsplus wrapped in hfs (hand-built)',
		type: 'hfsplus',
		sizeMiB: 0,
		make: (p) => writeFile(p, buildWrappedHfsPlusVolume('Wrapped')),
		superblock: [[1024, 162]],
	},
];

let keyFile = '';
function luksFormat(path: string, args: string[]): void {
	run('cryptsetup', [
		'luksFormat',
		'-q',
		'--key-file',
		keyFile,
		'--pbkdf-force-iterations',
		'1000',
		...args,
		path,
	]);
}
/** mkntfs, then `files` other files and a 4 KiB hiberfil.sys starting with `magic`, via ntfscp. */
async function makeNtfsWithHiberfil(path: string, magic: string, files: number): Promise<void> {
	run('mkntfs', ['-F', '-f', '-q', '-L', 'Windows', '-Q', path]);
	const content = join(isoSourceDir, '..', `hiberfil-${magic}.bin`);
	await writeFile(content, Buffer.concat([Buffer.from(magic), Buffer.alloc(4092, 0x11)]));
	// Enough names that the root index outgrows its resident root into index blocks.
	for (let i = 0; i < files; i++)
		run('ntfscp', ['-f', '-q', path, content, `file-with-a-long-name-${i}.txt`]);
	run('ntfscp', ['-f', '-q', path, content, 'hiberfil.sys']);
}
let isoSourceDir = '';
function makeIso(path: string, args: string[], label = 'Install Disc Joliet Name 2026'): void {
	run('genisoimage', ['-quiet', ...args, '-V', label, '-o', path, isoSourceDir]);
}

/** Deterministic PRNG (mulberry32) so mutation failures reproduce. */
function prng(seed: number): () => number {
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

/** Probes with a time limit: a hang is a failure, not a stuck suite. */
async function probeWithin(src: ByteSource, ms: number): Promise<FilesystemInfo | null> {
	let timer: NodeJS.Timeout | undefined;
	const timeout = new Promise<never>((_, reject) => {
		timer = setTimeout(() => reject(new Error(`probe did not finish within ${ms} ms`)), ms);
	});
	try {
		return await Promise.race([probeFilesystem(src), timeout]);
	} finally {
		clearTimeout(timer);
	}
}

function expectNoInternalError(info: FilesystemInfo | null, context: string): void {
	if (info?.type === 'unknown') {
		expect(info.problem, context).toBeTruthy();
		expect(info.problem, context).not.toContain(PROBE_INTERNAL_ERROR);
	}
}

describe('filesystem probes agree with blkid -p', () => {
	let dir: string;
	let cleanup: () => Promise<void>;
	const paths = new Map<string, string>();
	/** Cases whose image could not be made, with the tool's error. */
	const makeErrors = new Map<string, Error>();
	const built = (): Case[] => CASES.filter((c) => paths.has(c.name));

	beforeAll(async () => {
		({ dir, cleanup } = await makeTempDir('vmdk-fs-'));
		keyFile = join(dir, 'key');
		await writeFile(keyFile, 'correct horse battery staple');
		isoSourceDir = join(dir, 'iso-src');
		run('mkdir', ['-p', isoSourceDir]);
		await writeFile(join(isoSourceDir, 'readme.txt'), 'hello\n');
		for (const [i, c] of CASES.entries()) {
			const path = join(dir, `image-${i}.img`);
			try {
				if (c.sizeMiB > 0) run('truncate', ['-s', `${c.sizeMiB}M`, path]);
				await c.make(path);
				paths.set(c.name, path);
			} catch (error) {
				makeErrors.set(c.name, error instanceof Error ? error : new Error(String(error)));
			}
		}
	});
	afterAll(async () => {
		await cleanup();
	});

	for (const c of CASES) {
		it(`${c.name}: type, label, uuid and version equal blkid's`, async (ctx) => {
			const makeError = makeErrors.get(c.name);
			// mkfs.btrfs refuses to run while any stale FUSE mount on the machine is unreachable
			// (another process's leftover, not ours): that is the environment, not our probe.
			if (makeError?.message.includes('cannot check mount status') && process.env.CI !== 'true') ctx.skip();
			if (makeError) throw makeError;
			const path = paths.get(c.name) ?? '';
			const expected = blkid(path);
			expect(expected.TYPE, 'blkid recognises the image').toBe(c.type);
			const src = await FileByteSource.open(path);
			try {
				const info = await probeFilesystem(src);
				expect(comparable(info)).toEqual({
					TYPE: expected.TYPE,
					LABEL: expected.LABEL,
					UUID: expected.UUID,
					VERSION: expected.VERSION,
				});
				if (c.sizeBytes) {
					const [min, max] = c.sizeBytes(src.sizeBytes);
					expect(info?.sizeBytes).toBeGreaterThanOrEqual(min);
					expect(info?.sizeBytes).toBeLessThanOrEqual(max);
				}
			} finally {
				await src.close();
			}
		});
	}

	it('reports the labels and UUIDs we asked the tools for', async () => {
		const probe = async (name: string): Promise<FilesystemInfo | null> => {
			const src = await FileByteSource.open(paths.get(name) ?? '');
			try {
				return await probeFilesystem(src);
			} finally {
				await src.close();
			}
		};
		expect(await probe('ext4')).toMatchObject({
			label: 'E4LABEL',
			uuid: UUID,
			health: { needsRecovery: false, dirty: false },
		});
		expect(await probe('FAT12')).toMatchObject({
			label: 'FAT12LBL',
			uuid: '1234-ABCD',
			version: 'FAT12',
			health: { dirty: false },
		});
		expect(await probe('FAT16 without label')).toMatchObject({
			label: null,
			uuid: '0BAD-F00D',
			version: 'FAT16',
		});
		expect(await probe('FAT32')).toMatchObject({ label: 'MY FAT32', uuid: 'DEAD-BEEF', version: 'FAT32' });
		expect(await probe('NTFS')).toMatchObject({ label: 'NTFS Label', health: { dirty: false } });
		expect(await probe('swap')).toMatchObject({ label: 'swaplabel', uuid: UUID, version: '1' });
		expect(await probe('LUKS2')).toMatchObject({ label: 'luks two', version: '2' });
		expect(await probe('iso9660 Joliet')).toMatchObject({
			label: 'Install Disc Joliet Name 2026',
			version: 'Joliet Extension',
		});
		expect((await probe('ext4 UTF-8 label'))?.label).toBe('Grüße ✓');
		expect(await probe('apfs')).toMatchObject({ label: null, volumeNames: ['Mac Volume'] });
		expect((await probe('NTFS Unicode label'))?.label).toBe('Données ✓');
		expect((await probe('exFAT Unicode label'))?.label).toBe('Grüße ✓');
		expect(await probe('udf 2 KiB blocks, UTF-16 label')).toMatchObject({
			label: 'Ünïcødé ✓',
			blockSizeBytes: 2048,
			version: '2.01',
		});
		expect((await probe('iso9660 Joliet Unicode'))?.label).toBe('Grüße ✓ Disc');
		expect(await probe('hfsplus (hand-built)')).toMatchObject({
			label: 'Macintosh HD',
			health: { dirty: false },
		});
	});

	it('health flags on real images: FAT and exFAT dirty bits, ext3 needs_recovery', async () => {
		const probePatched = async (
			name: string,
			patches: [number, number][],
		): Promise<FilesystemInfo | null> => {
			const src = await FileByteSource.open(paths.get(name) ?? '');
			try {
				return await probeFilesystem(new PatchedSource(src, new Map(patches)));
			} finally {
				await src.close();
			}
		};
		expect((await probePatched('FAT16 without label', [[0x25, 0x01]]))?.health).toEqual({ dirty: true });
		expect((await probePatched('FAT32', [[0x41, 0x01]]))?.health).toEqual({ dirty: true });
		expect((await probePatched('FAT16 without label', []))?.health).toEqual({ dirty: false });
		expect((await probePatched('FAT32', []))?.health).toEqual({ dirty: false });
		// Windows' clean-shutdown bit in FAT[1]: FAT16 reserves 4 sectors here, FAT32 32.
		expect((await probePatched('FAT16 without label', [[4 * 512 + 3, 0x7f]]))?.health).toEqual({
			dirty: true,
		});
		expect((await probePatched('FAT32', [[32 * 512 + 7, 0x07]]))?.health).toEqual({ dirty: true });
		// VolumeFlags (bytes 106–107) are outside the exFAT boot checksum, so a flip stays valid.
		expect((await probePatched('exFAT', []))?.health).toEqual({ dirty: false });
		expect((await probePatched('NTFS', []))?.health).toEqual({ dirty: false, hibernated: false });
		expect((await probePatched('NTFS hibernated, big root index', []))?.health).toEqual({
			dirty: false,
			hibernated: true,
		});
		expect((await probePatched('NTFS resumed (wake)', []))?.health).toEqual({
			dirty: false,
			hibernated: false,
		});
		expect((await probePatched('exFAT', [[106, 0x02]]))?.health).toEqual({ dirty: true });
		expect((await probePatched('ext3', []))?.health).toEqual({ needsRecovery: false, dirty: false });
		// s_feature_incompat |= RECOVER (ext3 from mke2fs has no superblock checksum).
		const incompat = 1024 + 96;
		const ext3 = await FileByteSource.open(paths.get('ext3') ?? '');
		const original = (await ext3.read(incompat, 1))[0] ?? 0;
		await ext3.close();
		const recovering = await probePatched('ext3', [
			[incompat, original | 0x04],
			[1024 + 58, 0],
		]);
		expect(recovering).toMatchObject({ type: 'ext3', health: { needsRecovery: true, dirty: true } });
	});

	it('APFS: corrupted but re-checksummed object map and volume superblock never break the probe', async () => {
		const src = await FileByteSource.open(paths.get('apfs') ?? '');
		try {
			const u64 = async (at: number): Promise<number> =>
				Number(new DataView((await src.read(at, 8)).buffer).getBigUint64(0, true));
			const omapBlock = await u64(160);
			const treeBlock = await u64(omapBlock * 4096 + 48);
			const blocks = [omapBlock, treeBlock];
			const random = prng(0xa9f5);
			for (let round = 0; round < 300; round++) {
				const block = blocks[round % blocks.length] ?? 0;
				const bytes = (await src.read(block * 4096, 4096)).slice();
				for (let f = 0; f < 1 + (round % 4); f++)
					bytes[32 + Math.floor(random() * 200)] = Math.floor(random() * 256);
				resealApfs(bytes);
				const patches = new Map<number, number>();
				bytes.forEach((value, i) => patches.set(block * 4096 + i, value));
				const info = await probeWithin(new PatchedSource(src, patches), 10_000);
				expect(info?.type, `round ${round}`).toBe('apfs');
			}
		} finally {
			await src.close();
		}
	});

	it('cut short at any length: null, unknown with a reason, or a result — never a throw', async () => {
		const cuts = [
			0,
			1,
			100,
			511,
			512,
			1023,
			1024,
			1100,
			2047,
			2048,
			4095,
			4096,
			8192,
			32768 + 100,
			34816,
			36864,
			65536 + 100,
			65536 + 2048,
			131072 + 100,
			MIB,
		];
		for (const c of built()) {
			const src = await FileByteSource.open(paths.get(c.name) ?? '');
			try {
				if (c.truncatedTo !== undefined) {
					const info = await probeWithin(new PartitionView(src, 0, c.truncatedTo), 10_000);
					expect(info?.type, `${c.name} cut at ${c.truncatedTo}`).toBe('unknown');
					expect(info?.problem).toMatch(/needs bytes \d+\.\.\d+ but the volume has \d+/u);
				}
				for (const cut of cuts.filter((n) => n < src.sizeBytes)) {
					const info = await probeWithin(new PartitionView(src, 0, cut), 10_000);
					expectNoInternalError(info, `${c.name} cut at ${cut}`);
					if (cut < 100) expect(info?.type ?? null, `${c.name} cut at ${cut}`).not.toBe(c.type);
				}
			} finally {
				await src.close();
			}
		}
	});

	it('survives seeded random byte flips in every superblock (never throws, never hangs)', async () => {
		const random = prng(Number(process.env.VMDK_FUZZ_SEED ?? 0x5eed1234));
		const ROUNDS = Number(process.env.VMDK_FUZZ_ROUNDS ?? 150);
		for (const c of built()) {
			const src = await FileByteSource.open(paths.get(c.name) ?? '');
			try {
				if (c.reseal) {
					// Resealing an untouched superblock must reproduce the tool's own checksum.
					const [sbStart, sbLength] = c.superblock[0] ?? [0, 0];
					const original = await src.read(sbStart, sbLength);
					const copy = original.slice();
					c.reseal(copy);
					expect(copy, `${c.name} reseal`).toEqual(original);
				}
				for (let round = 0; round < ROUNDS; round++) {
					const patches = new Map<number, number>();
					const flips = 1 + Math.floor(random() * 8);
					for (let f = 0; f < flips; f++) {
						const [start, length] = c.superblock[Math.floor(random() * c.superblock.length)] ?? [0, 512];
						patches.set(start + Math.floor(random() * length), Math.floor(random() * 256));
					}
					const [sbStart, sbLength] = c.superblock[0] ?? [0, 0];
					if (c.reseal && round % 2 === 0) {
						// Every other round: flips in the first range, then a valid checksum again.
						const sb = (await src.read(sbStart, sbLength)).slice();
						for (const [at, value] of patches)
							if (at >= sbStart && at < sbStart + sbLength) sb[at - sbStart] = value;
						c.reseal(sb);
						sb.forEach((value, i) => patches.set(sbStart + i, value));
					}
					const context = `${c.name} round ${round}: ${JSON.stringify([...patches])}`;
					const info = await probeWithin(new PatchedSource(src, patches), 10_000);
					expectNoInternalError(info, context);
				}
			} finally {
				await src.close();
			}
		}
	});
});

describeNeeding(
	process.env.VMDK_SKIP_LOOP === '1' ? 'VMDK_SKIP_LOOP=1' : rootMissing(),
	'LVM2 PV label made by pvcreate',
	() => {
		let dir: string;
		let cleanup: () => Promise<void>;
		let loop = '';
		let path = '';

		beforeAll(async () => {
			({ dir, cleanup } = await makeTempDir('vmdk-fs-lvm-'));
			path = join(dir, 'pv.img');
			run('truncate', ['-s', '8M', path]);
			loop = run('losetup', ['-f', '--show', path]).trim();
			const config = 'activation{udev_sync=0 udev_rules=0} devices{obtain_device_list_from_udev=0}';
			run('pvcreate', ['--devices', loop, '--config', config, '-y', loop]);
		});
		afterAll(async () => {
			if (loop) run('losetup', ['-d', loop]);
			await cleanup();
		});

		it('type LVM2_member, the PV UUID and version equal blkid', async () => {
			const expected = blkid(path);
			expect(expected.TYPE).toBe('LVM2_member');
			const src = await FileByteSource.open(path);
			try {
				const info = await probeFilesystem(src);
				expect(comparable(info)).toEqual({
					TYPE: expected.TYPE,
					LABEL: expected.LABEL,
					UUID: expected.UUID,
					VERSION: expected.VERSION,
				});
				for (let round = 0, random = prng(7); round < 100; round++) {
					const patches = new Map([[Math.floor(random() * 1024), Math.floor(random() * 256)]]);
					expectNoInternalError(
						await probeWithin(new PatchedSource(src, patches), 10_000),
						`lvm round ${round}`,
					);
				}
			} finally {
				await src.close();
			}
		});
	},
);
