// SPDX-License-Identifier: MIT
/**
 * Which helper mounts which volume on a host — pure, so it is unit-tested without a host.
 *
 * The platform's knowledge comes in as data, a {@link HelperTable}: for each detected type the
 * ways to mount it, in order of preference, each with what it needs (tools, root, a kernel
 * filesystem). `src/host/<os>` owns its table; this module only matches the table against the
 * host's capabilities. Detection comes first: only a volume whose type is unknown falls back to
 * trial and error, in the legacy VMDKMounter order (ntfs, msdos, ntfs-3g, hfs, ext2, ext3),
 * which the user may change in settings.
 */

/** The legacy VMDKMounter trial order for unknown volumes (docs/architecture.md). */
export const LEGACY_UNKNOWN_ORDER: readonly string[] = ['ntfs', 'msdos', 'ntfs-3g', 'hfs', 'ext2', 'ext3'];

/** What the host offers, from its capabilities probe. */
export interface HostCapabilities {
	/** True when the daemon runs as root (loop devices and kernel mounts are possible). */
	readonly isRoot: boolean;
	/** Installed tools by id (the ids a helper table names in `needsTools`). */
	readonly tools: ReadonlySet<string>;
	/** Filesystem names the running kernel mounts (Linux: `/proc/filesystems`). */
	readonly kernelFilesystems: ReadonlySet<string>;
}

/** One way to mount a type, as a platform's helper table lists it. */
export interface HelperWay {
	/** Helper id, defined by the platform (`kernel`, `fuse2fs`, `diskimage`, `fuse-ext2` …). */
	readonly helper: string;
	/** The type the helper is told (`mount -t` for the kernel; the blkid type otherwise). */
	readonly fsType: string;
	/** Options for a read-only mount (joined into `-o`). */
	readonly readOnlyOptions: readonly string[];
	/** Options for a read-write mount, or null when this way cannot write. */
	readonly readWriteOptions: readonly string[] | null;
	/** How lists and errors name it (`fuse2fs`, `kernel ext4 (loop)`). */
	readonly label: string;
	/** Tool ids that must be installed. */
	readonly needsTools: readonly string[];
	/** Only when the daemon runs as root. */
	readonly needsRoot?: boolean | undefined;
	/** Only when the running kernel has this filesystem. */
	readonly needsKernelFilesystem?: string | undefined;
	/** What to tell a user who is not root (default: "kernel mounts need root"). */
	readonly rootOnlyReason?: string | undefined;
	/** Run the helper on a loop device over the volume file instead of on the file. */
	readonly viaLoop?: boolean | undefined;
}

/** A platform's helpers as data. */
export interface HelperTable {
	/** The platform's name in reasons ("cannot be mounted on Linux"). */
	readonly platformName: string;
	/** For each detected blkid type: the ways to mount it, preferred first. */
	readonly byType: Readonly<Record<string, readonly HelperWay[]>>;
	/** For each legacy trial name (and helper id) usable in the unknown-volume order: its ways. */
	readonly trialSteps: Readonly<Record<string, readonly HelperWay[]>>;
	/** Types that hold no mountable files here, with the reason users see. */
	readonly notMountable: Readonly<Record<string, string>>;
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
	/** Helper id from the table. */
	readonly helper: string;
	/** For `kernel`: the `mount -t` type. For other helpers: the type they serve. */
	readonly fsType: string;
	/** Options joined into `-o` (`ro`, `fakeroot`, `norecovery` …). */
	readonly options: readonly string[];
	/** How lists and errors name it. */
	readonly label: string;
	/** Run the helper on a loop device over the volume file (see {@link HelperWay.viaLoop}). */
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

/** The types the table knows how to mount (for `doctor`). */
export function mountableTypes(table: HelperTable): readonly string[] {
	return Object.keys(table.byType);
}

/** The blkid types a helper serves. */
export function typesOfHelper(table: HelperTable, helper: string): readonly string[] {
	return Object.entries(table.byType)
		.filter(([, ways]) => ways.some((w) => w.helper === helper))
		.map(([type]) => type);
}

/** Plans every volume of a disk. */
export function planMount(
	volumes: readonly PlanVolume[],
	table: HelperTable,
	caps: HostCapabilities,
	options: PlanOptions,
): readonly VolumePlan[] {
	return volumes.map((v) => planVolume(v, table, caps, options));
}

/** Plans one volume. */
export function planVolume(
	volume: PlanVolume,
	table: HelperTable,
	caps: HostCapabilities,
	options: PlanOptions,
): VolumePlan {
	const skip = (reason: string): VolumePlan => ({ kind: 'skip', index: volume.index, reason });
	if (volume.unsupported !== undefined) return skip(volume.unsupported);
	const type = volume.type;
	if (type !== null && type !== 'unknown') {
		const notMountable = table.notMountable[type];
		if (notMountable !== undefined) return skip(notMountable);
		const ways = table.byType[type];
		if (ways === undefined)
			return skip(`${type} volumes cannot be mounted on ${table.platformName} by this app`);
		const attempts = dedupe(usable(ways, caps, options.readWrite));
		if (attempts.length === 0) return skip(noHelperReason(type, ways, caps, options.readWrite));
		return { kind: 'mount', index: volume.index, attempts, guessed: false };
	}
	const order = options.unknownOrder ?? LEGACY_UNKNOWN_ORDER;
	const attempts: MountAttempt[] = [];
	for (const name of order) {
		const ways = table.trialSteps[name] ?? table.byType[name];
		if (ways !== undefined) attempts.push(...usable(ways, caps, options.readWrite));
	}
	const unique = dedupe(attempts);
	if (unique.length === 0) {
		return skip('no filesystem was recognised and no helper of the trial order is installed');
	}
	return { kind: 'mount', index: volume.index, attempts: unique, guessed: true };
}

/** Why `way` cannot be used on this host, or undefined when it can. */
function unmet(way: HelperWay, caps: HostCapabilities, readWrite: boolean): Unmet | undefined {
	if (readWrite && way.readWriteOptions === null) return { kind: 'read-only', label: way.label };
	if (way.needsRoot === true && !caps.isRoot) {
		return { kind: 'root', reason: way.rootOnlyReason };
	}
	if (way.needsKernelFilesystem !== undefined && !caps.kernelFilesystems.has(way.needsKernelFilesystem)) {
		return { kind: 'kernel', filesystem: way.needsKernelFilesystem };
	}
	const missing = way.needsTools.filter((t) => !caps.tools.has(t));
	if (missing.length > 0) return { kind: 'tools', tools: missing };
	return undefined;
}

type Unmet =
	| { readonly kind: 'read-only'; readonly label: string }
	| { readonly kind: 'root'; readonly reason: string | undefined }
	| { readonly kind: 'kernel'; readonly filesystem: string }
	| { readonly kind: 'tools'; readonly tools: readonly string[] };

function usable(ways: readonly HelperWay[], caps: HostCapabilities, readWrite: boolean): MountAttempt[] {
	return ways
		.filter((w) => unmet(w, caps, readWrite) === undefined)
		.map((w) => ({
			helper: w.helper,
			fsType: w.fsType,
			options: (readWrite ? w.readWriteOptions : null) ?? w.readOnlyOptions,
			label: w.label,
			...(w.viaLoop === true ? { viaLoop: true } : {}),
		}));
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

/** "no helper for ntfs on this host (install ntfs-3g; kernel mounts need root)". */
function noHelperReason(
	type: string,
	ways: readonly HelperWay[],
	caps: HostCapabilities,
	readWrite: boolean,
): string {
	const tools: string[] = [];
	const rootReasons: string[] = [];
	const kernel: string[] = [];
	const readOnly: string[] = [];
	let kernelNeedsRoot = false;
	for (const way of ways) {
		const why = unmet(way, caps, readWrite);
		if (why === undefined) continue;
		switch (why.kind) {
			case 'tools':
				tools.push(...why.tools);
				break;
			case 'root':
				if (why.reason === undefined) kernelNeedsRoot = true;
				else rootReasons.push(why.reason);
				break;
			case 'kernel':
				kernel.push(why.filesystem);
				break;
			case 'read-only':
				readOnly.push(why.label);
				break;
		}
	}
	const parts: string[] = [];
	if (tools.length > 0) parts.push(`install ${unique(tools).join(' or ')}`);
	parts.push(...unique(rootReasons));
	if (kernelNeedsRoot) parts.push('kernel mounts need root');
	if (kernel.length > 0) parts.push(`the kernel lacks ${unique(kernel).join('/')}`);
	if (readOnly.length > 0) parts.push(`${unique(readOnly).join(', ')} mounts read-only only`);
	return `no helper for ${type} on this host (${parts.join('; ')})`;
}

function unique(items: readonly string[]): string[] {
	return [...new Set(items)];
}
