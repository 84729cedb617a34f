/**
 * The storage interface under the BEP 15 rules (bep15_swarms.ts): swarms of BitTorrent peers
 * keyed by info hash. Two implementations: `Bep15MemoryStore` (one process, packed compact
 * entries, synchronous) and the Redis one (`RedisBep15Store`, a part of `RedisStore`: every
 * operation is one operation of the store's batched script, so trackers on one Redis serve one
 * set of BitTorrent swarms). The sibling of `SwarmStore`, written the same way: one
 * operation per request, values now or later ({@link Pending}).
 *
 * Decided above the store, once for both (bep15_swarms.ts): the expiry deadline (the cutoff),
 * num_want's default and cap, the caps' values, the random start of the returned window, events,
 * counters and the reply's encoding. Guaranteed by the store, and checked for both by
 * `tests/tracker/_bep15_swarm_suite.ts`:
 *
 * - a peer is (info hash, address, announced port); `left = 0` makes a seeder; a change of
 *   `left` moves it between the counts without a second entry;
 * - `completed` counts one download per peer entry; `stopped` removes the peer at once; port 0
 *   and announces past a cap are answered but not stored;
 * - an announce or scrape first expires peers last heard before the cutoff (the memory store all
 *   of them, Redis up to {@link BEP15_LAZY_EXPIRE} a call; the timer's {@link Bep15Store.expire}
 *   takes the rest); a swarm without peers is forgotten with its download count;
 * - the peers returned are of the requester's family, distinct, never the requester, a window of
 *   the swarm starting at `random × n` and wrapping.
 *
 * Rules and the choice of design: docs/TRACKER.md, _BEP 15_.
 * @module
 */
import type { Bep15EventName } from "../../wire/bep15.ts";
import type { Pending } from "./swarm_store.ts";

/** At most this many overdue peers a Redis announce or scrape expires before it runs. */
export const BEP15_LAZY_EXPIRE = 64;

/** One announce as the store applies it (one object, reused by the caller: read it at once). */
export interface Bep15StoreAnnounce {
  /** 20 bytes (may be a view: read during the call only). */
  infoHash: Uint8Array;
  /** The source's family. */
  family: 4 | 6;
  /** The source address, 4 or 16 bytes (may be a view). */
  address: Uint8Array;
  /** The announced port; 0 is answered but not stored. */
  port: number;
  /** The event. */
  event: Bep15EventName;
  /** Whether `left` was 0. */
  seeding: boolean;
  /** Peers to return, already capped (0: none). */
  want: number;
  /** A random number in [0, 1): where the window of returned peers starts. */
  random: number;
  /** Peers last heard before this time (ms) expire first. */
  cutoff: number;
  /** The time now (ms): the peer's last-heard time. */
  now: number;
  /** A new peer is not stored when this many are stored in all swarms. */
  maxPeers: number;
  /** A new peer is not stored when this many are in its swarm. */
  maxPeersPerSwarm: number;
}

/** What an announce did to its peer. */
export type Bep15AnnounceStatus =
  | "joined"
  | "refreshed"
  | "stopped"
  | "unknown"
  | "full_tracker"
  | "full_swarm";

/** A peer removed for silence. */
export interface Bep15Expired {
  /** The swarm's info hash, lowercase hex. */
  infoHash: string;
  /** The peer's family. */
  family: 4 | 6;
  /** Its address, 4 or 16 bytes. */
  address: Uint8Array;
  /** Its announced port. */
  port: number;
  /** When it was last heard (ms). */
  lastSeen: number;
}

/** What {@link Bep15Store.announce} answers (the memory store reuses one object). */
export interface Bep15StoreReply {
  /** What happened to the peer (`unknown`: stopped or port 0 from a peer not stored). */
  status: Bep15AnnounceStatus;
  /** Whether this announce counted a download (`completed`, first time for this entry). */
  completed: boolean;
  /** Seeders in the swarm after the announce, the requester included. */
  seeders: number;
  /** Leechers in the swarm after the announce, the requester included. */
  leechers: number;
  /** Compact peers written to `out`. */
  peers: number;
  /** Bytes written (peers × 6 or 18). */
  bytes: number;
  /** Peers expired before the announce ran (usually none). */
  expired: readonly Bep15Expired[];
}

/** Peers and swarms in a {@link Bep15Store}. */
export interface Bep15Counts {
  /** Peers in all swarms. */
  peers: number;
  /** Swarms with at least one peer. */
  swarms: number;
}

/** The BEP 15 swarms' state. */
export interface Bep15Store {
  /** `memory` or `redis`. */
  readonly kind: "memory" | "redis";
  /**
   * An announce: stores, refreshes or removes the peer, and writes up to `want` compact peers of
   * its family (never itself) into `out` at `offset`.
   *
   * @param q the announce (read during the call only)
   * @param out where the peers go: room for 1,200 bytes from `offset` (Redis writes it when it
   *   answers: give each call its own buffer there)
   * @param offset where the first peer goes
   * @returns what happened
   */
  announce(q: Bep15StoreAnnounce, out: Uint8Array, offset: number): Pending<Bep15StoreReply>;
  /**
   * A scrape: 12 bytes (seeders, completed, leechers) per info hash, zeros for unknown ones.
   *
   * @param hashes `count` info hashes back to back (read during the call only)
   * @param count how many
   * @param cutoff peers last heard before this time expire first
   * @param out the reply (written when the store answers)
   * @param offset where the first entry goes
   * @returns the peers expired first
   */
  scrape(
    hashes: Uint8Array,
    count: number,
    cutoff: number,
    out: Uint8Array,
    offset: number,
  ): Pending<readonly Bep15Expired[]>;
  /**
   * Removes the peers last heard before `cutoff`, oldest first, at most `max` of them.
   *
   * @param cutoff the time
   * @param max at most this many
   * @returns the removed peers
   */
  expire(cutoff: number, max: number): Pending<readonly Bep15Expired[]>;
  /**
   * When the peer heard least recently was last heard, when known without a round trip (memory);
   * undefined when there is none or the store cannot tell (Redis: expire on a period).
   */
  oldestSeen(): number | undefined;
  /** Peers and swarms now. */
  counts(): Pending<Bep15Counts>;
}

/** No peer expired (shared, never written). */
export const NO_EXPIRED: readonly Bep15Expired[] = Object.freeze([]);
