// SPDX-License-Identifier: MIT
// Bad input must end in a typed VmdkError (or a result), never another exception or a hang.
import { describe, expect, it } from 'vitest';
import { VmdkError, parseLockMember, parseVbox, parseVmsd, parseVmx } from '../../../../src/core/index.js';
import { randomBytes } from '../../../helpers/prng.js';

/** `base` with `count` bytes overwritten at pseudo-random places. */
function mutate(base: Uint8Array, count: number, seed: number): Uint8Array {
	const out = base.slice();
	const noise = randomBytes(count * 2, seed);
	for (let i = 0; i < count; i++) out[(noise[2 * i]! * 257 + noise[2 * i + 1]!) % out.length] = noise[2 * i]!;
	return out;
}

function expectTypedOrResult(fn: () => unknown): void {
	try {
		fn();
	} catch (error) {
		expect(error).toBeInstanceOf(VmdkError);
	}
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const VMX = enc(
	'.encoding = "UTF-8"\ndisplayName = "x"\nscsi0.present = "TRUE"\nscsi0:0.present = "TRUE"\nscsi0:0.fileName = "a.vmdk"\n',
);
const VMSD = enc(
	'snapshot0.uid = "1"\nsnapshot0.disk0.fileName = "a.vmdk"\nsnapshot0.disk0.node = "scsi0:0"\n',
);
const VBOX = enc(
	'<?xml version="1.0"?><VirtualBox><Machine name="m"><MediaRegistry><HardDisks><HardDisk uuid="{a}" location="a.vmdk" format="VMDK"><HardDisk uuid="{b}" location="b.vmdk" format="VMDK"/></HardDisk></HardDisks></MediaRegistry><Hardware><StorageControllers><StorageController name="S" type="AHCI"><AttachedDevice type="HardDisk" port="0" device="0"><Image uuid="{b}"/></AttachedDevice></StorageController></StorageControllers></Hardware></Machine></VirtualBox>',
);

describe('parsers on damaged input', () => {
	it('random bytes', () => {
		for (let seed = 1; seed <= 300; seed++) {
			const bytes = randomBytes(1 + (seed % 600), seed);
			expectTypedOrResult(() => parseVmx(bytes));
			expectTypedOrResult(() => parseVmsd(bytes));
			expectTypedOrResult(() => parseVbox(bytes));
			expect(() => parseLockMember(bytes)).not.toThrow();
		}
	});

	it('valid files with a few bytes changed', () => {
		for (let seed = 1; seed <= 400; seed++) {
			const n = 1 + (seed % 4);
			expectTypedOrResult(() => parseVmx(mutate(VMX, n, seed)));
			expectTypedOrResult(() => parseVmsd(mutate(VMSD, n, seed)));
			expectTypedOrResult(() => parseVbox(mutate(VBOX, n, seed)));
		}
	});
});
