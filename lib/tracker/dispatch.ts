/**
 * The default tracker's core: the tracker's rules ({@link TrackerCore}) on the compact
 * in-memory store ({@link MemoryStore}), which answers synchronously, so every call returns its
 * reply at once. The driver (server.ts) passes the time to every call, sends what
 * {@link Dispatcher.handleDatagram} returns back to the source, calls
 * {@link Dispatcher.handleTimeout} at {@link Dispatcher.pollTimeout}, and drains
 * {@link Dispatcher.pollEvent} into the log. Rules: docs/TRACKER.md.
 * @module
 */
import type { PeerAddress } from "../wire/address.ts";
import type { TrackerTimingOptions } from "./limits.ts";
import type { ReplySlab } from "../wire/fast_path.ts";
import { MemoryStore } from "./store/memory_store.ts";
import { type Source, TrackerCore, wireAddress } from "./tracker_core.ts";
import { rateAt } from "./upload_rate.ts";

export type { RegistryCounters, Source } from "./tracker_core.ts";

/** Options for {@link Dispatcher}. */
export interface RegistryOptions extends TrackerTimingOptions {
  /** The time at construction, in ms, on the same clock as every later call. */
  now: number;
  /** Random numbers in [0, 1) for tie-breaks and random owners. @default Math.random */
  random?: () => number;
  /** Random bytes for cookie keys. @default crypto.getRandomValues */
  randomBytes?: (n: number) => Uint8Array;
  /** Queue events for {@link Dispatcher.pollEvent}. @default true */
  events?: boolean;
  /**
   * Where hot replies are carved from. A driver that sends asynchronously passes one and
   * reports each send's completion to it. @default a private ring
   */
  replySlab?: ReplySlab;
}

/**
 * The tracker's core on the memory store: parse → limits → cookie checks → rule → reply.
 * Sans-I/O: the caller passes the time to every call and sends each reply
 * {@link Dispatcher.handleDatagram} returns back to its source.
 *
 * @example Register a peer, then let it expire on a virtual clock
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeMessage, encodeMessage } from "../wire/codec.ts";
 * import { Dispatcher } from "./dispatch.ts";
 *
 * const tracker = new Dispatcher({ now: 0 });
 * const from = { hostname: "127.0.0.1", port: 40000 };
 * const register = (txid: number, cookie: bigint, now: number) => {
 *   const hello = encodeMessage({ type: "register", txid, cookie, nodeId: "alice" });
 *   const reply = decodeMessage(tracker.handleDatagram(hello, from, now)!.slice());
 *   assert.equal(reply.type, "registered");
 *   return reply;
 * };
 * // First contact (cookie 0n) only earns an address cookie; presenting it registers.
 * const challenge = register(1, 0n, 0);
 * const registered = register(2, challenge.cookie, 1);
 * assert.ok(tracker.hasPeer("alice", 1));
 * // Silent past the eviction deadline: the next timeouts forget the peer.
 * const deadline = 1 + registered.evictAfterMs;
 * for (let t = tracker.pollTimeout(); t <= deadline; t = tracker.pollTimeout()) {
 *   tracker.handleTimeout(t);
 * }
 * tracker.handleTimeout(deadline + 1);
 * assert.ok(!tracker.hasPeer("alice", deadline + 1));
 * ```
 */
export class Dispatcher extends TrackerCore {
  /** The peers, files and rankings (for tests and tools; its API is internal). */
  declare readonly store: MemoryStore;

  /**
   * Creates a dispatcher and its memory store.
   *
   * @param options timing, limits, clock start and randomness
   */
  constructor(options: RegistryOptions) {
    const store = new MemoryStore({
      ...(options.rateTauMs !== undefined ? { rateTauMs: options.rateTauMs } : {}),
      random: options.random ?? Math.random,
    });
    super({ ...options, store });
  }

  /**
   * Handles one datagram.
   *
   * @param bytes the datagram (only read during the call)
   * @param from its source address
   * @param now the current time in ms
   * @returns the reply to send back to `from`, or undefined for none. It may be a view into the
   *   reply slab: send it at once (and report the send to the slab when one was passed in)
   */
  override handleDatagram(bytes: Uint8Array, from: Source, now: number): Uint8Array | undefined {
    return super.handleDatagram(bytes, from, now) as Uint8Array | undefined;
  }

  /**
   * Evicts overdue peers, rotates the cookie key and sweeps limiter state that is due.
   *
   * @param now the current time in ms
   */
  override handleTimeout(now: number): void {
    super.handleTimeout(now);
  }

  /**
   * Tells whether a node id is registered (after evicting anyone overdue at `now`).
   *
   * @param nodeId the node id
   * @param now the current time in ms
   * @returns true when registered
   */
  hasPeer(nodeId: string, now: number): boolean {
    this.catchUp(now);
    return this.store.peerIndex(nodeId) >= 0;
  }

  /**
   * Describes a registered peer (for tests, tools and logs; allocates).
   *
   * @param nodeId the node id
   * @param now the current time in ms
   * @returns the peer's address, rate and files, or undefined
   */
  peerInfo(
    nodeId: string,
    now: number,
  ):
    | { address: PeerAddress; lastSeen: number; rate: number; files: string[] }
    | undefined {
    this.catchUp(now);
    const p = this.store.peerInfo(nodeId);
    if (p === undefined) return undefined;
    return {
      address: wireAddress(p.hostname, p.port),
      lastSeen: p.lastSeen,
      rate: rateAt(p.rateKey, now, this.rateTauMs),
      files: p.files,
    };
  }
}
