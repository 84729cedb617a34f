/**
 * The BEP 15 side of the tracker as a pure core: datagram in, reply out (parse → connection id
 * check → {@link Bep15Swarms}). The server routes a datagram here when
 * {@link isBep15Datagram} says so, before any other parsing.
 *
 * Connection ids are address cookies from a {@link CookieJar} of their own (bound to the source
 * address and port, key rotating every `connectionEpochMs`, the previous key still accepted):
 * nothing is stored per connection. The cookie is rotated by one byte so its lowest byte, which
 * carries the "session" kind bit, comes first: that byte has bit 1 set, so a connection id can
 * never start with the udpswarm magic `US` (0x55 has bit 1 clear) and the two protocols never
 * mix on one port. Verifying an id costs an HMAC; a bounded cache of the ids already verified
 * for a source (forgotten when its key retires) makes the next announces cost a Map lookup.
 *
 * Replies are never larger than the request before the address is proven: the connect reply is
 * 16 bytes for a 16-byte request, and an error for a bad or expired id is cut to the request's
 * size. Every source is limited by the same token bucket as the native protocol.
 *
 * The swarms live in a {@link Bep15Store}: this process's memory by default (every reply at
 * once), or the Redis of `--store redis://…` (announces and scrapes answer with a Promise after
 * the store's batched round trip). With a store shared by several trackers, pass its `secret`:
 * the connection-id keys are then derived from it with epochs on the wall clock (pass
 * `Date.now()` as the time), so an id one tracker issued is valid at every other.
 * @module
 */
import {
  BEP15_ANNOUNCE_REPLY_HEADER,
  BEP15_SCRAPE_HEADER,
  Bep15Action,
  type Bep15AnnounceScalars,
  decodeBep15Request,
  encodeBep15Error,
  readBep15Announce,
  scrapeCount,
  writeBep15AnnounceHeader,
  writeBep15Connect,
} from "../wire/bep15.ts";
import { WireError } from "../wire/wire_error.ts";
import { createHmac } from "node:crypto";
import { CookieJar, packAddress } from "../net/cookie_jar.ts";
import { RateLimiter } from "../net/rate_limiter.ts";
import { LogThrottle } from "../log/log_throttle.ts";
import { ReplySlab } from "../wire/fast_path.ts";
import { resolveLimits, type TrackerLimits } from "./limits.ts";
import {
  type Bep15AnnounceInput,
  type Bep15AnnounceResult,
  type Bep15SwarmEvent,
  Bep15Swarms,
  type Bep15SwarmsOptions,
} from "./bep15_swarms.ts";
import type { Bep15Store } from "./store/bep15_store.ts";
import type { Pending } from "./store/swarm_store.ts";

/**
 * Tells whether the tracker routes a datagram to the BEP 15 side, on its first bytes only: at
 * least 16 bytes, an action field (offset 8) of 0, 1 or 2, and then either the protocol id
 * `0x41727101980` (a connect) or a first byte with bit 1 set (an announce or scrape: every
 * connection id this tracker issues has it, see the module doc). A udpswarm datagram starts with
 * `US` (`0x55`, bit 1 clear), so the two protocols never mix; garbage that is neither goes to the
 * udpswarm side, which drops it without a reply and counts it.
 *
 * @param bytes a datagram
 * @returns true when it is for the BEP 15 side
 */
export function isBep15Datagram(bytes: Uint8Array): boolean {
  if (bytes.byteLength < 16 || bytes[8] !== 0 || bytes[9] !== 0 || bytes[10] !== 0) return false;
  const action = bytes[11]!;
  if (action === Bep15Action.connect) {
    return bytes[0] === 0 && bytes[1] === 0 && bytes[2] === 0x04 && bytes[3] === 0x17 &&
      bytes[4] === 0x27 && bytes[5] === 0x10 && bytes[6] === 0x19 && bytes[7] === 0x80;
  }
  return action <= Bep15Action.scrape && (bytes[0]! & 2) !== 0;
}

/** Default lifetime of a connection-id key: ids stay valid 2 to 4 minutes (BEP 15: at least 2). */
export const BEP15_CONNECTION_EPOCH_MS = 120_000;

/** Options for {@link Bep15Dispatch}. */
export interface Bep15DispatchOptions
  extends Omit<Bep15SwarmsOptions, "maxPeers" | "events" | "store"> {
  /** The time at construction, in ms, on the same clock as every later call. */
  now: number;
  /** Where the swarms live. @default this process's memory */
  store?: Bep15Store;
  /**
   * The secret shared by the trackers of one store (`RedisStore.sharedSecret()`): connection
   * ids are derived from it (under a label of their own) with wall-clock epochs, so every
   * tracker of the store accepts them; the time passed in must then be the wall clock.
   * @default random keys of this process
   */
  secret?: Uint8Array;
  /** Limits shared with the native protocol (maxPeers, requestsPerSecond, burst, maxSources). */
  limits?: Partial<TrackerLimits>;
  /** How often the connection-id key rotates. @default 120000 */
  connectionEpochMs?: number;
  /** Random bytes for connection-id keys. @default crypto.getRandomValues */
  randomBytes?: (n: number) => Uint8Array;
  /** Queue events for {@link Bep15Dispatch.pollEvent}. @default true */
  events?: boolean;
  /** Where replies are carved from (see {@link ReplySlab}). @default a private ring */
  replySlab?: ReplySlab;
}

/** Where a datagram came from (a `Deno.NetAddr` fits). */
export interface Bep15Source {
  /** IP literal; IPv4-mapped IPv6 counts as IPv4. */
  hostname: string;
  /** UDP port. */
  port: number;
}

/** Counters of the BEP 15 side. */
export interface Bep15Counters {
  /** Datagrams handled. */
  received: number;
  /** Connect requests answered. */
  connects: number;
  /** Announces answered. */
  announces: number;
  /** Scrapes answered. */
  scrapes: number;
  /** Announces and scrapes with a bad or expired connection id. */
  badConnectionIds: number;
  /** Datagrams that failed to decode. */
  malformed: number;
  /** Datagrams dropped by the per-source token bucket. */
  rateLimited: number;
  /** Error replies sent. */
  errors: number;
  /** Announces and scrapes dropped because the store was unreachable. */
  storeErrors: number;
}

/** Something the BEP 15 side did or refused, for the log. */
export type Bep15Event =
  | Bep15SwarmEvent
  | { type: "bep15_scrape"; source: string; hashes: number }
  | { type: "bep15_refused"; source: string; detail: string }
  | { type: "bep15_malformed"; source: string; detail: string }
  | { type: "bep15_rate_limited"; source: string }
  | { type: "bep15_store_error"; detail: string }
  | { type: "bep15_key_rotated"; epoch: number };

/**
 * Formats an event as a log line (without timestamp).
 *
 * @param e the event
 * @returns one line
 */
export function formatBep15Event(e: Bep15Event): string {
  switch (e.type) {
    case "bep15_join":
      return `bep15 announce ${e.infoHash} from ${e.peer}: joined as ${
        e.seeding ? "seeder" : "leecher"
      }`;
    case "bep15_completed":
      return `bep15 announce ${e.infoHash} from ${e.peer}: completed`;
    case "bep15_stopped":
      return `bep15 announce ${e.infoHash} from ${e.peer}: stopped`;
    case "bep15_expired":
      return `bep15 expire ${e.infoHash} ${e.peer} silent ${e.silentMs} ms`;
    case "bep15_full":
      return `bep15 announce ${e.infoHash} from ${e.peer}: not stored, ${e.limit} full (further ones are not logged for a minute)`;
    case "bep15_scrape":
      return `bep15 scrape from ${e.source}: ${e.hashes} info hash(es)`;
    case "bep15_refused":
      return `bep15 refused ${e.source}: ${e.detail}`;
    case "bep15_malformed":
      return `bep15 malformed datagram from ${e.source}: ${e.detail}`;
    case "bep15_rate_limited":
      return `bep15 rate limited ${e.source} (further drops from it are not logged for a minute)`;
    case "bep15_key_rotated":
      return `bep15 connection id key rotated, epoch ${e.epoch}`;
    case "bep15_store_error":
      return `bep15 request dropped: ${e.detail} (further ones are not logged for a minute)`;
  }
}

/** A source whose connection id was verified, cached until its key retires. */
interface Verified {
  readonly host: string;
  readonly port: number;
  next: Verified | undefined;
  /** The connection id's high 32 bits. */
  idHi: number;
  /** The connection id's low 32 bits. */
  idLo: number;
  /** The jar epoch whose key issued `id`. */
  epoch: number;
  readonly family: 4 | 6;
  /** The source address bytes (4 or 16). */
  readonly address: Uint8Array;
}

/** The source's family, address bytes and packed form (as {@link CookieJar} takes it). */
interface SourceAddress {
  family: 4 | 6;
  address: Uint8Array;
  packed: Uint8Array;
}

function sourceAddress(hostname: string, port: number): SourceAddress | null {
  // A dual-stack socket names IPv4 senders ::ffff:a.b.c.d; they are IPv4 peers.
  const h = hostname.startsWith("::ffff:") && hostname.includes(".") ? hostname.slice(7) : hostname;
  const packed = packAddress(h, port);
  if (packed === null) return null;
  return { family: packed[0] === 4 ? 4 : 6, address: packed.subarray(1, -2), packed };
}

const MASK64 = (1n << 64n) - 1n;
/** A cookie as a connection id: its lowest byte first (see the module doc). */
function toConnectionId(cookie: bigint): bigint {
  return (cookie >> 8n) | ((cookie & 0xffn) << 56n);
}
function fromConnectionId(id: bigint): bigint {
  return ((id << 8n) & MASK64) | (id >> 56n);
}

function label(s: Bep15Source): string {
  return s.hostname.includes(":") ? `[${s.hostname}]:${s.port}` : `${s.hostname}:${s.port}`;
}

/** The connection-id secret of the trackers of one store: apart from the address cookies'. */
function connectionSecret(secret: Uint8Array): Uint8Array {
  return new Uint8Array(
    createHmac("sha256", secret).update("udpswarm bep15 connection id").digest(),
  );
}

function defaultRandomBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

const EVENT_WINDOW_MS = 60_000;
const SWEEP_EVERY_MS = 10_000;
const BAD_ID = "Connection id is stale or wrong: connect again";

/** The BEP 15 tracker: requests in, replies out. Sans-I/O. */
export class Bep15Dispatch {
  /** The swarms (for tests and counters). */
  readonly swarms: Bep15Swarms;
  /** Counters. */
  readonly counters: Bep15Counters = {
    received: 0,
    connects: 0,
    announces: 0,
    scrapes: 0,
    badConnectionIds: 0,
    malformed: 0,
    rateLimited: 0,
    errors: 0,
    storeErrors: 0,
  };
  readonly #jar: CookieJar;
  /** Whether the store answers at once (the memory store). */
  readonly #sync: boolean;
  readonly #limiter: RateLimiter;
  readonly #throttle = new LogThrottle(EVENT_WINDOW_MS);
  readonly #slab: ReplySlab;
  readonly #recordEvents: boolean;
  readonly #events: Bep15Event[] = [];
  #eventHead = 0;
  /** Verified sources by port, chained by host (an integer key hashes cheaply). */
  readonly #verified = new Map<number, Verified>();
  #verifiedCount = 0;
  readonly #maxVerified: number;
  #nextSweep: number;
  readonly #scratch = new Uint8Array(BEP15_ANNOUNCE_REPLY_HEADER + 1200);
  readonly #fields: Bep15AnnounceScalars = {
    txid: 0,
    downloaded: 0,
    left: 0,
    uploaded: 0,
    event: "none",
    ip: 0,
    key: 0,
    numWant: -1,
    port: 0,
  };
  readonly #input: Bep15AnnounceInput = {
    infoHash: new Uint8Array(20),
    family: 4,
    address: new Uint8Array(4),
    port: 0,
    event: "none",
    left: 0,
    key: 0,
    numWant: -1,
  };

  /**
   * Creates the BEP 15 side with its own connection-id key and token buckets.
   *
   * @param options timing, limits, caps, clock start and randomness
   */
  constructor(options: Bep15DispatchOptions) {
    const limits = resolveLimits(options.limits);
    this.#recordEvents = options.events ?? true;
    this.swarms = new Bep15Swarms({
      ...options,
      maxPeers: limits.maxPeers,
      events: this.#recordEvents,
      ...(options.store !== undefined ? { store: options.store } : {}),
    });
    this.#sync = this.swarms.store.kind === "memory";
    this.#jar = new CookieJar(
      options.connectionEpochMs ?? BEP15_CONNECTION_EPOCH_MS,
      options.randomBytes ?? defaultRandomBytes,
      options.now,
      options.secret !== undefined ? connectionSecret(options.secret) : undefined,
    );
    this.#limiter = new RateLimiter({
      ratePerSecond: limits.requestsPerSecond,
      burst: limits.burst,
      maxSources: limits.maxSources,
    });
    this.#maxVerified = limits.maxSources;
    this.#slab = options.replySlab ?? new ReplySlab();
    this.#nextSweep = options.now + SWEEP_EVERY_MS;
  }

  /** The connection-id key's epoch (for tests). */
  get epoch(): number {
    return this.#jar.epoch;
  }

  /**
   * Handles one BEP 15 datagram.
   *
   * @param bytes the datagram (only read during the call)
   * @param from its source
   * @param now the current time in ms
   * @returns the reply for `from`, or undefined for none; it may be a view into the reply slab:
   *   send it at once. On a store that answers later, announces and scrapes answer with a
   *   Promise (`bytes` is read during the call only)
   */
  handleDatagram(
    bytes: Uint8Array,
    from: Bep15Source,
    now: number,
  ): Pending<Uint8Array | undefined> {
    this.counters.received++;
    if (now >= this.#jar.nextRotation) this.#rotate(now);
    if (!this.#limiter.allow(from.hostname, from.port, now)) {
      this.counters.rateLimited++;
      if (this.#throttle.shouldReport("rl|" + from.hostname + "|" + from.port, now)) {
        this.#event({ type: "bep15_rate_limited", source: label(from) });
        // One error per source per minute, so a well-behaved client learns why it is dropped.
        if (bytes.byteLength >= 16) {
          return this.#error(bytes, "Too many requests: slow down");
        }
      }
      return undefined;
    }
    if (!isBep15Datagram(bytes)) return this.#malformed(from, now, "not a BEP 15 request");
    const action = bytes[11]!;
    if (action === Bep15Action.connect) return this.#connect(bytes, from, now);

    const source = this.#check(bytes, from);
    if (source === undefined) {
      this.counters.badConnectionIds++;
      if (this.#recordEvents && this.#throttle.shouldReport("id|" + label(from), now)) {
        this.#event({ type: "bep15_refused", source: label(from), detail: BAD_ID });
      }
      return this.#error(bytes, BAD_ID);
    }
    if (action === Bep15Action.announce) return this.#announce(bytes, from, source, now);
    return this.#scrape(bytes, from, now);
  }

  /**
   * Expires silent peers, rotates the connection-id key and sweeps limiter state that is due.
   *
   * @param now the current time in ms
   * @returns when done (a store that answers later: after its round trip; a store error is
   *   logged, not thrown)
   */
  handleTimeout(now: number): Pending<void> {
    if (now >= this.#jar.nextRotation) this.#rotate(now);
    if (now >= this.#nextSweep) {
      this.#limiter.sweep(now);
      this.#throttle.sweep(now);
      this.#nextSweep = now + SWEEP_EVERY_MS;
    }
    const done = this.swarms.handleTimeout(now);
    return done instanceof Promise ? done.catch((e) => this.#storeError(e, now)) : done;
  }

  /**
   * The next time {@link Bep15Dispatch.handleTimeout} has work.
   *
   * @returns a time in ms
   */
  pollTimeout(): number {
    return Math.min(this.swarms.pollTimeout(), this.#jar.nextRotation, this.#nextSweep);
  }

  /**
   * The oldest event not yet drained (the swarms' events first).
   *
   * @returns the event, or undefined
   */
  pollEvent(): Bep15Event | undefined {
    const s = this.swarms.pollEvent();
    if (s !== undefined) return s;
    if (this.#eventHead >= this.#events.length) {
      if (this.#events.length > 0) this.#events.length = this.#eventHead = 0;
      return undefined;
    }
    return this.#events[this.#eventHead++];
  }

  // ---------------------------------------------------------------- requests

  #connect(bytes: Uint8Array, from: Bep15Source, now: number): Uint8Array | undefined {
    try {
      decodeBep15Request(bytes);
    } catch (e) {
      return this.#malformed(from, now, (e as WireError).message);
    }
    const src = sourceAddress(from.hostname, from.port);
    if (src === null) return this.#malformed(from, now, "unusable source address");
    this.counters.connects++;
    const txid = (bytes[12]! << 24 | bytes[13]! << 16 | bytes[14]! << 8 | bytes[15]!) >>> 0;
    const id = toConnectionId(this.#jar.issue(src.packed, "session"));
    return writeBep15Connect(this.#slab.take(16), txid, id);
  }

  /** The source of a request with a valid connection id, or undefined. */
  #check(bytes: Uint8Array, from: Bep15Source): Verified | undefined {
    const hi = (bytes[0]! << 24 | bytes[1]! << 16 | bytes[2]! << 8 | bytes[3]!) >>> 0;
    const lo = (bytes[4]! << 24 | bytes[5]! << 16 | bytes[6]! << 8 | bytes[7]!) >>> 0;
    const head = this.#verified.get(from.port);
    let v = head;
    while (v !== undefined && v.host !== from.hostname) v = v.next;
    if (v !== undefined && v.idHi === hi && v.idLo === lo && this.#jar.epoch - v.epoch <= 1) {
      return v;
    }
    const src = sourceAddress(from.hostname, from.port);
    if (src === null) return undefined;
    const cookie = fromConnectionId(BigInt(hi) << 32n | BigInt(lo));
    if (this.#jar.verify(cookie, src.packed) !== "session") return undefined;
    const epoch = Number(cookie & 1n) === (this.#jar.epoch & 1)
      ? this.#jar.epoch
      : this.#jar.epoch - 1;
    if (v !== undefined) {
      v.idHi = hi;
      v.idLo = lo;
      v.epoch = epoch;
      return v;
    }
    const created: Verified = {
      host: from.hostname,
      port: from.port,
      next: head,
      idHi: hi,
      idLo: lo,
      epoch,
      family: src.family,
      address: src.address,
    };
    if (this.#verifiedCount < this.#maxVerified) {
      this.#verified.set(from.port, created);
      this.#verifiedCount++;
    }
    return created;
  }

  #announce(
    bytes: Uint8Array,
    from: Bep15Source,
    src: Verified,
    now: number,
  ): Pending<Uint8Array | undefined> {
    const f = this.#fields;
    try {
      readBep15Announce(bytes, f);
    } catch (e) {
      this.#malformed(from, now, (e as WireError).message);
      return this.#error(bytes, (e as WireError).message);
    }
    this.counters.announces++;
    const input = this.#input;
    input.infoHash = bytes.subarray(16, 36);
    input.family = src.family;
    input.address = src.address;
    input.port = f.port;
    input.event = f.event;
    input.left = f.left;
    input.key = f.key;
    input.numWant = f.numWant;
    // A store that answers later writes the peers then: each call gets its own buffer.
    const scratch = this.#sync ? this.#scratch : new Uint8Array(this.#scratch.byteLength);
    const r = this.swarms.handleAnnounce(input, now, scratch, BEP15_ANNOUNCE_REPLY_HEADER);
    const txid = f.txid;
    if (r instanceof Promise) {
      return r.then(
        (r) => this.#announceReply(txid, r, scratch),
        (e) => this.#storeError(e, now),
      );
    }
    return this.#announceReply(txid, r, scratch);
  }

  #announceReply(txid: number, r: Bep15AnnounceResult, scratch: Uint8Array): Uint8Array {
    const size = BEP15_ANNOUNCE_REPLY_HEADER + r.bytes;
    const out = this.#slab.take(size);
    writeBep15AnnounceHeader(out, txid, this.swarms.intervalSeconds, r.leechers, r.seeders);
    if (r.bytes > 0) {
      out.set(scratch.subarray(BEP15_ANNOUNCE_REPLY_HEADER, size), BEP15_ANNOUNCE_REPLY_HEADER);
    }
    return out;
  }

  #scrape(bytes: Uint8Array, from: Bep15Source, now: number): Pending<Uint8Array | undefined> {
    let count: number;
    try {
      count = scrapeCount(bytes.byteLength);
    } catch (e) {
      this.#malformed(from, now, (e as WireError).message);
      return this.#error(bytes, (e as WireError).message);
    }
    this.counters.scrapes++;
    if (this.#recordEvents) {
      this.#event({ type: "bep15_scrape", source: label(from), hashes: count });
    }
    const hashes = bytes.subarray(BEP15_SCRAPE_HEADER, BEP15_SCRAPE_HEADER + 20 * count);
    if (this.#sync) {
      const out = this.#slab.take(8 + 12 * count);
      out.set(bytes.subarray(8, 16), 0); // action 2 and the txid, as in the request
      this.swarms.handleScrape(hashes, count, now, out, 8);
      return out;
    }
    const entries = new Uint8Array(8 + 12 * count);
    entries.set(bytes.subarray(8, 16), 0);
    return (this.swarms.handleScrape(hashes, count, now, entries, 8) as Promise<void>).then(
      () => {
        const out = this.#slab.take(entries.byteLength);
        out.set(entries);
        return out;
      },
      (e) => this.#storeError(e, now),
    );
  }

  /** The store failed (Redis unreachable): the request is dropped, the client retries. */
  #storeError(e: unknown, now: number): undefined {
    if (!(e instanceof Error && e.name === "StoreUnavailable")) throw e;
    this.counters.storeErrors++;
    if (this.#recordEvents && this.#throttle.shouldReport("store", now)) {
      this.#event({ type: "bep15_store_error", detail: e.message });
    }
    return undefined;
  }

  // ---------------------------------------------------------------- helpers

  #malformed(from: Bep15Source, now: number, detail: string): undefined {
    this.counters.malformed++;
    if (this.#recordEvents && this.#throttle.shouldReport("bad|" + label(from), now)) {
      this.#event({ type: "bep15_malformed", source: label(from), detail });
    }
    return undefined;
  }

  /** An error reply no larger than the request. */
  #error(request: Uint8Array, message: string): Uint8Array | undefined {
    const txid = (request[12]! << 24 | request[13]! << 16 | request[14]! << 8 | request[15]!) >>> 0;
    const reply = encodeBep15Error(txid, message, request.byteLength);
    if (reply !== undefined) this.counters.errors++;
    return reply;
  }

  #rotate(now: number): void {
    if (!this.#jar.rotate(now)) return;
    this.#event({ type: "bep15_key_rotated", epoch: this.#jar.epoch });
    // Forget verified ids whose key has retired.
    const oldest = this.#jar.epoch - 1;
    for (const [port, head] of this.#verified) {
      let keep: Verified | undefined;
      for (let v: Verified | undefined = head; v !== undefined;) {
        const next: Verified | undefined = v.next;
        if (v.epoch < oldest) this.#verifiedCount--;
        else {
          v.next = keep;
          keep = v;
        }
        v = next;
      }
      if (keep === undefined) this.#verified.delete(port);
      else if (keep !== head) this.#verified.set(port, keep);
    }
  }

  #event(e: Bep15Event): void {
    if (this.#recordEvents) this.#events.push(e);
  }
}
