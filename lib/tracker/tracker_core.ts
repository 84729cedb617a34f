/**
 * The tracker's rules, written once over a {@link SwarmStore}: a datagram in, the reply out.
 * It parses (the fast path for heartbeats and NEEDs of verified peers on the memory store, else
 * the reference codec), applies the per-source token bucket and the per-address and per-prefix
 * ones, checks that a request carries a valid session cookie and comes from the address that
 * registered its node id, applies the request's rule with one store operation, and turns a
 * refusal into an ERROR reply (never larger than the request for a source that has proven
 * nothing, and never naming another address). Bad input is dropped and logged once per address
 * per minute ({@link IncidentLog}).
 *
 * One core for both stores: the memory store answers synchronously, so every rule runs to its
 * reply within the call ({@link Dispatcher}, the default tracker); the Redis store answers with
 * Promises, and the same rule code continues when the store has answered ({@link then};
 * {@link StoreDispatcher}). What differs by store is only what the memory store can do without
 * a round trip: the fast path (the session cookie stored per peer, compared as two integers),
 * the registration check before the cookie check (so a request from another address is told
 * `wrong_address`, where the Redis path answers `bad_cookie` without asking the store), exact
 * eviction at each peer's deadline (Redis: an `expire` call every second) and LIST from the live
 * index (Redis: a snapshot of the store's rows). Sans-I/O apart from the store: the driver
 * (server.ts) passes the time to every call. Rules: docs/TRACKER.md.
 *
 * Over 600 lines with its JSDoc: the seven request rules share the cookie jar, the limits, the
 * counters, the reply buffers and the refusal path, and split apart they would pass all of that
 * back and forth.
 * @module
 */
import { canonicalAddress, type PeerAddress } from "../wire/address.ts";
import { encodeMessage } from "../wire/codec.ts";
import {
  ErrorCode,
  type ErrorCodeValue,
  type ListMessage,
  type Message,
  MessageType,
  NEED_PARTIAL,
  type OwnProgress,
} from "../wire/messages.ts";
import { SAFE_DATAGRAM } from "../wire/limits.ts";
import {
  encodeOwnerEntry,
  encodeOwners,
  encodeRegistered,
  fastType,
  newFastRequest,
  parseNeed,
  parseRegister,
  ReplySlab,
} from "../wire/fast_path.ts";
import { fromHex, toHex } from "../wire/hex.ts";
import { CookieJar, packAddress } from "../net/cookie_jar.ts";
import { SessionCookies } from "./session_cookies.ts";
import { formatHostPort } from "../net/host_port.ts";
import { RateLimiter } from "../net/rate_limiter.ts";
import { Fifo } from "../_util/fifo.ts";
import { fileNameProblem, quoteName } from "../wire/file_name.ts";
import {
  addressKeys,
  AddressLimits,
  ownersWanted,
  TrackerCoreTiming,
  type TrackerTimingOptions,
} from "./limits.ts";
import type { TrackerEvent } from "./tracker_event.ts";
import { rateAt, wireRate } from "./upload_rate.ts";
import { FileListing, type ListingPage } from "./file_listing.ts";
import { StoreListing } from "./store_listing.ts";
import { IncidentLog, listEvent, refusalText, utf8Length } from "./error_reply.ts";
import { MemoryStore } from "./store/memory_store.ts";
import {
  COMPLETE,
  type NeedResult,
  type PeerCheck,
  type Pending,
  shareByte,
  type StoreSource,
  type SwarmStore,
  then,
} from "./store/swarm_store.ts";

/** How often expired peers are collected from a store that cannot say when (Redis). */
export const EXPIRE_EVERY_MS = 1000;
/** Peers evicted per `expire` call (another call follows at once when it is full). */
const EXPIRE_BATCH = 1000;
const SWEEP_EVERY_MS = 10_000;

/** Where a datagram came from (a `Deno.NetAddr` fits). */
export type Source = StoreSource;

/** Counters of what the tracker has seen and done. */
export interface RegistryCounters {
  /** Datagrams handled. */
  received: number;
  /** Datagrams that failed to decode (dropped, no reply). */
  malformed: number;
  /** Well-formed datagrams of a type the tracker does not serve (dropped). */
  unexpected: number;
  /** Datagrams dropped by the per-source token bucket. */
  rateLimited: number;
  /** REGISTERs answered with a challenge cookie. */
  challenges: number;
  /** Peers registered (first time or after eviction/exit). */
  registrations: number;
  /** REGISTERs that refreshed a registered peer. */
  heartbeats: number;
  /** Peers evicted for silence. */
  evictions: number;
  /** Peers that sent EXIT. */
  exits: number;
  /** OWN requests applied. */
  owns: number;
  /** NEED requests answered with owners. */
  needs: number;
  /** UPDATE requests applied. */
  updates: number;
  /** LIST requests answered with a LISTING. */
  lists: number;
  /** REPORT requests applied. */
  reports: number;
  /** Bytes REPORTs credited to owners (after the caps). */
  creditedBytes: number;
  /** Requests refused or dropped by a per-address or per-prefix limit. */
  addressLimited: number;
  /** Requests answered with an ERROR. */
  errors: number;
  /** Cookie key rotations. */
  keyRotations: number;
}

/**
 * Counters at zero.
 *
 * @returns a fresh {@link RegistryCounters}
 */
export function newCounters(): RegistryCounters {
  return {
    received: 0,
    malformed: 0,
    unexpected: 0,
    rateLimited: 0,
    challenges: 0,
    registrations: 0,
    heartbeats: 0,
    evictions: 0,
    exits: 0,
    owns: 0,
    needs: 0,
    updates: 0,
    lists: 0,
    reports: 0,
    creditedBytes: 0,
    addressLimited: 0,
    errors: 0,
    keyRotations: 0,
  };
}

/** Options for {@link TrackerCore}. */
export interface TrackerCoreOptions extends TrackerTimingOptions {
  /** Where peers, files and rankings live. */
  store: SwarmStore;
  /** The time at construction, in ms, on the same clock as every later call. */
  now: number;
  /** Random bytes for cookie keys. @default crypto.getRandomValues */
  randomBytes?: (n: number) => Uint8Array;
  /** The secret cookies derive from (shared by the trackers of one store); none: random keys. */
  secret?: Uint8Array;
  /** Queue events for {@link TrackerCore.pollEvent}. @default true */
  events?: boolean;
  /**
   * Where hot replies are carved from. A driver that sends asynchronously passes one and
   * reports each send's completion to it. @default a private ring
   */
  replySlab?: ReplySlab;
}

/**
 * The address an owner is handed out with: the source as the socket reports it, an IPv4-mapped
 * IPv6 address as IPv4.
 *
 * @param hostname the source's IP address
 * @param port its port
 * @returns the address for OWNERS entries
 */
export function wireAddress(hostname: string, port: number): PeerAddress {
  // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; peers reach them over IPv4.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(hostname);
  return canonicalAddress(mapped ? mapped[1]! : hostname, port);
}

/** A refusal: an ERROR's code and text, and whether the source has proven its address. */
interface Refused {
  code: ErrorCodeValue;
  text: string;
  verified: boolean;
}

function refused(code: ErrorCodeValue, text: string, verified = true): Refused {
  return { code, text, verified };
}

/** A failed registration check: the source has proven nothing (the reply stays small). */
function checkRefusal(status: PeerCheck, nodeId: string): Refused | undefined {
  if (status === "unknown") {
    return refused(ErrorCode.unknown_node, refusalText.notRegistered(nodeId), false);
  }
  if (status === "wrong_address") {
    return refused(ErrorCode.wrong_address, refusalText.otherAddress(nodeId, false), false);
  }
  return undefined;
}

/** What a rule answers: the reply, a refusal, or nothing (dropped). */
type Outcome = Uint8Array | Refused | undefined;

/** A source's address, network prefix and host keys (see `addressKeys`). */
export interface Keys {
  /** The address key. */
  address: string;
  /** The network prefix key (IPv4 /24, IPv6 /64). */
  prefix: string;
  /** The host key (IPv4 address, IPv6 /64). */
  host: string;
}

function ack(txid: number): Uint8Array {
  return encodeMessage({ type: "ack", txid });
}

/** The largest double below `x` (eviction is for silence *longer* than the limit). */
function below(x: number): number {
  const f = new Float64Array([x]);
  const i = new BigInt64Array(f.buffer);
  if (x > 0) i[0]!--;
  else if (x < 0) i[0]!++;
  else return -Number.MIN_VALUE;
  return f[0]!;
}

const utf8 = new TextEncoder();

/** An OWNERS entry's wire bytes (node id, address) as a one-byte string. */
function entryString(nodeId: string, hostname: string, port: number): string {
  const b = encodeOwnerEntry({ nodeId, address: wireAddress(hostname, port), rate: 0 });
  return String.fromCharCode.apply(null, b as unknown as number[]);
}

/** The tracker's rules over a store (see the module doc). */
export class TrackerCore extends TrackerCoreTiming {
  /** Where peers, files and rankings live. */
  readonly store: SwarmStore;
  /** What the tracker has seen and done. */
  readonly counters: RegistryCounters = newCounters();
  /** Whether events are queued for {@link TrackerCore.pollEvent}. */
  readonly recordsEvents: boolean;
  /** Requests dropped because the store was unreachable (never, for the memory store). */
  storeErrors = 0;
  /**
   * Request buckets and REPORT credit per source address and network prefix (this process).
   *
   * @ignore
   */
  readonly shares: AddressLimits;
  readonly #mem: MemoryStore | undefined;
  readonly #events = new Fifo<TrackerEvent>();
  readonly #jar: CookieJar;
  readonly #limiter: RateLimiter;
  readonly #incidents: IncidentLog;
  readonly #fast = newFastRequest();
  readonly #slab: ReplySlab;
  /** Keys by source hostname, dropped at every sweep (and when 65,536 are held). */
  readonly #keys = new Map<string, Keys>();
  /** The prefix keys of {@link TrackerCore.#keys}, one string per prefix. */
  readonly #prefixes = new Map<string, string>();
  /** A remote store's owners' OWNERS entries, by node id (with the address they encode). */
  readonly #entries = new Map<string, { hostname: string; port: number; wire: string }>();
  /** Session cookies issued this epoch (the shared-store path's stand-in for the fast path). */
  readonly #sessions = new SessionCookies();
  readonly #entriesOut: string[] = [];
  readonly #ratesOut: number[] = [];
  readonly #fileListing: FileListing | undefined;
  readonly #storeListing: StoreListing | undefined;
  #peers = 0;
  #files = 0;
  #nextExpire: number;
  #nextSweep: number;
  #expiring = false;
  #down: string | undefined;

  /**
   * A core on a store.
   *
   * @param options the store, the timing, the limits and the cookie secret
   */
  constructor(options: TrackerCoreOptions) {
    super(options);
    this.store = options.store;
    this.#mem = options.store instanceof MemoryStore ? options.store : undefined;
    this.#jar = new CookieJar(
      this.cookieEpochMs,
      options.randomBytes ?? ((n) => crypto.getRandomValues(new Uint8Array(n))),
      options.now,
      options.secret,
    );
    this.#limiter = new RateLimiter({
      ratePerSecond: this.limits.requestsPerSecond,
      burst: this.limits.burst,
      maxSources: this.limits.maxSources,
    });
    this.shares = new AddressLimits(this.limits);
    this.#incidents = new IncidentLog((e) => this.report(e), this.counters);
    this.recordsEvents = options.events ?? true;
    this.#slab = options.replySlab ?? new ReplySlab();
    if (this.#mem !== undefined) this.#fileListing = new FileListing(this.#mem);
    else this.#storeListing = new StoreListing(this.store);
    this.#nextExpire = options.now + EXPIRE_EVERY_MS;
    this.#nextSweep = options.now + SWEEP_EVERY_MS;
  }

  /** Registered peers (for a remote store: at the last expiry run). */
  get peerCount(): number {
    return this.#mem?.peerCount ?? this.#peers;
  }

  /** Contents with at least one owner (for a remote store: at the last expiry run). */
  get fileCount(): number {
    return this.#mem?.fileCount ?? this.#files;
  }

  /** The cookie epoch (for tests and logs). */
  get cookieEpoch(): number {
    return this.#jar.epoch;
  }

  /**
   * The address, prefix and host keys of a source hostname (cached; see `addressKeys`).
   *
   * @param hostname the source's hostname
   * @returns its keys
   */
  keysOf(hostname: string): Keys {
    let k = this.#keys.get(hostname);
    if (k === undefined) {
      if (this.#keys.size >= 65_536) this.#dropKeys();
      k = addressKeys(hostname);
      const prefix = this.#prefixes.get(k.prefix);
      if (prefix === undefined) this.#prefixes.set(k.prefix, k.prefix);
      else if (k.host === k.prefix) k = { address: k.address, prefix, host: prefix };
      else k.prefix = prefix;
      this.#keys.set(hostname, k);
    }
    return k;
  }

  /**
   * Queues an event for {@link TrackerCore.pollEvent} (when events are recorded).
   *
   * @param e the event
   */
  report(e: TrackerEvent): void {
    if (this.recordsEvents) this.#events.push(e);
  }

  /**
   * The oldest event not yet drained.
   *
   * @returns the event, or undefined
   */
  pollEvent(): TrackerEvent | undefined {
    return this.#events.shift();
  }

  /**
   * Handles one datagram.
   *
   * @param bytes the datagram (only read during the call, or until the store answers)
   * @param from its source
   * @param now the current time in ms
   * @returns the reply to send back to `from` (possibly a view into the reply slab: send it at
   *   once), or undefined for none; now for the memory store, later for a remote one
   */
  handleDatagram(bytes: Uint8Array, from: Source, now: number): Pending<Uint8Array | undefined> {
    this.counters.received++;
    this.catchUp(now);
    const keys = this.keysOf(from.hostname);
    if (!this.#limiter.allow(from.hostname, from.port, now) || this.#allowRequest(keys, now)) {
      this.counters.rateLimited++;
      return this.#incidents.rateLimited(bytes, from, now);
    }
    const mem = this.#mem;
    if (mem !== undefined) {
      const fast = this.#fastPath(mem, bytes, from, now);
      if (fast !== undefined) return fast;
    }
    const msg = this.#incidents.decode(bytes, from, now);
    if (msg === undefined) return undefined;
    const size = bytes.byteLength;
    let r: Pending<Outcome>;
    try {
      r = this.#route(msg, from, keys, now);
    } catch (e) {
      return this.#failed(e);
    }
    if (r instanceof Promise) {
      return r.then((o) => this.#finish(msg, from, size, now, o), (e) => this.#failed(e));
    }
    return this.#finish(msg, from, size, now, r);
  }

  /**
   * Evicts overdue peers and rotates the cookie key when due: the work a request must not run
   * ahead of (the memory store; a remote store expires from {@link TrackerCore.handleTimeout}).
   *
   * @param now the current time in ms
   */
  catchUp(now: number): void {
    const mem = this.#mem;
    if (mem === undefined) return;
    const oldest = mem.oldestSeen();
    if (oldest !== undefined && now - oldest > this.evictAfterMs) this.#expire(now);
    if (now >= this.#jar.nextRotation) this.#rotate(now);
  }

  /**
   * Evicts overdue peers, rotates the cookie key and sweeps limiter state that is due.
   *
   * @param now the current time in ms
   * @returns when a remote store has answered
   */
  handleTimeout(now: number): Pending<void> {
    this.#rotate(now);
    if (now >= this.#nextSweep) {
      this.#limiter.sweep(now);
      this.#incidents.sweep(now);
      this.shares.sweep(now, this.rateTauMs);
      this.#dropKeys();
      this.#nextSweep = now + SWEEP_EVERY_MS;
    }
    if (this.#mem !== undefined) return this.#expire(now) as void;
    if (now < this.#nextExpire || this.#expiring) return;
    this.#expiring = true;
    this.#nextExpire = now + EXPIRE_EVERY_MS;
    return Promise.resolve(this.#expire(now))
      .then(() => this.store.counts())
      .then((c) => {
        this.#peers = c.peers;
        this.#files = c.files;
      })
      .catch((e) => {
        // Logged once by the next request; expiry runs again at the next period.
        if (!(e instanceof Error && e.name === "StoreUnavailable")) throw e;
      })
      .finally(() => this.#expiring = false);
  }

  /**
   * The next time {@link TrackerCore.handleTimeout} has work.
   *
   * @returns a time in ms on the core's clock
   */
  pollTimeout(): number {
    const t = Math.min(this.#jar.nextRotation, this.#nextSweep);
    if (this.#mem === undefined) return Math.min(t, this.#nextExpire);
    const oldest = this.#mem.oldestSeen();
    // Evicted when silent for *longer* than evictAfterMs: the first instant past it.
    return oldest === undefined ? t : Math.min(t, oldest + this.evictAfterMs + 1);
  }

  // ---------------------------------------------------------------- driving

  /** Forgets the cached keys (they are derived again from the next datagram). */
  #dropKeys(): void {
    this.#keys.clear();
    this.#prefixes.clear();
  }

  #allowRequest(keys: Keys, now: number): boolean {
    if (this.shares.allowRequest(keys.address, keys.prefix, now) === undefined) return false;
    this.counters.addressLimited++;
    return true;
  }

  /** Evicts the peers silent for longer than evictAfterMs, oldest first. */
  #expire(now: number): Pending<void> {
    const cutoff = below(now - this.evictAfterMs);
    const round = (): Pending<void> =>
      then(this.store.expire(cutoff, EXPIRE_BATCH), (gone) => {
        for (const e of gone) {
          this.counters.evictions++;
          this.report({
            type: "evict",
            nodeId: e.nodeId,
            address: formatHostPort(e),
            files: e.files,
            silentMs: Math.round(now - e.lastSeen),
          });
        }
        return gone.length < EXPIRE_BATCH ? undefined : round();
      });
    return round();
  }

  #rotate(now: number): void {
    if (this.#jar.rotate(now)) {
      this.counters.keyRotations++;
      this.report({ type: "key_rotated", epoch: this.#jar.epoch });
    }
  }

  /** A heartbeat or NEED from a verified peer carrying its stored cookie: no decode, no HMAC. */
  #fastPath(
    mem: MemoryStore,
    bytes: Uint8Array,
    from: Source,
    now: number,
  ): Uint8Array | undefined {
    const type = fastType(bytes);
    if (type !== MessageType.register && type !== MessageType.need) return undefined;
    const fast = this.#fast;
    if (!(type === MessageType.register ? parseRegister(bytes, fast) : parseNeed(bytes, fast))) {
      return undefined;
    }
    const p = mem.peerIndex(fast.nodeId);
    if (p < 0 || !mem.hasCookie(p, fast.cookieHi, fast.cookieLo) || !mem.isFrom(p, from)) {
      return undefined;
    }
    mem.touchIndex(p, now);
    if (type === MessageType.register) {
      this.counters.heartbeats++;
      return this.#registeredFor(p, undefined, fast.txid);
    }
    const byName = fast.wantKind === 1;
    const want = byName ? fast.name : toHex(bytes, fast.contentIdStart, 32);
    const k = ownersWanted(fast.maxOwners, this.maxOwners);
    const partial = (fast.flags & NEED_PARTIAL) !== 0;
    const r = mem.needIndex(p, now, { byName, want, k, mix: k >> 2, partial });
    const name = byName
      ? bytes.subarray(fast.nameStart, fast.nameStart + fast.nameLength)
      : undefined;
    const o = this.#owners(fast.nodeId, fast.txid, byName, want, partial, name, r, now);
    if (o instanceof Uint8Array) return o;
    return this.#refuse("need", from, fast.txid, o, Infinity, now);
  }

  /** A rule's outcome as the reply; notes that a remote store answers again. */
  #finish(msg: Message, from: Source, size: number, now: number, o: Outcome) {
    if (this.#down !== undefined) {
      this.report({ type: "store", state: "up", detail: `store is back: ${this.#down}` });
      this.#down = undefined;
    }
    if (o === undefined || o instanceof Uint8Array) return o;
    return this.#refuse(msg.type, from, msg.txid, o, o.verified ? Infinity : size, now);
  }

  /** A store that cannot be reached: the request is dropped, the outage logged once. */
  #failed(e: unknown): undefined {
    if (!(e instanceof Error && e.name === "StoreUnavailable")) throw e;
    this.storeErrors++;
    if (this.#down === undefined) {
      this.#down = e.message;
      this.report({
        type: "store",
        state: "down",
        detail: `${e.message}: requests are dropped until it is back`,
      });
    }
    return undefined;
  }

  /** An ERROR, never larger than `maxBytes` (the request's size for an unproven source). */
  #refuse(
    request: string,
    from: Source,
    txid: number,
    r: Refused,
    maxBytes: number,
    now: number,
  ): Uint8Array | undefined {
    const log = r.code !== ErrorCode.not_found && this.recordsEvents;
    const reply = this.#incidents.refuse(
      { request, txid, code: r.code, text: r.text, maxBytes, log },
      from,
      now,
    );
    return reply !== undefined && reply.byteLength > 0 ? reply : undefined;
  }

  // ---------------------------------------------------------------- rules

  #route(msg: Message, from: Source, keys: Keys, now: number): Pending<Outcome> {
    switch (msg.type) {
      case "register":
        return this.#register(msg.txid, msg.cookie, msg.nodeId, from, keys, now);
      case "own":
        return this.#verify(msg, from) ?? this.#own(msg, from, now);
      case "need": {
        const bad = this.#verify(msg, from);
        if (bad !== undefined) return bad;
        const byName = msg.want.kind === "name";
        const want = msg.want.kind === "name" ? msg.want.name : toHex(msg.want.contentId);
        const k = ownersWanted(msg.maxOwners, this.maxOwners);
        const partial = ((msg.flags ?? 0) & NEED_PARTIAL) !== 0;
        // A quarter of the places go to owners drawn at random: a bought (or stale) ranking
        // cannot keep any owner out of every reply.
        const query = { byName, want, k, exclude: msg.exclude, mix: k >> 2, partial };
        return then(
          this.store.need(msg.nodeId, from, now, query),
          (r) =>
            checkRefusal(r.status, msg.nodeId) ??
              this.#owners(msg.nodeId, msg.txid, byName, want, partial, undefined, r, now),
        );
      }
      case "report":
        return this.#verify(msg, from) ?? this.#credit(msg, from, keys, now);
      case "update":
        return this.#verify(msg, from) ?? then(this.store.touch(msg.nodeId, from, now), (s) => {
          const refusal = checkRefusal(s, msg.nodeId);
          if (refusal !== undefined) return refusal;
          // Logged only: an owner's own claim does not rank it (REPORTs do).
          this.counters.updates++;
          const p = this.#mem?.peerIndex(msg.nodeId) ?? -1;
          const rate = p < 0 ? 0 : this.#mem!.rateOf(p, now);
          this.report({ type: "update", nodeId: msg.nodeId, uploaded: msg.uploaded, rate });
          return ack(msg.txid);
        });
      case "list":
        return this.#verify(msg, from) ?? then(
          this.store.touch(msg.nodeId, from, now),
          (s) => checkRefusal(s, msg.nodeId) ?? this.#list(msg, now),
        );
      case "exit": {
        // Idempotent: an unknown node id has nothing left to forget.
        if (this.#mem !== undefined && this.#mem.peerIndex(msg.nodeId) < 0) return ack(msg.txid);
        const bad = this.#verify(msg, from);
        if (bad !== undefined) return bad;
        return then(this.store.exit(msg.nodeId, from), (r) => {
          if (r.status === "unknown") return ack(msg.txid);
          if (r.status === "wrong_address") return checkRefusal(r.status, msg.nodeId);
          this.counters.exits++;
          this.report({
            type: "exit",
            nodeId: msg.nodeId,
            address: formatHostPort(from),
            files: r.files,
          });
          return ack(msg.txid);
        });
      }
      default:
        this.#incidents.unexpected(msg.type, from, now);
        return undefined;
    }
  }

  /**
   * The checks every request but REGISTER needs before its rule: a valid session cookie for the
   * source (the memory store first checks, for free, that the node id is registered from it).
   */
  #verify(msg: { cookie: bigint; nodeId: string }, from: Source): Refused | undefined {
    const mem = this.#mem;
    if (mem !== undefined) {
      const p = mem.peerIndex(msg.nodeId);
      const check = p < 0 ? "unknown" : mem.isFrom(p, from) ? "ok" : "wrong_address";
      if (check !== "ok") return checkRefusal(check, msg.nodeId);
      const c = msg.cookie;
      if (mem.hasCookie(p, Number(c >> 32n), Number(c & 0xffffffffn))) return undefined;
    } else if (this.#issuedHere(msg.cookie, from)) return undefined;
    const packed = packAddress(from.hostname, from.port);
    if (packed !== null && this.#jar.verify(msg.cookie, packed) === "session") return undefined;
    return refused(ErrorCode.bad_cookie, refusalText.badCookie, false);
  }

  /**
   * REGISTER: a heartbeat with a session cookie, a stateless challenge to a source without
   * proof, or a registration when the request carries the challenge cookie.
   */
  #register(
    txid: number,
    cookie: bigint,
    nodeId: string,
    from: Source,
    keys: Keys,
    now: number,
  ): Pending<Outcome> {
    // On a shared store, the session cookie issued here this epoch needs no HMAC.
    const issued = this.#mem === undefined && this.#issuedHere(cookie, from);
    const packed = issued ? undefined : packAddress(from.hostname, from.port);
    if (packed === null) return refused(ErrorCode.malformed, "unusable source address", false);
    const kind = packed === undefined ? "session" : this.#jar.verify(cookie, packed);
    if (kind === undefined) {
      // No proof yet: a stateless challenge, smaller than the padded REGISTER.
      this.counters.challenges++;
      const c = this.#jar.issue(packed!, "challenge");
      return this.#registered(txid, Number(c >> 32n), Number(c & 0xffffffffn), 0);
    }
    if (kind === "session") {
      // A heartbeat (at a shared store, possibly the first one here after another tracker's).
      return then(this.store.touch(nodeId, from, now), (status) => {
        if (status === "wrong_address") {
          return refused(ErrorCode.wrong_address, refusalText.otherAddress(nodeId, true), false);
        }
        if (status === "unknown") {
          return refused(ErrorCode.unknown_node, refusalText.notRegistered(nodeId), false);
        }
        this.counters.heartbeats++;
        return this.#registeredFor(this.#mem?.peerIndex(nodeId) ?? -1, packed, txid, from);
      });
    }
    const l = this.limits;
    const room = {
      ...keys,
      maxPeersPerAddress: l.maxPeersPerAddress,
      maxPeersPerPrefix: l.maxPeersPerPrefix,
    };
    return then(this.store.join(nodeId, from, now, l.maxPeers, room), (status) => {
      switch (status) {
        case "registered":
          this.counters.registrations++;
          this.report({ type: "register", nodeId, address: formatHostPort(from) });
          break;
        case "refreshed":
          this.counters.heartbeats++;
          break;
        case "wrong_address":
          return refused(ErrorCode.wrong_address, refusalText.otherAddress(nodeId, true), false);
        case "full":
          return refused(ErrorCode.too_many_peers, `Tracker is full: ${l.maxPeers} peers`, false);
        default:
          this.counters.addressLimited++;
          return refused(
            ErrorCode.address_limit,
            status === "address_full"
              ? `Too many peers from this address: ${l.maxPeersPerAddress}`
              : `Too many peers from this network: ${l.maxPeersPerPrefix}`,
            false,
          );
      }
      return this.#registeredFor(this.#mem?.peerIndex(nodeId) ?? -1, packed, txid, from);
    });
  }

  /**
   * REGISTERED with the peer's session cookie. The memory store keeps the one last issued (a new
   * one when the key rotated), which is what the fast path compares; a remote store's peers
   * get the cookie derived for their address.
   */
  #registeredFor(
    p: number,
    packed: Uint8Array | undefined,
    txid: number,
    from?: Source,
  ): Uint8Array {
    const mem = this.#mem;
    if (mem !== undefined && p >= 0) {
      const epoch = this.#jar.epoch;
      const stored = mem.cookieOf(p);
      if (stored.epoch !== epoch) {
        const pa = packed ?? packAddress(mem.hostOf(p), mem.portOf(p))!;
        const c = this.#jar.issue(pa, "session");
        mem.setCookie(p, Number(c >> 32n), Number(c & 0xffffffffn), epoch);
        return this.#registered(txid, Number(c >> 32n), Number(c & 0xffffffffn), this.evictAfterMs);
      }
      return this.#registered(txid, stored.hi, stored.lo, this.evictAfterMs);
    }
    const epoch = this.#jar.epoch;
    const known = from && this.#sessions.get(from.hostname, from.port, epoch);
    if (known) return this.#registered(txid, known[0]!, known[1]!, this.evictAfterMs);
    const c = this.#jar.issue(packed ?? packAddress(from!.hostname, from!.port)!, "session");
    const hi = Number(c >> 32n), lo = Number(c & 0xffffffffn);
    if (from !== undefined) this.#sessions.set(from.hostname, from.port, epoch, hi, lo);
    return this.#registered(txid, hi, lo, this.evictAfterMs);
  }

  /** Whether `cookie` is the session cookie this tracker issued to `from` this epoch. */
  #issuedHere(cookie: bigint, from: Source): boolean {
    return this.#sessions.holds(
      from.hostname,
      from.port,
      this.#jar.epoch,
      Number(cookie >> 32n),
      Number(cookie & 0xffffffffn),
    );
  }

  #registered(txid: number, hi: number, lo: number, evictAfterMs: number): Uint8Array {
    return encodeRegistered(this.#slab, txid, hi, lo, this.intervalMs, evictAfterMs);
  }

  /** OWN from a verified peer: it shares a content under a name. */
  #own(
    msg: Extract<Message, { type: "own" }>,
    from: Source,
    now: number,
  ): Pending<Outcome> {
    const nameBytes = utf8Length(msg.name);
    if (nameBytes > this.limits.maxNameBytes) {
      return refused(
        ErrorCode.out_of_range,
        `Name is ${nameBytes} bytes, the limit is ${this.limits.maxNameBytes}`,
      );
    }
    const problem = fileNameProblem(msg.name);
    if (problem !== undefined) {
      return refused(ErrorCode.bad_name, `Cannot use name ${quoteName(msg.name)}: ${problem}`);
    }
    const key = toHex(msg.contentId);
    const progress: OwnProgress | undefined = msg.progress;
    const have = progress === undefined ? COMPLETE : shareByte(progress.have, progress.pieces);
    const l = this.limits;
    const room = {
      maxFilesPerAddress: l.maxFilesPerAddress,
      maxFilesPerPrefix: l.maxFilesPerPrefix,
    };
    const r = this.store.own(
      msg.nodeId,
      from,
      now,
      msg.name,
      key,
      msg.size,
      l.maxFilesPerPeer,
      room,
      have,
    );
    return then(r, (r) => {
      switch (r.status) {
        case "ok":
          this.counters.owns++;
          this.report(
            r.replaced === undefined
              ? { type: "own", nodeId: msg.nodeId, name: msg.name, contentId: key, size: msg.size }
              : {
                type: "own",
                nodeId: msg.nodeId,
                name: msg.name,
                contentId: key,
                size: msg.size,
                replaced: r.replaced,
              },
          );
          return ack(msg.txid);
        case "size_mismatch":
          return refused(
            ErrorCode.malformed,
            `Content ${key.slice(0, 16)}… is shared with size ${r.knownSize}, not ${msg.size}`,
          );
        case "too_many_files":
          return refused(
            ErrorCode.too_many_files,
            `Peer already shares ${r.files} files, the limit is ${l.maxFilesPerPeer}`,
          );
        case "address_full":
        case "prefix_full":
          this.counters.addressLimited++;
          return refused(
            ErrorCode.address_limit,
            r.status === "address_full"
              ? `The peers of this address already share ${l.maxFilesPerAddress} files`
              : `The peers of this network already share ${l.maxFilesPerPrefix} files`,
          );
        default:
          return checkRefusal(r.status, msg.nodeId);
      }
    });
  }

  /** OWNERS for a NEED the store answered, or its not_found refusal. */
  #owners(
    nodeId: string,
    txid: number,
    byName: boolean,
    want: string,
    partial: boolean,
    nameBytes: Uint8Array | undefined,
    r: NeedResult,
    now: number,
  ): Uint8Array | Refused {
    const query = byName ? JSON.stringify(want) : want;
    if (r.contentKey === undefined || r.count === 0) {
      this.report({
        type: "need",
        nodeId,
        query,
        contentId: undefined,
        owners: [],
        alternatives: 0,
      });
      const what = byName ? query : `content ${want}`;
      return refused(
        ErrorCode.not_found,
        r.known ? `Nobody but you shares ${what}` : `Nobody shares ${what}`,
      );
    }
    const entries = this.#entriesOut;
    const rates = this.#ratesOut;
    const mem = this.#mem;
    for (let i = 0; i < r.count; i++) {
      entries[i] = mem !== undefined ? this.#memEntry(mem, i, r) : this.#entry(r, i);
      rates[i] = wireRate(rateAt(r.rateKeys[i]!, now, this.rateTauMs));
    }
    this.counters.needs++;
    if (this.recordsEvents) {
      this.report({
        type: "need",
        nodeId,
        query,
        contentId: r.contentKey,
        owners: r.nodeIds.slice(0, r.count),
        alternatives: r.alternatives,
      });
    }
    // The name bytes: a view of the request datagram when the fast path parsed it.
    const name = nameBytes ?? utf8.encode(byName ? want : r.displayName);
    return encodeOwners(
      this.#slab,
      txid,
      fromHex(r.contentKey)!,
      r.size,
      Math.min(r.alternatives, 0xffff),
      name,
      0,
      name.length,
      entries,
      rates,
      r.count,
      partial ? r.haves : undefined,
    );
  }

  /** The i-th picked owner's entry, kept with its row by the memory store. */
  #memEntry(mem: MemoryStore, i: number, r: NeedResult): string {
    const p = mem.pickedPeer(i);
    let e = mem.wireOf(p);
    if (e === undefined) {
      e = entryString(r.nodeIds[i]!, r.hostnames[i]!, r.ports[i]!);
      mem.setWire(p, e);
    }
    return e;
  }

  /** The i-th owner's entry, from a bounded cache (a remote store's owners). */
  #entry(r: NeedResult, i: number): string {
    const nodeId = r.nodeIds[i]!, hostname = r.hostnames[i]!, port = r.ports[i]!;
    const known = this.#entries.get(nodeId);
    if (known !== undefined && known.hostname === hostname && known.port === port) {
      return known.wire;
    }
    if (this.#entries.size >= 65_536) this.#entries.clear();
    const wire = entryString(nodeId, hostname, port);
    this.#entries.set(nodeId, { hostname, port, wire });
    return wire;
  }

  /**
   * REPORT from a verified peer: the bytes it received and verified from each owner of a
   * content. The store credits each owner it may (see `SwarmStore.report`), within the content's
   * size and what is left of the reporter address's budget for this τ.
   */
  #credit(
    msg: Extract<Message, { type: "report" }>,
    from: Source,
    keys: Keys,
    now: number,
  ): Pending<Outcome> {
    let asked = 0;
    for (const e of msg.entries) asked += e.bytes;
    const budget = this.shares.takeCredit(keys.address, asked, this.rateTauMs, now);
    const key = toHex(msg.contentId);
    return then(this.store.report(msg.nodeId, from, now, key, msg.entries, budget), (r) => {
      this.shares.returnCredit(keys.address, budget - r.credited);
      if (r.status !== "ok") return checkRefusal(r.status, msg.nodeId);
      this.counters.reports++;
      this.counters.creditedBytes += r.credited;
      this.report({
        type: "report",
        nodeId: msg.nodeId,
        contentId: key,
        credited: r.credited,
        ignored: r.ignored,
      });
      return ack(msg.txid);
    });
  }

  /**
   * LIST from a verified peer: one page of the matching (name, content) entries, in a LISTING
   * of at most {@link SAFE_DATAGRAM} bytes.
   */
  #list(msg: ListMessage, now: number): Pending<Outcome> {
    const page: Pending<ListingPage | "busy"> = this.#fileListing !== undefined
      ? this.#fileListing.page(msg, SAFE_DATAGRAM, now)
      : this.#storeListing!.page(msg, SAFE_DATAGRAM, now);
    return then(page, (page) => {
      if (page === "busy") {
        const text = "Too many new listing patterns right now: try again in a second";
        return refused(ErrorCode.rate_limited, text);
      }
      this.counters.lists++;
      this.report(listEvent(msg.nodeId, msg, page));
      return encodeMessage({ type: "listing", txid: msg.txid, ...page });
    });
  }
}
