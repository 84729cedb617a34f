/**
 * The uploader's address proof: a cookie that shows a requester receives datagrams at the IP
 * address its requests come from, so that a request with a forged source address gets no file
 * data (docs/PROTOCOL.md, _Anti-amplification_).
 *
 * The cookie is the tracker's {@link CookieJar} cookie computed over the IP address alone
 * ({@link packHost}), not the port: a downloader sends block requests from one data socket per
 * owner, all on one host, and a proof for an IP cannot reflect traffic at another host. It is
 * handed out in PROBE_ACK (as large as the PROBE, so no amplification) and checked in every
 * MANIFEST_REQUEST and BLOCK_REQUEST. The key rotates every `epochMs`; a cookie is valid in the
 * epoch that issued it and the next one.
 *
 * Checking is cheap: an HMAC costs far more than a map lookup (docs/FAULTS.md has both figures,
 * from address_cookies_bench.ts), so the two cookies an IP can validly hold (this
 * epoch's and the previous one's) are computed once per IP and epoch and kept in a bounded map;
 * a request then costs one map lookup and two `bigint` comparisons (and one HMAC per IP at each
 * key rotation). A request from an IP not in the map costs one HMAC, plus one more to fill the
 * map if its cookie is valid. Forged cookies never
 * enter the map; PROBEs from spoofed sources can evict entries (the map is bounded), which costs
 * HMACs later, never correctness. Pure: the clock and the randomness are passed in.
 * @module
 */
import { CookieJar, packHost } from "../../net/cookie_jar.ts";

/** Options for {@link AddressCookies}. */
export interface AddressCookiesOptions {
  /** How often the key rotates, ms; a cookie lives one to two epochs. @default 120000 */
  epochMs?: number;
  /** IP addresses whose cookies are kept; beyond it, the oldest entry is forgotten. @default 4096 */
  maxCached?: number;
  /** Source of key material. @default crypto.getRandomValues */
  randomBytes?: (n: number) => Uint8Array;
  /** The current time in ms, for the first epoch. @default 0 */
  now?: number;
}

/** The default cookie epoch: 2 minutes. */
export const DEFAULT_COOKIE_EPOCH_MS = 120_000;

interface Entry {
  /** The jar's epoch these cookies were computed in. */
  epoch: number;
  /** The cookie of that epoch. */
  current: bigint;
  /** The cookie of the epoch before, or 0n (never valid) when there was none. */
  previous: bigint;
}

/**
 * Issues and checks cookies bound to an IP address.
 *
 * @example A cookie works for its IP, from any port, and for no other IP
 * ```ts
 * import assert from "node:assert/strict";
 * import { AddressCookies } from "./address_cookies.ts";
 *
 * const cookies = new AddressCookies({ epochMs: 60_000, now: 0 });
 * const c = cookies.issue("192.0.2.7", 0);
 * assert.ok(cookies.check("192.0.2.7", c, 1_000));
 * assert.ok(!cookies.check("192.0.2.8", c, 1_000));
 * assert.ok(cookies.check("192.0.2.7", c, 100_000)); // next epoch: still valid
 * assert.ok(!cookies.check("192.0.2.7", c, 130_000)); // two rotations later: expired
 * ```
 */
export class AddressCookies {
  readonly #jar: CookieJar;
  readonly #cache = new Map<string, Entry>();
  readonly #maxCached: number;
  /** HMACs computed (issue and check), for tests and benchmarks. */
  hmacs = 0;

  /**
   * @param options epoch length, cache size, randomness and start time
   * @throws {RangeError} for an epoch or cache size that is not positive
   */
  constructor(options: AddressCookiesOptions = {}) {
    const randomBytes = options.randomBytes ??
      ((n: number) => crypto.getRandomValues(new Uint8Array(n)));
    this.#jar = new CookieJar(
      options.epochMs ?? DEFAULT_COOKIE_EPOCH_MS,
      randomBytes,
      options.now ?? 0,
    );
    const max = options.maxCached ?? 4096;
    if (!(max >= 1)) throw new RangeError(`Cannot create address cookies: maxCached is ${max}`);
    this.#maxCached = max;
  }

  /** The key rotation period, ms. */
  get epochMs(): number {
    return this.#jar.epochMs;
  }

  /** IP addresses with cookies in the cache. */
  get cached(): number {
    return this.#cache.size;
  }

  /**
   * The cookie for an IP address in the current epoch.
   *
   * @param hostname the requester's IP address, as the socket names it
   * @param now the current time in ms
   * @returns a non-zero cookie, or 0n when `hostname` is not an IP literal
   */
  issue(hostname: string, now: number): bigint {
    return this.#entry(hostname, now)?.current ?? 0n;
  }

  /**
   * Tells whether `cookie` proves `hostname`: it was issued for that IP in this epoch or the
   * previous one. 0n never does.
   *
   * @param hostname the source IP address of the request
   * @param cookie the cookie the request carries
   * @param now the current time in ms
   * @returns true when the cookie is valid for that IP now
   */
  check(hostname: string, cookie: bigint, now: number): boolean {
    if (cookie === 0n) return false;
    const jar = this.#jar;
    if (now >= jar.nextRotation) jar.rotate(now);
    let e = this.#cache.get(hostname);
    if (e !== undefined && e.epoch !== jar.epoch) {
      // Cached in the previous epoch: its cookie stays valid as the previous one (one HMAC for
      // the new current one); an older entry is of no use
      const packed = ((jar.epoch - e.epoch) >>> 0) === 1 ? packHost(hostname) : null;
      e = packed === null ? undefined : this.#fill(hostname, packed, e);
    }
    if (e !== undefined) return cookie === e.current || cookie === e.previous;
    // An IP not in the cache: one HMAC decides, and only a valid cookie fills the cache (so
    // forged cookies from spoofed sources cost one HMAC each and evict nothing)
    const packed = packHost(hostname);
    if (packed === null) return false;
    this.hmacs++;
    if (jar.verify(cookie, packed) !== "session") return false;
    this.#fill(hostname, packed, undefined, cookie);
    return true;
  }

  #entry(hostname: string, now: number): Entry | undefined {
    const jar = this.#jar;
    if (now >= jar.nextRotation) jar.rotate(now);
    const e = this.#cache.get(hostname);
    if (e !== undefined && e.epoch === jar.epoch) return e;
    const packed = packHost(hostname);
    if (packed === null) return undefined;
    return this.#fill(hostname, packed, e);
  }

  /**
   * Computes and caches both valid cookies of an IP for the current epoch, reusing what is known:
   * the entry of the previous epoch, or a cookie just verified (its parity bit says its epoch).
   */
  #fill(hostname: string, packed: Uint8Array, e: Entry | undefined, verified = 0n): Entry {
    const jar = this.#jar;
    const epoch = jar.epoch;
    const verifiedIsCurrent = verified !== 0n && Number(verified & 1n) === (epoch & 1);
    let previous: bigint;
    if (e !== undefined && ((epoch - e.epoch) >>> 0) === 1) {
      previous = e.current;
    } else if (verified !== 0n && !verifiedIsCurrent) {
      previous = verified;
    } else {
      previous = jar.issuePrevious(packed, "session") ?? 0n;
      if (previous !== 0n) this.hmacs++;
    }
    let current = verified;
    if (!verifiedIsCurrent) {
      current = jar.issue(packed, "session");
      this.hmacs++;
    }
    const fresh: Entry = { epoch, current, previous };
    if (this.#cache.has(hostname)) {
      this.#cache.delete(hostname);
    } else if (this.#cache.size >= this.#maxCached) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#cache.delete(oldest);
    }
    this.#cache.set(hostname, fresh);
    return fresh;
  }
}
