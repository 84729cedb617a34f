/**
 * "Log once per source per minute": remembers when a key was last reported.
 * @module
 */

/** Decides whether a repeated event should be reported again. Pure: the caller passes the time. */
export class LogThrottle {
  readonly #windowMs: number;
  readonly #max: number;
  readonly #last = new Map<string, number>();
  /** Reports suppressed since the last sweep. */
  suppressed = 0;

  /**
   * @param windowMs report a key at most once per window
   * @param maxKeys keys remembered at once; past that, new keys are suppressed until a sweep
   */
  constructor(windowMs: number, maxKeys = 65536) {
    this.#windowMs = windowMs;
    this.#max = maxKeys;
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
    this.#last.set(key, now);
    return true;
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
