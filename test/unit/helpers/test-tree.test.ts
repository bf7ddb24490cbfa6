// SPDX-License-Identifier: MIT
// The test tree follows test/README.md: privileged suites are named `*.integration.test.ts` and
// gated by describeNeeding (so CI fails instead of skipping them), the rest need no privileges,
// and code shared between test files lives in test/helpers.
import { readFileSync, readdirSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../fixtures/reference-disk.js';

const TEST_ROOT = join(REPO_ROOT, 'test');

function filesUnder(dir: string): string[] {
	return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
		e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)],
	);
}

const tsFiles = filesUnder(TEST_ROOT).filter((f) => f.endsWith('.ts'));
const rel = (f: string): string => relative(TEST_ROOT, f);
const read = (f: string): string => readFileSync(f, 'utf8');
/** Calls that make a suite depend on root, FUSE or loop devices. */
const GATED = /\bdescribeNeeding\(/;
const PRIVILEGED = /\b(rootMissing|missingCapability)\(/;

describe('the test tree', () => {
	it('names every test file that needs root, FUSE or loop devices *.integration.test.ts, and gates it', () => {
		const wrong: string[] = [];
		for (const f of tsFiles.filter((t) => t.endsWith('.test.ts'))) {
			const text = read(f);
			const named = f.endsWith('.integration.test.ts');
			if (named && !GATED.test(text))
				wrong.push(`${rel(f)}: named .integration but never calls describeNeeding`);
			if (!named && (GATED.test(text) || PRIVILEGED.test(text)) && !rel(f).startsWith('e2e/'))
				wrong.push(`${rel(f)}: gates a suite on a capability but is not named *.integration.test.ts`);
			if (named && !rel(f).startsWith('integration/'))
				wrong.push(`${rel(f)}: privileged suites live in test/integration`);
		}
		expect(wrong).toEqual([]);
	});

	it('keeps code shared between test files in test/helpers (or test/fixtures)', () => {
		const shared: string[] = [];
		const modules = tsFiles.filter(
			(f) => !f.endsWith('.test.ts') && /^(unit|integration)\//.test(rel(f)) && !f.endsWith('.d.ts'),
		);
		for (const m of modules) {
			const spec = `/${basename(m, '.ts')}.js'`;
			const importers = tsFiles.filter((f) => f !== m && read(f).includes(spec));
			if (importers.length > 1) shared.push(`${rel(m)} is imported by ${importers.map(rel).join(', ')}`);
		}
		expect(shared).toEqual([]);
	});

	it('finds the suites it checks', () => {
		expect(tsFiles.filter((f) => f.endsWith('.integration.test.ts')).length).toBeGreaterThan(10);
		expect(tsFiles.filter((f) => rel(f).startsWith('unit/')).length).toBeGreaterThan(50);
	});
});
