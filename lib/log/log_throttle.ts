/**
 * "Log once per source per minute, and at most so many lines a minute in all": remembers when a
 * key was last reported, and counts what it let through in the current window. Key incidents by
 * address, not address and port, or a sender that rotates ports gets one line per port.
 * @module
 */

/** Decides whether a repeated event should be reported again. Pure: the caller passes the time. */
export class LogThrottle {
  readonly #windowMs: number;
  readonly #max: number;
  readonly #last = new Map<string, number>();
  readonly #maxPerWindow: number;
  #windowStart = -Infinity;
  #windowCount = 0;
  /** Reports suppressed since the last sweep. */
  suppressed = 0;

  /**
   * @param windowMs report a key at most once per window
   * @param maxKeys keys remembered at once; past that, new keys are suppressed until a sweep
   * @param maxPerWindow reports let through per window, all keys together
   */
  constructor(windowMs: number, maxKeys = 65536, maxPerWindow = Infinity) {
    this.#windowMs = windowMs;
    this.#max = maxKeys;
    this.#maxPerWindow = maxPerWindow;
  }

  /**
   * @param key what happened and to whom (e.g. `rate_limited|1.2.3.4|5000`)
   * @param now the current time in ms
   * @returns true when this occurrence should be reported
   */
  shouldReport(key: string, now: number): boolean {
    const last = this.#last.get(key);
    if (last !== undefined && now - last < this.#windowMs) {
      this.suppressed++;
      return false;
    }
    if (last === undefined && this.#last.size >= this.#max) {
      this.suppressed++;
      return false;
    }
    if (now - this.#windowStart >= this.#windowMs) {
      this.#windowStart = now;
      this.#windowCount = 0;
    }
    if (this.#windowCount >= this.#maxPerWindow) {
      this.suppressed++;
      return false;
    }
    this.#windowCount++;
    this.#last.set(key, now);
    return true;
  }

  /**
   * The number of reports suppressed since the last call, and resets it.
   *
   * @returns the count
   */
  takeSuppressed(): number {
    const n = this.suppressed;
    this.suppressed = 0;
    return n;
  }

  /**
   * Forgets keys whose window has passed.
   *
   * @param now the current time in ms
   */
  sweep(now: number): void {
    for (const [key, at] of this.#last) {
      if (now - at >= this.#windowMs) this.#last.delete(key);
    }
  }
}
