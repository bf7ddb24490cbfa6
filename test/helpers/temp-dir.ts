// SPDX-License-Identifier: MIT
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh temporary folder, removed by the returned cleanup. */
export async function makeTempDir(
	prefix = 'vmdk-test-',
): Promise<{ dir: string; cleanup: () => Promise<void> }> {
	const dir = await mkdtemp(join(process.env.VMDK_TEST_TMP ?? tmpdir(), prefix));
	return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
