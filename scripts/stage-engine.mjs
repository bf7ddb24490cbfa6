#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Stages the app's engine — the daemon and the CLI as plain files, their production
// dependencies, our FUSE addon and a Node.js runtime — into one folder that electron-builder
// copies to `Resources/engine` (docs/architecture.md, "How the packaged app starts the daemon").
// The packaged Electron binary has the RunAsNode fuse off, so the engine runs on this runtime.
//
//   node scripts/stage-engine.mjs --out build/engine/linux-x64 --node /path/to/node
//
// Run after `npm run build` (and `npm run build:native` on Linux). `--node` is the Node.js
// executable for the target platform and architecture (scripts/fetch-node-runtime.sh downloads
// and checks one); it is copied to `<out>/node/bin/node`.
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';

/** The layers the daemon and the CLI are made of (not main, preload or the renderer). */
const LAYERS = ['core', 'shared', 'host', 'daemon', 'cli'];
/** Our libfuse 3 addon, where `src/host/node/fuse3-addon.ts` looks for it. */
const ADDON = 'native/fuse3/build/Release/vmdk_fuse3.node';

const { values } = parseArgs({
	options: { out: { type: 'string' }, node: { type: 'string' }, root: { type: 'string', default: '.' } },
});
if (values.out === undefined || values.node === undefined) {
	console.error('usage: stage-engine.mjs --out <folder> --node <node executable> [--root <checkout>]');
	process.exit(2);
}
const root = resolve(values.root);
const out = resolve(values.out);

for (const layer of LAYERS) {
	if (!existsSync(join(root, 'dist', layer))) {
		console.error(`stage-engine: ${join(root, 'dist', layer)} is missing; run \`npm run build\` first`);
		process.exit(1);
	}
}

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

// The built JavaScript only: no declarations, no source maps, no tsbuildinfo.
for (const layer of LAYERS) {
	cpSync(join(root, 'dist', layer), join(out, 'dist', layer), {
		recursive: true,
		filter: (src) => statSync(src).isDirectory() || src.endsWith('.js'),
	});
}
cpSync(join(root, 'bin'), join(out, 'bin'), { recursive: true });
// The daemon and the CLI read their version from it; `"type": "module"` makes dist/*.js ESM.
cpSync(join(root, 'package.json'), join(out, 'package.json'));
if (existsSync(join(root, ADDON))) {
	mkdirSync(dirname(join(out, ADDON)), { recursive: true });
	cpSync(join(root, ADDON), join(out, ADDON));
} else {
	console.warn(`stage-engine: ${ADDON} not built; the daemon will use @cocalc/fuse-native`);
}

// Production dependencies, as npm resolved them (nested copies come with their parent).
const listed = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], {
	cwd: root,
	encoding: 'utf8',
})
	.split('\n')
	.map((line) => line.trim())
	.filter((line) => line !== '' && line !== root)
	.map((path) => relative(root, path));
const topLevel = listed.filter((p) => /^node_modules\/(@[^/]+\/)?[^/]+$/.test(p));
for (const pkg of topLevel) {
	cpSync(join(root, pkg), join(out, pkg), {
		recursive: true,
		// A package's own build folder of native code is kept (fuse-native's addon); its tests are not.
		filter: (src) => !/\/(test|tests|example\.js)$/.test(src),
	});
}

mkdirSync(join(out, 'node', 'bin'), { recursive: true });
cpSync(resolve(values.node), join(out, 'node', 'bin', 'node'), { dereference: true });
chmodSync(join(out, 'node', 'bin', 'node'), 0o755);

console.log(`stage-engine: ${out} (${topLevel.length} packages, runtime from ${values.node})`);
