// SPDX-License-Identifier: MIT
/**
 * A raw disk image as the VMDK writer's source. Holes of a sparse file are reported as zero runs
 * without reading them (SEEK_DATA / SEEK_HOLE through our codec addon), so a 2 TiB image with a
 * few MiB of data converts in moments; without the addon every byte is read and zero grains are
 * still skipped, only slower.
 */
import { createRequire } from 'node:module';
import { open, type FileHandle } from 'node:fs/promises';
import { VmdkError } from '../../core/index.js';
import type { WriteSource } from '../../core/write.js';
import { codecAddonPath, type CodecAddon } from './codec-addon.js';

/** A raw image opened read-only. */
export class RawFileSource implements WriteSource {
	readonly path: string;
	readonly sizeBytes: number;
	/** True when holes are found with SEEK_DATA (false: every byte is read). */
	readonly holeAware: boolean;
	private readonly handle: FileHandle;
	private readonly addon: CodecAddon | undefined;

	private constructor(path: string, handle: FileHandle, sizeBytes: number, addon: CodecAddon | undefined) {
		this.path = path;
		this.handle = handle;
		this.sizeBytes = sizeBytes;
		this.addon = addon;
		this.holeAware = addon !== undefined;
	}

	/** Opens `path` (a regular file or a block device) read-only. */
	static async open(path: string): Promise<RawFileSource> {
		let handle: FileHandle;
		try {
			handle = await open(path, 'r');
		} catch (cause) {
			throw new VmdkError('VMDK_IO', `cannot open: ${errorText(cause)}`, { file: path }, { cause });
		}
		try {
			const st = await handle.stat();
			if (!st.isFile()) {
				throw new VmdkError('VMDK_IO', 'is not a regular file (give a raw image file)', { file: path });
			}
			return new RawFileSource(path, handle, st.size, loadAddon());
		} catch (error) {
			await handle.close();
			throw error;
		}
	}

	async mapRun(
		offsetBytes: number,
		maxBytes: number,
	): Promise<{ kind: 'data' | 'zero'; lengthBytes: number }> {
		const limit = Math.min(maxBytes, this.sizeBytes - offsetBytes);
		if (this.addon === undefined || limit <= 0) return { kind: 'data', lengthBytes: Math.max(1, limit) };
		try {
			const data = this.addon.seekData(this.handle.fd, offsetBytes);
			if (data < 0) return { kind: 'zero', lengthBytes: limit };
			if (data > offsetBytes) return { kind: 'zero', lengthBytes: Math.min(limit, data - offsetBytes) };
			const hole = this.addon.seekHole(this.handle.fd, offsetBytes);
			return { kind: 'data', lengthBytes: Math.max(1, Math.min(limit, hole - offsetBytes)) };
		} catch {
			// A filesystem that cannot tell: treat the range as data (zero grains are still skipped).
			return { kind: 'data', lengthBytes: limit };
		}
	}

	async readInto(offsetBytes: number, dest: Uint8Array, destOffset: number, length: number): Promise<void> {
		let done = 0;
		while (done < length) {
			let bytesRead: number;
			try {
				({ bytesRead } = await this.handle.read(dest, destOffset + done, length - done, offsetBytes + done));
			} catch (cause) {
				throw new VmdkError(
					'VMDK_IO',
					`read failed: ${errorText(cause)}`,
					{ file: this.path, offsetBytes: offsetBytes + done },
					{ cause },
				);
			}
			if (bytesRead === 0) {
				throw new VmdkError(
					'VMDK_TRUNCATED',
					`file shrank while being read (ends at byte ${offsetBytes + done})`,
					{
						file: this.path,
						offsetBytes: offsetBytes + done,
					},
				);
			}
			done += bytesRead;
		}
	}

	async close(): Promise<void> {
		await this.handle.close();
	}
}

let addon: CodecAddon | null | undefined;

function loadAddon(): CodecAddon | undefined {
	if (addon === undefined) {
		addon = null;
		const path = codecAddonPath();
		if (path !== undefined) {
			try {
				addon = createRequire(import.meta.url)(path) as CodecAddon;
			} catch {
				addon = null;
			}
		}
	}
	return addon ?? undefined;
}

function errorText(e: unknown): string {
	return e instanceof Error ? e.message : String(e);
}
