/**
 * The Redis {@link Bep15Store}: BitTorrent swarms in the Redis of a `RedisStore`, so every
 * tracker started with the same `--store` serves the same swarms. Each call is one operation of
 * the store's script (redis_bep15_script.ts) and travels in the store's group-committed batches
 * (redis_batch.ts): an announce costs one share of a batched round trip, never a round trip of
 * its own. Contract: bep15_store.ts.
 * @module
 */
import { toHex } from "../../wire/hex.ts";
import {
  BEP15_LAZY_EXPIRE,
  type Bep15Counts,
  type Bep15Expired,
  type Bep15Store,
  type Bep15StoreAnnounce,
  type Bep15StoreReply,
  NO_EXPIRED,
} from "./bep15_store.ts";

/** Runs one operation of the store's script (its name first; the prefix is added). */
export type RedisOperation = (...args: (string | number)[]) => Promise<unknown>;

function nibble(c: number): number {
  return c <= 57 ? c - 48 : c - 87; // '0'..'9', 'a'..'f'
}

/** Writes lowercase hex into `out` at `offset`; returns the bytes written. */
function hexInto(hex: string, out: Uint8Array, offset: number): number {
  const n = hex.length >> 1;
  for (let i = 0; i < n; i++) {
    out[offset + i] = nibble(hex.charCodeAt(2 * i)) << 4 | nibble(hex.charCodeAt(2 * i + 1));
  }
  return n;
}

/** `IH:PEER`, last heard, … as expired peers, from index `from` of a script reply. */
function expiredFrom(r: readonly unknown[], from: number): readonly Bep15Expired[] {
  if (r.length <= from) return NO_EXPIRED;
  const out: Bep15Expired[] = [];
  for (let i = from; i + 1 < r.length; i += 2) {
    const m = String(r[i]);
    const peer = m.slice(41);
    const entry = new Uint8Array(peer.length >> 1);
    hexInto(peer, entry, 0);
    const a = entry.length - 2;
    out.push({
      infoHash: m.slice(0, 40),
      family: a === 4 ? 4 : 6,
      address: entry.subarray(0, a),
      port: entry[a]! << 8 | entry[a + 1]!,
      lastSeen: Number(r[i + 1]),
    });
  }
  return out;
}

/** BitTorrent swarms in Redis, shared by the trackers of one store. */
export class RedisBep15Store implements Bep15Store {
  /** Always `redis`. */
  readonly kind = "redis" as const;
  readonly #op: RedisOperation;

  /**
   * @param op runs one operation of the store's script in its batches (`RedisStore` passes it)
   */
  constructor(op: RedisOperation) {
    this.#op = op;
  }

  /** {@inheritDoc Bep15Store.announce} */
  async announce(q: Bep15StoreAnnounce, out: Uint8Array, offset: number): Promise<Bep15StoreReply> {
    const peer = toHex(q.address) + (q.port >> 8 | 0x100).toString(16).slice(1) +
      (q.port & 0xff | 0x100).toString(16).slice(1);
    const r = await this.#op(
      "bt_announce",
      toHex(q.infoHash, 0, 20),
      peer,
      q.event,
      q.seeding ? 1 : 0,
      q.now,
      q.want,
      q.random,
      q.cutoff,
      BEP15_LAZY_EXPIRE,
      q.maxPeers,
      q.maxPeersPerSwarm,
      q.port !== 0 ? 1 : 0,
    ) as unknown[];
    const hex = String(r[4] ?? "");
    const bytes = hexInto(hex, out, offset);
    return {
      status: r[0] as Bep15StoreReply["status"],
      completed: r[1] === 1,
      seeders: Number(r[2]),
      leechers: Number(r[3]),
      peers: bytes / (peer.length >> 1),
      bytes,
      expired: expiredFrom(r, 5),
    };
  }

  /** {@inheritDoc Bep15Store.scrape} */
  async scrape(
    hashes: Uint8Array,
    count: number,
    cutoff: number,
    out: Uint8Array,
    offset: number,
  ): Promise<readonly Bep15Expired[]> {
    const args: (string | number)[] = ["bt_scrape", cutoff, BEP15_LAZY_EXPIRE];
    for (let i = 0; i < count; i++) args.push(toHex(hashes, 20 * i, 20));
    const r = await this.#op(...args) as unknown[];
    const v = new DataView(out.buffer, out.byteOffset + offset, 12 * count);
    for (let i = 0; i < 3 * count; i++) v.setUint32(4 * i, Number(r[i] ?? 0));
    return expiredFrom(r, 3 * count);
  }

  /** {@inheritDoc Bep15Store.expire} */
  async expire(cutoff: number, max: number): Promise<readonly Bep15Expired[]> {
    return expiredFrom(await this.#op("bt_expire", cutoff, max) as unknown[], 0);
  }

  /** Always undefined: the rules call {@link RedisBep15Store.expire} on a period. */
  oldestSeen(): number | undefined {
    return undefined;
  }

  /** {@inheritDoc Bep15Store.counts} */
  async counts(): Promise<Bep15Counts> {
    const r = await this.#op("bt_counts") as unknown[];
    return { peers: Number(r[0]), swarms: Number(r[1]) };
  }
}
