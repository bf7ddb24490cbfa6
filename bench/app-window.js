#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Runs bench/app-window.ts (the app window's benchmarks): bundled with esbuild first, because it
// drives the e2e host, which is TypeScript. See the .ts file for what is measured.
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const REPO = resolve(import.meta.dirname, '..');
const out = join(REPO, 'dist', 'bench', 'app-window.mjs');
await build({
	entryPoints: [join(REPO, 'bench', 'app-window.ts')],
	bundle: true,
	platform: 'node',
	format: 'esm',
	packages: 'external',
	target: 'node20',
	outfile: out,
	logLevel: 'warning',
});
process.chdir(REPO);
await import(pathToFileURL(out).href);
