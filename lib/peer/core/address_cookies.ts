/**
 * The uploader's address proof: a cookie that shows a requester receives datagrams at the
 * address **and port** its requests come from, so that a request with a forged source gets no
 * file data (docs/PROTOCOL.md, _Anti-amplification_).
 *
 * The cookie is the tracker's {@link CookieJar} cookie computed over the IP address and the UDP
 * port ({@link packAddress}), as the tracker's is. A cookie bound to the IP alone would let anyone
 * who can receive at one port of an address reflect data at every other port of it (hosts behind
 * one NAT, shared hosts: issue 11 measured 16.8 MB sent to another port for 5 requests of 65
 * bytes); so a downloader asks for a cookie from each socket it sends requests from (it sends
 * all of one owner's traffic from one socket: docs/PROTOCOL.md, _The peer cookie_). It is handed
 * out in PROBE_ACK (as large as the PROBE, so no amplification) and checked in every
 * MANIFEST_REQUEST and BLOCK_REQUEST. The key rotates every `epochMs`; a cookie is valid in the
 * epoch that issued it and the next one.
 *
 * Checking is cheap: an HMAC costs far more than a map lookup (docs/FAULTS.md has both figures,
 * from address_cookies_bench.ts), so the two cookies an address can validly hold (this epoch's
 * and the previous one's) are computed once per address and epoch and kept in a bounded map; a
 * request then costs one map lookup and two `bigint` comparisons (and one HMAC per address at each
 * key rotation). A request from an address not in the map costs one HMAC, plus one more to fill
 * the map if its cookie is valid. Forged cookies never enter the map; PROBEs from spoofed sources
 * can evict entries (the map is bounded), which costs HMACs later, never correctness. Pure: the
 * clock and the randomness are passed in.
 * @module
 */
import { CookieJar, packAddress } from "../../net/cookie_jar.ts";
import { addressKey } from "../../net/host_port.ts";

/** A UDP source: an IP literal and a port. */
export interface CookieSource {
  /** The IP address, as the socket names it. */
  readonly hostname: string;
  /** The UDP port. */
  readonly port: number;
}

/** Options for {@link AddressCookies}. */
export interface AddressCookiesOptions {
  /** How often the key rotates, ms; a cookie lives one to two epochs. @default 120000 */
  epochMs?: number;
  /** Addresses (IP and port) whose cookies are kept; beyond it, the oldest is forgotten. @default 4096 */
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
 * Issues and checks cookies bound to an IP address and a UDP port.
 *
 * @example A cookie works for its address and port only
 * ```ts
 * import assert from "node:assert/strict";
 * import { AddressCookies } from "./address_cookies.ts";
 *
 * const cookies = new AddressCookies({ epochMs: 60_000, now: 0 });
 * const a = { hostname: "192.0.2.7", port: 4000 };
 * const c = cookies.issue(a, 0);
 * assert.ok(cookies.check(a, c, 1_000));
 * assert.ok(!cookies.check({ hostname: "192.0.2.7", port: 4001 }, c, 1_000)); // another port
 * assert.ok(!cookies.check({ hostname: "192.0.2.8", port: 4000 }, c, 1_000)); // another IP
 * assert.ok(cookies.check(a, c, 100_000)); // next epoch: still valid
 * assert.ok(!cookies.check(a, c, 130_000)); // two rotations later: expired
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

  /** Addresses with cookies in the cache. */
  get cached(): number {
    return this.#cache.size;
  }

  /**
   * The cookie for an address and port in the current epoch.
   *
   * @param from the requester's IP address (as the socket names it) and port
   * @param now the current time in ms
   * @returns a non-zero cookie, or 0n when `from.hostname` is not an IP literal
   */
  issue(from: CookieSource, now: number): bigint {
    return this.#entry(from, now)?.current ?? 0n;
  }

  /**
   * Tells whether `cookie` proves `from`: it was issued for that IP address and port in this
   * epoch or the previous one. 0n never does.
   *
   * @param from the source address and port of the request
   * @param cookie the cookie the request carries
   * @param now the current time in ms
   * @returns true when the cookie is valid for that source now
   */
  check(from: CookieSource, cookie: bigint, now: number): boolean {
    if (cookie === 0n) return false;
    const jar = this.#jar;
    if (now >= jar.nextRotation) jar.rotate(now);
    const key = addressKey(from);
    let e = this.#cache.get(key);
    if (e !== undefined && e.epoch !== jar.epoch) {
      // Cached in the previous epoch: its cookie stays valid as the previous one (one HMAC for
      // the new current one); an older entry is of no use
      const packed = ((jar.epoch - e.epoch) >>> 0) === 1 ? pack(from) : null;
      e = packed === null ? undefined : this.#fill(key, packed, e);
    }
    if (e !== undefined) return cookie === e.current || cookie === e.previous;
    // A source not in the cache: one HMAC decides, and only a valid cookie fills the cache (so
    // forged cookies from spoofed sources cost one HMAC each and evict nothing)
    const packed = pack(from);
    if (packed === null) return false;
    this.hmacs++;
    if (jar.verify(cookie, packed) !== "session") return false;
    this.#fill(key, packed, undefined, cookie);
    return true;
  }

  #entry(from: CookieSource, now: number): Entry | undefined {
    const jar = this.#jar;
    if (now >= jar.nextRotation) jar.rotate(now);
    const key = addressKey(from);
    const e = this.#cache.get(key);
    if (e !== undefined && e.epoch === jar.epoch) return e;
    const packed = pack(from);
    if (packed === null) return undefined;
    return this.#fill(key, packed, e);
  }

  /**
   * Computes and caches both valid cookies of an address for the current epoch, reusing what is known:
   * the entry of the previous epoch, or a cookie just verified (its parity bit says its epoch).
   */
  #fill(key: string, packed: Uint8Array, e: Entry | undefined, verified = 0n): Entry {
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
    if (this.#cache.has(key)) {
      this.#cache.delete(key);
    } else if (this.#cache.size >= this.#maxCached) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#cache.delete(oldest);
    }
    this.#cache.set(key, fresh);
    return fresh;
  }
}

/** The packed address and port, or null for a port out of range or a host that is no IP. */
function pack(from: CookieSource): Uint8Array | null {
  const port = from.port;
  if (!(port >= 0 && port <= 0xffff) || !Number.isInteger(port)) return null;
  return packAddress(from.hostname, port);
}
