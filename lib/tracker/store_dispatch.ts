/**
 * The tracker's core on any {@link SwarmStore} (used with `--store redis://…`): the same rules as
 * the default tracker ({@link TrackerCore}, one code path), with every reply as a Promise,
 * resolved when the store has answered (one store operation, one Redis round trip, per
 * request). The state lives in the store, so several tracker processes on one store serve one
 * swarm; the driver (server.ts) passes the wall clock, shared by the trackers of one store.
 *
 * What is per process, not shared: the per-source token buckets, the per-address request
 * buckets and REPORT budgets, the log throttle and the LIST snapshot. Address cookies are
 * derived from the store's shared secret with wall-clock epochs (cookie_jar.ts), so a REGISTERED
 * cookie from one tracker is valid at every other. While the store is unreachable requests are
 * dropped (the peers retry, or fail over to another tracker), logged once per outage. Rules:
 * docs/TRACKER.md, _Storage_.
 * @module
 */
import { type Source, TrackerCore, type TrackerCoreOptions } from "./tracker_core.ts";

export { EXPIRE_EVERY_MS } from "./tracker_core.ts";

/** Options for {@link StoreDispatcher}. */
export interface StoreDispatcherOptions extends Omit<TrackerCoreOptions, "randomBytes"> {}

/** The tracker's core on a store. Every reply comes back as a Promise. */
export class StoreDispatcher extends TrackerCore {
  /**
   * @param options the store, the timing, the limits and the cookie secret
   */
  constructor(options: StoreDispatcherOptions) {
    super(options);
  }

  /**
   * Handles one datagram.
   *
   * @param bytes the datagram (only read until the store has answered)
   * @param from its source
   * @param now the current time in ms
   * @returns the reply to send back to `from`, or undefined for none
   */
  override handleDatagram(
    bytes: Uint8Array,
    from: Source,
    now: number,
  ): Promise<Uint8Array | undefined> {
    return Promise.resolve(super.handleDatagram(bytes, from, now));
  }

  /**
   * Rotates the cookie key, collects expired peers from the store and sweeps limiter state,
   * when due. Resolves when the store has answered.
   *
   * @param now the current time in ms
   */
  override handleTimeout(now: number): Promise<void> {
    return Promise.resolve(super.handleTimeout(now));
  }
}
