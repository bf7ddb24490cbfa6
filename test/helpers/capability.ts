// SPDX-License-Identifier: MIT
// The one place where a suite that needs root, FUSE or loop devices decides to run (test/README.md).
import { describe } from 'vitest';

/** Why tests needing root (loop devices, pvcreate, kernel mounts) cannot run here, if so. */
export function rootMissing(): string | undefined {
	return process.getuid?.() === 0 ? undefined : 'needs root for loop devices';
}

/**
 * Declares a suite that needs a capability. `missing` names what is absent, or is undefined
 * when everything is here. On a developer machine without it the suite is skipped with that
 * reason in its title; under CI (`CI=true`) a missing capability fails the run instead.
 */
export function describeNeeding(missing: string | undefined, title: string, body: () => void): void {
	if (missing === undefined) {
		describe(title, body);
		return;
	}
	if (process.env.CI === 'true') throw new Error(`CI must run "${title}", but: ${missing}`);
	describe.skip(`${title} (skipped: ${missing})`, body);
}
