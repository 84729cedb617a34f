/**
 * The memory {@link Bep15Store}: one process's BitTorrent swarms, synchronous (the default
 * tracker). Each swarm keeps its peers' compact entries (6 bytes IPv4, 18 bytes IPv6) packed in
 * one array per family, so a reply is one or two `set` copies of a window that skips the
 * requester; every peer has the same time to live, so an {@link ExpiryQueue} ordered by last
 * heard expires a prefix and never scans. Contract: bep15_store.ts.
 * @module
 */
import { type ExpiryNode, ExpiryQueue } from "../expiry_queue.ts";
import { toHex } from "../../wire/hex.ts";
import {
  type Bep15Counts,
  type Bep15Expired,
  type Bep15Store,
  type Bep15StoreAnnounce,
  type Bep15StoreReply,
  NO_EXPIRED,
} from "./bep15_store.ts";

interface Peer extends ExpiryNode<Peer> {
  readonly swarm: Swarm;
  readonly id: number | string;
  readonly family: 4 | 6;
  readonly address: Uint8Array;
  readonly port: number;
  slot: number;
  seeding: boolean;
  completed: boolean;
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

/** BitTorrent swarms in this process's memory. */
export class Bep15MemoryStore implements Bep15Store {
  /** Always `memory`. */
  readonly kind = "memory" as const;
  readonly #swarms = new Map<string, Swarm>();
  readonly #expiry = new ExpiryQueue<Peer>();
  #peerCount = 0;
  readonly #reply: Bep15StoreReply = {
    status: "unknown",
    completed: false,
    seeders: 0,
    leechers: 0,
    peers: 0,
    bytes: 0,
    expired: NO_EXPIRED,
  };

  /** Peers in all swarms. */
  get peerCount(): number {
    return this.#peerCount;
  }

  /** Swarms with at least one peer. */
  get swarmCount(): number {
    return this.#swarms.size;
  }

  /** {@inheritDoc Bep15Store.announce} */
  announce(a: Bep15StoreAnnounce, out: Uint8Array, offset: number): Bep15StoreReply {
    const r = this.#reply;
    r.expired = this.#lazyExpire(a.cutoff);
    r.peers = r.bytes = 0;
    r.completed = false;
    const id = binaryKey(a.infoHash, 0, 20);
    let swarm = this.#swarms.get(id);
    let peer = swarm?.peers.get(peerId(a.family, a.address, a.port));
    if (a.event === "stopped") {
      r.status = "unknown";
      if (peer !== undefined) {
        r.status = "stopped";
        this.#remove(peer);
      }
      r.seeders = swarm?.seeders ?? 0;
      r.leechers = swarm?.leechers ?? 0;
      return r;
    }
    const seeding = a.seeding;
    if (peer !== undefined) {
      r.status = "refreshed";
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
      this.#expiry.touch(peer, a.now);
    } else if (a.port === 0) {
      r.status = "unknown";
    } else if (this.#peerCount >= a.maxPeers) {
      r.status = "full_tracker";
    } else if (swarm !== undefined && swarm.peers.size >= a.maxPeersPerSwarm) {
      r.status = "full_swarm";
    } else {
      r.status = "joined";
      peer = this.#add(swarm, id, a);
      swarm = peer.swarm;
    }
    if (a.event === "completed" && peer !== undefined && !peer.completed) {
      peer.completed = true;
      peer.swarm.downloaded++;
      r.completed = true;
    }
    if (swarm === undefined) {
      r.seeders = r.leechers = 0;
      return r;
    }
    r.seeders = swarm.seeders;
    r.leechers = swarm.leechers;
    const list = a.family === 4 ? swarm.v4 : swarm.v6;
    const n = list.count;
    if (a.want > 0 && n > 0) {
      const self = peer !== undefined && peer.family === a.family ? peer.slot : -1;
      r.peers = list.copy(out, offset, a.want, Math.floor(a.random * n), self);
      r.bytes = r.peers * list.size;
    }
    return r;
  }

  #add(swarm: Swarm | undefined, id: string, a: Bep15StoreAnnounce): Peer {
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
    const peer: Peer = {
      swarm,
      id: peerId(a.family, a.address, a.port),
      family: a.family,
      address: a.address.slice(),
      port: a.port,
      slot: -1,
      seeding: a.seeding,
      completed: false,
      lastSeen: a.now,
      expPrev: undefined,
      expNext: undefined,
      queued: false,
    };
    swarm.peers.set(peer.id, peer);
    (a.family === 4 ? swarm.v4 : swarm.v6).add(peer);
    if (a.seeding) swarm.seeders++;
    else swarm.leechers++;
    this.#peerCount++;
    this.#expiry.touch(peer, a.now);
    return peer;
  }

  /** {@inheritDoc Bep15Store.scrape} */
  scrape(
    hashes: Uint8Array,
    count: number,
    cutoff: number,
    out: Uint8Array,
    offset: number,
  ): readonly Bep15Expired[] {
    const expired = this.#lazyExpire(cutoff);
    const v = new DataView(out.buffer, out.byteOffset + offset, 12 * count);
    for (let i = 0; i < count; i++) {
      const s = this.#swarms.get(binaryKey(hashes, 20 * i, 20));
      v.setUint32(12 * i, s?.seeders ?? 0);
      v.setUint32(12 * i + 4, s?.downloaded ?? 0);
      v.setUint32(12 * i + 8, s?.leechers ?? 0);
    }
    return expired;
  }

  /** {@inheritDoc Bep15Store.expire} */
  expire(cutoff: number, max: number): readonly Bep15Expired[] {
    let out: Bep15Expired[] | undefined;
    for (let n = 0; n < max; n++) {
      const head = this.#expiry.peek();
      if (head === undefined || !(head.lastSeen < cutoff)) break;
      (out ??= []).push({
        infoHash: toHex(head.swarm.infoHash),
        family: head.family,
        address: head.address,
        port: head.port,
        lastSeen: head.lastSeen,
      });
      this.#remove(head);
    }
    return out ?? NO_EXPIRED;
  }

  /** {@inheritDoc Bep15Store.oldestSeen} */
  oldestSeen(): number | undefined {
    return this.#expiry.peek()?.lastSeen;
  }

  /** {@inheritDoc Bep15Store.counts} */
  counts(): Bep15Counts {
    return { peers: this.#peerCount, swarms: this.#swarms.size };
  }

  #lazyExpire(cutoff: number): readonly Bep15Expired[] {
    const head = this.#expiry.peek();
    return head !== undefined && head.lastSeen < cutoff
      ? this.expire(cutoff, Infinity)
      : NO_EXPIRED;
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
}
