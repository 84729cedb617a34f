/**
 * The error of a shared store that cannot serve: Redis unreachable at start, lost or stalled
 * while running, or overloaded. Apart from redis_store.ts so that code catching it does not
 * load the Redis client.
 * @module
 */

/**
 * Redis could not be reached (at start, or while running: the request is not applied).
 *
 * @example Telling it apart
 * ```ts
 * import { StoreUnavailable } from "@udpswarm/udpswarm";
 *
 * const e: Error = new StoreUnavailable("Cannot reach Redis at redis://127.0.0.1:6379");
 * console.log(e instanceof StoreUnavailable, e.name); // true StoreUnavailable
 * ```
 */
export class StoreUnavailable extends Error {
  /** Always `StoreUnavailable`. */
  override readonly name = "StoreUnavailable";
}
