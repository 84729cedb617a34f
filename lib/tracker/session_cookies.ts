/**
 * The session cookies this tracker issued in the current cookie epoch, per source (address and
 * port), for the shared-store path: a heartbeat or request carrying the cookie issued to its
 * source is verified by comparing two integers, and a heartbeat's reply reuses it, instead of
 * two HMACs (one to verify, one to issue; ~5 µs each through `node:crypto` here).
 *
 * Exactly as strict as the HMAC: a session cookie is a function of (key of the epoch, source),
 * so the cookie issued to a source this epoch is the only current-epoch cookie it can hold. A
 * cookie that is not the cached one (one of the previous epoch, another tracker's before this
 * one issued any, a forgery) goes to the HMAC as before. The cache is dropped when the epoch
 * changes and when it holds `max` sources (as the tracker's other per-source caches). The
 * memory store keeps the cookie in the peer's row instead (tracker_core.ts, the fast path).
 * @module
 */

/** Session cookies issued this epoch, by source. */
export class SessionCookies {
  readonly #max: number;
  /** hostname → port → cookie halves (hi · 2³² + lo). */
  #byHost = new Map<string, Map<number, number[]>>();
  #size = 0;
  #epoch = -1;

  /**
   * @param max sources held at most (then the cache starts over)
   */
  constructor(max = 65_536) {
    this.#max = max;
  }

  /**
   * The cookie issued to a source in `epoch`.
   *
   * @param hostname the source's address
   * @param port the source's port
   * @param epoch the jar's current epoch
   * @returns `[hi, lo]`, or undefined when none is cached
   */
  get(hostname: string, port: number, epoch: number): readonly number[] | undefined {
    if (epoch !== this.#epoch) return undefined;
    return this.#byHost.get(hostname)?.get(port);
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
    const c = this.get(hostname, port, epoch);
    return c !== undefined && c[0] === hi && c[1] === lo;
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
    if (epoch !== this.#epoch || this.#size >= this.#max) {
      this.#byHost = new Map();
      this.#size = 0;
      this.#epoch = epoch;
    }
    let ports = this.#byHost.get(hostname);
    if (ports === undefined) {
      ports = new Map();
      this.#byHost.set(hostname, ports);
    }
    if (!ports.has(port)) this.#size++;
    ports.set(port, [hi, lo]);
  }
}
