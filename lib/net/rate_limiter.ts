/**
 * Per-source request limiting: one {@link TokenBucket} per source address.
 * @module
 */
import { TokenBucket } from "./token_bucket.ts";

/** A source's bucket; buckets of sources with the same port are chained. */
class Bucket extends TokenBucket {
  readonly host: string;
  readonly port: number;
  next: Bucket | undefined;

  constructor(rate: number, burst: number, now: number, host: string, port: number) {
    super({ ratePerSecond: rate, burst, now });
    this.host = host;
    this.port = port;
  }
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
    this.#rate = options.ratePerSecond;
    this.#burst = options.burst;
    this.#max = options.maxSources;
    // The overflow bucket is shared by every untracked source: give it room for many of them.
    this.#overflow = new Bucket(this.#rate * 16, this.#burst * 16, -Infinity, "", -1);
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
    if (b === undefined) {
      if (this.#count >= this.#max) {
        b = this.#overflow;
      } else {
        b = new Bucket(this.#rate, this.#burst, now, host, port);
        b.next = head;
        this.#byPort.set(port, b);
        this.#count++;
      }
    }
    return b.take(1, now);
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
        if (b.fullAt(now)) {
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
