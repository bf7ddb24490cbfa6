// SPDX-License-Identifier: MIT
/**
 * File-name extensions the engine opens (lower case, no dot), for the app's file associations
 * (`electron-builder.yml` `fileAssociations` must list the same set) and the open dialog. A folder
 * (a VM folder, an unpacked appliance) opens too, whatever its name.
 */
export const OPENABLE_EXTENSIONS = [
	/** A disk: descriptor, monolithic sparse or stream-optimized file. */
	'vmdk',
	/** A VMware Fusion VM bundle (a folder the Finder shows as one file). */
	'vmwarevm',
	/** A VMware VM configuration. */
	'vmx',
	/** A VMware VM template configuration (same format as .vmx). */
	'vmtx',
	/** A VirtualBox machine. */
	'vbox',
	/** An OVF appliance packed in one tar archive. */
	'ova',
	/** An OVF descriptor with its files beside it. */
	'ovf',
] as const;

/** One of {@link OPENABLE_EXTENSIONS}. */
export type OpenableExtension = (typeof OPENABLE_EXTENSIONS)[number];
