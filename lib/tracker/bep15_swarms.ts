/**
 * The BEP 15 swarm rules, written once over a {@link Bep15Store}: the memory store
 * ({@link Bep15MemoryStore}, the default: every call answers at once) or the Redis one
 * (`RedisStore.bep15`: trackers on one Redis serve one set of swarms; calls answer with a
 * Promise after the batched round trip). Sans-I/O: the time is passed to every call, randomness
 * is injected. Info hashes are their own keyspace: nothing here meets udpswarm's content ids.
 *
 * - A peer is identified by its swarm, its address (always the datagram's source address: the
 *   announce's IP field is ignored, it could only name the source anyway) and the port it
 *   announces. Its `key` is not used for identity: the connection id already proves the
 *   address, and a restarted client picks a new key.
 * - `left = 0` makes a seeder, anything else a leecher; `completed` counts a download once per
 *   peer entry; `stopped` removes the peer at once; a silent peer expires after the interval
 *   plus grace (lazily before each request, and from the timer).
 * - num_want: -1 is the default (50), capped at 200 IPv4 or 66 IPv6 peers; a requester only
 *   gets peers of its own family, never itself, a window of the swarm from a random place.
 * - Caps: peers in all swarms (`maxPeers`) and per swarm (`maxPeersPerSwarm`); an announce past
 *   a cap is answered but not stored.
 *
 * What the store guarantees, and the split: bep15_store.ts.
 * @module
 */
import { type Bep15EventName } from "../wire/bep15.ts";
import { formatIPv6 } from "../wire/address.ts";
import { toHex } from "../wire/hex.ts";
import { LogThrottle } from "../log/log_throttle.ts";
import { type Pending, then } from "./store/swarm_store.ts";
import type {
  Bep15Counts,
  Bep15Expired,
  Bep15Store,
  Bep15StoreAnnounce,
  Bep15StoreReply,
} from "./store/bep15_store.ts";
import { Bep15MemoryStore } from "./store/bep15_memory_store.ts";

/** Default peers in a reply when the client sends num_want -1. */
export const BEP15_DEFAULT_NUM_WANT = 50;
/** Most IPv4 peers in one reply (20 + 200 × 6 = 1,220 bytes). */
export const BEP15_MAX_NUM_WANT = 200;
/** Most IPv6 peers in one reply (20 + 66 × 18 = 1,208 bytes). */
export const BEP15_MAX_NUM_WANT6 = 66;
/** Default cap of peers in one swarm. */
export const BEP15_DEFAULT_MAX_PEERS_PER_SWARM = 10_000;

/** Options for {@link Bep15Swarms}. */
export interface Bep15SwarmsOptions {
  /** Announce interval in ms; clients are told it in whole seconds (at least 1). @default 30000 */
  intervalMs?: number;
  /** A peer silent for longer than interval × (1 + grace) expires. @default 0.5 */
  grace?: number;
  /** Peers in all swarms. @default 100000 */
  maxPeers?: number;
  /** Peers in one swarm. @default 10000 */
  maxPeersPerSwarm?: number;
  /** Peers in a reply when num_want is -1. @default 50 */
  defaultNumWant?: number;
  /** Most peers in a reply, IPv4 (IPv6 replies stay at most 66). @default 200 */
  maxNumWant?: number;
  /** Random numbers in [0, 1): where the window of returned peers starts. @default Math.random */
  random?: () => number;
  /** Queue events for {@link Bep15Swarms.pollEvent}. @default true */
  events?: boolean;
  /** Where the swarms live. @default a new {@link Bep15MemoryStore} */
  store?: Bep15Store;
}

/** What an announce says, with the source address the dispatcher proved. */
export interface Bep15AnnounceInput {
  /** 20 bytes (may be a view; copied when stored). */
  infoHash: Uint8Array;
  /** The source's family (an IPv4-mapped IPv6 source is IPv4). */
  family: 4 | 6;
  /** The source address: 4 or 16 bytes (may be a view; copied when stored). */
  address: Uint8Array;
  /** The port the client announces; 0 is answered but not stored. */
  port: number;
  /** The event. */
  event: Bep15EventName;
  /** Bytes left; 0 makes a seeder. */
  left: number;
  /** The client's key. */
  key: number;
  /** Peers wanted; negative asks for the default. */
  numWant: number;
}

/**
 * The outcome of {@link Bep15Swarms.handleAnnounce} (on the memory store one object, reused by
 * every call).
 */
export interface Bep15AnnounceResult {
  /** Seeders in the swarm, the requester included. */
  seeders: number;
  /** Leechers in the swarm, the requester included. */
  leechers: number;
  /** Compact peers written. */
  peers: number;
  /** Bytes written (peers × 6 or 18). */
  bytes: number;
}

/** Something the swarms did, for the log. */
export type Bep15SwarmEvent =
  | { type: "bep15_join"; infoHash: string; peer: string; seeding: boolean }
  | { type: "bep15_completed"; infoHash: string; peer: string }
  | { type: "bep15_stopped"; infoHash: string; peer: string }
  | { type: "bep15_expired"; infoHash: string; peer: string; silentMs: number }
  | { type: "bep15_full"; infoHash: string; peer: string; limit: "tracker" | "swarm" };

/** Counters of the swarms. */
export interface Bep15SwarmCounters {
  /** Announces handled. */
  announces: number;
  /** Peers added to a swarm. */
  joins: number;
  /** Peers removed by `stopped`. */
  stops: number;
  /** Peers expired for silence. */
  expiries: number;
  /** `completed` events counted. */
  completions: number;
  /** Announces not stored because of a cap. */
  full: number;
}

const EVENT_WINDOW_MS = 60_000;
/** How often expired peers are collected from a store that cannot say when (Redis), in ms. */
export const BEP15_EXPIRE_EVERY_MS = 1000;
/** At most this many peers one timer call expires on such a store. */
const EXPIRE_BATCH = 1024;

/** An announce's swarm and peer as log text. */
interface Names {
  infoHash: string;
  peer: string;
}

function peerLabel(family: 4 | 6, address: Uint8Array, port: number): string {
  return family === 4 ? `${address.join(".")}:${port}` : `[${formatIPv6(address)}]:${port}`;
}

/** Swarms of BitTorrent peers keyed by info hash: the rules, over a store. Sans-I/O. */
export class Bep15Swarms {
  /** Interval told to clients, in seconds. */
  readonly intervalSeconds: number;
  /** A peer silent for longer than this (ms) expires. */
  readonly expireAfterMs: number;
  /** Cap of peers in all swarms. */
  readonly maxPeers: number;
  /** Cap of peers in one swarm. */
  readonly maxPeersPerSwarm: number;
  /** Where the swarms live. */
  readonly store: Bep15Store;
  /** Counters (of this process's requests, whatever the store). */
  readonly counters: Bep15SwarmCounters = {
    announces: 0,
    joins: 0,
    stops: 0,
    expiries: 0,
    completions: 0,
    full: 0,
  };
  readonly #defaultNumWant: number;
  readonly #maxNumWant: number;
  readonly #random: () => number;
  readonly #recordEvents: boolean;
  readonly #throttle = new LogThrottle(EVENT_WINDOW_MS);
  readonly #events: Bep15SwarmEvent[] = [];
  #eventHead = 0;
  /** The next periodic expiry, for a store that cannot say when its oldest peer was heard. */
  #nextExpire = 0;
  readonly #query: Bep15StoreAnnounce = {
    infoHash: new Uint8Array(20),
    family: 4,
    address: new Uint8Array(4),
    port: 0,
    event: "none",
    seeding: false,
    want: 0,
    random: 0,
    cutoff: 0,
    now: 0,
    maxPeers: 0,
    maxPeersPerSwarm: 0,
  };

  /**
   * Creates the rules over a store (empty swarms in memory by default).
   *
   * @param options interval, grace, caps, num_want, randomness, store
   * @throws {RangeError} when the interval is not positive or the grace is negative
   */
  constructor(options: Bep15SwarmsOptions = {}) {
    const interval = options.intervalMs ?? 30_000;
    const grace = options.grace ?? 0.5;
    if (!(interval > 0) || !Number.isFinite(interval) || !(grace >= 0)) {
      throw new RangeError(
        `Cannot create BEP 15 swarms: interval ${interval} ms must be positive, grace ${grace} at least 0`,
      );
    }
    this.intervalSeconds = Math.max(1, Math.round(interval / 1000));
    this.expireAfterMs = Math.round(interval * (1 + grace));
    this.maxPeers = options.maxPeers ?? 100_000;
    this.maxPeersPerSwarm = options.maxPeersPerSwarm ?? BEP15_DEFAULT_MAX_PEERS_PER_SWARM;
    this.#maxNumWant = Math.min(options.maxNumWant ?? BEP15_MAX_NUM_WANT, BEP15_MAX_NUM_WANT);
    this.#defaultNumWant = Math.min(
      options.defaultNumWant ?? BEP15_DEFAULT_NUM_WANT,
      this.#maxNumWant,
    );
    this.#random = options.random ?? Math.random;
    this.#recordEvents = options.events ?? true;
    this.store = options.store ?? new Bep15MemoryStore();
  }

  /** Peers in all swarms, on the memory store (NaN on a store that needs a round trip). */
  get peerCount(): number {
    return this.store instanceof Bep15MemoryStore ? this.store.peerCount : NaN;
  }

  /** Swarms with at least one peer, on the memory store (NaN otherwise). */
  get swarmCount(): number {
    return this.store instanceof Bep15MemoryStore ? this.store.swarmCount : NaN;
  }

  /**
   * Peers and swarms in the store (shared by every tracker of a Redis store).
   *
   * @returns the counts, now or after the round trip
   */
  counts(): Pending<Bep15Counts> {
    return this.store.counts();
  }

  /**
   * Handles an announce: stores, refreshes or removes the peer, and writes compact peers of its
   * family (never itself) into `out` at `offset`.
   *
   * @param a the announce and its proven source (read during the call only)
   * @param now the current time in ms
   * @param out where the compact peers go; room for the cap (1,200 bytes) from `offset`. On a
   *   store that answers later it is written then: give each call its own
   * @param offset where the first peer goes
   * @returns the counts and what was written (the memory store: the same object on every call)
   */
  handleAnnounce(
    a: Bep15AnnounceInput,
    now: number,
    out: Uint8Array,
    offset: number,
  ): Pending<Bep15AnnounceResult> {
    this.counters.announces++;
    const q = this.#query;
    q.infoHash = a.infoHash;
    q.family = a.family;
    q.address = a.address;
    q.port = a.port;
    q.event = a.event;
    q.seeding = a.left === 0;
    const cap = a.family === 4 ? this.#maxNumWant : Math.min(this.#maxNumWant, BEP15_MAX_NUM_WANT6);
    q.want = a.event === "stopped"
      ? 0
      : a.numWant < 0
      ? Math.min(this.#defaultNumWant, cap)
      : Math.min(a.numWant, cap);
    q.random = this.#random();
    q.cutoff = now - this.expireAfterMs;
    q.now = now;
    q.maxPeers = this.maxPeers;
    q.maxPeersPerSwarm = this.maxPeersPerSwarm;
    const r = this.store.announce(q, out, offset);
    if (r instanceof Promise) {
      // The input is a view of the datagram: name it now for the events that come later.
      const names = this.#names(a);
      return r.then((reply) => this.#announced(reply, now, names, a));
    }
    return this.#announced(r, now, undefined, a);
  }

  #names(a: Bep15AnnounceInput): Names {
    return { infoHash: toHex(a.infoHash), peer: peerLabel(a.family, a.address, a.port) };
  }

  /** Counters and events of an announce (`a` is read only when `names` is undefined). */
  #announced(
    r: Bep15StoreReply,
    now: number,
    names: Names | undefined,
    a: Bep15AnnounceInput,
  ): Bep15StoreReply {
    if (r.expired.length > 0) this.#expired(r.expired, now);
    switch (r.status) {
      case "joined":
        this.counters.joins++;
        if (this.#recordEvents) {
          names ??= this.#names(a);
          this.#event({ type: "bep15_join", ...names, seeding: a.left === 0 });
        }
        break;
      case "stopped":
        this.counters.stops++;
        if (this.#recordEvents) {
          this.#event({ type: "bep15_stopped", ...(names ?? this.#names(a)) });
        }
        break;
      case "full_tracker":
      case "full_swarm": {
        this.counters.full++;
        if (this.#recordEvents) {
          names ??= this.#names(a);
          const limit = r.status === "full_tracker" ? "tracker" : "swarm";
          if (this.#throttle.shouldReport(limit + names.infoHash, now)) {
            this.#event({ type: "bep15_full", ...names, limit });
          }
        }
        break;
      }
    }
    if (r.completed) {
      this.counters.completions++;
      if (this.#recordEvents) {
        this.#event({ type: "bep15_completed", ...(names ?? this.#names(a)) });
      }
    }
    return r;
  }

  /**
   * Writes one scrape entry (seeders, completed, leechers; 12 bytes) per info hash.
   *
   * @param hashes `count` info hashes back to back (may be a view; read during the call only)
   * @param count how many (0..74)
   * @param now the current time in ms
   * @param out the reply (on a store that answers later, written then)
   * @param offset where the first entry goes
   * @returns when the entries are written
   */
  handleScrape(
    hashes: Uint8Array,
    count: number,
    now: number,
    out: Uint8Array,
    offset: number,
  ): Pending<void> {
    const expired = this.store.scrape(hashes, count, now - this.expireAfterMs, out, offset);
    return then(expired, (list) => {
      if (list.length > 0) this.#expired(list, now);
    });
  }

  /**
   * Expires silent peers (on a store that cannot say when, at most every second).
   *
   * @param now the current time in ms
   * @returns when done
   */
  handleTimeout(now: number): Pending<void> {
    this.#throttle.sweep(now);
    const cutoff = now - this.expireAfterMs;
    if (this.store.kind === "memory") {
      const oldest = this.store.oldestSeen();
      if (oldest === undefined || !(oldest < cutoff)) return;
      const list = this.store.expire(cutoff, Infinity) as readonly Bep15Expired[];
      if (list.length > 0) this.#expired(list, now);
      return;
    }
    if (now < this.#nextExpire) return;
    this.#nextExpire = now + BEP15_EXPIRE_EVERY_MS;
    return then(this.store.expire(cutoff, EXPIRE_BATCH), (list) => {
      if (list.length > 0) this.#expired(list, now);
    });
  }

  /**
   * The next time a peer expires (a store that cannot say: the next periodic expiry).
   *
   * @returns a time in ms, or Infinity when there are no peers
   */
  pollTimeout(): number {
    if (this.store.kind !== "memory") return this.#nextExpire;
    const oldest = this.store.oldestSeen();
    return oldest === undefined ? Infinity : oldest + this.expireAfterMs + 1;
  }

  /**
   * The oldest event not yet drained.
   *
   * @returns the event, or undefined
   */
  pollEvent(): Bep15SwarmEvent | undefined {
    if (this.#eventHead >= this.#events.length) {
      if (this.#events.length > 0) this.#events.length = this.#eventHead = 0;
      return undefined;
    }
    return this.#events[this.#eventHead++];
  }

  #expired(list: readonly Bep15Expired[], now: number): void {
    this.counters.expiries += list.length;
    if (!this.#recordEvents) return;
    for (const e of list) {
      this.#event({
        type: "bep15_expired",
        infoHash: e.infoHash,
        peer: peerLabel(e.family, e.address, e.port),
        silentMs: Math.round(now - e.lastSeen),
      });
    }
  }

  #event(e: Bep15SwarmEvent): void {
    if (this.#recordEvents) this.#events.push(e);
  }
}
