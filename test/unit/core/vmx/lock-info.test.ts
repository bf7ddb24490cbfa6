// SPDX-License-Identifier: MIT
import { describe, expect, it } from 'vitest';
import { UNLOCKED, parseLockMember, type LockState } from '../../../../src/core/index.js';
import { isLockStale, isPidAlive } from '../../../../src/host/node/lock-liveness.js';

/** A bakery-lock member file as open-vm-tools writes it: text NUL-padded to 512 bytes. */
function member(text: string): Uint8Array {
	const out = new Uint8Array(512);
	out.set(new TextEncoder().encode(text));
	return out;
}

describe('parseLockMember', () => {
	it('reads machineID, the pid of the executionID and the lock type', () => {
		expect(parseLockMember(member('uuid=564d1234 4242-1234567(vmware-vmx) 7 X [ lc=3318'))).toEqual({
			host: 'uuid=564d1234',
			pid: 4242,
			exclusive: true,
		});
		expect(parseLockMember(member('Zm9vYmFyYmF6cXV4 17-0 1 S'))).toEqual({
			host: 'Zm9vYmFyYmF6cXV4',
			pid: 17,
			exclusive: false,
		});
		// An executionID that is not a pid still tells us the machine.
		expect(parseLockMember(member('host-a weird 1 X'))).toEqual({ host: 'host-a', exclusive: true });
	});

	it('reads the old "pid host" form and refuses anything else', () => {
		expect(parseLockMember(new TextEncoder().encode('3141 buildbox\n'))).toEqual({
			host: 'buildbox',
			pid: 3141,
		});
		expect(parseLockMember(member('host 1 2 Q'))).toBeNull();
		expect(parseLockMember(new Uint8Array(512))).toBeNull();
		expect(parseLockMember(new TextEncoder().encode('0 host'))).toBeNull();
	});
});

describe('isLockStale', () => {
	const lock = (members: LockState['members']): LockState => ({
		locked: true,
		lockPaths: ['/vm/x.vmx.lck'],
		members,
	});
	const here = { hostname: 'ThisHost', isPidAlive: (pid: number) => pid === 100 };

	it('is stale only when every holder is on this host and gone', () => {
		expect(isLockStale(lock([{ path: 'a', host: 'thishost', pid: 200 }]), here)).toBe(true);
		expect(isLockStale(lock([{ path: 'a', host: 'ThisHost', pid: 100 }]), here)).toBe(false);
		expect(isLockStale(lock([{ path: 'a', host: 'other', pid: 200 }]), here)).toBe(false);
		expect(
			isLockStale(
				lock([
					{ path: 'a', host: 'ThisHost', pid: 200 },
					{ path: 'b', host: 'ThisHost', pid: 100 },
				]),
				here,
			),
		).toBe(false);
	});

	it('is never stale when the holder is unknown or nothing is locked', () => {
		expect(isLockStale(lock([{ path: 'a' }]), here)).toBe(false);
		expect(isLockStale(lock([{ path: 'a', host: 'ThisHost' }]), here)).toBe(false);
		expect(isLockStale(lock([]), here)).toBe(false);
		expect(isLockStale(UNLOCKED, here)).toBe(false);
	});

	it('asks the OS about real pids and never probes process groups', () => {
		expect(isPidAlive(process.pid)).toBe(true);
		expect(isPidAlive(0)).toBe(true);
		expect(isPidAlive(-1)).toBe(true);
		expect(isPidAlive(1.5)).toBe(true);
	});
});
