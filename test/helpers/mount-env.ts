// SPDX-License-Identifier: MIT
/**
 * Shared set-up of the mounting integration tests: capability checks (a failure under
 * CI=true, a skip elsewhere), fixture disks with known files built with real tools, an
 * isolated environment per test file (its own runtime, state and mount dirs → its own
 * daemon), the CLI runner, leftover checks, and a teardown safety net that unmounts, detaches
 * and kills whatever a failed test left.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from './prng.js';
import { runCli } from '../fixtures/reference-disk.js';
import { run, runStatus, sha256File, type RunResult } from './run.js';
import { makeTempDir } from './temp-dir.js';
import { placeImage } from './place-image.js';

const MIB = 1024 * 1024;

/** Why mounting tests cannot run here, or undefined when they can. */
export function missingCapability(): string | undefined {
	if (process.platform !== 'linux') return 'not Linux';
	if (process.getuid?.() !== 0) return 'needs root (loop devices and kernel mounts)';
	if (!existsSync('/dev/fuse')) return 'no /dev/fuse';
	for (const tool of [
		'/usr/bin/fuse2fs',
		'/usr/bin/fusefat',
		'/usr/bin/ntfs-3g',
		'/usr/sbin/mount.exfat-fuse',
		'/usr/bin/qemu-img',
		'/usr/bin/fusermount3',
		'/usr/bin/mcopy',
	]) {
		if (!existsSync(tool)) return `${tool} is not installed`;
	}
	return undefined;
}

/** A fixture file and its content hash. */
export interface KnownFile {
	readonly name: string;
	readonly sha256: string;
}

/** The fixture disks of one test file. */
export interface Fixtures {
	readonly dir: string;
	/** MBR: p1 ext4 "LINUXDATA", p2 FAT32 "FATDATA" → monolithicSparse. */
	readonly mbrSparse: string;
	/** GPT: p1 exFAT "EXDATA", p2 NTFS "NTDATA" → streamOptimized. */
	readonly gptStream: string;
	/** A snapshot child over a monolithicSparse copy of the MBR disk. */
	readonly chainLeaf: string;
	/** Files in every filesystem of the fixtures. */
	readonly files: readonly KnownFile[];
}

async function makeContent(dir: string): Promise<KnownFile[]> {
	await mkdir(dir, { recursive: true });
	await writeFile(join(dir, 'hello.txt'), 'Hello from inside a VMDK\n');
	await writeFile(join(dir, 'data.bin'), randomBytes(300_000, 1));
	return Promise.all(
		['hello.txt', 'data.bin'].map(async (name) => ({ name, sha256: await sha256File(join(dir, name)) })),
	);
}

/** Copies `content` into a filesystem image by mounting it with a FUSE helper, then unmounting. */
async function fillWithFuse(
	helper: string,
	image: string,
	mnt: string,
	content: string,
	names: readonly string[],
) {
	await mkdir(mnt, { recursive: true });
	// As root, exfat-fuse insists on a block device: give it a loop device over the image.
	const loop = helper.includes('exfat')
		? (await run('/usr/sbin/losetup', ['--find', '--show', image])).trim()
		: undefined;
	try {
		await run(helper, ['-o', 'rw', loop ?? image, mnt]);
		try {
			for (const n of names) await run('/bin/cp', [join(content, n), join(mnt, n)]);
		} finally {
			await run('/usr/bin/fusermount3', ['-u', mnt]);
		}
	} finally {
		if (loop !== undefined) await run('/usr/sbin/losetup', ['-d', loop]);
	}
}

/** Builds the fixture disks in `dir` (about 150 MiB apparent, a few MiB on disk). */
export async function makeFixtures(dir: string): Promise<Fixtures> {
	const content = join(dir, 'content');
	const files = await makeContent(content);
	const names = files.map((f) => f.name);

	// MBR: ext4 at 1 MiB (24 MiB), FAT32 after it (40 MiB).
	const mbr = join(dir, 'mbr.raw');
	await run('/usr/bin/truncate', ['-s', `${72 * MIB}`, mbr]);
	await run('/usr/sbin/sfdisk', ['-q', mbr], {
		input: 'label: dos\nstart=2048, size=49152, type=83\nstart=51200, size=81920, type=c\n',
	});
	const ext = join(dir, 'ext.img');
	await run('/usr/bin/truncate', ['-s', `${24 * MIB}`, ext]);
	await run('/usr/sbin/mkfs.ext4', ['-q', '-F', '-L', 'LINUXDATA', '-d', content, ext]);
	const fat = join(dir, 'fat.img');
	await run('/usr/bin/truncate', ['-s', `${40 * MIB}`, fat]);
	await run('/usr/sbin/mkfs.vfat', ['-F', '32', '-n', 'FATDATA', fat]);
	for (const n of names) await run('/usr/bin/mcopy', ['-i', fat, join(content, n), `::/${n}`]);
	await placeImage(ext, mbr, 2048);
	await placeImage(fat, mbr, 51200);

	// GPT: exFAT (16 MiB) and NTFS (24 MiB).
	const gpt = join(dir, 'gpt.raw');
	await run('/usr/bin/truncate', ['-s', `${48 * MIB}`, gpt]);
	await run('/usr/sbin/sfdisk', ['-q', gpt], {
		input:
			'label: gpt\nstart=2048, size=32768, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7\nstart=34816, size=49152, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7\n',
	});
	const exfat = join(dir, 'exfat.img');
	await run('/usr/bin/truncate', ['-s', `${16 * MIB}`, exfat]);
	await run('/usr/sbin/mkfs.exfat', ['-L', 'EXDATA', exfat]);
	await fillWithFuse('/usr/sbin/mount.exfat-fuse', exfat, join(dir, 'fill-exfat'), content, names);
	const ntfs = join(dir, 'ntfs.img');
	await run('/usr/bin/truncate', ['-s', `${24 * MIB}`, ntfs]);
	await run('/usr/sbin/mkntfs', ['-q', '-F', '-f', '-L', 'NTDATA', ntfs]);
	await fillWithFuse('/usr/bin/ntfs-3g', ntfs, join(dir, 'fill-ntfs'), content, names);
	await placeImage(exfat, gpt, 2048);
	await placeImage(ntfs, gpt, 34816);

	const mbrSparse = join(dir, 'mbr-sparse.vmdk');
	const gptStream = join(dir, 'gpt-stream.vmdk');
	const chainBase = join(dir, 'chain-base.vmdk');
	const chainLeaf = join(dir, 'chain-leaf.vmdk');
	await Promise.all([
		run('/usr/bin/qemu-img', [
			'convert',
			'-f',
			'raw',
			'-O',
			'vmdk',
			'-o',
			'subformat=monolithicSparse',
			mbr,
			mbrSparse,
		]),
		run('/usr/bin/qemu-img', [
			'convert',
			'-f',
			'raw',
			'-O',
			'vmdk',
			'-o',
			'subformat=streamOptimized',
			gpt,
			gptStream,
		]),
		run('/usr/bin/qemu-img', [
			'convert',
			'-f',
			'raw',
			'-O',
			'vmdk',
			'-o',
			'subformat=monolithicSparse',
			mbr,
			chainBase,
		]),
	]);
	await run('/usr/bin/qemu-img', ['create', '-q', '-f', 'vmdk', '-b', chainBase, '-F', 'vmdk', chainLeaf]);
	for (const f of [ext, fat, exfat, ntfs, mbr, gpt]) await rm(f);
	return { dir, mbrSparse, gptStream, chainLeaf, files };
}

/** An isolated daemon environment for one test file. */
export class MountEnv {
	readonly root: string;
	readonly env: Record<string, string>;
	private readonly cleanupDir: () => Promise<void>;

	private constructor(root: string, cleanup: () => Promise<void>, extraEnv: Record<string, string>) {
		this.root = root;
		this.cleanupDir = cleanup;
		this.env = {
			VMDK_MOUNTER_RUNTIME_DIR: join(root, 'run'),
			VMDK_MOUNTER_STATE_DIR: join(root, 'state'),
			VMDK_MOUNTER_CONFIG_DIR: join(root, 'config'),
			VMDK_MOUNTER_MOUNT_ROOT: join(root, 'mnt'),
			VMDK_MOUNTER_IDLE_EXIT_MS: '60000',
			DEBUG: '',
			...extraEnv,
		};
	}

	static async create(prefix: string, extraEnv: Record<string, string> = {}): Promise<MountEnv> {
		const tmp = await makeTempDir(prefix);
		return new MountEnv(tmp.dir, tmp.cleanup, extraEnv);
	}

	/** An environment in a folder the caller chose (removed at teardown, like a temporary one). */
	static at(root: string, extraEnv: Record<string, string> = {}): MountEnv {
		return new MountEnv(root, () => rm(root, { recursive: true, force: true }), extraEnv);
	}

	get mountRoot(): string {
		return this.env.VMDK_MOUNTER_MOUNT_ROOT ?? '';
	}
	get runtimeDir(): string {
		return this.env.VMDK_MOUNTER_RUNTIME_DIR ?? '';
	}
	get stateDir(): string {
		return this.env.VMDK_MOUNTER_STATE_DIR ?? '';
	}

	/** Applies this environment to the test process (for in-process clients). */
	applyToProcess(): void {
		Object.assign(process.env, this.env);
	}

	/** Runs the CLI; never throws on a non-zero exit. */
	cli(...args: string[]): Promise<RunResult> {
		return runCli(args, { env: this.env, timeoutMs: 90_000 });
	}

	/** The daemon's pid, if one runs (from the state folder's lock: pid, then the socket). */
	async daemonPid(): Promise<number | undefined> {
		const text = await readFile(join(this.stateDir, 'daemon.lock'), 'utf8').catch(() => '');
		const pid = Number(text.split('\n')[0]?.trim());
		return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
	}

	/** Mounts under this environment's folders (from mountinfo). */
	async mountsUnderRoot(): Promise<string[]> {
		const info = await readFile('/proc/self/mountinfo', 'utf8');
		return info
			.split('\n')
			.map((l) => (l.split(' ')[4] ?? '').replace(/\\040/g, ' '))
			.filter((mp) => mp.startsWith(`${this.root}/`));
	}

	/** Loop devices backed by files under this environment. */
	async loopsUnderRoot(): Promise<string[]> {
		const out = await run('/usr/sbin/losetup', ['--list', '--json', '--output', 'NAME,BACK-FILE']);
		if (out.trim() === '') return [];
		const parsed = JSON.parse(out) as { loopdevices: { name: string; 'back-file': string | null }[] };
		return parsed.loopdevices
			.filter((d) => (d['back-file'] ?? '').startsWith(`${this.root}/`))
			.map((d) => d.name);
	}

	/** What is left: mounts, loop devices, mountpoint folders, export folders, overlays. */
	async leftovers(): Promise<string[]> {
		const left = [...(await this.mountsUnderRoot()), ...(await this.loopsUnderRoot())];
		for (const dir of [this.mountRoot, join(this.runtimeDir, 'disks'), join(this.stateDir, 'overlays')]) {
			for (const e of await readdir(dir).catch(() => [] as string[])) left.push(join(dir, e));
		}
		return left;
	}

	/** Unmounts everything, then removes whatever is still there and kills the daemon. */
	async teardown(): Promise<void> {
		if (await this.daemonPid().then((p) => p !== undefined && isAlive(p))) {
			await this.cli('unmount', '--all', '--force').catch(() => undefined);
		}
		await this.safetyNet();
		await this.cleanupDir();
	}

	/** Forcibly removes mounts and loops under the root and kills the daemon. */
	async safetyNet(): Promise<void> {
		const pid = await this.daemonPid();
		const mounts = (await this.mountsUnderRoot()).sort((a, b) => b.length - a.length);
		// Volumes first (deeper paths and mount root), then exports.
		const exportsDir = join(this.runtimeDir, 'disks');
		for (const mp of [
			...mounts.filter((m) => !m.startsWith(exportsDir)),
			...mounts.filter((m) => m.startsWith(exportsDir)),
		]) {
			await runStatus('/usr/bin/umount', ['-l', mp]);
			await runStatus('/usr/bin/fusermount3', ['-uz', mp]);
		}
		for (const dev of await this.loopsUnderRoot()) await runStatus('/usr/sbin/losetup', ['-d', dev]);
		if (pid !== undefined && isAlive(pid)) process.kill(pid, 'SIGKILL');
	}
}

/** True while `pid` runs. */
export function isAlive(pid: number): boolean {
	// A killed daemon whose parent is gone may stay a zombie here (no reaping init): that is dead.
	try {
		const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
		return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
	} catch {
		return false;
	}
}
