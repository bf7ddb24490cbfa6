// SPDX-License-Identifier: MIT
/**
 * Opens a disk with the engine and lists its volumes, each as a `ReadTarget` the FUSE export
 * serves: the volume's own source (the disk, a partition view, an LVM mapping), which reads
 * straight into FUSE's buffer.
 */
import {
	inspectLayout,
	openDisk,
	type FilesystemInfo,
	type ReadTarget,
	type VirtualDisk,
	type Volume,
} from '../core/index.js';
import { nodePlatform } from '../host/index.js';

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
	/** The engine's disk, for writing a snapshot of it (`unmount --keep`). */
	readonly disk?: VirtualDisk | undefined;
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
		const volumes = layout.volumes.map((v): OpenedVolume => ({
			index: v.index,
			name: v.name,
			kind: v.kind,
			startBytes: v.startBytes,
			sizeBytes: v.sizeBytes,
			filesystem: v.filesystem,
			unsupported: v.unsupported,
			target: v.source,
		}));
		return {
			path: disk.path,
			target: disk,
			disk,
			volumes,
			warnings: [...disk.warnings, ...layout.warnings],
			close: () => disk.close(),
		};
	} catch (error) {
		await disk.close();
		throw error;
	}
};
