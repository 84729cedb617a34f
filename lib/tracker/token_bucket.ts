/**
 * Per-source request limiting: one token bucket per source address.
 * @module
 */

interface Bucket {
  tokens: number;
  last: number;
}

/** Options for {@link RateLimiter}. */
export interface RateLimiterOptions {
  /** Tokens added per second (sustained requests per second per source). */
  ratePerSecond: number;
  /** Bucket size (the largest burst a source may send). */
  burst: number;
  /** Sources tracked at once; sources beyond that share one overflow bucket. */
  maxSources: number;
}

/** Token buckets keyed by source. Pure: the caller passes the time. */
export class RateLimiter {
  readonly #rate: number;
  readonly #burst: number;
  readonly #max: number;
  readonly #buckets = new Map<string, Bucket>();
  readonly #overflow: Bucket;

  /** @param options rate, burst and the number of sources tracked */
  constructor(options: RateLimiterOptions) {
    if (!(options.ratePerSecond > 0) || !(options.burst >= 1)) {
      throw new RangeError(
        `Cannot create rate limiter: rate ${options.ratePerSecond}/s and burst ${options.burst} must be positive`,
      );
    }
    this.#rate = options.ratePerSecond / 1000;
    this.#burst = options.burst;
    this.#max = options.maxSources;
    // The overflow bucket is shared by every untracked source: give it room for many of them.
    this.#overflow = { tokens: this.#burst * 16, last: -Infinity };
  }

  /** Sources currently tracked. */
  get size(): number {
    return this.#buckets.size;
  }

  /**
   * Takes one token for `source`.
   *
   * @param source the source key (`host|port`)
   * @param now the current time in ms
   * @returns false when the source is over its rate
   */
  allow(source: string, now: number): boolean {
    let b = this.#buckets.get(source);
    let cap = this.#burst;
    if (b === undefined) {
      if (this.#buckets.size >= this.#max) {
        b = this.#overflow;
        cap = this.#burst * 16;
      } else {
        b = { tokens: this.#burst, last: now };
        this.#buckets.set(source, b);
      }
    }
    const elapsed = now - b.last;
    if (elapsed > 0) {
      b.tokens = Math.min(cap, b.tokens + elapsed * this.#rate * (cap / this.#burst));
      b.last = now;
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /**
   * Forgets sources whose bucket has refilled (they are indistinguishable from new ones).
   *
   * @param now the current time in ms
   */
  sweep(now: number): void {
    for (const [key, b] of this.#buckets) {
      if (b.tokens + (now - b.last) * this.#rate >= this.#burst) this.#buckets.delete(key);
    }
  }
}
