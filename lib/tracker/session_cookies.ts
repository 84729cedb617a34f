/**
 * The session cookies this tracker issued in the current cookie epoch, per source (address and
 * port), for the shared-store path: a heartbeat or request carrying the cookie issued to its
 * source is verified by comparing two integers, and a heartbeat's reply reuses it, instead of
 * two HMACs (one to verify, one to issue; ~5 µs each through `node:crypto` here).
 *
 * Exactly as strict as the HMAC: a session cookie is a function of (key of the epoch, source),
 * so the cookie issued to a source this epoch is the only current-epoch cookie it can hold. A
 * cookie that is not the cached one (one of the previous epoch, another tracker's before this
 * one issued any, a forgery, or one whose slot another source took) goes to the HMAC as before.
 *
 * The cache can always be derived again, so it is small and fixed: a direct-mapped table of
 * `slots` entries (typed-array columns and one string column, allocated at the first `set`),
 * indexed by a hash of the source; a source whose slot another one took is simply recomputed.
 * The memory store keeps the cookie in the peer's row instead (tracker_core.ts, the fast path).
 * @module
 */
import { hashString } from "./store/string_table.ts";

/** Session cookies issued this epoch, by source. */
export class SessionCookies {
  readonly #mask: number;
  #port: Int32Array | undefined;
  #epoch: Int32Array | undefined;
  #hi: Uint32Array | undefined;
  #lo: Uint32Array | undefined;
  readonly #host: (string | undefined)[] = [];
  readonly #out = [0, 0];

  /**
   * @param slots entries held at most (rounded up to a power of two; a source whose slot is
   *   taken by another is recomputed)
   */
  constructor(slots = 65_536) {
    let n = 1;
    while (n < slots) n *= 2;
    this.#mask = n - 1;
  }

  /**
   * The cookie issued to a source in `epoch`.
   *
   * @param hostname the source's address
   * @param port the source's port
   * @param epoch the jar's current epoch
   * @returns `[hi, lo]` (valid until the next call), or undefined when none is cached
   */
  get(hostname: string, port: number, epoch: number): readonly number[] | undefined {
    const i = this.#find(hostname, port, epoch);
    if (i < 0) return undefined;
    this.#out[0] = this.#hi![i]!;
    this.#out[1] = this.#lo![i]!;
    return this.#out;
  }

  /**
   * Whether `cookie` is the one issued to the source in `epoch`.
   *
   * @param hostname the source's address
   * @param port the source's port
   * @param epoch the jar's current epoch
   * @param hi the cookie's high 32 bits
   * @param lo the cookie's low 32 bits
   * @returns true when it is (no HMAC needed)
   */
  holds(hostname: string, port: number, epoch: number, hi: number, lo: number): boolean {
    const i = this.#find(hostname, port, epoch);
    return i >= 0 && this.#hi![i] === hi && this.#lo![i] === lo;
  }

  /**
   * Notes the session cookie just issued to a source.
   *
   * @param hostname the source's address
   * @param port the source's port
   * @param epoch the jar's epoch it was issued in
   * @param hi the cookie's high 32 bits
   * @param lo the cookie's low 32 bits
   */
  set(hostname: string, port: number, epoch: number, hi: number, lo: number): void {
    if (this.#port === undefined) {
      const n = this.#mask + 1;
      this.#port = new Int32Array(n).fill(-1);
      this.#epoch = new Int32Array(n);
      this.#hi = new Uint32Array(n);
      this.#lo = new Uint32Array(n);
    }
    const i = hashString(hostname, port) & this.#mask;
    this.#host[i] = hostname;
    this.#port[i] = port;
    this.#epoch![i] = epoch;
    this.#hi![i] = hi;
    this.#lo![i] = lo;
  }

  /** The slot holding the source's cookie of `epoch`, or -1. */
  #find(hostname: string, port: number, epoch: number): number {
    if (this.#port === undefined) return -1;
    const i = hashString(hostname, port) & this.#mask;
    return this.#port[i] === port && this.#epoch![i] === epoch && this.#host[i] === hostname
      ? i
      : -1;
  }
}
