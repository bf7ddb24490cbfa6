// SPDX-License-Identifier: MIT

/**
 * Runs `work` over `items` with at most `limit` in flight; rejects with the first failure. Used to
 * issue a request's file reads and inflations together, so the platform's thread pool overlaps them.
 */
export async function runBounded<T>(
	items: readonly T[],
	limit: number,
	work: (item: T) => Promise<void>,
): Promise<void> {
	if (items.length === 1) {
		await work(items[0] as T);
		return;
	}
	let next = 0;
	const worker = async (): Promise<void> => {
		while (next < items.length) {
			const item = items[next++] as T;
			await work(item);
		}
	};
	await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
