/**
 * RATE values of `--max-upload`, `--max-download` and the prompt's `limit` command. The CLI
 * counts in binary units (sizes in MiB, rates in MiB/s): `K`, `M` and `G` are KiB/s, MiB/s and
 * GiB/s (an `iB`, `iB/s` or `/s` after them is accepted), a plain number is bytes/s, and `off`
 * or `0` is no cap.
 * @module
 */
import { formatRate } from "./progress.ts";

/** The smallest cap accepted, bytes/s (below it a single block request takes seconds). */
export const MIN_RATE = 1024;

/** What a RATE looks like, for error messages. */
export const RATE_HINT =
  "expected bytes/s or a number with K, M or G (KiB/s, MiB/s, GiB/s), at least 1K, or off";

const UNITS: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
const RATE = /^(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?(?:\/s)?$/i;

/**
 * Parses a RATE.
 *
 * @param raw the value as typed, e.g. `10M`, `512K`, `1.5G`, `250000`, `off`
 * @returns bytes per second; Infinity for `off` or `0`
 * @throws {RangeError} with a one-line message for anything else, or a cap under 1 KiB/s
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseRate } from "./rate_flag.ts";
 *
 * assert.equal(parseRate("10M"), 10 * 1024 * 1024);
 * assert.equal(parseRate("512KiB/s"), 512 * 1024);
 * assert.equal(parseRate("off"), Infinity);
 * ```
 */
export function parseRate(raw: string): number {
  const text = raw.trim();
  if (/^off$/i.test(text)) return Infinity;
  const m = RATE.exec(text);
  const rate = m ? Math.floor(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!) : NaN;
  if (rate === 0 && Number(m?.[1]) === 0) return Infinity;
  if (!(rate >= MIN_RATE) || !Number.isSafeInteger(rate)) {
    throw new RangeError(`${RATE_HINT}; got "${raw}"`);
  }
  return rate;
}

/**
 * A cap as the CLI shows it.
 *
 * @param bytesPerSecond the cap (Infinity: none)
 * @returns e.g. `20.0 MiB/s`, or `off`
 */
export function formatCap(bytesPerSecond: number): string {
  return bytesPerSecond === Infinity ? "off" : formatRate(bytesPerSecond);
}
