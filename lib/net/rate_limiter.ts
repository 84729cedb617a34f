/**
 * Per-source request limiting: one token bucket per source address (ip, port).
 *
 * A tracker hears from up to `maxSources` sources at once, so a bucket is not an object: it is a
 * row of typed-array columns (tokens, last refill, chain link) in a {@link Rows} table, found
 * through a `Map` from port to the first row of that port and a chain of rows by host. Sweeping
 * frees the rows of refilled buckets and the table shrinks, so memory goes back when sources
 * fall silent. The arithmetic is {@link TokenBucket}'s.
 * @module
 */
import { Rows } from "../_util/rows.ts";
// deno-lint-ignore no-unused-vars
import type { TokenBucket } from "./token_bucket.ts";

const NIL = -1;

const bucketCols = (n: number) => ({
  /** Tokens held at `at`. */
  tokens: new Float64Array(n),
  /** When `tokens` was last brought up to date, ms. */
  at: new Float64Array(n),
  /** The next bucket of the same port. */
  next: new Int32Array(n),
  port: new Uint16Array(n),
});

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
  /** First bucket row by port (an integer key hashes cheaply), chained by host. */
  readonly #byPort = new Map<number, number>();
  readonly #rows = new Rows(bucketCols, 1);
  readonly #hostOf = this.#rows.strs[0]!;
  /** The overflow bucket, shared by every untracked source (16 × the rate and burst). */
  #overflowTokens: number;
  #overflowAt = -Infinity;

  /** @param options rate, burst and the number of sources tracked */
  constructor(options: RateLimiterOptions) {
    if (!(options.ratePerSecond > 0) || !(options.burst >= 1)) {
      throw new RangeError(
        `Cannot create rate limiter: rate ${options.ratePerSecond}/s and burst ${options.burst} must be positive`,
      );
    }
    this.#rate = options.ratePerSecond;
    this.#burst = options.burst;
    this.#max = options.maxSources;
    this.#overflowTokens = this.#burst * 16;
  }

  /** Sources currently tracked. */
  get size(): number {
    return this.#rows.live;
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
    const head = this.#byPort.get(port) ?? NIL;
    let b = head;
    let c = this.#rows.cols;
    while (b !== NIL && this.#hostOf[b] !== host) b = c.next[b]!;
    if (b === NIL) {
      if (this.#rows.live >= this.#max) return this.#takeOverflow(now);
      b = this.#rows.alloc();
      c = this.#rows.cols;
      c.tokens[b] = this.#burst;
      c.at[b] = now;
      c.next[b] = head;
      c.port[b] = port;
      this.#hostOf[b] = host;
      this.#byPort.set(port, b);
    }
    let tokens = c.tokens[b]!;
    if (this.#rate === Infinity) {
      tokens = this.#burst;
      c.at[b] = now;
    } else if (now > c.at[b]!) {
      tokens = Math.min(this.#burst, tokens + ((now - c.at[b]!) * this.#rate) / 1000);
      c.at[b] = now;
    }
    if (tokens < 1) {
      c.tokens[b] = tokens;
      return false;
    }
    c.tokens[b] = tokens - 1;
    return true;
  }

  /**
   * Forgets sources whose bucket has refilled (they are indistinguishable from new ones).
   *
   * @param now the current time in ms
   */
  sweep(now: number): void {
    const rate = this.#rate, burst = this.#burst;
    for (const [port, head] of this.#byPort) {
      let keep = NIL;
      for (let b = head; b !== NIL;) {
        const c = this.#rows.cols;
        const next = c.next[b]!;
        if (c.tokens[b]! + ((now - c.at[b]!) * rate) / 1000 >= burst) {
          this.#rows.release(b);
        } else {
          c.next[b] = keep;
          keep = b;
        }
        b = next;
      }
      if (keep === NIL) this.#byPort.delete(port);
      else if (keep !== head) this.#byPort.set(port, keep);
    }
  }

  #takeOverflow(now: number): boolean {
    const rate = this.#rate * 16, burst = this.#burst * 16;
    if (rate === Infinity) {
      this.#overflowTokens = burst;
      this.#overflowAt = now;
    } else if (now > this.#overflowAt) {
      this.#overflowTokens = Math.min(
        burst,
        this.#overflowTokens + ((now - this.#overflowAt) * rate) / 1000,
      );
      this.#overflowAt = now;
    }
    if (this.#overflowTokens < 1) return false;
    this.#overflowTokens -= 1;
    return true;
  }
}
