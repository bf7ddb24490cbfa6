// SPDX-License-Identifier: MIT
// Writing a filesystem image into a raw disk at a sector, keeping both sparse (`dd conv=sparse`).
import { run, runSync } from './run.js';

function ddArgs(image: string, disk: string, startSector: number): string[] {
	return [`if=${image}`, `of=${disk}`, 'bs=512', `seek=${startSector}`, 'conv=notrunc,sparse', 'status=none'];
}

/** Copies `image` into `disk` starting at 512-byte sector `startSector`. */
export async function placeImage(image: string, disk: string, startSector: number): Promise<void> {
	await run('/usr/bin/dd', ddArgs(image, disk, startSector));
}

/** {@link placeImage}, synchronously (for fixture builders that run before a suite). */
export function placeImageSync(image: string, disk: string, startSector: number): void {
	runSync('/usr/bin/dd', ddArgs(image, disk, startSector));
}
