// SPDX-License-Identifier: MIT
// A VmdkWritePlatform that writes into a MemoryPlatform's files (so the result can be opened
// with openDisk straight away). Deflate is Node's zlib, randomness is seeded when asked.
import { deflateSync } from 'node:zlib';
import type { VmdkWritePlatform, WritableFile } from '../../src/core/index.js';
import type { MemoryPlatform } from './memory-platform.js';

/** Writes files named `name` as `<dir>/<name>` in `target`. */
export function memoryWritePlatform(target: MemoryPlatform, dir: string, seed = 1): VmdkWritePlatform {
	let state = seed >>> 0;
	return {
		async createFile(name: string): Promise<WritableFile> {
			const path = `${dir}/${name}`;
			let bytes = new Uint8Array(0);
			const ensure = (size: number) => {
				if (bytes.length >= size) return;
				const grown = new Uint8Array(size);
				grown.set(bytes);
				bytes = grown;
			};
			target.files.set(path, bytes);
			return {
				path,
				async write(position, data) {
					ensure(position + data.length);
					bytes.set(data, position);
					target.files.set(path, bytes);
				},
				async truncate(size) {
					const cut = new Uint8Array(size);
					cut.set(bytes.subarray(0, Math.min(size, bytes.length)));
					bytes = cut;
					target.files.set(path, bytes);
				},
				async close() {},
			};
		},
		async deflate(grains) {
			return grains.map((g) => new Uint8Array(deflateSync(g)));
		},
		randomBytes(length) {
			const out = new Uint8Array(length);
			for (let i = 0; i < length; i++) {
				state = (Math.imul(state, 1103515245) + 12345) >>> 0;
				out[i] = state >>> 24;
			}
			return out;
		},
	};
}
