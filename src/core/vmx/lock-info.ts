// SPDX-License-Identifier: MIT
/**
 * VMware lock state of a VM. While a VM runs, VMware keeps a **directory** `<file>.lck` next to
 * the `.vmx`, each open disk and the `.vmem`; the VM removes them at power-off (Workstation
 * docs, "Using Lock Files"). Core only reads them; whether a lock is stale is decided by the host
 * (`src/host/node/lock-liveness.ts`), which can ask the OS about processes.
 *
 * What is verified, and where from:
 * - Directory layout and member format come from reading open-vm-tools' `lib/file`
 *   (fileLockPrimitive.c, fileLockPosix.c), VMware's portable lock library (a Lamport bakery):
 *   members are named `M#####.lck` (holders), `E#####.lck` / `D#####.lck` (entering); an `M`
 *   file is 512 bytes of NUL-padded text, space separated:
 *   `machineID executionID lamportNumber S|X [payload|[] [name=value…]`. The executionID is
 *   `pid-processCreationTime(processName)` on Linux, `pid-creationTime` on macOS, `pid` elsewhere.
 * - The machineID is NOT a host name: it is `uuid=<host UUID>` on macOS/Windows/ESXi and a
 *   base64 hash of host data on Linux. So `owner.host` holds that opaque id, and a host-name
 *   comparison never calls a genuine VMware lock stale — the conservative direction.
 * - We have not seen a lock file written by a real VMware product on this machine; the tests
 *   write files in the format above. Older products wrote a single `<file>.lck` regular file (or
 *   `.WRITELOCK` on Linux) holding `pid host`; we read that too, unverified against real files.
 */
import type { DirEntry, DiskPlatform } from '../platform.js';
import { basename, joinPath } from '../io/paths.js';

/** Who holds one lock member, as far as the file says. */
export interface LockOwner {
	/** The lock's machine id (a host name in old-style and our test locks; opaque for VMware). */
	readonly host?: string | undefined;
	/** The process id of the holder. */
	readonly pid?: number | undefined;
}

/** One holder found in a lock directory. */
export interface LockMember extends LockOwner {
	/** Path of the member file (`x.vmx.lck/M12345.lck`) or old-style lock file. */
	readonly path: string;
	/** True for an exclusive (`X`) lock, false for shared (`S`), undefined if not recorded. */
	readonly exclusive?: boolean | undefined;
}

/** The lock state of a VM or disk. */
export interface LockState {
	/** True when any lock directory (or old-style lock file) has holders or lockers entering. */
	readonly locked: boolean;
	/** The `.lck` directories (and old-style lock files) that make it locked. */
	readonly lockPaths: readonly string[];
	/** The first holder we could read, if any. */
	readonly owner?: LockOwner | undefined;
	/** Every holder we could read. A lock with none readable is locked by an unknown owner. */
	readonly members: readonly LockMember[];
}

/** The state of nothing being locked. */
export const UNLOCKED: LockState = { locked: false, lockPaths: [], members: [] };

/** Member files are fixed-size (512 bytes in open-vm-tools); allow slack for other writers. */
const LOCK_MEMBER_MAX_BYTES = 4096;
/** Most entries we look at in one lock directory. */
const LOCK_DIR_MAX_ENTRIES = 256;

const LOCK_SUFFIX = '.lck';
const OLD_LINUX_LOCK_SUFFIX = '.WRITELOCK';
const MEMBER_NAME = /^([MDE])\d{5}\.lck$/;
const NUL = 0;

/**
 * Parses the text of one lock member: the bakery format (`machineID executionID lamport S|X …`)
 * or the old `pid host` form. Returns null when neither fits.
 */
export function parseLockMember(
	bytes: Uint8Array,
): { host?: string; pid?: number; exclusive?: boolean } | null {
	const end = bytes.indexOf(NUL);
	const text = new TextDecoder('latin1').decode(end < 0 ? bytes : bytes.subarray(0, end)).trim();
	const fields = text.split(/\s+/).filter((f) => f !== '');
	if (fields.length >= 4 && /^\d+$/.test(fields[2]!) && (fields[3] === 'S' || fields[3] === 'X')) {
		const pid = leadingPid(fields[1]!);
		return { host: fields[0]!, ...(pid === undefined ? {} : { pid }), exclusive: fields[3] === 'X' };
	}
	if (fields.length === 2) {
		const pid = leadingPid(fields[0]!);
		if (pid !== undefined && /^\d+$/.test(fields[0]!)) return { host: fields[1]!, pid };
	}
	return null;
}

function leadingPid(executionId: string): number | undefined {
	const m = /^(\d{1,10})(?:$|[-(])/.exec(executionId);
	if (!m) return undefined;
	const pid = Number(m[1]);
	return pid > 0 && pid <= 0xffffffff ? pid : undefined;
}

/**
 * Reads the locks in `folder` (whose listing is `entries`) that belong to a file accepted by
 * `isOurs` (given the locked file's name, e.g. `x.vmdk` for `x.vmdk.lck`). Never throws for an
 * unreadable member: it then counts as a holder we cannot identify.
 */
export async function readLocks(
	folder: string,
	entries: readonly DirEntry[],
	platform: DiskPlatform,
	isOurs: (lockedName: string) => boolean = () => true,
): Promise<LockState> {
	const lockPaths: string[] = [];
	const members: LockMember[] = [];
	for (const entry of entries) {
		const lockedName = lockedFileName(entry.name);
		if (lockedName === undefined || !isOurs(lockedName)) continue;
		const path = joinPath(folder, entry.name);
		if (!entry.isDirectory) {
			// Old-style single lock file.
			lockPaths.push(path);
			const parsed = await readMember(path, platform);
			if (parsed) members.push({ path, ...parsed });
			continue;
		}
		let inside: readonly DirEntry[];
		try {
			inside = await platform.listDir(path);
		} catch {
			// A lock directory we cannot list is still a lock.
			lockPaths.push(path);
			continue;
		}
		const holders = inside.slice(0, LOCK_DIR_MAX_ENTRIES).filter((e) => MEMBER_NAME.test(e.name));
		// An empty .lck directory holds nothing (the bakery algorithm locks with member files).
		if (holders.length === 0) continue;
		lockPaths.push(path);
		for (const h of holders) {
			if (h.isDirectory || !h.name.startsWith('M')) continue;
			const memberPath = joinPath(path, h.name);
			const parsed = await readMember(memberPath, platform);
			members.push({ path: memberPath, ...(parsed ?? {}) });
		}
	}
	return lockStateOf(lockPaths, members);
}

/** Combines the lock states of several folders. */
export function mergeLockStates(states: readonly LockState[]): LockState {
	return lockStateOf(
		states.flatMap((s) => s.lockPaths),
		states.flatMap((s) => s.members),
	);
}

function lockStateOf(lockPaths: string[], members: LockMember[]): LockState {
	if (lockPaths.length === 0) return UNLOCKED;
	const known = members.find((m) => m.host !== undefined || m.pid !== undefined);
	const owner = known ? { host: known.host, pid: known.pid } : undefined;
	return { locked: true, lockPaths, members, ...(owner ? { owner } : {}) };
}

/** `x.vmdk.lck` → `x.vmdk`; `x.vmdk.WRITELOCK` → `x.vmdk`; anything else → undefined. */
function lockedFileName(name: string): string | undefined {
	const base = basename(name);
	if (base.toLowerCase().endsWith(LOCK_SUFFIX) && base.length > LOCK_SUFFIX.length) {
		return base.slice(0, -LOCK_SUFFIX.length);
	}
	if (base.endsWith(OLD_LINUX_LOCK_SUFFIX) && base.length > OLD_LINUX_LOCK_SUFFIX.length) {
		return base.slice(0, -OLD_LINUX_LOCK_SUFFIX.length);
	}
	return undefined;
}

async function readMember(
	path: string,
	platform: DiskPlatform,
): Promise<{ host?: string; pid?: number; exclusive?: boolean } | null> {
	try {
		return parseLockMember(await platform.readSmallFile(path, LOCK_MEMBER_MAX_BYTES));
	} catch {
		return null;
	}
}
