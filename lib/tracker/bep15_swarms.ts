/**
 * The BEP 15 side's state: swarms of BitTorrent peers keyed by info hash, as a pure core (no
 * sockets, no timers, no clock; the time is passed to every call, randomness is injected).
 * Info hashes are their own keyspace: nothing here meets udpswarm's content ids.
 *
 * - A peer is identified by its swarm, its address (always the datagram's source address: the
 *   announce's IP field is ignored, it could only name the source anyway) and the port it
 *   announces. Its `key` is recorded, not used for identity: the connection id already proves
 *   the address, and a restarted client picks a new key.
 * - `left = 0` makes a seeder, anything else a leecher; `completed` counts a download once per
 *   peer entry; `stopped` removes the peer at once; a silent peer expires after the interval
 *   plus grace, in an {@link ExpiryQueue} (every peer has the same time to live, so the oldest
 *   are a prefix: expiry never scans).
 * - Each swarm keeps its peers' compact entries (6 bytes IPv4, 18 bytes IPv6) packed in one
 *   array per family, so a reply is one or two `set` copies of a random window that skips the
 *   requester; a requester only gets peers of its own family.
 * - Caps: peers in all swarms (`maxPeers`) and per swarm (`maxPeersPerSwarm`); an announce past
 *   a cap is answered but not stored.
 * @module
 */
import { type ExpiryNode, ExpiryQueue } from "./expiry_queue.ts";
import { type Bep15EventName } from "../wire/bep15.ts";
import { formatIPv6 } from "../wire/address.ts";
import { toHex } from "../wire/hex.ts";
import { LogThrottle } from "../log/log_throttle.ts";

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

/** The outcome of {@link Bep15Swarms.handleAnnounce} (one object, reused by every call). */
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

interface Peer extends ExpiryNode<Peer> {
  readonly swarm: Swarm;
  readonly id: number | string;
  readonly family: 4 | 6;
  readonly address: Uint8Array;
  readonly port: number;
  slot: number;
  seeding: boolean;
  completed: boolean;
  key: number;
}

interface Swarm {
  readonly id: string;
  readonly infoHash: Uint8Array;
  readonly peers: Map<number | string, Peer>;
  readonly v4: CompactPeers;
  readonly v6: CompactPeers;
  seeders: number;
  leechers: number;
  downloaded: number;
}

/** Peers of one family, their compact entries packed back to back; slots swap on removal. */
class CompactPeers {
  readonly size: number;
  bytes: Uint8Array;
  readonly owners: Peer[] = [];

  constructor(size: number) {
    this.size = size;
    this.bytes = new Uint8Array(0);
  }

  get count(): number {
    return this.owners.length;
  }

  add(p: Peer): void {
    const size = this.size;
    const at = this.owners.length * size;
    if (at + size > this.bytes.byteLength) {
      const grown = new Uint8Array(Math.max(8 * size, this.bytes.byteLength * 2));
      grown.set(this.bytes);
      this.bytes = grown;
    }
    this.bytes.set(p.address, at);
    this.bytes[at + size - 2] = p.port >> 8;
    this.bytes[at + size - 1] = p.port & 0xff;
    p.slot = this.owners.length;
    this.owners.push(p);
  }

  remove(p: Peer): void {
    const last = this.owners.length - 1;
    const size = this.size;
    if (p.slot !== last) {
      const moved = this.owners[last]!;
      this.bytes.copyWithin(p.slot * size, last * size, last * size + size);
      this.owners[p.slot] = moved;
      moved.slot = p.slot;
    }
    this.owners.pop();
    p.slot = -1;
    // Give memory back when a big swarm has shrunk to a quarter.
    if (this.bytes.byteLength > 64 * size && last * size * 4 < this.bytes.byteLength) {
      this.bytes = this.bytes.slice(0, this.bytes.byteLength >> 1);
    }
  }

  /**
   * Copies up to `want` entries, starting at slot `start` and wrapping, skipping slot `self`.
   * @returns entries copied
   */
  copy(out: Uint8Array, offset: number, want: number, start: number, self: number): number {
    const n = this.owners.length;
    const k = Math.min(want, n - (self >= 0 ? 1 : 0));
    const size = this.size;
    let left = k, i = start, at = offset;
    while (left > 0) {
      if (i >= n) i = 0;
      if (i === self) {
        i++;
        continue;
      }
      const take = Math.min(left, (self > i ? self : n) - i);
      out.set(this.bytes.subarray(i * size, (i + take) * size), at);
      at += take * size;
      left -= take;
      i += take;
    }
    return k;
  }
}

/** Binary string of `n` bytes from `at`: a Map key that V8 hashes with its seeded hash. */
function binaryKey(bytes: Uint8Array, at: number, n: number): string {
  return String.fromCharCode.apply(null, bytes.subarray(at, at + n) as unknown as number[]);
}

function peerId(family: 4 | 6, a: Uint8Array, port: number): number | string {
  if (family === 4) return ((a[0]! << 24 | a[1]! << 16 | a[2]! << 8 | a[3]!) >>> 0) * 65536 + port;
  return binaryKey(a, 0, 16) + String.fromCharCode(port);
}

function peerLabel(p: Peer): string {
  return p.family === 4
    ? `${p.address.join(".")}:${p.port}`
    : `[${formatIPv6(p.address)}]:${p.port}`;
}

const EVENT_WINDOW_MS = 60_000;

/** Swarms of BitTorrent peers keyed by info hash. Sans-I/O. */
export class Bep15Swarms {
  /** Interval told to clients, in seconds. */
  readonly intervalSeconds: number;
  /** A peer silent for longer than this (ms) expires. */
  readonly expireAfterMs: number;
  /** Cap of peers in all swarms. */
  readonly maxPeers: number;
  /** Cap of peers in one swarm. */
  readonly maxPeersPerSwarm: number;
  /** Counters. */
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
  readonly #swarms = new Map<string, Swarm>();
  readonly #expiry = new ExpiryQueue<Peer>();
  readonly #throttle = new LogThrottle(EVENT_WINDOW_MS);
  readonly #events: Bep15SwarmEvent[] = [];
  #eventHead = 0;
  #peerCount = 0;
  readonly #result: Bep15AnnounceResult = { seeders: 0, leechers: 0, peers: 0, bytes: 0 };

  /**
   * Creates empty swarms.
   *
   * @param options interval, grace, caps, num_want, randomness
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
  }

  /** Peers in all swarms. */
  get peerCount(): number {
    return this.#peerCount;
  }

  /** Swarms with at least one peer. */
  get swarmCount(): number {
    return this.#swarms.size;
  }

  /**
   * Handles an announce: stores, refreshes or removes the peer, and writes compact peers of its
   * family (never itself) into `out` at `offset`.
   *
   * @param a the announce and its proven source
   * @param now the current time in ms
   * @param out where the compact peers go; room for the cap (1,200 bytes) from `offset`
   * @param offset where the first peer goes
   * @returns the counts and what was written (the same object on every call)
   */
  handleAnnounce(
    a: Bep15AnnounceInput,
    now: number,
    out: Uint8Array,
    offset: number,
  ): Bep15AnnounceResult {
    this.counters.announces++;
    const head = this.#expiry.peek();
    if (head !== undefined && now - head.lastSeen > this.expireAfterMs) this.#expire(now);
    const r = this.#result;
    r.peers = r.bytes = 0;
    const id = binaryKey(a.infoHash, 0, 20);
    let swarm = this.#swarms.get(id);
    const pid = peerId(a.family, a.address, a.port);
    let peer = swarm?.peers.get(pid);
    if (a.event === "stopped") {
      if (peer !== undefined) {
        this.counters.stops++;
        this.#event({
          type: "bep15_stopped",
          infoHash: toHex(peer.swarm.infoHash),
          peer: peerLabel(peer),
        });
        this.#remove(peer);
      }
      r.seeders = swarm?.seeders ?? 0;
      r.leechers = swarm?.leechers ?? 0;
      return r;
    }
    const seeding = a.left === 0;
    if (peer !== undefined) {
      swarm = peer.swarm;
      if (peer.seeding !== seeding) {
        peer.seeding = seeding;
        if (seeding) {
          swarm.seeders++;
          swarm.leechers--;
        } else {
          swarm.seeders--;
          swarm.leechers++;
        }
      }
      peer.key = a.key;
      this.#expiry.touch(peer, now);
    } else if (a.port !== 0) {
      const limit = this.#peerCount >= this.maxPeers
        ? "tracker"
        : swarm !== undefined && swarm.peers.size >= this.maxPeersPerSwarm
        ? "swarm"
        : undefined;
      if (limit !== undefined) {
        this.counters.full++;
        if (this.#recordEvents && this.#throttle.shouldReport(limit + id, now)) {
          const label = a.family === 4
            ? `${a.address.join(".")}:${a.port}`
            : `[${formatIPv6(a.address)}]:${a.port}`;
          this.#event({ type: "bep15_full", infoHash: toHex(a.infoHash), peer: label, limit });
        }
      } else {
        if (swarm === undefined) {
          swarm = {
            id,
            infoHash: a.infoHash.slice(0, 20),
            peers: new Map(),
            v4: new CompactPeers(6),
            v6: new CompactPeers(18),
            seeders: 0,
            leechers: 0,
            downloaded: 0,
          };
          this.#swarms.set(id, swarm);
        }
        peer = {
          swarm,
          id: pid,
          family: a.family,
          address: a.address.slice(),
          port: a.port,
          slot: -1,
          seeding,
          completed: false,
          key: a.key,
          lastSeen: now,
          expPrev: undefined,
          expNext: undefined,
          queued: false,
        };
        swarm.peers.set(pid, peer);
        (a.family === 4 ? swarm.v4 : swarm.v6).add(peer);
        if (seeding) swarm.seeders++;
        else swarm.leechers++;
        this.#peerCount++;
        this.#expiry.touch(peer, now);
        this.counters.joins++;
        if (this.#recordEvents) {
          this.#event({
            type: "bep15_join",
            infoHash: toHex(swarm.infoHash),
            peer: peerLabel(peer),
            seeding,
          });
        }
      }
    }
    if (a.event === "completed" && peer !== undefined && !peer.completed) {
      peer.completed = true;
      peer.swarm.downloaded++;
      this.counters.completions++;
      this.#event({
        type: "bep15_completed",
        infoHash: toHex(peer.swarm.infoHash),
        peer: peerLabel(peer),
      });
    }
    if (swarm === undefined) {
      r.seeders = r.leechers = 0;
      return r;
    }
    r.seeders = swarm.seeders;
    r.leechers = swarm.leechers;
    const list = a.family === 4 ? swarm.v4 : swarm.v6;
    const cap = a.family === 4 ? this.#maxNumWant : Math.min(this.#maxNumWant, BEP15_MAX_NUM_WANT6);
    const want = a.numWant < 0 ? Math.min(this.#defaultNumWant, cap) : Math.min(a.numWant, cap);
    const n = list.count;
    if (want > 0 && n > 0) {
      const self = peer !== undefined && peer.family === a.family ? peer.slot : -1;
      r.peers = list.copy(out, offset, want, Math.floor(this.#random() * n), self);
      r.bytes = r.peers * list.size;
    }
    return r;
  }

  /**
   * Writes one scrape entry (seeders, completed, leechers; 12 bytes) for an info hash.
   *
   * @param infoHash 20 bytes (may be a view)
   * @param now the current time in ms
   * @param out the reply
   * @param offset where the entry goes
   */
  handleScrape(infoHash: Uint8Array, now: number, out: Uint8Array, offset: number): void {
    const head = this.#expiry.peek();
    if (head !== undefined && now - head.lastSeen > this.expireAfterMs) this.#expire(now);
    const s = this.#swarms.get(binaryKey(infoHash, 0, 20));
    const v = new DataView(out.buffer, out.byteOffset + offset, 12);
    v.setUint32(0, s?.seeders ?? 0);
    v.setUint32(4, s?.downloaded ?? 0);
    v.setUint32(8, s?.leechers ?? 0);
  }

  /**
   * Expires silent peers.
   *
   * @param now the current time in ms
   */
  handleTimeout(now: number): void {
    this.#expire(now);
    this.#throttle.sweep(now);
  }

  /**
   * The next time a peer expires.
   *
   * @returns a time in ms, or Infinity when there are no peers
   */
  pollTimeout(): number {
    const head = this.#expiry.peek();
    return head === undefined ? Infinity : head.lastSeen + this.expireAfterMs + 1;
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

  #expire(now: number): void {
    for (;;) {
      const head = this.#expiry.peek();
      if (head === undefined || !(now - head.lastSeen > this.expireAfterMs)) return;
      this.counters.expiries++;
      if (this.#recordEvents) {
        this.#event({
          type: "bep15_expired",
          infoHash: toHex(head.swarm.infoHash),
          peer: peerLabel(head),
          silentMs: Math.round(now - head.lastSeen),
        });
      }
      this.#remove(head);
    }
  }

  #remove(p: Peer): void {
    const s = p.swarm;
    this.#expiry.remove(p);
    s.peers.delete(p.id);
    (p.family === 4 ? s.v4 : s.v6).remove(p);
    if (p.seeding) s.seeders--;
    else s.leechers--;
    this.#peerCount--;
    if (s.peers.size === 0) this.#swarms.delete(s.id);
  }

  #event(e: Bep15SwarmEvent): void {
    if (this.#recordEvents) this.#events.push(e);
  }
}
