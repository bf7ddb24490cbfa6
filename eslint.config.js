// SPDX-License-Identifier: MIT
// Lint, including the layer rules of docs/architecture.md ("Layers"): imports only point down.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

/** A no-restricted-imports rule forbidding the given patterns, with a reason. */
function forbid(patterns, message) {
	return ['error', { patterns: [{ group: patterns, message }] }];
}

const NODE_BUILTINS = ['node:*', 'fs', 'fs/*', 'path', 'os', 'child_process', 'zlib', 'net', 'crypto'];

/**
 * The host seam: outside src/host only `host/index.js`, `host/output.js` (the writers, apart so
 * that reading commands start without them) and `host/common/*` may be imported, so platform
 * code (`host/linux`, `host/darwin`, and the Node pieces those two re-export) stays behind one
 * interface.
 */
const HOST_INTERNALS = [
	'**/host/linux/**',
	'**/host/darwin/**',
	'**/host/node/**',
	'**/host/doctor-report.js',
];

export default tseslint.config(
	{ ignores: ['dist/**', 'out/**', 'node_modules/**', 'coverage/**', '**/*.d.ts.map', 'renderer/dist/**'] },
	js.configs.recommended,
	...tseslint.configs.recommendedTypeChecked,
	{
		languageOptions: {
			parserOptions: {
				projectService: { allowDefaultProject: ['*.js', '*.ts', 'bin/*.js', 'bench/*.js', 'bench/*.ts'] },
				tsconfigRootDir: import.meta.dirname,
			},
			globals: { ...globals.node },
		},
		linterOptions: { reportUnusedDisableDirectives: 'error' },
		rules: {
			'@typescript-eslint/no-floating-promises': 'error',
			'@typescript-eslint/no-explicit-any': 'error',
			'@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
			'@typescript-eslint/consistent-type-imports': 'error',
			'@typescript-eslint/require-await': 'off',
			'no-bitwise': 'error',
			'no-warning-comments': ['error', { terms: ['fixme'], location: 'start' }],
		},
	},
	{
		files: ['**/*.js', '**/*.mjs'],
		...tseslint.configs.disableTypeChecked,
	},
	{
		files: ['src/core/**/*.ts'],
		rules: {
			'no-bitwise': 'off',
			'no-restricted-imports': forbid(
				[
					...NODE_BUILTINS,
					'electron',
					'execa',
					'**/shared/**',
					'**/host/**',
					'**/daemon/**',
					'**/cli/**',
					'**/main/**',
				],
				'src/core is the pure engine: no node:*, no electron, no processes, no other layer.',
			),
		},
	},
	{
		files: ['src/shared/**/*.ts'],
		rules: {
			'no-restricted-imports': forbid(
				[...NODE_BUILTINS, 'electron', 'execa', '**/host/**', '**/daemon/**', '**/cli/**', '**/main/**'],
				'src/shared is renderer-safe: no node, no electron, only types from core.',
			),
		},
	},
	{
		files: ['src/host/**/*.ts'],
		rules: {
			'no-restricted-imports': forbid(
				['electron', '**/daemon/**', '**/cli/**', '**/main/**', '@cocalc/fuse-native'],
				'src/host touches the OS but knows nothing of the daemon, the CLI or Electron.',
			),
		},
	},
	{
		files: ['src/daemon/**/*.ts'],
		ignores: ['src/daemon/fuse/fuse-native-backend.ts'],
		rules: {
			'no-restricted-imports': forbid(
				['electron', '**/cli/**', '**/main/**', '@cocalc/fuse-native', ...HOST_INTERNALS],
				'src/daemon runs as plain Node, reaches the OS only through host/index.js, and only the fuse-native backend loads that addon.',
			),
		},
	},
	{
		files: ['src/daemon/fuse/fuse-native-backend.ts'],
		rules: {
			'no-restricted-imports': forbid(
				['electron', '**/cli/**', '**/main/**', ...HOST_INTERNALS],
				'the fuse-native backend may load @cocalc/fuse-native, nothing else outside its layer.',
			),
		},
	},
	{
		files: ['src/cli/**/*.ts'],
		rules: {
			'no-restricted-imports': forbid(
				[
					'electron',
					'**/main/**',
					'@cocalc/fuse-native',
					// gitignore syntax (no extglob): everything of the daemon but its client.
					'**/daemon/**',
					'!**/daemon/client.js',
					...HOST_INTERNALS,
				],
				'src/cli talks to the daemon only through daemon/client.ts and to the OS through host/index.js.',
			),
		},
	},
	{
		// Electron main: a thin shell over the daemon. It reaches the daemon only through
		// daemon/client.ts (and may read core's data, e.g. the openable extensions); `ipcMain` only
		// in ipc/ipc-main.ts, where every sender is checked.
		files: ['src/main/**/*.ts'],
		rules: {
			'no-restricted-imports': [
				'error',
				{
					paths: [
						{
							name: 'electron',
							importNames: ['ipcMain', 'ipcRenderer', 'contextBridge'],
							message: 'Register IPC through src/main/ipc/ipc-main.ts (it checks every sender).',
						},
					],
					patterns: [
						{
							group: [
								'@cocalc/fuse-native',
								// gitignore syntax: everything of the daemon but its client.
								'**/daemon/**',
								'!**/daemon/client.js',
								'**/host/**',
								'**/cli/**',
								'**/preload/**',
								'**/renderer/**',
							],
							message: 'src/main is a thin shell: core data, shared contracts and daemon/client.ts only.',
						},
					],
				},
			],
		},
	},
	{
		files: ['src/main/ipc/ipc-main.ts'],
		rules: {
			'no-restricted-imports': forbid(
				['@cocalc/fuse-native', '**/daemon/**', '**/host/**', '**/cli/**', '**/preload/**', '**/renderer/**'],
				'ipc-main.ts registers handlers; it imports shared contracts and electron only.',
			),
		},
	},
	{
		// The sandboxed preload: Electron's renderer modules and the shared contract's types.
		// Runtime imports from shared would bundle zod into the one-file preload.
		files: ['src/preload/**/*.ts'],
		rules: {
			'no-restricted-imports': [
				'error',
				{
					paths: [
						{
							name: 'electron',
							importNames: ['ipcMain', 'app', 'BrowserWindow', 'shell'],
							message: 'The preload runs in the renderer: contextBridge, ipcRenderer and webUtils only.',
						},
					],
					patterns: [
						{
							group: [
								...NODE_BUILTINS,
								'**/core/**',
								'**/host/**',
								'**/daemon/**',
								'**/cli/**',
								'**/main/**',
								'zod',
							],
							message: 'src/preload sees only the shared contract (types) and electron.',
						},
						{
							group: ['**/shared/**'],
							allowTypeImports: true,
							message: 'src/preload imports only types from src/shared (it is bundled to one small file).',
						},
					],
				},
			],
		},
	},
	{
		// The window: a browser page. It sees `window.vmdk` and nothing of Node or Electron, and
		// takes only types from src/ (its tsconfig has the DOM lib and no Node types).
		files: ['renderer/src/**/*.{ts,tsx}'],
		languageOptions: { globals: { ...globals.browser } },
		rules: {
			'no-restricted-imports': [
				'error',
				{
					patterns: [
						{
							group: [...NODE_BUILTINS, 'electron', 'execa', 'zod'],
							message: 'renderer/ is a sandboxed page: no node, no electron; talk to window.vmdk.',
						},
						{
							group: ['**/src/**'],
							allowTypeImports: true,
							message: 'renderer/ takes only types from src/ (import type); it runs nothing of it.',
						},
					],
				},
			],
		},
	},
	{
		files: ['test/**/*.ts', 'bench/**/*.ts'],
		rules: {
			'no-bitwise': 'off',
			'@typescript-eslint/no-non-null-assertion': 'off',
			'@typescript-eslint/unbound-method': 'off',
		},
	},
);
