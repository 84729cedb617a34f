/**
 * Per-source request limiting: one token bucket per source address.
 * @module
 */

interface Bucket {
  tokens: number;
  last: number;
  /** The source: host and port; buckets of sources with the same port are chained. */
  host: string;
  port: number;
  next: Bucket | undefined;
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
  /** Buckets by port (an integer key hashes cheaply), chained by host. */
  readonly #byPort = new Map<number, Bucket>();
  #count = 0;
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
    this.#overflow = {
      tokens: this.#burst * 16,
      last: -Infinity,
      host: "",
      port: -1,
      next: undefined,
    };
  }

  /** Sources currently tracked. */
  get size(): number {
    return this.#count;
  }

  /**
   * Takes one token for `source`.
   *
   * @param host the source host
   * @param port the source port
   * @param now the current time in ms
   * @returns false when the source is over its rate
   */
  allow(host: string, port: number, now: number): boolean {
    const head = this.#byPort.get(port);
    let b = head;
    while (b !== undefined && b.host !== host) b = b.next;
    let cap = this.#burst;
    if (b === undefined) {
      if (this.#count >= this.#max) {
        b = this.#overflow;
        cap = this.#burst * 16;
      } else {
        b = { tokens: this.#burst, last: now, host, port, next: head };
        this.#byPort.set(port, b);
        this.#count++;
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
    for (const [port, head] of this.#byPort) {
      let keep: Bucket | undefined;
      for (let b: Bucket | undefined = head; b !== undefined;) {
        const next: Bucket | undefined = b.next;
        if (b.tokens + (now - b.last) * this.#rate >= this.#burst) {
          this.#count--;
        } else {
          b.next = keep;
          keep = b;
        }
        b = next;
      }
      if (keep === undefined) this.#byPort.delete(port);
      else if (keep !== head) this.#byPort.set(port, keep);
    }
  }
}
