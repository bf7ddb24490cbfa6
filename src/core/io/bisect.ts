// SPDX-License-Identifier: MIT

/**
 * Index of the last entry of `starts` (sorted ascending, not empty) that is at most `value`, or
 * 0 when `value` lies before them all: which piece of a concatenation holds byte `value`.
 */
export function lastAtOrBelow(starts: readonly number[], value: number): number {
	let lo = 0;
	let hi = starts.length - 1;
	while (lo < hi) {
		const mid = (lo + hi + 1) >>> 1;
		if ((starts[mid] ?? 0) <= value) lo = mid;
		else hi = mid - 1;
	}
	return lo;
}
