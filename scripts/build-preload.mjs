// SPDX-License-Identifier: MIT
// Bundles the window's preload into one CommonJS file: Electron's sandboxed preloads can
// require only a few Electron modules and cannot load ES modules (docs/architecture.md).
// `tsc -b` type-checks it; this only bundles. Prints the bundle's size.
import { build } from 'esbuild';
import { statSync } from 'node:fs';

const outfile = 'dist/preload/preload.cjs';
await build({
	entryPoints: ['src/preload/preload.ts'],
	outfile,
	bundle: true,
	format: 'cjs',
	platform: 'browser',
	// Electron 38 runs Chromium 140.
	target: 'chrome140',
	external: ['electron'],
	sourcemap: 'linked',
	legalComments: 'none',
	logLevel: 'warning',
});
if (process.argv.includes('--verbose')) console.log(`${outfile}: ${statSync(outfile).size} bytes`);
