// SPDX-License-Identifier: MIT
// The LVM2 PV label as pvcreate writes it (pvcreate needs a block device: a loop device, so
// root): our probe must report what blkid -p reports, and seeded byte flips in the label must
// never make it throw or hang. The unprivileged probe differential is filesystems-blkid.test.ts.
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { probeFilesystem } from '../../src/core/index.js';
import { FileByteSource } from '../../src/host/node/file-byte-source.js';
import {
	PatchedSource,
	UTF8,
	blkid,
	comparable,
	expectNoInternalError,
	probeWithin,
} from '../helpers/blkid.js';
import { describeNeeding, rootMissing } from '../helpers/capability.js';
import { prng } from '../helpers/prng.js';
import { runSync } from '../helpers/run.js';
import { makeTempDir } from '../helpers/temp-dir.js';

describeNeeding(
	process.env.VMDK_SKIP_LOOP === '1' ? 'VMDK_SKIP_LOOP=1' : rootMissing(),
	'LVM2 PV label made by pvcreate',
	() => {
		let dir: string;
		let cleanup: () => Promise<void>;
		let loop = '';
		let path = '';

		beforeAll(async () => {
			({ dir, cleanup } = await makeTempDir('vmdk-fs-lvm-'));
			path = join(dir, 'pv.img');
			runSync('truncate', ['-s', '8M', path], UTF8);
			loop = runSync('losetup', ['-f', '--show', path], UTF8).trim();
			const config = 'activation{udev_sync=0 udev_rules=0} devices{obtain_device_list_from_udev=0}';
			runSync('pvcreate', ['--devices', loop, '--config', config, '-y', loop], UTF8);
		});
		afterAll(async () => {
			if (loop) runSync('losetup', ['-d', loop], UTF8);
			await cleanup();
		});

		it('type LVM2_member, the PV UUID and version equal blkid', async () => {
			const expected = blkid(path);
			expect(expected.TYPE).toBe('LVM2_member');
			const src = await FileByteSource.open(path);
			try {
				const info = await probeFilesystem(src);
				expect(comparable(info)).toEqual({
					TYPE: expected.TYPE,
					LABEL: expected.LABEL,
					UUID: expected.UUID,
					VERSION: expected.VERSION,
				});
				for (let round = 0, random = prng(7); round < 100; round++) {
					const patches = new Map([[Math.floor(random() * 1024), Math.floor(random() * 256)]]);
					expectNoInternalError(
						await probeWithin(new PatchedSource(src, patches), 10_000),
						`lvm round ${round}`,
					);
				}
			} finally {
				await src.close();
			}
		});
	},
);
