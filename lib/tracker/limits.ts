/**
 * Tracker limits and their defaults (docs/TRACKER.md lists them).
 * @module
 */
import { MAX_NAME_BYTES, MAX_OWNERS } from "../wire/limits.ts";

/** Limits that protect the tracker; every one is configurable. */
export interface TrackerLimits {
  /** Registered peers at once; REGISTER past it gets ERROR too_many_peers. @default 100000 */
  maxPeers: number;
  /** Files one peer may OWN; OWN past it gets ERROR too_many_files. @default 1024 */
  maxFilesPerPeer: number;
  /** Longest file name in UTF-8 bytes (1..255); longer gets ERROR out_of_range. @default 255 */
  maxNameBytes: number;
  /** Sustained requests per second from one source address (ip, port). @default 100 */
  requestsPerSecond: number;
  /** Burst of requests one source may send at once. @default 200 */
  burst: number;
  /** Source addresses whose token bucket is tracked at once. @default 65536 */
  maxSources: number;
}

/** The defaults of {@link TrackerLimits}. */
export const DEFAULT_LIMITS: Readonly<TrackerLimits> = Object.freeze({
  maxPeers: 100_000,
  maxFilesPerPeer: 1024,
  maxNameBytes: MAX_NAME_BYTES,
  requestsPerSecond: 100,
  burst: 200,
  maxSources: 65_536,
});

/** Default heartbeat interval T in ms. */
export const DEFAULT_INTERVAL_MS = 30_000;
/** Default grace: a peer is evicted after T × (1 + grace) of silence. */
export const DEFAULT_GRACE = 0.5;
/** Default number N of owners in a NEED reply. */
export const DEFAULT_MAX_OWNERS = 8;
/** Default time constant τ of the upload-rate EWMA in ms. */
export const DEFAULT_RATE_TAU_MS = 60_000;

/**
 * Merges limits with the defaults and checks them.
 *
 * @param limits overrides
 * @returns complete limits
 * @throws {RangeError} a limit is out of range
 */
export function resolveLimits(limits: Partial<TrackerLimits> = {}): TrackerLimits {
  const out: TrackerLimits = { ...DEFAULT_LIMITS };
  for (const [k, v] of Object.entries(limits)) {
    if (v !== undefined) (out as unknown as Record<string, number>)[k] = v;
  }
  const positive = (name: keyof TrackerLimits) => {
    const v = out[name];
    if (!Number.isFinite(v) || v <= 0) {
      throw new RangeError(`Cannot use limit ${name}: expected a positive number, got ${v}`);
    }
  };
  for (const k of Object.keys(DEFAULT_LIMITS) as (keyof TrackerLimits)[]) positive(k);
  if (out.maxNameBytes > MAX_NAME_BYTES) {
    throw new RangeError(
      `Cannot use limit maxNameBytes: at most ${MAX_NAME_BYTES}, got ${out.maxNameBytes}`,
    );
  }
  return out;
}

/**
 * Checks N, the owners per NEED reply.
 *
 * @param n the requested value
 * @returns n
 * @throws {RangeError} unless 1 ≤ n ≤ MAX_OWNERS
 */
export function checkMaxOwners(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > MAX_OWNERS) {
    throw new RangeError(`Cannot use maxOwners: expected an integer in 1..${MAX_OWNERS}, got ${n}`);
  }
  return n;
}
