// SPDX-License-Identifier: MIT
/**
 * Files inside an `.ova` as if the archive were a folder: `/vms/app.ova/app-disk1.vmdk` is the
 * member `app-disk1.vmdk` of `/vms/app.ova`, read in place through a byte-range view of the
 * archive (no extraction, no temporary copy). `withArchives(platform)` wraps any DiskPlatform;
 * paths that do not go through an archive pass straight to it, so `openDisk`, the bundle
 * resolver and the daemon's file pool work on members unchanged.
 *
 * Also here: OVF "chunked" files (`ovf:chunkSize`), stored as `<name>.000000000`,
 * `<name>.000000001`, …: opening `<name>` when it does not exist but its first chunk does gives
 * the chunks joined into one file, in an archive or in a folder.
 *
 * Decisions:
 * - The archive is the first path component ending in `.ova` (any case) that is a regular file;
 *   a folder named `x.ova` is an ordinary folder.
 * - Each archive's member index is read once per wrapper and reused; every open checks that the
 *   archive still has the size it was indexed at (offsets would be wrong otherwise).
 * - Members that are not regular files (links, devices, sparse) and members with unsafe names
 *   (absolute, `..`) cannot be opened.
 */
import { VmdkError } from '../errors.js';
import { basename, extensionOf, normalizePath } from '../io/paths.js';
import type { DirEntry, DiskPlatform, RandomAccessFile } from '../platform.js';
import { readTarIndex, type TarIndex, type TarMember } from './tar-index.js';

/** Extensions of archives whose members are addressed as `<archive>/<member>`. */
export const ARCHIVE_EXTENSIONS: readonly string[] = ['ova'];
/** Most chunks of one chunked OVF file. */
export const CHUNKS_MAX = 100_000;
/** Digits of an OVF chunk number (`disk.vmdk.000000001`). */
const CHUNK_DIGITS = 9;

/** A path split at an archive: the archive file and the member path inside it. */
export interface ArchivePath {
	/** The archive file (`/vms/app.ova`). */
	readonly archive: string;
	/** The member path inside it (`app-disk1.vmdk`), normalised. */
	readonly member: string;
}

/**
 * Splits `path` at its first `.ova` component that has something after it, by name only (the
 * wrapper also checks that the archive is a file). Undefined for paths with no such component.
 */
export function splitArchivePath(path: string): ArchivePath | undefined {
	const normal = normalizePath(path);
	const parts = normal.split('/');
	for (let i = 0; i < parts.length - 1; i++) {
		if (ARCHIVE_EXTENSIONS.includes(extensionOf(parts[i]!))) {
			const archive = parts.slice(0, i + 1).join('/') || '/';
			return { archive, member: parts.slice(i + 1).join('/') };
		}
	}
	return undefined;
}

/** The path of `member` inside `archive`. */
export function archiveMemberPath(archive: string, member: string): string {
	return `${archive}/${member}`;
}

/** The chunk file name of `path` number `index` (`disk.vmdk.000000002`). */
export function chunkPath(path: string, index: number): string {
	return `${path}.${String(index).padStart(CHUNK_DIGITS, '0')}`;
}

/** A marker so that wrapping twice is a no-op. */
const WRAPPED = Symbol('archive-aware platform');

/** `platform`, able to open members of `.ova` archives and chunked OVF files. */
export function withArchives(platform: DiskPlatform): DiskPlatform {
	if ((platform as { [WRAPPED]?: true })[WRAPPED] === true) return platform;
	return new ArchiveAwarePlatform(platform);
}

/** An indexed archive: members by normalised path (the last copy of a duplicate wins). */
interface LoadedArchive {
	readonly index: TarIndex;
	readonly byPath: ReadonlyMap<string, TarMember>;
}

class ArchiveAwarePlatform implements DiskPlatform {
	readonly [WRAPPED] = true;
	private readonly inner: DiskPlatform;
	private readonly archives = new Map<string, Promise<LoadedArchive>>();
	private readonly isArchiveFile = new Map<string, Promise<boolean>>();

	constructor(inner: DiskPlatform) {
		this.inner = inner;
	}

	/** The member index of `archive`, read once. */
	archiveIndex(archive: string): Promise<LoadedArchive> {
		let loaded = this.archives.get(archive);
		if (loaded === undefined) {
			loaded = this.loadArchive(archive);
			this.archives.set(archive, loaded);
			// A failed read is not cached: the next caller gets a fresh attempt and a fresh error.
			loaded.catch(() => this.archives.delete(archive));
		}
		return loaded;
	}

	private async loadArchive(archive: string): Promise<LoadedArchive> {
		const file = await this.inner.openFile(archive);
		try {
			const index = await readTarIndex(file);
			const byPath = new Map<string, TarMember>();
			for (const m of index.members) if (!m.unsafe) byPath.set(m.path, m);
			return { index, byPath };
		} finally {
			await file.close();
		}
	}

	/** Where `path` is, if it goes through an archive file. */
	private async locate(path: string): Promise<ArchivePath | undefined> {
		const split = splitArchivePath(path);
		if (split === undefined) return undefined;
		let isFile = this.isArchiveFile.get(split.archive);
		if (isFile === undefined) {
			isFile = this.inner.fileExists(split.archive);
			this.isArchiveFile.set(split.archive, isFile);
		}
		return (await isFile) ? split : undefined;
	}

	async openFile(path: string): Promise<RandomAccessFile> {
		const at = await this.locate(path);
		if (at === undefined) {
			try {
				return await this.inner.openFile(path);
			} catch (error) {
				if (!(error instanceof VmdkError && error.code === 'VMDK_MISSING_EXTENT')) throw error;
				const chunks = await this.plainChunks(path);
				if (chunks === undefined) throw error;
				return chunks;
			}
		}
		const { byPath, index } = await this.archiveIndex(at.archive);
		const member = byPath.get(at.member);
		if (member === undefined) {
			const chunks = collectChunks(at.member, byPath);
			if (chunks !== undefined) return this.openMemberChunks(path, at.archive, index, chunks);
			throw new VmdkError('VMDK_MISSING_EXTENT', `not in the archive ${at.archive}`, { file: path });
		}
		if (member.type !== 'file') {
			throw new VmdkError(
				member.type === 'directory' ? 'VMDK_NOT_VMDK' : 'OVA_BAD_ARCHIVE',
				`is a ${member.type === 'directory' ? 'folder' : `tar ${member.type} member (type "${member.typeFlag}")`} in the archive, not a regular file`,
				{ file: path },
			);
		}
		const archive = await this.openArchive(at.archive, index);
		return new RangeFile(path, archive, member.dataOffsetBytes, member.sizeBytes, true);
	}

	/** Opens the archive file, checking that it still is what was indexed. */
	private async openArchive(archive: string, index: TarIndex): Promise<RandomAccessFile> {
		const file = await this.inner.openFile(archive);
		if (file.sizeBytes !== index.archiveSizeBytes) {
			await file.close();
			throw new VmdkError(
				'VMDK_IO',
				`the archive changed size since it was read (${index.archiveSizeBytes} → ${file.sizeBytes} bytes)`,
				{ file: archive },
			);
		}
		return file;
	}

	private async openMemberChunks(
		path: string,
		archive: string,
		index: TarIndex,
		chunks: readonly TarMember[],
	): Promise<RandomAccessFile> {
		const file = await this.openArchive(archive, index);
		const parts = chunks.map((m) => ({
			sizeBytes: m.sizeBytes,
			open: () =>
				Promise.resolve<RandomAccessFile>(new RangeFile(m.path, file, m.dataOffsetBytes, m.sizeBytes, false)),
		}));
		try {
			return new ConcatFile(path, parts, () => file.close());
		} catch (error) {
			await file.close();
			throw error;
		}
	}

	/** `path`'s chunk files in a folder, joined, or undefined if it has none. */
	private async plainChunks(path: string): Promise<RandomAccessFile | undefined> {
		if (!(await this.inner.fileExists(chunkPath(path, 0)))) return undefined;
		const parts: { sizeBytes: number; open: () => Promise<RandomAccessFile> }[] = [];
		for (let i = 0; i < CHUNKS_MAX && (await this.inner.fileExists(chunkPath(path, i))); i++) {
			const name = chunkPath(path, i);
			// Sizes are needed up front to map offsets; each chunk is opened again on first read.
			const probe = await this.inner.openFile(name);
			parts.push({ sizeBytes: probe.sizeBytes, open: () => this.inner.openFile(name) });
			await probe.close();
		}
		return new ConcatFile(path, parts, undefined);
	}

	async fileExists(path: string): Promise<boolean> {
		const at = await this.locate(path);
		if (at === undefined) {
			if (await this.inner.fileExists(path)) return true;
			return this.inner.fileExists(chunkPath(path, 0));
		}
		const { byPath } = await this.archiveIndex(at.archive);
		const member = byPath.get(at.member);
		if (member !== undefined) return member.type === 'file';
		return collectChunks(at.member, byPath) !== undefined;
	}

	async listDir(path: string): Promise<readonly DirEntry[]> {
		const normal = normalizePath(path);
		let at = await this.locate(normal);
		if (at === undefined && ARCHIVE_EXTENSIONS.includes(extensionOf(normal))) {
			if (await this.inner.fileExists(normal)) at = { archive: normal, member: '' };
		}
		if (at === undefined) return this.inner.listDir(path);
		const { byPath } = await this.archiveIndex(at.archive);
		const prefix = at.member === '' ? '' : `${at.member}/`;
		const entries = new Map<string, boolean>();
		for (const [memberPath, member] of byPath) {
			if (!memberPath.startsWith(prefix) || memberPath === at.member) continue;
			const rest = memberPath.slice(prefix.length);
			const slash = rest.indexOf('/');
			const name = slash < 0 ? rest : rest.slice(0, slash);
			const isDirectory = slash >= 0 || member.type === 'directory';
			entries.set(name, (entries.get(name) ?? false) || isDirectory);
		}
		if (entries.size === 0 && prefix !== '') {
			throw new VmdkError('VMDK_IO', `not a folder in the archive ${at.archive}`, { file: path });
		}
		return [...entries].map(([name, isDirectory]) => ({ name, isDirectory }));
	}

	async readSmallFile(path: string, maxBytes: number): Promise<Uint8Array> {
		if ((await this.locate(path)) === undefined) return this.inner.readSmallFile(path, maxBytes);
		const file = await this.openFile(path);
		try {
			if (file.sizeBytes > maxBytes) {
				throw new VmdkError('VMDK_LIMIT', `file has invalid size ${file.sizeBytes} (maximum ${maxBytes})`, {
					file: path,
				});
			}
			const out = new Uint8Array(file.sizeBytes);
			await file.readInto(0, out, 0, out.length);
			return out;
		} finally {
			await file.close();
		}
	}

	/** See {@link locateBytes}. */
	async locateBytes(path: string): Promise<ByteLocation | undefined> {
		const at = await this.locate(path);
		if (at === undefined) {
			if (!(await this.inner.fileExists(path))) return undefined;
			const file = await this.inner.openFile(path);
			const sizeBytes = file.sizeBytes;
			await file.close();
			return { file: path, offsetBytes: 0, sizeBytes };
		}
		const member = (await this.archiveIndex(at.archive)).byPath.get(at.member);
		if (member === undefined || member.type !== 'file') return undefined;
		return { file: at.archive, offsetBytes: member.dataOffsetBytes, sizeBytes: member.sizeBytes };
	}

	inflate(compressed: Uint8Array, maxOutBytes: number): Promise<Uint8Array> {
		return this.inner.inflate(compressed, maxOutBytes);
	}
}

/**
 * The index of the archive behind a wrapped platform (see {@link withArchives}), for callers
 * that need member offsets (manifest checks). Undefined if `platform` is not wrapped.
 */
export async function archiveMembers(platform: DiskPlatform, archive: string): Promise<TarIndex | undefined> {
	if (!(platform instanceof ArchiveAwarePlatform)) return undefined;
	return (await platform.archiveIndex(archive)).index;
}

/** Where the bytes of one file are: a range of a real file (an archive member) or a whole file. */
export interface ByteLocation {
	/** The real file holding the bytes. */
	readonly file: string;
	/** Where they start in it. */
	readonly offsetBytes: number;
	/** How many there are. */
	readonly sizeBytes: number;
}

/**
 * Where the bytes of `path` are, so that a host can stream them (manifest hashing): an archive
 * member's range of its archive, or the whole file. Undefined if it does not exist or is
 * chunked. `platform` should be wrapped with {@link withArchives}.
 */
export async function locateBytes(platform: DiskPlatform, path: string): Promise<ByteLocation | undefined> {
	if (platform instanceof ArchiveAwarePlatform) return platform.locateBytes(path);
	if (!(await platform.fileExists(path))) return undefined;
	const file = await platform.openFile(path);
	const sizeBytes = file.sizeBytes;
	await file.close();
	return { file: path, offsetBytes: 0, sizeBytes };
}

/** The chunk members of `path` in order, or undefined when it has none. */
function collectChunks(path: string, byPath: ReadonlyMap<string, TarMember>): TarMember[] | undefined {
	const out: TarMember[] = [];
	for (let i = 0; i < CHUNKS_MAX; i++) {
		const m = byPath.get(chunkPath(path, i));
		if (m === undefined || m.type !== 'file') break;
		out.push(m);
	}
	return out.length === 0 ? undefined : out;
}

/** A byte range of another file, seen as a file of its own (a tar member, a chunk). */
export class RangeFile implements RandomAccessFile {
	readonly path: string;
	readonly sizeBytes: number;
	private readonly inner: RandomAccessFile;
	private readonly startBytes: number;
	/** True when closing this view closes `inner`. */
	private readonly ownsInner: boolean;

	constructor(
		path: string,
		inner: RandomAccessFile,
		startBytes: number,
		sizeBytes: number,
		ownsInner: boolean,
	) {
		this.path = path;
		this.inner = inner;
		this.startBytes = startBytes;
		this.sizeBytes = sizeBytes;
		this.ownsInner = ownsInner;
	}

	async readInto(positionBytes: number, dest: Uint8Array, destOffset: number, length: number): Promise<void> {
		if (!(positionBytes >= 0 && length >= 0 && positionBytes + length <= this.sizeBytes)) {
			throw new VmdkError(
				'VMDK_TRUNCATED',
				`file ends at byte ${this.sizeBytes}, needed ${length} bytes from ${positionBytes}`,
				{ file: this.path, offsetBytes: Math.min(Math.max(0, positionBytes), this.sizeBytes) },
			);
		}
		await this.inner.readInto(this.startBytes + positionBytes, dest, destOffset, length);
	}

	async close(): Promise<void> {
		if (this.ownsInner) await this.inner.close();
	}
}

/** One piece of a {@link ConcatFile}. */
interface ConcatPart {
	readonly sizeBytes: number;
	/** Opens the piece; called at most once, on first read. */
	readonly open: () => Promise<RandomAccessFile>;
}

/** Files joined end to end (OVF chunks). Pieces open on first read and stay open until close. */
export class ConcatFile implements RandomAccessFile {
	readonly path: string;
	readonly sizeBytes: number;
	private readonly parts: readonly ConcatPart[];
	/** Start offset of each part. */
	private readonly starts: readonly number[];
	private readonly opened = new Map<number, Promise<RandomAccessFile>>();
	private readonly onClose: (() => Promise<void>) | undefined;

	constructor(path: string, parts: readonly ConcatPart[], onClose: (() => Promise<void>) | undefined) {
		this.path = path;
		this.parts = parts;
		this.onClose = onClose;
		const starts: number[] = [];
		let at = 0;
		parts.forEach((p, i) => {
			// Every chunk but the last has the chunk size: a short one in the middle is a lost piece.
			if (i < parts.length - 1 && p.sizeBytes !== parts[0]!.sizeBytes) {
				throw new VmdkError(
					'OVF_MISSING_FILE',
					`chunk ${basename(chunkPath(path, i))} has ${p.sizeBytes} bytes, the chunks before it ${parts[0]!.sizeBytes}: a chunk is damaged or missing`,
					{ file: path },
				);
			}
			starts.push(at);
			at += p.sizeBytes;
		});
		this.starts = starts;
		this.sizeBytes = at;
	}

	async readInto(positionBytes: number, dest: Uint8Array, destOffset: number, length: number): Promise<void> {
		if (!(positionBytes >= 0 && length >= 0 && positionBytes + length <= this.sizeBytes)) {
			throw new VmdkError(
				'VMDK_TRUNCATED',
				`file ends at byte ${this.sizeBytes}, needed ${length} bytes from ${positionBytes}`,
				{ file: this.path, offsetBytes: Math.min(Math.max(0, positionBytes), this.sizeBytes) },
			);
		}
		let done = 0;
		let part = this.partAt(positionBytes);
		while (done < length) {
			const start = this.starts[part]!;
			const within = positionBytes + done - start;
			const n = Math.min(length - done, this.parts[part]!.sizeBytes - within);
			const file = await this.openPart(part);
			await file.readInto(within, dest, destOffset + done, n);
			done += n;
			part++;
		}
	}

	private partAt(offset: number): number {
		let lo = 0;
		let hi = this.starts.length - 1;
		while (lo < hi) {
			const mid = (lo + hi + 1) >> 1;
			if (this.starts[mid]! <= offset) lo = mid;
			else hi = mid - 1;
		}
		return lo;
	}

	private openPart(i: number): Promise<RandomAccessFile> {
		let file = this.opened.get(i);
		if (file === undefined) {
			file = this.parts[i]!.open();
			this.opened.set(i, file);
			file.catch(() => this.opened.delete(i));
		}
		return file;
	}

	async close(): Promise<void> {
		const files = [...this.opened.values()];
		this.opened.clear();
		await Promise.allSettled(files.map(async (f) => (await f).close()));
		await this.onClose?.();
	}
}
