// SPDX-License-Identifier: MIT
// Builds the window (renderer/) into dist/renderer/, which the app loads from disk and the e2e
// host serves. JSX goes through Vite's own esbuild (React's automatic runtime): no plugin.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
	root: fileURLToPath(new URL('.', import.meta.url)),
	// Relative asset URLs: the app opens index.html from a file:// path inside its bundle.
	base: './',
	publicDir: false,
	// Always React's production build and JSX runtime: a build started from a test runner inherits
	// NODE_ENV=test, which would otherwise ship (and test) the development ones.
	esbuild: { jsx: 'automatic', jsxDev: false, legalComments: 'none' },
	define: { 'process.env.NODE_ENV': JSON.stringify('production') },
	build: {
		outDir: fileURLToPath(new URL('../dist/renderer', import.meta.url)),
		emptyOutDir: true,
		// Electron 38's Chromium (and Debian's Chromium for the e2e tests).
		target: 'chrome130',
		// No inline polyfill script: the CSP allows scripts from the bundle only.
		modulePreload: { polyfill: false },
		cssCodeSplit: false,
		sourcemap: false,
		reportCompressedSize: false,
	},
	logLevel: 'warn',
});
