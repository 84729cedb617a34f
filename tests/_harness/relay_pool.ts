/**
 * One relay per owner, made on demand, for `PeerOptions.mapOwnerAddress`: a downloader built with
 * `mapOwnerAddress: pool.map` reaches every owner through its own lossy relay.
 *
 * @example 5 % loss to and from every owner
 * ```ts ignore
 * await using pool = new RelayPool({ seed: 1, loss: 0.05, reorder: 0.02, duplicate: 0.01 });
 * await using peer = await startPeer({ tracker, mapOwnerAddress: pool.map });
 * // … download, then:
 * console.log(pool.totals().toTarget.dropped);
 * ```
 * @module
 */
import { toNetAddr } from "../../lib/net/host_port.ts";
import type { PeerAddress } from "../../lib/wire/address.ts";
import { decodeMessage, encodeMessage } from "../../lib/wire/codec.ts";
import type { Message } from "../../lib/wire/messages.ts";
import { deriveSeed } from "../../lib/sim/prng.ts";
import {
  type DirectionStats,
  newDirectionStats,
  type Relay,
  type RelayOptions,
  type RelayRates,
  type RelayStats,
  startRelay,
} from "./relay.ts";

/** Options for {@link RelayPool}: those of every relay, less the target. */
export type RelayPoolOptions = Omit<RelayOptions, "target" | "hostname"> & {
  /** Address the relays listen on. @default "127.0.0.1", or "::1" for IPv6 owners */
  hostname?: string;
  /**
   * Called with each relay as it starts, before any datagram goes through it: the place to set
   * a per-owner {@link Relay.pauseAfter} or rate.
   */
  onRelay?: (relay: Relay, nodeId: string) => void;
};

/** FNV-1a over the UTF-16 code units: a stable number for a node id. */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function addStats(into: DirectionStats, from: DirectionStats): void {
  for (const k of Object.keys(into) as (keyof DirectionStats)[]) into[k] += from[k];
}

/** A set of relays keyed by owner node id and address. */
export class RelayPool implements AsyncDisposable {
  readonly #options: RelayPoolOptions;
  readonly #relays = new Map<string, { nodeId: string; relay: Relay }>();
  /** Rate changes so far, replayed on relays started later. */
  readonly #changes: RelayRates[] = [];
  #closed = false;
  #paused = false;

  /** Makes an empty pool; relays come with the first {@link RelayPool.map} of each owner. */
  constructor(options: RelayPoolOptions) {
    this.#options = options;
  }

  /**
   * Returns the address of the relay in front of `address`, starting it on first use. The relay's
   * seed is derived from the pool's seed and the node id, so runs reproduce per owner.
   */
  readonly map = (address: PeerAddress, nodeId: string): PeerAddress => {
    if (this.#closed) throw new Error(`Cannot map owner ${nodeId}: the relay pool is closed`);
    const key = `${nodeId}|${address.host}|${address.port}`;
    let entry = this.#relays.get(key);
    if (!entry) {
      const { onRelay, ...options } = this.#options;
      const relay = startRelay({
        ...options,
        target: toNetAddr(address),
        hostname: this.#options.hostname ?? (address.family === 6 ? "::1" : "127.0.0.1"),
        seed: deriveSeed(this.#options.seed, hashString(nodeId)),
      });
      for (const change of this.#changes) relay.setRates(change);
      if (this.#paused) relay.pause();
      onRelay?.(relay, nodeId);
      entry = { nodeId, relay };
      this.#relays.set(key, entry);
    }
    return entry.relay.wireAddress;
  };

  /** The relays started so far, with the node id each stands in front of. */
  relays(): { nodeId: string; relay: Relay }[] {
    return [...this.#relays.values()];
  }

  /** The relays in front of one owner (more than one if its address changed). */
  relaysOf(nodeId: string): Relay[] {
    return this.relays().filter((e) => e.nodeId === nodeId).map((e) => e.relay);
  }

  /** Changes the rates of every relay, and of those started later. */
  setRates(rates: RelayRates): void {
    for (const { relay } of this.#relays.values()) relay.setRates(rates);
    this.#changes.push(rates);
  }

  /** Pauses every relay, and those started later, until {@link RelayPool.resume}. */
  pause(): void {
    this.#paused = true;
    for (const { relay } of this.#relays.values()) relay.pause();
  }

  /** Resumes every relay (each sends what it held) and cancels pending pauseAfter calls. */
  resume(): void {
    this.#paused = false;
    for (const { relay } of this.#relays.values()) relay.resume();
  }

  /** Counters summed over every relay. */
  totals(): RelayStats {
    const total: RelayStats = {
      toTarget: newDirectionStats(),
      fromTarget: newDirectionStats(),
      clients: 0,
      evictedClients: 0,
      sendErrors: 0,
    };
    for (const { relay } of this.#relays.values()) {
      const s = relay.stats;
      addStats(total.toTarget, s.toTarget);
      addStats(total.fromTarget, s.fromTarget);
      total.clients += s.clients;
      total.evictedClients += s.evictedClients;
      total.sendErrors += s.sendErrors;
    }
    return total;
  }

  /** Closes every relay. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#relays.values()].map((e) => e.relay.close()));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * A {@link RelayOptions.transform} for a relay in front of the tracker: the owner addresses in its
 * OWNERS replies are mapped through `pool`, so a peer process (which has no `mapOwnerAddress`)
 * reaches every owner through the pool's relays.
 *
 * @example A `peer.ts get` child whose transfer the test can pause
 * ```ts ignore
 * await using pool = new RelayPool({ seed: 1 });
 * await using front = startRelay({ target: tracker, seed: 2, transform: mapOwnersThrough(pool) });
 * // run `peer.ts get NAME --tracker 127.0.0.1:${front.address.port}`, then pool.pause() …
 * ```
 */
export function mapOwnersThrough(
  pool: RelayPool,
): (bytes: Uint8Array, direction: "toTarget" | "fromTarget") => Uint8Array {
  return (bytes, direction) => {
    if (direction !== "fromTarget") return bytes;
    let msg: Message;
    try {
      msg = decodeMessage(bytes);
    } catch {
      return bytes;
    }
    if (msg.type !== "owners") return bytes;
    const owners = msg.owners.map((o) => ({ ...o, address: pool.map(o.address, o.nodeId) }));
    return encodeMessage({ ...msg, owners }).slice();
  };
}

/** A peer process's way to the swarm through relays it cannot see: see {@link relayedSwarm}. */
export interface RelayedSwarm extends AsyncDisposable {
  /** One relay in front of each owner. */
  pool: RelayPool;
  /** The relay in front of the tracker, mapping OWNERS through `pool`. */
  front: Relay;
  /** The tracker address to give the peer process: `127.0.0.1:PORT` of `front`. */
  tracker: string;
  /** Resolves when the first owner relay has passed `pauseAfter` bytes (and holds). */
  held: Promise<void>;
}

/**
 * A front relay to the tracker whose OWNERS point at a {@link RelayPool}, each owner relay
 * holding after `pauseAfter` bytes: a `peer.ts get` child told `tracker` downloads until
 * `held`, then the test can {@link RelayPool.pause} the whole transfer.
 *
 * @param options the tracker, the seed (the front relay takes `seed + 1`) and the hold budget
 * @returns the relays; `await using` closes them
 */
export function relayedSwarm(options: {
  tracker: Deno.NetAddr;
  seed: number;
  pauseAfter: number;
}): RelayedSwarm {
  const held = Promise.withResolvers<void>();
  const pool = new RelayPool({
    seed: options.seed,
    onRelay: (relay) => void relay.pauseAfter(options.pauseAfter).then(held.resolve),
  });
  const front = startRelay({
    target: options.tracker,
    seed: options.seed + 1,
    transform: mapOwnersThrough(pool),
  });
  return {
    pool,
    front,
    tracker: `127.0.0.1:${front.address.port}`,
    held: held.promise,
    async [Symbol.asyncDispose]() {
      await front[Symbol.asyncDispose]();
      await pool[Symbol.asyncDispose]();
    },
  };
}
