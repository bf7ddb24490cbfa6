// SPDX-License-Identifier: MIT
/**
 * A small bounded least-recently-used cache. Grain tables and inflated grains are cached with it
 * so that memory stays bounded however large the disk is. A `Map` keeps insertion order, so
 * re-inserting on every hit makes its first key the least recently used one.
 */

/** Limits of an {@link LruCache}. */
export interface LruCacheOptions<V> {
	/** Most entries kept; at least 1. */
	readonly maxEntries: number;
	/** Most total weight kept (e.g. bytes); unlimited when absent. */
	readonly maxWeight?: number;
	/** Weight of one value (e.g. its length in bytes); 1 when absent. */
	readonly weigh?: (value: V) => number;
}

/** A bounded LRU map. Entries heavier than `maxWeight` on their own are not kept. */
export class LruCache<K, V> {
	private readonly entries = new Map<K, V>();
	private readonly maxEntries: number;
	private readonly maxWeight: number;
	private readonly weigh: (value: V) => number;
	private totalWeight = 0;

	constructor(options: LruCacheOptions<V>) {
		if (!(options.maxEntries >= 1))
			throw new RangeError(`maxEntries must be at least 1, got ${options.maxEntries}`);
		this.maxEntries = options.maxEntries;
		this.maxWeight = options.maxWeight ?? Number.POSITIVE_INFINITY;
		this.weigh = options.weigh ?? (() => 1);
	}

	/** Number of entries held. */
	get size(): number {
		return this.entries.size;
	}

	/** Sum of the weights of the entries held. */
	get weight(): number {
		return this.totalWeight;
	}

	/** The value for `key`, marking it most recently used; undefined when absent. */
	get(key: K): V | undefined {
		const value = this.entries.get(key);
		if (value === undefined) return undefined;
		this.entries.delete(key);
		this.entries.set(key, value);
		return value;
	}

	/** True if `key` is held (does not change the order). */
	has(key: K): boolean {
		return this.entries.has(key);
	}

	/** Stores `value` as the most recently used entry, evicting the least recently used ones. */
	set(key: K, value: V): void {
		this.delete(key);
		const w = this.weigh(value);
		if (w > this.maxWeight) return;
		this.entries.set(key, value);
		this.totalWeight += w;
		this.evict();
	}

	/** Removes `key`; true if it was held. */
	delete(key: K): boolean {
		const old = this.entries.get(key);
		if (old === undefined) return false;
		this.entries.delete(key);
		this.totalWeight -= this.weigh(old);
		return true;
	}

	/** Removes everything. */
	clear(): void {
		this.entries.clear();
		this.totalWeight = 0;
	}

	private evict(): void {
		while (this.entries.size > this.maxEntries || this.totalWeight > this.maxWeight) {
			const oldest = this.entries.keys().next();
			if (oldest.done === true) return;
			this.delete(oldest.value);
		}
	}
}

/**
 * Loaded values in a bounded LRU, plus the loads in flight: concurrent callers asking for a key
 * being loaded share one load. A load that rejects is not kept, so the next call tries again
 * (and fails the same way on a damaged file, rather than caching the failure forever).
 * Grain tables and inflated grains are cached with it.
 */
export class LoadingCache<K, V> {
	private readonly values: LruCache<K, V>;
	private readonly loads = new Map<K, Promise<V>>();

	constructor(options: LruCacheOptions<V>) {
		this.values = new LruCache(options);
	}

	/** The loaded value for `key`, marking it most recently used; undefined when not loaded. No I/O. */
	peek(key: K): V | undefined {
		return this.values.get(key);
	}

	/** True if `key` is loaded (does not change the order). */
	has(key: K): boolean {
		return this.values.has(key);
	}

	/** True if `key` is loaded or being loaded. */
	hasOrLoading(key: K): boolean {
		return this.values.has(key) || this.loads.has(key);
	}

	/** The value for `key`: loaded, joined while loading, or loaded now with `load`. */
	get(key: K, load: () => Promise<V>): Promise<V> {
		const value = this.values.get(key);
		if (value !== undefined) return Promise.resolve(value);
		return this.loads.get(key) ?? this.track(key, load());
	}

	/**
	 * Registers `loading` as the load of `key` and caches its value when it resolves. A read that
	 * fetches several keys at once tracks one promise per key this way.
	 */
	track(key: K, loading: Promise<V>): Promise<V> {
		const tracked = loading.then(
			(value) => {
				if (this.loads.get(key) === tracked) this.loads.delete(key);
				this.values.set(key, value);
				return value;
			},
			(error: unknown) => {
				if (this.loads.get(key) === tracked) this.loads.delete(key);
				throw error;
			},
		);
		// A load nobody waits for (the rest of a batch) must not surface as an unhandled rejection.
		tracked.catch(() => undefined);
		this.loads.set(key, tracked);
		return tracked;
	}

	/** Drops every loaded value (loads in flight finish and are cached). */
	clear(): void {
		this.values.clear();
	}
}
