/**
 * The tracker as a pure state machine: datagrams in, replies out, no sockets, no timers, no
 * clock. The driver (server.ts) passes the time to every call, sends what
 * {@link Registry.handleDatagram} returns back to the source, calls
 * {@link Registry.handleTimeout} at {@link Registry.pollTimeout}, and drains
 * {@link Registry.pollEvent} into the log. Rules: docs/TRACKER.md.
 * @module
 */
import { canonicalAddress, type PeerAddress } from "../wire/address.ts";
import { decodeMessage, encodeMessage } from "../wire/codec.ts";
import {
  ErrorCode,
  type ErrorCodeValue,
  type Message,
  MessageType,
  type NeedMessage,
  type OwnerEntry,
  type OwnMessage,
  type RegisteredMessage,
  type UpdateMessage,
} from "../wire/messages.ts";
import { HEADER_SIZE, MAX_ERROR_TEXT_BYTES, MAX_OWNERS } from "../wire/limits.ts";
import { WireError } from "../wire/wire_error.ts";
import { CookieJar, packAddress } from "../net/address_cookie.ts";
import { ExpiryQueue } from "./expiry_queue.ts";
import {
  checkMaxOwners,
  DEFAULT_GRACE,
  DEFAULT_INTERVAL_MS,
  DEFAULT_MAX_OWNERS,
  DEFAULT_RATE_TAU_MS,
  resolveLimits,
  type TrackerLimits,
} from "./limits.ts";
import { OwnerIndex, type RankedOwner } from "./owner_index.ts";
import { LogThrottle } from "../log/log_throttle.ts";
import { RateLimiter } from "../net/rate_limiter.ts";
import type { TrackerEvent } from "./tracker_event.ts";
import { addUpload, rateAt, unitRateKey, wireRate, ZERO_RATE_KEY } from "./upload_rate.ts";
import { toHex } from "../wire/hex.ts";
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

/** Options for {@link Registry}. */
export interface RegistryOptions {
  /** The time at construction, in ms, on the same clock as every later call. */
  now: number;
  /** Heartbeat interval T in ms. @default 30000 */
  intervalMs?: number;
  /** A peer silent for longer than T × (1 + grace) is evicted. @default 0.5 */
  grace?: number;
  /** N: owners in a NEED reply, 1..16. @default 8 */
  maxOwners?: number;
  /** Limits; missing ones take their defaults. */
  limits?: Partial<TrackerLimits>;
  /** How often the cookie key rotates. @default max(2 × T, T × (1 + grace)) */
  cookieEpochMs?: number;
  /** Time constant τ of the upload-rate EWMA in ms. @default 60000 */
  rateTauMs?: number;
  /** Random numbers in [0, 1) for tie-breaks. @default Math.random */
  random?: () => number;
  /** Random bytes for cookie keys. @default crypto.getRandomValues */
  randomBytes?: (n: number) => Uint8Array;
  /** Queue events for {@link Registry.pollEvent}. @default true */
  events?: boolean;
  /**
   * Where hot replies are carved from. A driver that sends asynchronously passes one and
   * reports each send's completion to it. @default a private ring
   */
  replySlab?: ReplySlab;
}

/** Where a datagram came from (a `Deno.NetAddr` fits). */
export interface Source {
  hostname: string;
  port: number;
}

/** Counters of what the registry has seen and done. */
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
  /** Requests answered with an ERROR. */
  errors: number;
  /** Cookie key rotations. */
  keyRotations: number;
}

interface PeerRecord {
  readonly nodeId: string;
  readonly hostname: string;
  readonly port: number;
  readonly packed: Uint8Array;
  readonly wire: OwnerEntry;
  readonly label: string;
  cookie: bigint;
  cookieHi: number;
  cookieLo: number;
  cookieEpoch: number;
  /** The peer's OWNERS entry on the wire, without the rate. */
  readonly entry: Uint8Array;
  rateKey: number;
  uploaded: number;
  readonly files: Map<string, Ownership>;
  readonly names: Map<string, Ownership>;
  lastSeen: number;
  expPrev: PeerRecord | undefined;
  expNext: PeerRecord | undefined;
  queued: boolean;
}

interface FileRecord {
  readonly key: string;
  readonly contentId: Uint8Array;
  readonly size: number;
  /** name → owners announcing it under that name. */
  readonly names: Map<string, number>;
  /** UTF-8 of the display name, cached until the names change. */
  displayBytes: Uint8Array | undefined;
  readonly owners: OwnerIndex<PeerRecord, Ownership>;
}

interface Ownership extends RankedOwner<PeerRecord> {
  readonly file: FileRecord;
  name: string;
}

const EVENT_WINDOW_MS = 60_000;
const SWEEP_EVERY_MS = 10_000;

function defaultRandomBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

const utf8 = new TextEncoder();

function utf8Length(s: string): number {
  // Fast path: a string of n UTF-16 units is at most 3n bytes of UTF-8.
  let ascii = true;
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 0x7f) {
      ascii = false;
      break;
    }
  }
  return ascii ? s.length : utf8.encode(s).byteLength;
}

/** Cuts `text` to at most `max` bytes of UTF-8 without splitting a character. */
function fitText(text: string, max: number): string {
  if (max <= 0) return "";
  if (utf8Length(text) <= max) return text;
  let out = "";
  let bytes = 0;
  for (const ch of text) {
    const n = utf8Length(ch);
    if (bytes + n > max) break;
    out += ch;
    bytes += n;
  }
  return out;
}

function wireAddress(hostname: string, port: number): PeerAddress {
  // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; peers reach them over IPv4.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(hostname);
  return canonicalAddress(mapped ? mapped[1]! : hostname, port);
}

function label(hostname: string, port: number): string {
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}

const CODE_NAMES: Record<number, string> = {};
for (const [name, code] of Object.entries(ErrorCode)) CODE_NAMES[code] = name;

/** The tracker's state: peers, files, owners, cookies, limits. Sans-I/O. */
export class Registry {
  readonly intervalMs: number;
  readonly evictAfterMs: number;
  readonly maxOwners: number;
  readonly limits: Readonly<TrackerLimits>;
  readonly rateTauMs: number;
  readonly counters: RegistryCounters = {
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
    errors: 0,
    keyRotations: 0,
  };

  readonly #peers = new Map<string, PeerRecord>();
  readonly #files = new Map<string, FileRecord>();
  readonly #byName = new Map<string, Set<FileRecord>>();
  readonly #expiry = new ExpiryQueue<PeerRecord>();
  readonly #jar: CookieJar;
  readonly #limiter: RateLimiter;
  readonly #throttle = new LogThrottle(EVENT_WINDOW_MS);
  readonly #random: () => number;
  readonly #recordEvents: boolean;
  readonly #events: TrackerEvent[] = [];
  #eventHead = 0;
  #nextSweep: number;
  #now: number;
  readonly #picked: Ownership[] = [];
  readonly #entriesOut: Uint8Array[] = [];
  readonly #ratesOut: number[] = [];
  readonly #fast = newFastRequest();
  readonly #slab: ReplySlab;
  readonly #registered: RegisteredMessage = {
    type: "registered",
    txid: 0,
    cookie: 0n,
    intervalMs: 0,
    evictAfterMs: 0,
  };

  /** @param options timing, limits, clock start and randomness */
  constructor(options: RegistryOptions) {
    const interval = options.intervalMs ?? DEFAULT_INTERVAL_MS;
    const grace = options.grace ?? DEFAULT_GRACE;
    if (!Number.isInteger(interval) || interval < 1 || interval > 0x7fffffff) {
      throw new RangeError(`Cannot use intervalMs: expected 1..2^31-1 ms, got ${interval}`);
    }
    if (!(grace >= 0) || !Number.isFinite(grace)) {
      throw new RangeError(`Cannot use grace: expected a number ≥ 0, got ${grace}`);
    }
    this.intervalMs = interval;
    this.evictAfterMs = Math.round(interval * (1 + grace));
    if (this.evictAfterMs > 0xffffffff) {
      throw new RangeError(`Cannot use grace: eviction after ${this.evictAfterMs} ms overflows`);
    }
    this.maxOwners = checkMaxOwners(options.maxOwners ?? DEFAULT_MAX_OWNERS);
    this.limits = Object.freeze(resolveLimits(options.limits));
    this.rateTauMs = options.rateTauMs ?? DEFAULT_RATE_TAU_MS;
    if (!(this.rateTauMs > 0)) {
      throw new RangeError(`Cannot use rateTauMs: expected > 0, got ${this.rateTauMs}`);
    }
    const epochMs = options.cookieEpochMs ?? Math.max(2 * interval, this.evictAfterMs);
    if (epochMs < this.evictAfterMs) {
      throw new RangeError(
        `Cannot use cookieEpochMs ${epochMs}: it must be at least the eviction time ${this.evictAfterMs} ms, or live peers would hold expired cookies`,
      );
    }
    this.#random = options.random ?? Math.random;
    this.#jar = new CookieJar(epochMs, options.randomBytes ?? defaultRandomBytes, options.now);
    this.#limiter = new RateLimiter({
      ratePerSecond: this.limits.requestsPerSecond,
      burst: this.limits.burst,
      maxSources: this.limits.maxSources,
    });
    this.#recordEvents = options.events ?? true;
    this.#slab = options.replySlab ?? new ReplySlab();
    this.#now = options.now;
    this.#nextSweep = options.now + SWEEP_EVERY_MS;
    this.#registered.intervalMs = this.intervalMs;
  }

  /** Registered peers. */
  get peerCount(): number {
    return this.#peers.size;
  }

  /** Distinct content ids with at least one owner. */
  get fileCount(): number {
    return this.#files.size;
  }

  /** The cookie epoch (for tests and logs). */
  get cookieEpoch(): number {
    return this.#jar.epoch;
  }

  /**
   * Tells whether a node id is registered (after evicting anyone overdue at `now`).
   *
   * @param nodeId the node id
   * @param now the current time in ms
   * @returns true when registered
   */
  hasPeer(nodeId: string, now: number): boolean {
    this.#expire(now);
    return this.#peers.has(nodeId);
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
    this.#expire(now);
    const p = this.#peers.get(nodeId);
    if (!p) return undefined;
    return {
      address: p.wire.address,
      lastSeen: p.lastSeen,
      rate: rateAt(p.rateKey, now, this.rateTauMs),
      files: [...p.files.values()].map((o) => toHex(o.file.contentId)),
    };
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
  handleDatagram(bytes: Uint8Array, from: Source, now: number): Uint8Array | undefined {
    const reply = this.#dispatch(bytes, from, now);
    return reply !== undefined && reply.byteLength > 0 ? reply : undefined;
  }

  #dispatch(bytes: Uint8Array, from: Source, now: number): Uint8Array | undefined {
    this.#now = now;
    this.counters.received++;
    const head = this.#expiry.peek();
    if (head !== undefined && now - head.lastSeen > this.evictAfterMs) this.#expire(now);
    if (now >= this.#jar.nextRotation) this.#rotate(now);

    if (!this.#limiter.allow(from.hostname, from.port, now)) {
      this.counters.rateLimited++;
      if (this.#throttle.shouldReport("rl|" + from.hostname + "|" + from.port, now)) {
        this.#event({ type: "rate_limited", source: label(from.hostname, from.port) });
        // One ERROR per source per minute, so a well-behaved client learns why it is dropped.
        if (bytes.byteLength >= HEADER_SIZE) {
          const txid = ((bytes[4]! << 24) | (bytes[5]! << 16) | (bytes[6]! << 8) | bytes[7]!) >>>
            0;
          return this.#error(
            txid,
            ErrorCode.rate_limited,
            "Too many requests: slow down",
            bytes.byteLength,
          );
        }
      }
      return undefined;
    }

    // Fast path: a heartbeat or NEED from a verified peer with the stored cookie.
    const type = fastType(bytes);
    if (type === MessageType.register || type === MessageType.need) {
      const fast = this.#fast;
      if (type === MessageType.register ? parseRegister(bytes, fast) : parseNeed(bytes, fast)) {
        const peer = this.#peers.get(fast.nodeId);
        if (
          peer !== undefined && peer.cookieLo === fast.cookieLo &&
          peer.cookieHi === fast.cookieHi && peer.cookie !== 0n && peer.port === from.port &&
          peer.hostname === from.hostname
        ) {
          if (type === MessageType.register) return this.#heartbeat(peer, fast.txid, now);
          this.#expiry.touch(peer, now);
          return fast.wantKind === 1
            ? this.#answerNeed(
              peer,
              fast.txid,
              fast.maxOwners,
              true,
              fast.name,
              from,
              now,
              bytes.subarray(fast.nameStart, fast.nameStart + fast.nameLength),
            )
            : this.#answerNeed(
              peer,
              fast.txid,
              fast.maxOwners,
              false,
              toHex(bytes, fast.contentIdStart, 32),
              from,
              now,
              undefined,
            );
        }
      }
    }

    const sourceKey = from.hostname + "|" + from.port;
    let msg: Message;
    try {
      msg = decodeMessage(bytes);
    } catch (e) {
      this.counters.malformed++;
      if (this.#throttle.shouldReport("bad|" + sourceKey, now)) {
        this.#event({
          type: "malformed",
          source: label(from.hostname, from.port),
          detail: e instanceof WireError ? e.message : String(e),
        });
      }
      return undefined;
    }
    const size = bytes.byteLength;
    switch (msg.type) {
      case "register":
        return this.#register(msg.txid, msg.cookie, msg.nodeId, from, size, now);
      case "own":
        return this.#own(msg, from, size, now);
      case "need":
        return this.#need(msg, from, size, now);
      case "update":
        return this.#update(msg, from, size, now);
      case "exit":
        return this.#exit(msg.txid, msg.cookie, msg.nodeId, from, size, now);
      default:
        this.counters.unexpected++;
        if (this.#throttle.shouldReport("unexpected|" + sourceKey, now)) {
          this.#event({
            type: "malformed",
            source: label(from.hostname, from.port),
            detail:
              `unexpected ${msg.type} message (the tracker serves register, own, need, update, exit)`,
          });
        }
        return undefined;
    }
  }

  /**
   * Evicts overdue peers, rotates the cookie key and sweeps limiter state that is due.
   *
   * @param now the current time in ms
   */
  handleTimeout(now: number): void {
    this.#now = now;
    this.#expire(now);
    if (now >= this.#jar.nextRotation) this.#rotate(now);
    if (now >= this.#nextSweep) {
      this.#limiter.sweep(now);
      this.#throttle.sweep(now);
      this.#nextSweep = now + SWEEP_EVERY_MS;
    }
  }

  /**
   * The next time {@link Registry.handleTimeout} has work.
   *
   * @returns a time in ms on the registry's clock
   */
  pollTimeout(): number {
    let t = Math.min(this.#jar.nextRotation, this.#nextSweep);
    const head = this.#expiry.peek();
    // Evicted when silent for *longer* than evictAfterMs: the first instant past it.
    if (head !== undefined) t = Math.min(t, head.lastSeen + this.evictAfterMs + 1);
    return t;
  }

  /**
   * The oldest event not yet drained.
   *
   * @returns the event, or undefined
   */
  pollEvent(): TrackerEvent | undefined {
    if (this.#eventHead >= this.#events.length) {
      if (this.#events.length > 0) {
        this.#events.length = 0;
        this.#eventHead = 0;
      }
      return undefined;
    }
    const e = this.#events[this.#eventHead++];
    return e;
  }

  // ---------------------------------------------------------------- requests

  #register(
    txid: number,
    cookie: bigint,
    nodeId: string,
    from: Source,
    size: number,
    now: number,
  ): Uint8Array {
    const peer = this.#peers.get(nodeId);
    // Hot path: a heartbeat with the cookie we last issued, from the registered address.
    if (
      peer !== undefined && cookie === peer.cookie && peer.port === from.port &&
      peer.hostname === from.hostname
    ) {
      return this.#heartbeat(peer, txid, now);
    }
    const packed = packAddress(from.hostname, from.port);
    if (packed === null) {
      return this.#refuse(
        "register",
        from,
        txid,
        ErrorCode.malformed,
        "unusable source address",
        size,
      );
    }
    const kind = this.#jar.verify(cookie, packed);
    if (kind === undefined) {
      // No proof yet: a stateless challenge, smaller than the padded REGISTER.
      this.counters.challenges++;
      const m = this.#registered;
      m.txid = txid;
      m.cookie = this.#jar.issue(packed, "challenge");
      m.evictAfterMs = 0;
      return encodeMessage(m);
    }
    if (peer !== undefined && (peer.port !== from.port || peer.hostname !== from.hostname)) {
      return this.#refuse(
        "register",
        from,
        txid,
        ErrorCode.wrong_address,
        `Node ${nodeId} is registered from ${peer.label}`,
        size,
      );
    }
    if (peer !== undefined) return this.#heartbeat(peer, txid, now);
    if (kind === "session") {
      return this.#refuse(
        "register",
        from,
        txid,
        ErrorCode.unknown_node,
        `Node ${nodeId} is not registered: register again`,
        size,
      );
    }
    if (this.#peers.size >= this.limits.maxPeers) {
      return this.#refuse(
        "register",
        from,
        txid,
        ErrorCode.too_many_peers,
        `Tracker is full: ${this.limits.maxPeers} peers`,
        size,
      );
    }
    const address = wireAddress(from.hostname, from.port);
    const wire = { nodeId, address, rate: 0 };
    const created: PeerRecord = {
      nodeId,
      hostname: from.hostname,
      port: from.port,
      packed,
      wire,
      entry: encodeOwnerEntry(wire),
      label: label(from.hostname, from.port),
      cookie: 0n,
      cookieHi: 0,
      cookieLo: 0,
      cookieEpoch: -1,
      rateKey: ZERO_RATE_KEY,
      uploaded: 0,
      files: new Map(),
      names: new Map(),
      lastSeen: now,
      expPrev: undefined,
      expNext: undefined,
      queued: false,
    };
    this.#peers.set(nodeId, created);
    this.counters.registrations++;
    this.#event({ type: "register", nodeId, address: created.label });
    return this.#heartbeat(created, txid, now, false);
  }

  #heartbeat(peer: PeerRecord, txid: number, now: number, count = true): Uint8Array {
    if (count) this.counters.heartbeats++;
    this.#expiry.touch(peer, now);
    if (peer.cookieEpoch !== this.#jar.epoch) {
      const c = this.#jar.issue(peer.packed, "session");
      peer.cookie = c;
      peer.cookieHi = Number(c >> 32n);
      peer.cookieLo = Number(c & 0xffffffffn);
      peer.cookieEpoch = this.#jar.epoch;
    }
    return encodeRegistered(
      this.#slab,
      txid,
      peer.cookieHi,
      peer.cookieLo,
      this.intervalMs,
      this.evictAfterMs,
    );
  }

  /**
   * Checks that a request comes from the address that registered the node id and carries a
   * valid session cookie for it. Returns the peer, or the ERROR reply (never larger than the
   * request: the source has not proven anything).
   */
  #verify(
    request: string,
    txid: number,
    cookie: bigint,
    nodeId: string,
    from: Source,
    size: number,
    now: number,
  ): PeerRecord | Uint8Array {
    const peer = this.#peers.get(nodeId);
    if (peer === undefined) {
      return this.#refuse(
        request,
        from,
        txid,
        ErrorCode.unknown_node,
        `Node ${nodeId} is not registered: register again`,
        size,
      );
    }
    if (peer.port !== from.port || peer.hostname !== from.hostname) {
      return this.#refuse(
        request,
        from,
        txid,
        ErrorCode.wrong_address,
        `Node ${nodeId} is registered from ${peer.label}`,
        size,
      );
    }
    if (cookie !== peer.cookie && this.#jar.verify(cookie, peer.packed) !== "session") {
      return this.#refuse(
        request,
        from,
        txid,
        ErrorCode.bad_cookie,
        "Cookie is stale or wrong: register again",
        size,
      );
    }
    this.#expiry.touch(peer, now);
    return peer;
  }

  #own(msg: OwnMessage, from: Source, size: number, now: number): Uint8Array {
    const peer = this.#verify("own", msg.txid, msg.cookie, msg.nodeId, from, size, now);
    if (peer instanceof Uint8Array) return peer;
    const nameBytes = utf8Length(msg.name);
    if (nameBytes > this.limits.maxNameBytes) {
      return this.#refuse(
        "own",
        from,
        msg.txid,
        ErrorCode.out_of_range,
        `Name is ${nameBytes} bytes, the limit is ${this.limits.maxNameBytes}`,
        Infinity,
      );
    }
    const key = toHex(msg.contentId);
    let file = this.#files.get(key);
    if (file !== undefined && file.size !== msg.size) {
      return this.#refuse(
        "own",
        from,
        msg.txid,
        ErrorCode.malformed,
        `Content ${key.slice(0, 16)}… is shared with size ${file.size}, not ${msg.size}`,
        Infinity,
      );
    }
    const existing = peer.files.get(key);
    if (existing !== undefined) {
      // Re-OWN of the same content: replace (rename), never duplicate.
      if (existing.name !== msg.name) {
        const other = peer.names.get(msg.name);
        if (other !== undefined && other !== existing) this.#dropOwnership(peer, other);
        this.#rename(peer, existing, msg.name);
      }
      this.counters.owns++;
      this.#event({
        type: "own",
        nodeId: peer.nodeId,
        name: msg.name,
        contentId: key,
        size: msg.size,
      });
      return this.#ack(msg.txid);
    }
    // The same name with new content: the file changed; the new content replaces the old.
    const sameName = peer.names.get(msg.name);
    if (sameName === undefined && peer.files.size >= this.limits.maxFilesPerPeer) {
      return this.#refuse(
        "own",
        from,
        msg.txid,
        ErrorCode.too_many_files,
        `Peer already shares ${peer.files.size} files, the limit is ${this.limits.maxFilesPerPeer}`,
        Infinity,
      );
    }
    let replaced: string | undefined;
    if (sameName !== undefined) {
      replaced = sameName.file.key;
      this.#dropOwnership(peer, sameName);
      file = this.#files.get(key);
    }
    if (file === undefined) {
      file = {
        key,
        contentId: msg.contentId,
        size: msg.size,
        names: new Map(),
        displayBytes: undefined,
        owners: new OwnerIndex<PeerRecord, Ownership>(),
      };
      this.#files.set(key, file);
    }
    const o: Ownership = {
      peer,
      file,
      name: msg.name,
      rateKey: peer.rateKey,
      lastAssigned: -Infinity,
      tie: this.#random(),
      rated: false,
      heapIndex: -1,
    };
    peer.files.set(key, o);
    peer.names.set(msg.name, o);
    this.#addName(file, msg.name);
    file.owners.insert(o, unitRateKey(now, this.rateTauMs));
    this.counters.owns++;
    this.#event(
      replaced === undefined
        ? { type: "own", nodeId: peer.nodeId, name: msg.name, contentId: key, size: msg.size }
        : {
          type: "own",
          nodeId: peer.nodeId,
          name: msg.name,
          contentId: key,
          size: msg.size,
          replaced,
        },
    );
    return this.#ack(msg.txid);
  }

  #need(msg: NeedMessage, from: Source, size: number, now: number): Uint8Array {
    const peer = this.#verify("need", msg.txid, msg.cookie, msg.nodeId, from, size, now);
    if (peer instanceof Uint8Array) return peer;
    return msg.want.kind === "name"
      ? this.#answerNeed(peer, msg.txid, msg.maxOwners, true, msg.want.name, from, now, undefined)
      : this.#answerNeed(
        peer,
        msg.txid,
        msg.maxOwners,
        false,
        toHex(msg.want.contentId),
        from,
        now,
        undefined,
      );
  }

  /**
   * Answers a NEED from a verified peer. `want` is the name (byName) or the content id hex;
   * `nameBytes` is the name's UTF-8 when the caller has it.
   */
  #answerNeed(
    peer: PeerRecord,
    txid: number,
    maxOwners: number,
    byName: boolean,
    want: string,
    from: Source,
    now: number,
    nameBytes: Uint8Array | undefined,
  ): Uint8Array {
    const k = maxOwners === 0 ? this.maxOwners : Math.min(maxOwners, this.maxOwners, MAX_OWNERS);
    let file: FileRecord | undefined;
    let alternatives = 0;
    let known = false;
    if (!byName) {
      file = this.#files.get(want);
      known = file !== undefined;
    } else {
      const candidates = this.#byName.get(want);
      if (candidates !== undefined) {
        known = true;
        // The content most owners (other than the asker) announce under this name; ties go to
        // the smallest content id.
        let best = -1;
        for (const f of candidates) {
          const mine = peer.files.get(f.key);
          const n = (f.names.get(want) ?? 0) - (mine !== undefined && mine.name === want ? 1 : 0);
          if (n > best || (n === best && file !== undefined && f.key < file.key)) {
            best = n;
            file = f;
          }
        }
        if (best <= 0) file = undefined;
        alternatives = candidates.size - 1;
      }
    }
    const picked = this.#picked;
    const count = file === undefined
      ? 0
      : file.owners.select(k, peer, unitRateKey(now, this.rateTauMs), this.#random, picked);
    if (file === undefined || count === 0) {
      const query = byName ? JSON.stringify(want) : want;
      this.#event({
        type: "need",
        nodeId: peer.nodeId,
        query,
        contentId: undefined,
        owners: [],
        alternatives: 0,
      });
      const what = byName ? query : `content ${want}`;
      const text = known ? `Nobody but you shares ${what}` : `Nobody shares ${what}`;
      return this.#refuse("need", from, txid, ErrorCode.not_found, text, Infinity, false);
    }
    const entries = this.#entriesOut;
    const rates = this.#ratesOut;
    for (let i = 0; i < count; i++) {
      const o = picked[i]!.peer;
      entries[i] = o.entry;
      rates[i] = wireRate(rateAt(o.rateKey, now, this.rateTauMs));
    }
    this.counters.needs++;
    if (this.#recordEvents) {
      this.#event({
        type: "need",
        nodeId: peer.nodeId,
        query: byName ? JSON.stringify(want) : want,
        contentId: file.key,
        owners: picked.slice(0, count).map((o) => o.peer.nodeId),
        alternatives,
      });
    }
    // The name bytes: a view of the request datagram when the fast path parsed it.
    let name: Uint8Array;
    if (nameBytes !== undefined) {
      name = nameBytes;
    } else if (byName) {
      name = utf8.encode(want);
    } else {
      name = file.displayBytes ??= utf8.encode(this.#displayName(file));
    }
    const reply = encodeOwners(
      this.#slab,
      txid,
      file.contentId,
      file.size,
      Math.min(alternatives, 0xffff),
      name,
      0,
      name.length,
      entries,
      rates,
      count,
    );
    picked.length = 0;
    return reply;
  }

  #update(msg: UpdateMessage, from: Source, size: number, now: number): Uint8Array {
    const peer = this.#verify("update", msg.txid, msg.cookie, msg.nodeId, from, size, now);
    if (peer instanceof Uint8Array) return peer;
    if (msg.uploaded > 0) {
      const key = addUpload(peer.rateKey, msg.uploaded, now, this.rateTauMs);
      const floor = unitRateKey(now, this.rateTauMs);
      for (const o of peer.files.values()) {
        o.file.owners.remove(o);
        o.rateKey = key;
        o.file.owners.insert(o, floor);
      }
      peer.rateKey = key;
      peer.uploaded += msg.uploaded;
    }
    this.counters.updates++;
    this.#event({
      type: "update",
      nodeId: peer.nodeId,
      uploaded: msg.uploaded,
      rate: rateAt(peer.rateKey, now, this.rateTauMs),
    });
    return this.#ack(msg.txid);
  }

  #exit(
    txid: number,
    cookie: bigint,
    nodeId: string,
    from: Source,
    size: number,
    now: number,
  ): Uint8Array {
    // Idempotent: an unknown node id has nothing left to forget.
    if (!this.#peers.has(nodeId)) return this.#ack(txid);
    const peer = this.#verify("exit", txid, cookie, nodeId, from, size, now);
    if (peer instanceof Uint8Array) return peer;
    const files = peer.files.size;
    this.#removePeer(peer);
    this.counters.exits++;
    this.#event({ type: "exit", nodeId, address: peer.label, files });
    return this.#ack(txid);
  }

  // ---------------------------------------------------------------- state helpers

  #expire(now: number): void {
    for (;;) {
      // Silent for longer than evictAfterMs: lastSeen < now - evictAfterMs.
      const head = this.#expiry.peek();
      if (head === undefined || !(now - head.lastSeen > this.evictAfterMs)) return;
      const files = head.files.size;
      this.#removePeer(head);
      this.counters.evictions++;
      this.#event({
        type: "evict",
        nodeId: head.nodeId,
        address: head.label,
        files,
        silentMs: Math.round(now - head.lastSeen),
      });
    }
  }

  #rotate(now: number): void {
    if (this.#jar.rotate(now)) {
      this.counters.keyRotations++;
      this.#event({ type: "key_rotated", epoch: this.#jar.epoch });
    }
  }

  #removePeer(peer: PeerRecord): void {
    this.#expiry.remove(peer);
    for (const o of [...peer.files.values()]) this.#dropOwnership(peer, o);
    this.#peers.delete(peer.nodeId);
  }

  #dropOwnership(peer: PeerRecord, o: Ownership): void {
    const file = o.file;
    file.owners.remove(o);
    peer.files.delete(file.key);
    if (peer.names.get(o.name) === o) peer.names.delete(o.name);
    this.#removeName(file, o.name);
    if (file.owners.size === 0) this.#files.delete(file.key);
  }

  #rename(peer: PeerRecord, o: Ownership, name: string): void {
    if (peer.names.get(o.name) === o) peer.names.delete(o.name);
    this.#removeName(o.file, o.name);
    o.name = name;
    peer.names.set(name, o);
    this.#addName(o.file, name);
  }

  #addName(file: FileRecord, name: string): void {
    file.displayBytes = undefined;
    file.names.set(name, (file.names.get(name) ?? 0) + 1);
    let set = this.#byName.get(name);
    if (set === undefined) {
      set = new Set();
      this.#byName.set(name, set);
    }
    set.add(file);
  }

  #removeName(file: FileRecord, name: string): void {
    file.displayBytes = undefined;
    const n = (file.names.get(name) ?? 0) - 1;
    if (n > 0) {
      file.names.set(name, n);
      return;
    }
    file.names.delete(name);
    const set = this.#byName.get(name);
    if (set !== undefined) {
      set.delete(file);
      if (set.size === 0) this.#byName.delete(name);
    }
  }

  /** The name most owners announce a content under (ties: the first announced). */
  #displayName(file: FileRecord): string {
    let best = "", n = 0;
    for (const [name, count] of file.names) {
      if (count > n) {
        best = name;
        n = count;
      }
    }
    return best;
  }

  // ---------------------------------------------------------------- replies

  #ack(txid: number): Uint8Array {
    return encodeMessage({ type: "ack", txid });
  }

  #error(
    txid: number,
    code: ErrorCodeValue,
    text: string,
    maxBytes: number,
  ): Uint8Array | undefined {
    const room = Math.min(MAX_ERROR_TEXT_BYTES, maxBytes - HEADER_SIZE - 3);
    if (room < 0) return undefined;
    this.counters.errors++;
    return encodeMessage({ type: "error", txid, code, text: fitText(text, room) });
  }

  /**
   * An ERROR reply. `maxBytes` is the request's size for a source that has not proven its
   * address (anti-amplification), Infinity for a verified peer.
   */
  #refuse(
    request: string,
    from: Source,
    txid: number,
    code: ErrorCodeValue,
    text: string,
    maxBytes: number,
    log = true,
  ): Uint8Array {
    if (log && this.#recordEvents) {
      const source = label(from.hostname, from.port);
      if (this.#throttle.shouldReport(`refused|${code}|${source}`, this.#now)) {
        this.#event({
          type: "refused",
          source,
          request,
          code: CODE_NAMES[code] ?? String(code),
          detail: text,
        });
      }
    }
    // Every request is at least 18 bytes, so an ERROR with a cut text always fits.
    return this.#error(txid, code, text, maxBytes) ?? new Uint8Array(0);
  }

  #event(e: TrackerEvent): void {
    if (this.#recordEvents) this.#events.push(e);
  }
}
