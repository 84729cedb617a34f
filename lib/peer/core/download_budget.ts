/**
 * The peer-wide download rate cap (`--max-download`), pure: one {@link TokenBucket} of bytes
 * that every download of a peer draws on before it sends a BLOCK_REQUEST, so owners are only
 * ever asked for bytes the cap allows and the cap holds without a single datagram dropped.
 *
 * Fairness is start-time fair queuing by bytes: each download holds a {@link BudgetShare} with a
 * tag (the bytes it drew), and the budget's virtual time is the latest start tag of a draw; a
 * tag is never more than a burst behind it (no more credit than that for time a download did
 * not want the cap). A share may draw only while its tag is within one burst of those of the
 * shares waiting for the cap (held back and not served since, for at most {@link ACTIVE_MS}).
 * So downloads the cap limits split it equally, and a download its owners limit to less takes
 * what it can first and leaves the rest to the others (max-min fair).
 * @module
 */
import { capBurst, TokenBucket } from "../../net/token_bucket.ts";

/** A share is active this long after the cap last held it back, ms. */
export const ACTIVE_MS = 250;

/** Options for {@link DownloadBudget}. */
export interface DownloadBudgetOptions {
  /** Bytes per second over all downloads; Infinity for no cap. @default Infinity */
  ratePerSecond?: number;
  /** The time it is created, ms. @default 0 */
  now?: number;
}

/**
 * A peer's download rate cap shared by its downloads (see the module doc). No method allocates
 * once every share has been active once.
 *
 * @example Two downloads held to 1 MiB/s share it
 * ```ts
 * import assert from "node:assert/strict";
 * import { DownloadBudget } from "./download_budget.ts";
 *
 * const budget = new DownloadBudget({ ratePerSecond: 1024 * 1024 });
 * const a = budget.join();
 * const b = budget.join();
 * const got = [0, 0];
 * for (let now = 0; now < 10_000; now += 5) {
 *   for (const [i, s] of [a, b].entries()) {
 *     const n = s.available(now);
 *     if (n >= 16_384) { s.spend(16_384); got[i]! += 16_384; } else s.blocked(16_384, now);
 *   }
 * }
 * assert.ok(Math.abs(got[0]! - got[1]!) <= budget.burst + 16_384);
 * assert.ok(Math.abs(got[0]! + got[1]! - 10 * 1024 * 1024) <= budget.burst + 16_384);
 * ```
 */
export class DownloadBudget {
  #rate: number;
  #bucket: TokenBucket | undefined;
  /** Shares waiting for the cap. */
  readonly #waiting: BudgetShare[] = [];
  /** Virtual time: the start tag of the latest draw. */
  #v = 0;

  /**
   * Creates a budget.
   *
   * @param options the rate and the time
   * @throws {RangeError} for a rate that is not positive
   */
  constructor(options: DownloadBudgetOptions = {}) {
    this.#rate = Infinity;
    this.setRate(options.ratePerSecond ?? Infinity, options.now ?? 0);
  }

  /** Bytes per second over all downloads (Infinity: no cap). */
  get ratePerSecond(): number {
    return this.#rate;
  }

  /** Bytes the budget may hold at once (Infinity without a cap). */
  get burst(): number {
    return this.#bucket?.burst ?? Infinity;
  }

  /**
   * Changes the cap; the bytes saved up are kept up to the new burst.
   *
   * @param ratePerSecond bytes per second; Infinity removes the cap
   * @param now the time, ms
   * @throws {RangeError} for a rate that is not positive
   */
  setRate(ratePerSecond: number, now: number): void {
    if (!(ratePerSecond > 0)) {
      throw new RangeError(
        `Cannot set the download rate: it must be positive, got ${ratePerSecond}`,
      );
    }
    this.#rate = ratePerSecond;
    if (ratePerSecond === Infinity) {
      this.#bucket = undefined;
      return;
    }
    const old = this.#bucket;
    const bucket = new TokenBucket({ ratePerSecond, burst: capBurst(ratePerSecond), now });
    if (old) {
      old.refill(now);
      bucket.tokens = Math.min(old.tokens, bucket.burst);
    }
    this.#bucket = bucket;
  }

  /**
   * A share for one download.
   *
   * @returns the share its engine draws on
   */
  join(): BudgetShare {
    return new BudgetShare(this);
  }

  /** @internal Bytes the share may draw now. */
  _available(share: BudgetShare, now: number): number {
    const bucket = this.#bucket;
    if (!bucket) return Infinity;
    bucket.refill(now);
    if (bucket.tokens <= 0) return 0;
    this.#prune(now);
    if (share.tag > this.#least(share) + bucket.burst) return 0;
    return bucket.tokens;
  }

  /** @internal The share drew `bytes`. */
  _spend(share: BudgetShare, bytes: number): void {
    const start = Math.max(share.tag, this.#v - this.burst);
    if (start > this.#v) this.#v = start;
    share.tag = start + bytes;
    share.lastBlocked = -Infinity; // served: no longer waiting (pruned at the next look)
    this.#bucket?.spend(bytes);
  }

  /** @internal The cap held the share back: it becomes active; when to try again. */
  _blocked(share: BudgetShare, need: number, now: number): number | undefined {
    const bucket = this.#bucket;
    if (!bucket) return undefined;
    this.#prune(now);
    // No more than a burst of credit for the time it did not want the cap
    share.tag = Math.max(share.tag, this.#v - bucket.burst);
    if (!share.listed) {
      share.listed = true;
      this.#waiting.push(share);
    }
    share.lastBlocked = now;
    const ahead = share.tag - (this.#least(share) + bucket.burst);
    // Ahead of the others: wait while they draw (at most the whole rate) what it is ahead by
    if (ahead > 0) return now + Math.max(1, (ahead * 1000) / this.#rate);
    return now + Math.max(1, bucket.waitFor(Math.min(need, bucket.burst), now));
  }

  /** The least start tag of the shares waiting, but for `except` (Infinity with none). */
  #least(except: BudgetShare): number {
    let least = Infinity;
    const a = this.#waiting;
    for (let i = 0; i < a.length; i++) {
      const s = a[i]!;
      if (s !== except && s.tag < least) least = s.tag;
    }
    return least;
  }

  /** Forgets shares served since they waited, or not held back for {@link ACTIVE_MS}. */
  #prune(now: number): void {
    const a = this.#waiting;
    let j = 0;
    for (let i = 0; i < a.length; i++) {
      const s = a[i]!;
      if (s.lastBlocked + ACTIVE_MS >= now) a[j++] = s;
      else s.listed = false;
    }
    a.length = j;
  }
}

/**
 * One download's share of a {@link DownloadBudget}: before each BLOCK_REQUEST its engine asks
 * {@link available}, then {@link spend}s what it requested, or says it was {@link blocked} and
 * wakes at the time that returns.
 */
export class BudgetShare {
  /** Finish tag: bytes drawn, never more than a burst behind the budget's virtual time. */
  tag = 0;
  /** When the cap last held it back, ms (-Infinity once served since). */
  lastBlocked: number = -Infinity;
  /** Whether it is in its budget's list of waiting shares. */
  listed = false;
  readonly #budget: DownloadBudget;

  /**
   * Use {@link DownloadBudget.join}.
   *
   * @param budget the budget it draws on
   */
  constructor(budget: DownloadBudget) {
    this.#budget = budget;
  }

  /** Bytes the budget holds at most (a request larger than this never fits); Infinity uncapped. */
  get burst(): number {
    return this.#budget.burst;
  }

  /**
   * Bytes this download may request now (Infinity without a cap; 0 while it is a burst ahead of
   * the other capped downloads).
   *
   * @param now the time, ms
   * @returns bytes
   */
  available(now: number): number {
    return this.#budget._available(this, now);
  }

  /**
   * Counts bytes requested (a request may overdraw: the next ones wait longer).
   *
   * @param bytes bytes asked for
   */
  spend(bytes: number): void {
    this.#budget._spend(this, bytes);
  }

  /**
   * The cap held this download back while it wanted `need` bytes more.
   *
   * @param need bytes of the request it would have sent
   * @param now the time, ms
   * @returns when to ask again, ms (undefined without a cap)
   */
  blocked(need: number, now: number): number | undefined {
    return this.#budget._blocked(this, need, now);
  }
}
