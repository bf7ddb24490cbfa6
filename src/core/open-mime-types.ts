// SPDX-License-Identifier: MIT
/**
 * The MIME type of each openable extension, for the Linux desktop entry and the shared-mime-info
 * file the deb installs; `electron-builder.yml` must list the same pairs (a unit test checks).
 * Where freedesktop's shared-mime-info names a type we use that name (`application/x-vmdk-disk`
 * for `*.vmdk`, `application/ovf` for `*.ova`); otherwise the name VMware's or VirtualBox's own
 * Linux packages register. `null` marks a folder bundle (`.vmwarevm`): folders have no MIME type.
 */
import type { OpenableExtension } from './open-extensions.js';

/** Extension → MIME type (null for folder bundles). */
export const OPENABLE_MIME_TYPES: Readonly<Record<OpenableExtension, string | null>> = {
	vmdk: 'application/x-vmdk-disk',
	vmwarevm: null,
	vmx: 'application/x-vmware-vm',
	// A template is a .vmx under another name; VMware registers no type of its own for it.
	vmtx: 'application/x-vmware-vm',
	vbox: 'application/x-virtualbox-vbox',
	ova: 'application/ovf',
	ovf: 'application/x-virtualbox-ovf',
};

/**
 * Other names the same files go by where VMware's or VirtualBox's packages are installed (their
 * own type for `*.vmdk` and `*.ova` wins the glob there), so the desktop entry lists them too.
 */
export const OPENABLE_MIME_ALIASES: readonly string[] = [
	'application/x-vmware-vmdisk',
	'application/x-virtualbox-vmdk',
	'application/x-virtualbox-ova',
];
