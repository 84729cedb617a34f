/**
 * A download's progress clock and rate meter, pure: a report is due every
 * {@link PROGRESS_MS} ms (a late timer skips the missed ticks rather than bunching them), and
 * the rate is smoothed over reports (30 % of the latest interval's rate, 70 % of the previous
 * estimate; the first interval's rate as is).
 * @module
 */

/** A progress report this often, ms. */
export const PROGRESS_MS = 250;

/**
 * When progress is due, and how fast bytes arrive.
 *
 * @example Counted bytes become a rate at each report
 * ```ts
 * import assert from "node:assert/strict";
 * import { ProgressMeter } from "./progress_meter.ts";
 *
 * const meter = new ProgressMeter();
 * meter.start(0);
 * assert.equal(meter.dueAt, 250);
 * meter.count(25_000);
 * assert.equal(meter.tick(250), true);
 * assert.equal(meter.sample(250), 100_000); // bytes per second
 * meter.count(0);
 * assert.equal(meter.tick(800), true); // late: the 750 ms tick is skipped
 * assert.equal(meter.dueAt, 1050);
 * assert.equal(meter.sample(800), 70_000);
 * ```
 */
export class ProgressMeter {
  #dueAt: number | undefined;
  #bytes = 0;
  #at = 0;
  #rate = 0;

  /** When the next report is due, ms; undefined when not running. */
  get dueAt(): number | undefined {
    return this.#dueAt;
  }

  /** The smoothed rate at the last {@link sample}, bytes per second. */
  get rate(): number {
    return this.#rate;
  }

  /**
   * Starts the clock: the first report is due {@link PROGRESS_MS} after `now`.
   *
   * @param now the time, ms
   */
  start(now: number): void {
    this.#at = now;
    this.#dueAt = now + PROGRESS_MS;
  }

  /** Stops the clock: no report is due any more. */
  stop(): void {
    this.#dueAt = undefined;
  }

  /**
   * Counts bytes received.
   *
   * @param bytes data bytes
   */
  count(bytes: number): void {
    this.#bytes += bytes;
  }

  /**
   * Whether a report is due at `now`; if so, schedules the next.
   *
   * @param now the time, ms
   * @returns true when the caller should report
   */
  tick(now: number): boolean {
    if (this.#dueAt === undefined || now < this.#dueAt) return false;
    this.#dueAt += PROGRESS_MS;
    if (this.#dueAt <= now) this.#dueAt = now + PROGRESS_MS;
    return true;
  }

  /**
   * Folds the bytes counted since the last sample into the smoothed rate.
   *
   * @param now the time, ms
   * @returns the smoothed rate, bytes per second
   */
  sample(now: number): number {
    const dt = (now - this.#at) / 1000;
    if (dt > 0) {
      const inst = this.#bytes / dt;
      this.#rate = this.#rate === 0 ? inst : 0.7 * this.#rate + 0.3 * inst;
      this.#bytes = 0;
      this.#at = now;
    }
    return this.#rate;
  }
}
