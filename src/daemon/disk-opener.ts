// SPDX-License-Identifier: MIT
/**
 * Opens a disk with the engine and lists its volumes, each as a `ReadTarget` the FUSE export
 * serves. Partitions and the whole disk read straight from the `VirtualDisk` into FUSE's
 * buffer; LVM volumes go through their mapped ByteSource.
 */
import { inspectLayout, openDisk, type FilesystemInfo, type Volume } from '../core/index.js';
import { nodePlatform } from '../host/index.js';
import type { ReadTarget } from './fuse/read-ahead.js';

/** A volume ready to be exported. */
export interface OpenedVolume {
	readonly index: number;
	readonly name: string;
	readonly kind: Volume['kind'];
	readonly startBytes: number;
	readonly sizeBytes: number;
	readonly filesystem: FilesystemInfo | null;
	readonly unsupported?: string | undefined;
	readonly target: ReadTarget;
}

/** An open disk and its volumes. */
export interface OpenedDisk {
	/** The leaf path. */
	readonly path: string;
	readonly target: ReadTarget;
	readonly volumes: readonly OpenedVolume[];
	readonly warnings: readonly string[];
	close(): Promise<void>;
}

/** Opens `path` (an absolute `.vmdk`). */
export type DiskOpener = (path: string, options: { ignoreCid: boolean }) => Promise<OpenedDisk>;

/** The engine-backed opener. */
export const openDiskForExport: DiskOpener = async (path, options) => {
	const disk = await openDisk(path, nodePlatform, { ignoreCid: options.ignoreCid });
	try {
		const layout = await inspectLayout(disk);
		const volumes = layout.volumes.map((v): OpenedVolume => {
			const direct = v.kind !== 'lvm';
			const target: ReadTarget = direct
				? {
						sizeBytes: v.sizeBytes,
						readInto: (offset, dest, destOffset, length) =>
							disk.readInto(v.startBytes + offset, dest, destOffset, length),
					}
				: {
						sizeBytes: v.sizeBytes,
						async readInto(offset, dest, destOffset, length) {
							dest.set(await v.source.read(offset, length), destOffset);
						},
					};
			return {
				index: v.index,
				name: v.name,
				kind: v.kind,
				startBytes: v.startBytes,
				sizeBytes: v.sizeBytes,
				filesystem: v.filesystem,
				unsupported: v.unsupported,
				target,
			};
		});
		return {
			path: disk.path,
			target: disk,
			volumes,
			warnings: [...disk.warnings, ...layout.warnings],
			close: () => disk.close(),
		};
	} catch (error) {
		await disk.close();
		throw error;
	}
};
