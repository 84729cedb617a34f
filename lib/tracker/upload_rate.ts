/**
 * Upload rate as an exponentially weighted moving average that decays while a peer is idle.
 *
 * The rate is a low-pass filter of the bytes a peer reports: each UPDATE of `b` bytes at time
 * `t` adds `b / τ` bytes/s, and between UPDATEs the rate decays as `e^(−Δt/τ)`:
 *
 *     rate(t) = Σ bᵢ · e^(−(t − tᵢ)/τ) / τ
 *
 * A peer that uploads steadily at R bytes/s converges to R; an idle one halves every τ·ln 2.
 * The tracker stores the rate as a time-invariant key `k = ln(rate(t₀)) + t₀/τ`, so
 * `rate(t) = e^(k − t/τ)`: while nobody reports, keys never change and two peers compare the
 * same at any time. That keeps the per-file owner order valid without re-sorting.
 * @module
 */

/** The key of a rate of zero. */
export const ZERO_RATE_KEY = -Infinity;

/**
 * The rate a key stands for at `now`.
 *
 * @param key the rate key
 * @param now the current time in ms
 * @param tauMs the time constant τ in ms
 * @returns bytes per second
 */
export function rateAt(key: number, now: number, tauMs: number): number {
  return key === ZERO_RATE_KEY ? 0 : Math.exp(key - now / tauMs);
}

/**
 * Adds an upload report to a rate key.
 *
 * @param key the current key
 * @param uploaded bytes uploaded since the previous report
 * @param now the current time in ms
 * @param tauMs the time constant τ in ms
 * @returns the new key
 */
export function addUpload(key: number, uploaded: number, now: number, tauMs: number): number {
  if (!(uploaded > 0)) return key;
  const rate = rateAt(key, now, tauMs) + (uploaded * 1000) / tauMs;
  return Math.log(rate) + now / tauMs;
}

/**
 * The key below which the rate is under 1 byte/s at `now` (reported as 0 on the wire).
 *
 * @param now the current time in ms
 * @param tauMs the time constant τ in ms
 * @returns the key of a rate of exactly 1 byte/s
 */
export function unitRateKey(now: number, tauMs: number): number {
  return now / tauMs;
}

/**
 * The rate as carried on the wire: whole bytes/s, saturated at 2^32−1.
 *
 * @param rate bytes per second
 * @returns an integer in 0..2^32−1
 */
export function wireRate(rate: number): number {
  return rate >= 0xffffffff ? 0xffffffff : Math.floor(rate);
}
