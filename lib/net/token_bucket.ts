/**
 * One token bucket, pure: it holds up to `burst` tokens and gains `ratePerSecond` of them per
 * second; a cost is paid in tokens (a request, or bytes). The tracker's per-source
 * {@link RateLimiter} and the uploader's per-requester and total byte budgets
 * ({@link UploadRules}) are made of these.
 * @module
 */
// deno-lint-ignore no-unused-vars
import type { RateLimiter } from "./rate_limiter.ts";
// deno-lint-ignore no-unused-vars
import type { UploadRules } from "../peer/core/upload_rules.ts";

/**
 * The burst of a user's rate cap (`--max-upload`, `--max-download`): 200 ms of the rate, at
 * least 64 KiB (a few block requests). A cap holds over any stretch much longer than that, and a
 * process that stalls for less (a busy machine, a GC pause) loses none of its rate.
 *
 * @param ratePerSecond bytes per second
 * @returns bytes
 */
export function capBurst(ratePerSecond: number): number {
  return Math.max(64 * 1024, Math.ceil(ratePerSecond / 5));
}

/** Options for {@link TokenBucket}. */
export interface TokenBucketOptions {
  /** Tokens gained per second (Infinity: always full). */
  ratePerSecond: number;
  /** Tokens held at most. */
  burst: number;
  /** The time it is created, ms; -Infinity makes it full at its first use. @default -Infinity */
  now?: number;
}

/**
 * A token bucket. Pure: the caller passes the time; no method allocates.
 *
 * @example A burst of 3, then 10 per second
 * ```ts
 * import assert from "node:assert/strict";
 * import { TokenBucket } from "./token_bucket.ts";
 *
 * const bucket = new TokenBucket({ ratePerSecond: 10, burst: 3, now: 0 });
 * assert.deepEqual([1, 2, 3, 4].map(() => bucket.take(1, 0)), [true, true, true, false]);
 * assert.equal(bucket.waitFor(1, 50), 50); // half a token: 50 ms to go
 * assert.equal(bucket.take(1, 100), true);
 * ```
 */
export class TokenBucket {
  /** Tokens gained per second. */
  readonly ratePerSecond: number;
  /** Tokens held at most. */
  readonly burst: number;
  /** Tokens held at {@link at} (negative after a {@link spend} beyond them). */
  tokens: number;
  /** When {@link tokens} was last brought up to date, ms. */
  at: number;

  /**
   * Creates a full bucket.
   *
   * @param options rate, burst and the time
   */
  constructor(options: TokenBucketOptions) {
    this.ratePerSecond = options.ratePerSecond;
    this.burst = options.burst;
    this.tokens = options.burst;
    this.at = options.now ?? -Infinity;
  }

  /**
   * Adds the tokens gained since the last call, up to the burst.
   *
   * @param now the time, ms
   */
  refill(now: number): void {
    if (this.ratePerSecond === Infinity) {
      this.tokens = this.burst;
      this.at = now;
    } else if (now > this.at) {
      this.tokens = Math.min(
        this.burst,
        this.tokens + ((now - this.at) * this.ratePerSecond) / 1000,
      );
      this.at = now;
    }
  }

  /**
   * Refills, then tells how long until the bucket holds `cost` tokens.
   *
   * @param cost tokens wanted
   * @param now the time, ms
   * @returns ms to wait; 0 when it holds them now
   */
  waitFor(cost: number, now: number): number {
    this.refill(now);
    return this.tokens >= cost ? 0 : ((cost - this.tokens) * 1000) / this.ratePerSecond;
  }

  /**
   * Takes `cost` tokens if the bucket holds them.
   *
   * @param cost tokens to take
   * @param now the time, ms
   * @returns false (and nothing taken) when it holds fewer
   */
  take(cost: number, now: number): boolean {
    this.refill(now);
    if (this.tokens < cost) return false;
    this.tokens -= cost;
    return true;
  }

  /**
   * Takes `cost` tokens unconditionally (after {@link waitFor} said 0).
   *
   * @param cost tokens to take
   */
  spend(cost: number): void {
    this.tokens -= cost;
  }

  /**
   * Whether the bucket would be full at `now` (it then says nothing a new one would not).
   * Does not change it.
   *
   * @param now the time, ms
   * @returns true when full
   */
  fullAt(now: number): boolean {
    return this.tokens + ((now - this.at) * this.ratePerSecond) / 1000 >= this.burst;
  }
}
