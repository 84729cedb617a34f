/**
 * Fair shares of an uploader between requesters' IP addresses and address prefixes, sans-I/O.
 *
 * A requester with a valid address cookie is a real socket, but one host can open a thousand of
 * them (issue 11: valid-cookie 4 MiB requests from 1,000 ports at an owner made an honest `get`
 * from it fail). Per-source token buckets do not help against that: each port has its own. So
 * the uploader also accounts by **IP address** and by **prefix** (/24 for IPv4, /48 for IPv6:
 * many addresses of one network count as one), in windows of `windowMs`:
 *
 * - While one IP (prefix) alone asks, it gets everything: the rule never idles the uploader.
 * - While several ask, each may use in a window its *fair share*, `capacity / active`, or more
 *   when the others use less: `capacity − Σ others' min(used, fair share)` of the previous window
 *   (max-min fairness over demands). `capacity` is the most the uploader sent in a recent window
 *   (a peak that decays by 5 % per window, never under `minCapacity`), so it follows what the
 *   uploader can do.
 * - A request over its group's allowance is refused (the driver answers ERROR busy, which costs
 *   far less than the data), so an honest requester's requests find room in every window
 *   whatever the others send. Every group may always have one request admitted per window.
 *
 * Pure: the clock comes in as `now`. Memory: one small entry per active IP and prefix, dropped
 * after two idle windows; at most `maxGroups` of each (the least recently seen go first).
 * @module
 */
import { parseIPv4, parseIPv6 } from "../../wire/address.ts";

/** Options for {@link FairShare}. */
export interface FairShareOptions {
  /** Accounting window, ms. @default 100 */
  windowMs?: number;
  /** IP addresses and prefixes tracked, each; beyond it the least recently seen go. @default 4096 */
  maxGroups?: number;
  /**
   * The least capacity assumed, bytes per window: before the uploader has shown what it can
   * send (at start, or after a quiet time), requesters share this much. @default 8388608
   */
  minCapacity?: number;
}

interface Group {
  /** Bytes admitted in the current window. */
  used: number;
  /** Bytes admitted in the previous window. */
  prev: number;
  /** The window this entry's `used` belongs to. */
  window: number;
}

/** One level of accounting: IP addresses, or prefixes. */
class Level {
  readonly groups = new Map<string, Group>();
  /** Σ over the previous window's groups of min(prev, fair share of that window). */
  fairSum = 0;
  /** Groups that asked in the previous or the current window. */
  active = 0;
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  get(key: string, window: number): Group {
    let g = this.groups.get(key);
    if (g === undefined) {
      g = { used: 0, prev: 0, window };
      this.active++; // a group that starts asking counts at once, not from the next window
      if (this.groups.size >= this.#max) {
        const oldest = this.groups.keys().next().value;
        if (oldest !== undefined) this.groups.delete(oldest);
      }
    } else {
      this.groups.delete(key); // re-inserted: the map stays ordered by last use
      if (g.window !== window) {
        g.prev = g.window === window - 1 ? g.used : 0;
        g.used = 0;
        g.window = window;
      }
    }
    this.groups.set(key, g);
    return g;
  }

  /** A new window began: recount the active groups and the fair sum of the window that ended. */
  roll(window: number, capacity: number): void {
    let active = 0;
    for (const [key, g] of this.groups) {
      if (g.window < window - 1) this.groups.delete(key);
      else active++;
    }
    const fair = capacity / Math.max(1, active);
    let sum = 0;
    for (const g of this.groups.values()) {
      const last = g.window === window - 1 ? g.used : g.prev;
      sum += Math.min(last, fair);
    }
    this.active = active;
    this.fairSum = sum;
  }

  /** What `g` may use in this window. */
  allowance(g: Group, capacity: number): number {
    const active = Math.max(1, this.active);
    if (active <= 1) return Infinity;
    const fair = capacity / active;
    return Math.max(fair, capacity - (this.fairSum - Math.min(g.prev, fair)));
  }
}

/**
 * See the module doc.
 *
 * @example Alone, a host gets everything; beside another, no more than the room it leaves
 * ```ts
 * import assert from "node:assert/strict";
 * import { FairShare } from "./fair_share.ts";
 *
 * const fair = new FairShare({ windowMs: 100 });
 * let t = 0;
 * for (; t < 300; t += 10) assert.ok(fair.admit("198.51.100.7", 4 << 20, t)); // 40 MiB/window
 * // Another network starts asking for 1 MiB per window: the heavy host is held to the rest
 * let heavy = 0, light = 0;
 * for (; t < 1_300; t += 10) {
 *   if (fair.admit("203.0.113.9", 100_000, t)) light += 100_000;
 *   if (fair.admit("198.51.100.7", 4 << 20, t)) heavy += 4 << 20;
 * }
 * assert.equal(light, 100 * 100_000); // every light request went through
 * assert.ok(heavy > 0);
 * ```
 */
export class FairShare {
  readonly #windowMs: number;
  readonly #ips: Level;
  readonly #prefixes: Level;
  #window = -1;
  /** Bytes admitted in the current window. */
  #total = 0;
  /** The most admitted in a recent window (decays 5 % per window). */
  #capacity = 0;
  readonly #minCapacity: number;
  /** Requests refused so far (for counters and tests). */
  refused = 0;
  /** {@link prefixOf} of recent requesters (parsing an address per request is costly). */
  readonly #prefixOf = new Map<string, string>();
  readonly #maxGroups: number;

  /**
   * @param options window length and table sizes
   * @throws {RangeError} for a window or table size that is not positive
   */
  constructor(options: FairShareOptions = {}) {
    this.#windowMs = options.windowMs ?? 100;
    const max = options.maxGroups ?? 4096;
    if (!(this.#windowMs > 0) || !(max >= 1)) {
      throw new RangeError(
        `Cannot create fair shares: windowMs ${this.#windowMs} and maxGroups ${max} must be positive`,
      );
    }
    this.#minCapacity = options.minCapacity ?? 8 * 1024 * 1024;
    this.#capacity = this.#minCapacity;
    this.#maxGroups = max;
    this.#ips = new Level(max);
    this.#prefixes = new Level(max);
  }

  /** IP addresses and prefixes that asked in the previous or the current window. */
  get active(): { ips: number; prefixes: number } {
    return { ips: this.#ips.active, prefixes: this.#prefixes.active };
  }

  /**
   * Decides whether a request of `bytes` from `hostname` fits its IP's and its prefix's
   * allowance now, and counts it when it does.
   *
   * @param hostname the requester's IP address
   * @param bytes bytes the request would send
   * @param now current time, ms
   * @returns true when admitted (and counted); false when over a share
   */
  admit(hostname: string, bytes: number, now: number): boolean {
    const window = Math.floor(now / this.#windowMs);
    if (window !== this.#window) this.#roll(window);
    const ip = this.#ips.get(hostname, window);
    let key = this.#prefixOf.get(hostname);
    if (key === undefined) {
      if (this.#prefixOf.size >= this.#maxGroups) this.#prefixOf.clear();
      key = prefixOf(hostname);
      this.#prefixOf.set(hostname, key);
    }
    const prefix = this.#prefixes.get(key, window);
    const cap = this.#capacity;
    // One request per window always fits: a share is never zero
    const fits = (lvl: Level, g: Group) => g.used === 0 || g.used + bytes <= lvl.allowance(g, cap);
    if (!fits(this.#ips, ip) || !fits(this.#prefixes, prefix)) {
      this.refused++;
      return false;
    }
    ip.used += bytes;
    prefix.used += bytes;
    this.#total += bytes;
    return true;
  }

  /** Milliseconds until the next window, when a refused group has a fresh allowance. */
  retryAfter(now: number): number {
    return Math.max(1, (Math.floor(now / this.#windowMs) + 1) * this.#windowMs - now);
  }

  #roll(window: number): void {
    const ended = window === this.#window + 1 ? this.#total : 0;
    this.#capacity = Math.max(ended, this.#capacity * 0.95, this.#minCapacity);
    this.#total = 0;
    this.#window = window;
    this.#ips.roll(window, this.#capacity);
    this.#prefixes.roll(window, this.#capacity);
  }
}

/** The /24 (IPv4) or /48 (IPv6) of an address, as a key; the address itself if unparsable. */
export function prefixOf(hostname: string): string {
  const v4 = parseIPv4(hostname);
  if (v4) return `${v4[0]}.${v4[1]}.${v4[2]}/24`;
  const v6 = parseIPv6(hostname);
  if (!v6) return hostname;
  // IPv4-mapped: the IPv4 /24
  if (v6.subarray(0, 10).every((b) => b === 0) && v6[10] === 0xff && v6[11] === 0xff) {
    return `${v6[12]}.${v6[13]}.${v6[14]}/24`;
  }
  const h = (i: number) => ((v6[i]! << 8) | v6[i + 1]!).toString(16);
  return `${h(0)}:${h(2)}:${h(4)}::/48`;
}
