// SPDX-License-Identifier: MIT
/**
 * Allocating a file's space by writing zeros over it: the portable way to make sure later
 * writes into that range need no new space (macOS has no fallocate(1), and Node no
 * F_PREALLOCATE). Slower than fallocate — about the disk's write speed — so hosts that have a
 * real preallocation call use that instead.
 */
import { open } from 'node:fs/promises';
import { AppError } from '../../shared/app-error.js';

/** Bytes written per call. */
const CHUNK_BYTES = 1024 * 1024;

/** Writes zeros over the first `sizeBytes` of the existing file at `path` and syncs it. */
export async function writeZeros(path: string, sizeBytes: number): Promise<void> {
	const file = await open(path, 'r+');
	try {
		const zeros = new Uint8Array(CHUNK_BYTES);
		for (let at = 0; at < sizeBytes; at += CHUNK_BYTES) {
			const n = Math.min(CHUNK_BYTES, sizeBytes - at);
			let done = 0;
			while (done < n) done += (await file.write(zeros, done, n - done, at + done)).bytesWritten;
		}
		await file.sync();
	} catch (error) {
		const code = (error as NodeJS.ErrnoException).code;
		throw new AppError(
			'NO_SPACE',
			`cannot reserve ${sizeBytes} bytes for ${path}: ${code ?? (error instanceof Error ? error.message : String(error))}`,
			{ cause: error },
		);
	} finally {
		await file.close();
	}
}
