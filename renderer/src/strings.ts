// SPDX-License-Identifier: MIT
/**
 * Every string the window shows, in one place, so the wording stays consistent and can be
 * translated. Sentences with a value in them are functions, so the whole sentence stays here
 * and can be translated as one. Error titles and descriptions are not here: they come with each
 * error from the shared table, which the CLI prints too.
 */
import type { VmInfo } from '../../src/shared/models.js';

export const STRINGS = {
	appTitle: 'VMDK Mounter',
	noBridge: 'This page is the window of the VMDK Mounter app and works only inside it.',
	tabs: {
		label: 'Views',
		disks: 'Disks',
		helpers: 'Helpers',
	},
	toolbar: {
		open: 'Open…',
		mountOnOpen: 'Mount when opened',
		unmountAll: 'Unmount all',
		unmountAllLabel: 'Unmount every mounted volume',
	},
	drop: {
		title: 'Drop a virtual disk here',
		body: 'A .vmdk disk, a .vmwarevm bundle, a VM folder, a .vmx or .vbox file, or an .ova appliance. Its volumes are mounted read-only as folders.',
		or: 'or',
		band: 'Drop more disks, bundles or VM folders anywhere in this window.',
		active: 'Drop to open',
		choose: 'Choose a disk…',
		noPathTitle: 'Nothing to open',
		noPath: 'The dropped item has no path on this computer (it may come from a browser or an archive).',
	},
	list: {
		label: 'Opened disks',
		otherMounts: 'Also mounted',
		otherMountsHint: 'Mounted from the command line or an earlier session.',
	},
	source: {
		inspecting: 'Reading…',
		/** What the opened thing is, by `VmInfo.kind` (a new kind will not compile until it has words). */
		vm: {
			vmware: 'VMware virtual machine',
			virtualbox: 'VirtualBox virtual machine',
			folder: 'Folder',
			ova: 'Virtual appliance (OVF)',
		} satisfies Record<VmInfo['kind'], string>,
		diskCount: (n: number) => (n === 1 ? '1 disk' : `${n} disks`),
		locked:
			'This virtual machine seems to be running: VMware has locked it. Its disks can be mounted read-only; changes (copy-on-write) are refused.',
		lockedTitle: 'In use by VMware',
		staleLock:
			'A VMware lock is left from a process that is no longer running. Reading is safe; changes are refused until the lock is removed.',
		staleLockTitle: 'Stale lock',
		mountAll: 'Mount all',
		unmountAll: 'Unmount all',
		mountAllLabel: (name: string) => `Mount all disks of ${name}`,
		unmountAllLabel: (name: string) => `Unmount all disks of ${name}`,
		remove: 'Remove',
		removeLabel: (name: string) => `Remove ${name} from the list`,
		revealLabel: (name: string) => `Reveal ${name} in the file manager`,
		openFailed: 'Could not be opened',
		snapshots: (n: number, current: string | null) =>
			`${n === 1 ? '1 snapshot' : `${n} snapshots`}${current === null ? '' : `, current: ${current}`}`,
	},
	write: {
		switch: 'Allow changes (copy-on-write)',
		switchLabel: (name: string) => `Allow changes to ${name} (copy-on-write)`,
		dialogTitle: (name: string) => `Allow changes to ${name}?`,
		dialogBody:
			'The volumes will be mounted writable. Every change goes to a separate overlay file, never into the virtual disk, and is discarded when you unmount. Keep read-only unless you need to change files.',
		confirm: 'Allow changes',
		cancel: 'Keep read-only',
		forceTitle: (name: string) => `Mount ${name} with changes anyway?`,
		forceBody:
			'The mount was refused for a reason above. The virtual disk itself is still never written, but what you read may be inconsistent while a VM uses it.',
		forceConfirm: 'Mount anyway',
		force: 'Mount with changes anyway…',
	},
	disk: {
		chain: 'Snapshot chain',
		chainLabel: (n: number) => `Snapshot chain, ${n} files, newest first`,
		capacity: (size: string) => `${size} disk`,
		controller: (slot: string) => `at ${slot}`,
		scheme: { mbr: 'MBR', gpt: 'GPT', apm: 'Apple partition map', none: 'No partition table' },
		openError: 'This disk cannot be opened',
		mount: 'Mount',
		unmount: 'Unmount',
		reveal: 'Reveal',
		mountLabel: (name: string) => `Mount ${name}`,
		unmountLabel: (name: string) => `Unmount ${name}`,
		revealLabel: (name: string) => `Reveal ${name} in the file manager`,
		noVolumes: 'No volumes were found on this disk.',
		mountWithAppliance: 'This disk is inside the appliance’s archive: Mount all mounts it with the others.',
		warnings: 'Warnings',
	},
	state: {
		notMounted: 'Not mounted',
		mounting: 'Mounting…',
		unmounting: 'Unmounting…',
		mountedReadOnly: 'Mounted read-only',
		mountedWritable: 'Mounted with changes',
		degraded: 'Needs attention',
		cannotMount: 'Cannot be mounted',
		mounted: 'Mounted',
	},
	volumes: {
		caption: (disk: string) => `Volumes of ${disk}`,
		index: '#',
		name: 'Volume',
		type: 'Type',
		label: 'Label',
		size: 'Size',
		helper: 'Helper',
		state: 'State',
		actions: 'Actions',
		noLabel: '—',
		unknownType: 'unknown',
		mountLabel: (volume: string) => `Mount volume ${volume}`,
		unmountLabel: (volume: string) => `Unmount volume ${volume}`,
		revealLabel: (volume: string) => `Reveal volume ${volume} in the file manager`,
		otherVolumeMounted:
			'The disk is mounted with changes allowed without this volume: unmount the disk to add it.',
		mountedAt: (path: string) => `Mounted at ${path}`,
	},
	progress: {
		label: 'Progress',
		starting: 'Starting…',
	},
	error: {
		dismiss: 'Dismiss',
		dismissLabel: (title: string) => `Dismiss: ${title}`,
		details: 'Details',
	},
	helpers: {
		title: 'Helpers',
		intro:
			'Each filesystem is mounted by a helper program. This is what this computer has, and how to install what is missing.',
		loading: 'Asking the mount service…',
		refresh: 'Check again',
		fuse: 'FUSE',
		fuseOk: (binding: string) => `Available (${binding === 'fuse3' ? 'libfuse 3' : 'libfuse 2'})`,
		fuseMissing: 'Not available',
		system: 'This computer',
		root: 'running as root',
		caption: 'Helper programs',
		helper: 'Helper',
		mounts: 'Mounts',
		status: 'Status',
		install: 'How to install',
		installed: 'Installed',
		missing: 'Missing',
		installedAt: (path: string) => `Installed at ${path}`,
		installAll: 'Install everything missing with:',
		allInstalled: 'Every helper is installed.',
		notes: 'Notes',
		coverage: 'Can mount now',
		getMacfuse: 'Get macFUSE',
		getFuseT: 'Get FUSE-T',
	},
	status: {
		connecting: 'Connecting to the mount service…',
		connected: 'Mount service running',
		disconnected: 'The mount service stopped. Reconnecting…',
		mountedCount: (n: number) =>
			n === 0 ? 'No volumes mounted' : n === 1 ? '1 volume mounted' : `${n} volumes mounted`,
	},
	units: ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const,
} as const;
