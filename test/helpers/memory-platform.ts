// SPDX-License-Identifier: MIT
// A DiskPlatform over files held in memory: lets tests mutate images without touching disk.
// Inflate is the real zlib, as on the Node platform.
import { inflateRawSync, inflateSync } from 'node:zlib';
import { VmdkError, type DirEntry, type DiskPlatform, type RandomAccessFile } from '../../src/core/index.js';

export class MemoryPlatform implements DiskPlatform {
	readonly files = new Map<string, Uint8Array>();

	constructor(files: Record<string, Uint8Array> = {}) {
		for (const [k, v] of Object.entries(files)) this.files.set(k, v);
	}

	async openFile(path: string): Promise<RandomAccessFile> {
		const data = this.files.get(path);
		if (data === undefined) throw new VmdkError('VMDK_MISSING_EXTENT', 'file not found', { file: path });
		return {
			path,
			sizeBytes: data.length,
			async readInto(position, dest, destOffset, length) {
				if (position + length > data.length) {
					throw new VmdkError('VMDK_TRUNCATED', `file ends at byte ${data.length}`, {
						file: path,
						offsetBytes: data.length,
					});
				}
				dest.set(data.subarray(position, position + length), destOffset);
			},
			async close() {},
		};
	}

	async fileExists(path: string): Promise<boolean> {
		return this.files.has(path);
	}

	async listDir(path: string): Promise<readonly DirEntry[]> {
		const prefix = path.endsWith('/') ? path : `${path}/`;
		const names = new Map<string, boolean>();
		for (const k of this.files.keys()) {
			if (!k.startsWith(prefix)) continue;
			const rest = k.slice(prefix.length);
			const slash = rest.indexOf('/');
			names.set(slash < 0 ? rest : rest.slice(0, slash), slash >= 0);
		}
		return [...names].map(([name, isDirectory]) => ({ name, isDirectory }));
	}

	async readSmallFile(path: string, maxBytes: number): Promise<Uint8Array> {
		const data = this.files.get(path);
		if (data === undefined) throw new VmdkError('VMDK_MISSING_EXTENT', 'file not found', { file: path });
		if (data.length > maxBytes) throw new VmdkError('VMDK_LIMIT', `file too large`, { file: path });
		return data;
	}

	async inflate(compressed: Uint8Array, maxOutBytes: number): Promise<Uint8Array> {
		const isZlib =
			(compressed[0] ?? 0) % 16 === 8 && ((compressed[0] ?? 0) * 256 + (compressed[1] ?? 0)) % 31 === 0;
		try {
			const fn = isZlib ? inflateSync : inflateRawSync;
			return new Uint8Array(fn(compressed, { maxOutputLength: Math.max(1, maxOutBytes) }));
		} catch (e) {
			throw new VmdkError('VMDK_DECOMPRESS', `compressed grain does not inflate: ${(e as Error).message}`);
		}
	}
}
