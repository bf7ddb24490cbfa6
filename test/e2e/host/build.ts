// SPDX-License-Identifier: MIT
// Builds what the e2e host runs: the daemon and CLI (tsc) and the window (Vite), serialised
// across test files with flock.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT, ensureCliBuilt } from '../../fixtures/reference-disk.js';

const run = promisify(execFile);

/** The built window. */
export const RENDERER_DIR = join(REPO_ROOT, 'dist', 'renderer');

/** Builds the CLI, the daemon and the renderer from the current sources. */
export async function ensureAppBuilt(): Promise<void> {
	await ensureCliBuilt();
	await run(
		'flock',
		['/tmp/vmdk-mounter-renderer-build.lock', 'npx', 'vite', 'build', '--config', 'renderer/vite.config.js'],
		// As `npm run build` would: vitest's NODE_ENV=test must not reach the build.
		{ cwd: REPO_ROOT, timeout: 240_000, env: { ...process.env, NODE_ENV: 'production' } },
	);
	if (!existsSync(join(RENDERER_DIR, 'index.html'))) {
		throw new Error('dist/renderer/index.html is missing after `vite build`');
	}
}
