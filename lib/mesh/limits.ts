/**
 * A Map that holds at most `max` entries: `full` tells a caller that must refuse new state, and
 * `set` beyond the bound drops the oldest entry, for caches where forgetting is safe.
 */
export class BoundedMap<K, V> extends Map<K, V> {
  constructor(readonly max: number) {
    super();
  }

  get full(): boolean {
    return this.size >= this.max;
  }

  override set(key: K, value: V): this {
    if (!this.has(key) && this.size >= this.max) this.delete(this.keys().next().value as K);
    return super.set(key, value);
  }
}

/** Token buckets per key (burst `capacity`, `perSecond` refill), at most `maxKeys` remembered. */
export class TokenBuckets {
  readonly #buckets: BoundedMap<string, { tokens: number; at: number }>;

  constructor(
    readonly capacity: number,
    readonly perSecond: number,
    maxKeys: number,
  ) {
    this.#buckets = new BoundedMap(maxKeys);
  }

  /** Takes a token for `key` at time `now` (ms); false when there is none. */
  take(key: string, now: number): boolean {
    const bucket = this.#buckets.get(key) ?? { tokens: this.capacity, at: now };
    bucket.tokens = Math.min(this.capacity, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond);
    bucket.at = now;
    const granted = bucket.tokens >= 1;
    if (granted) bucket.tokens -= 1;
    this.#buckets.delete(key);
    this.#buckets.set(key, bucket);
    return granted;
  }
}
