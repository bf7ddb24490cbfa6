// SPDX-License-Identifier: MIT
/**
 * Which helper mounts which volume on this host — pure, so it is unit-tested without a host.
 *
 * Detection comes first: a detected type maps to the helpers that read it, in order of
 * preference (a kernel mount over a loop device when the daemon is root and the kernel knows
 * the type, then userspace FUSE helpers). Only a volume whose type is unknown falls back to
 * trial and error, in the legacy VMDKMounter order (ntfs, msdos, ntfs-3g, hfs, ext2, ext3),
 * which the user may change in settings.
 */

/** The ways a volume can be mounted on Linux. */
export type HelperId = 'kernel' | 'fuse2fs' | 'ntfs-3g' | 'fusefat' | 'exfat-fuse';

/** Every userspace helper and the tool it needs (ids match `HostCapabilities.tools`). */
export const FUSE_HELPERS = [
	'fuse2fs',
	'ntfs-3g',
	'fusefat',
	'exfat-fuse',
] as const satisfies readonly HelperId[];

/** The legacy VMDKMounter trial order for unknown volumes (DESIGN.md). */
export const LEGACY_UNKNOWN_ORDER: readonly string[] = ['ntfs', 'msdos', 'ntfs-3g', 'hfs', 'ext2', 'ext3'];

/** What the host offers, from a capabilities probe. */
export interface HostCapabilities {
	/** True when the daemon runs as root (loop devices and kernel mounts are possible). */
	readonly isRoot: boolean;
	/** Installed tools by id: `fuse2fs`, `ntfs-3g`, `fusefat`, `exfat-fuse`, `losetup`, `mount`. */
	readonly tools: ReadonlySet<string>;
	/** Filesystem names the running kernel mounts (`/proc/filesystems`). */
	readonly kernelFilesystems: ReadonlySet<string>;
}

/** The plan's view of one volume. */
export interface PlanVolume {
	/** 1-based index. */
	readonly index: number;
	/** blkid type, or null when nothing was recognised. */
	readonly type: string | null;
	/** Set when the engine already knows the volume cannot be used. */
	readonly unsupported?: string | undefined;
}

/** Options of a plan. */
export interface PlanOptions {
	/** Copy-on-write read-write mount: helpers are asked for read-write. */
	readonly readWrite: boolean;
	/** The order tried for unknown volumes (legacy names or helper ids). */
	readonly unknownOrder?: readonly string[] | undefined;
}

/** One way to try: a helper, the type it is told, and its `-o` options. */
export interface MountAttempt {
	readonly helper: HelperId;
	/** For `kernel`: the `mount -t` type. For FUSE helpers: the blkid type they serve. */
	readonly fsType: string;
	/** Options joined into `-o` (`ro`, `fakeroot`, `norecovery` …). */
	readonly options: readonly string[];
	/** How lists and errors name it (`fuse2fs`, `kernel ext4 (loop)`). */
	readonly label: string;
	/**
	 * Run the helper on a loop device over the volume file instead of the file itself: as root,
	 * exfat-fuse always asks FUSE for a block device (`blkdev`) and refuses regular files.
	 */
	readonly viaLoop?: boolean | undefined;
}

/** What to do with one volume. */
export type VolumePlan =
	| {
			readonly kind: 'mount';
			readonly index: number;
			readonly attempts: readonly MountAttempt[];
			readonly guessed: boolean;
	  }
	| { readonly kind: 'skip'; readonly index: number; readonly reason: string };

/** Types that hold no mountable files, with the reason users see. */
const NOT_MOUNTABLE: Readonly<Record<string, string>> = {
	swap: 'swap space holds no files',
	crypto_LUKS: 'encrypted with LUKS: unlock it with cryptsetup to read it',
	LVM2_member: 'LVM physical volume: its logical volumes are listed separately',
	apfs: 'APFS cannot be mounted on Linux',
	BitLocker: 'encrypted with BitLocker',
	linux_raid_member: 'RAID member: assemble the array to read it',
};

/** For each detected type: kernel types to try (when root), then FUSE helpers. */
const BY_TYPE: Readonly<
	Record<string, { readonly kernel: readonly string[]; readonly fuse: readonly HelperId[] }>
> = {
	ext2: { kernel: ['ext2', 'ext4'], fuse: ['fuse2fs'] },
	ext3: { kernel: ['ext3', 'ext4'], fuse: ['fuse2fs'] },
	ext4: { kernel: ['ext4'], fuse: ['fuse2fs'] },
	vfat: { kernel: ['vfat'], fuse: ['fusefat'] },
	msdos: { kernel: ['msdos', 'vfat'], fuse: ['fusefat'] },
	exfat: { kernel: ['exfat'], fuse: ['exfat-fuse'] },
	ntfs: { kernel: ['ntfs3'], fuse: ['ntfs-3g'] },
	xfs: { kernel: ['xfs'], fuse: [] },
	btrfs: { kernel: ['btrfs'], fuse: [] },
	hfs: { kernel: ['hfs'], fuse: [] },
	hfsplus: { kernel: ['hfsplus'], fuse: [] },
	iso9660: { kernel: ['iso9660'], fuse: [] },
	udf: { kernel: ['udf'], fuse: [] },
};

/** What each legacy trial name means on Linux. */
const LEGACY_STEPS: Readonly<
	Record<string, { readonly kernel: readonly string[]; readonly fuse: readonly HelperId[] }>
> = {
	ntfs: { kernel: ['ntfs3'], fuse: [] },
	// fusefat is left out: it mounts any bytes without checking the boot sector, so it would
	// "succeed" on every unknown volume. It is used only on volumes detected as FAT.
	msdos: { kernel: ['vfat', 'msdos'], fuse: [] },
	'ntfs-3g': { kernel: [], fuse: ['ntfs-3g'] },
	hfs: { kernel: ['hfsplus', 'hfs'], fuse: [] },
	ext2: { kernel: ['ext2', 'ext4'], fuse: ['fuse2fs'] },
	ext3: { kernel: ['ext3', 'ext4'], fuse: ['fuse2fs'] },
};

/** The types the plan knows how to mount (for `doctor`). */
export function mountableTypes(): readonly string[] {
	return Object.keys(BY_TYPE);
}

/** The blkid types a FUSE helper serves. */
export function typesOfHelper(helper: HelperId): readonly string[] {
	return Object.entries(BY_TYPE)
		.filter(([, v]) => v.fuse.includes(helper))
		.map(([k]) => k);
}

/** Plans every volume of a disk. */
export function planMount(
	volumes: readonly PlanVolume[],
	caps: HostCapabilities,
	options: PlanOptions,
): readonly VolumePlan[] {
	return volumes.map((v) => planVolume(v, caps, options));
}

/** Plans one volume. */
export function planVolume(volume: PlanVolume, caps: HostCapabilities, options: PlanOptions): VolumePlan {
	if (volume.unsupported !== undefined)
		return { kind: 'skip', index: volume.index, reason: volume.unsupported };
	const type = volume.type;
	if (type !== null && type !== 'unknown') {
		const notMountable = NOT_MOUNTABLE[type];
		if (notMountable !== undefined) return { kind: 'skip', index: volume.index, reason: notMountable };
		const known = BY_TYPE[type];
		if (known === undefined) {
			return {
				kind: 'skip',
				index: volume.index,
				reason: `${type} volumes cannot be mounted on Linux by this app`,
			};
		}
		const attempts = dedupe(stepAttempts(known, type, caps, options.readWrite));
		if (attempts.length === 0) {
			return { kind: 'skip', index: volume.index, reason: noHelperReason(type, known, caps) };
		}
		return { kind: 'mount', index: volume.index, attempts, guessed: false };
	}
	const order = options.unknownOrder ?? LEGACY_UNKNOWN_ORDER;
	const attempts: MountAttempt[] = [];
	for (const name of order) {
		const step = LEGACY_STEPS[name] ?? BY_TYPE[name] ?? helperStep(name);
		if (step === undefined) continue;
		attempts.push(...stepAttempts(step, legacyFuseType(name), caps, options.readWrite));
	}
	const unique = dedupe(attempts);
	if (unique.length === 0) {
		return {
			kind: 'skip',
			index: volume.index,
			reason: 'no filesystem was recognised and no helper of the trial order is installed',
		};
	}
	return { kind: 'mount', index: volume.index, attempts: unique, guessed: true };
}

function helperStep(name: string): { kernel: readonly string[]; fuse: readonly HelperId[] } | undefined {
	return (FUSE_HELPERS as readonly string[]).includes(name)
		? { kernel: [], fuse: [name as HelperId] }
		: undefined;
}

/** The blkid type a FUSE helper is told it serves when trying a legacy step. */
function legacyFuseType(name: string): string {
	switch (name) {
		case 'ntfs':
		case 'ntfs-3g':
			return 'ntfs';
		case 'msdos':
			return 'vfat';
		default:
			return name;
	}
}

function stepAttempts(
	step: { readonly kernel: readonly string[]; readonly fuse: readonly HelperId[] },
	type: string,
	caps: HostCapabilities,
	readWrite: boolean,
): MountAttempt[] {
	const out: MountAttempt[] = [];
	const canLoop = caps.isRoot && caps.tools.has('losetup') && caps.tools.has('mount');
	if (canLoop) {
		for (const k of step.kernel) {
			if (caps.kernelFilesystems.has(k)) {
				out.push({
					helper: 'kernel',
					fsType: k,
					options: kernelOptions(k, readWrite),
					label: `kernel ${k} (loop)`,
				});
			}
		}
	}
	for (const h of step.fuse) {
		if (!caps.tools.has(h)) continue;
		if (h === 'exfat-fuse') {
			// exfat-fuse always asks FUSE for `blkdev`, which fusermount3 grants to root only: as
			// a user it can never mount (so it is not tried; the skip reason says why).
			if (canLoop) {
				out.push({
					helper: h,
					fsType: type,
					options: fuseOptions(h, readWrite),
					label: `${h} (loop)`,
					viaLoop: true,
				});
			}
			continue;
		}
		out.push({ helper: h, fsType: type, options: fuseOptions(h, readWrite), label: h });
	}
	return out;
}

/** Kernel mount options: read-only without replaying journals (the loop device is read-only). */
export function kernelOptions(kernelType: string, readWrite: boolean): readonly string[] {
	if (readWrite) return ['rw'];
	switch (kernelType) {
		case 'ext3':
		case 'ext4':
			return ['ro', 'noload'];
		case 'xfs':
			return ['ro', 'norecovery'];
		case 'btrfs':
			return ['ro', 'rescue=nologreplay'];
		default:
			return ['ro'];
	}
}

/** FUSE helper options. `fakeroot` lets fuse2fs show every file to a non-root owner. */
export function fuseOptions(helper: HelperId, readWrite: boolean): readonly string[] {
	switch (helper) {
		case 'fuse2fs':
			return [readWrite ? 'rw' : 'ro', 'fakeroot'];
		case 'fusefat':
			return [readWrite ? 'rw+' : 'ro'];
		case 'ntfs-3g':
		case 'exfat-fuse':
			return [readWrite ? 'rw' : 'ro'];
		case 'kernel':
			return [readWrite ? 'rw' : 'ro'];
	}
}

function dedupe(attempts: readonly MountAttempt[]): MountAttempt[] {
	const seen = new Set<string>();
	return attempts.filter((a) => {
		const key = `${a.helper}:${a.helper === 'kernel' ? a.fsType : ''}`;
		if (seen.has(key)) return false;
		seen.add(key);
		return true;
	});
}

function noHelperReason(
	type: string,
	known: { readonly kernel: readonly string[]; readonly fuse: readonly HelperId[] },
	caps: HostCapabilities,
): string {
	const parts: string[] = [];
	const rootOnly = caps.isRoot ? [] : known.fuse.filter((h) => h === 'exfat-fuse' && caps.tools.has(h));
	const toInstall = known.fuse.filter((h) => !rootOnly.includes(h));
	if (toInstall.length > 0) parts.push(`install ${toInstall.join(' or ')}`);
	for (const h of rootOnly) parts.push(`${h} mounts only as root: it always asks FUSE for a block device`);
	if (known.kernel.length > 0) {
		parts.push(caps.isRoot ? `the kernel lacks ${known.kernel.join('/')}` : 'kernel mounts need root');
	}
	return `no helper for ${type} on this host (${parts.join('; ')})`;
}
