/**
 * The tracker's peers and the rules applied to them: REGISTER (challenge, registration,
 * heartbeat), eviction after T × (1 + grace) of silence, OWN, NEED, UPDATE and EXIT. Pure: no
 * sockets, no timers, no clock; every call takes the time. The files and their owners live in
 * {@link FileIndex}; which rule a datagram reaches, the cookie checks of requests, the
 * per-source limits and the ERROR replies live in dispatch.ts ({@link Dispatcher}, the core
 * a driver pumps). A rule returns its reply, or a {@link Refusal} that the dispatcher turns
 * into an ERROR. Rules: docs/TRACKER.md.
 *
 * Over 600 lines with its JSDoc (about 620 without): the handshake, eviction and the five
 * request rules (OWN, NEED, UPDATE, REPORT, EXIT) share the peer records, the cookie jar, the
 * per-address counts and the reply buffers, and split further they would pass those back and
 * forth.
 * @module
 */
import { canonicalAddress, type PeerAddress } from "../wire/address.ts";
import { encodeMessage } from "../wire/codec.ts";
import {
  ErrorCode,
  type ErrorCodeValue,
  type OwnerEntry,
  type RegisteredMessage,
  type ReportEntry,
} from "../wire/messages.ts";
import { CookieJar, packAddress } from "../net/cookie_jar.ts";
import { formatHostPort } from "../net/host_port.ts";
import { ExpiryQueue } from "./expiry_queue.ts";
import { refusalText } from "./error_reply.ts";
import {
  addressKeys,
  type AddressLimitHit,
  AddressLimits,
  fillExcluded,
  ownersWanted,
  TrackerCoreTiming,
  type TrackerTimingOptions,
} from "./limits.ts";
import { COMPLETE, FileIndex, type FileOwner, type Ownership, shareByte } from "./file_index.ts";
import type { OwnProgress } from "../wire/messages.ts";
import type { TrackerEvent } from "./tracker_event.ts";
import { addUpload, rateAt, wireRate, ZERO_RATE_KEY } from "./upload_rate.ts";
import { encodeOwnerEntry, encodeOwners, encodeRegistered, ReplySlab } from "../wire/fast_path.ts";
import { toHex } from "../wire/hex.ts";
import { Fifo } from "../_util/fifo.ts";

/** Options for {@link Registry} (and for the {@link Dispatcher} that drives one). */
export interface RegistryOptions extends TrackerTimingOptions {
  /** The time at construction, in ms, on the same clock as every later call. */
  now: number;
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
  /** The source's IP address. */
  hostname: string;
  /** The source's UDP port. */
  port: number;
}

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

/** A registered peer, as the registry and the dispatcher's cookie checks see it. */
export interface RegisteredPeer extends FileOwner<RegisteredPeer> {
  /** The address it registered from. */
  readonly hostname: string;
  /** The port it registered from. */
  readonly port: number;
  /** Address and port packed for the cookie jar. */
  readonly packed: Uint8Array;
  /** Its OWNERS entry (rate 0). */
  readonly wire: OwnerEntry;
  /** `host:port` for logs. */
  readonly label: string;
  /** Its IP address and network prefix as counted by {@link AddressLimits} (see `addressKeys`). */
  readonly addressKey: string;
  readonly prefixKey: string;
  /** Its host: the IPv4 address or the IPv6 /64; REPORTs never credit an owner on it. */
  readonly hostKey: string;
  /** The session cookie last issued (0n before the first), and its two 32-bit halves. */
  cookie: bigint;
  /** The high 32 bits of {@link RegisteredPeer.cookie} (for the fast path). */
  cookieHi: number;
  /** The low 32 bits of {@link RegisteredPeer.cookie}. */
  cookieLo: number;
  /** The cookie epoch that issued {@link RegisteredPeer.cookie}. */
  cookieEpoch: number;
  /** The peer's OWNERS entry on the wire, without the rate. */
  readonly entry: Uint8Array;
  /** Bytes it claimed uploaded with UPDATE (logged, not ranked). */
  uploaded: number;
  /** Bytes other hosts' REPORTs credited to it (what ranks it). */
  credited: number;
  /** When it was last heard from (ms). */
  lastSeen: number;
  /** The previous peer in the expiry queue. */
  expPrev: RegisteredPeer | undefined;
  /** The next peer in the expiry queue. */
  expNext: RegisteredPeer | undefined;
  /** Whether it is in the expiry queue. */
  queued: boolean;
}

/** A request refused by a rule; the dispatcher answers it with an ERROR. */
export interface Refusal {
  /** The ERROR code. */
  readonly code: ErrorCodeValue;
  /** The ERROR text (cut to fit). */
  readonly text: string;
  /**
   * True when the source has proven its address, so the ERROR may be larger than the request;
   * false caps it at the request's size (anti-amplification).
   */
  readonly verified: boolean;
  /** False for an expected outcome that is not logged as a refusal (NEED of an unknown file). */
  readonly log: boolean;
}

/** A rule's answer: the reply datagram, or a refusal. */
export type RuleResult = Uint8Array | Refusal;

/**
 * A {@link Refusal}.
 *
 * @param code the ERROR code
 * @param text the ERROR text
 * @param verified whether the source has proven its address
 * @param log whether the dispatcher logs it as a refusal
 * @returns the refusal
 */
export function refusal(
  code: ErrorCodeValue,
  text: string,
  verified: boolean,
  log = true,
): Refusal {
  return { code, text, verified, log };
}

function defaultRandomBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

const utf8 = new TextEncoder();

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

/** The tracker's peers, their cookies and the rules. Sans-I/O. */
export class Registry extends TrackerCoreTiming {
  /** What the tracker has seen and done (the dispatcher counts its part here too). */
  readonly counters: RegistryCounters = newCounters();
  /** Whether events are queued for {@link Registry.pollEvent}. */
  readonly recordsEvents: boolean;

  /** Peers, files, requests and REPORT credit per source address and network prefix. */
  readonly shares: AddressLimits;
  readonly #peers = new Map<string, RegisteredPeer>();
  readonly #skip = new Set<RegisteredPeer>();
  readonly #keys = new Map<string, { address: string; prefix: string; host: string }>();
  readonly #files: FileIndex<RegisteredPeer>;
  readonly #expiry = new ExpiryQueue<RegisteredPeer>();
  readonly #jar: CookieJar;
  readonly #events = new Fifo<TrackerEvent>();
  readonly #picked: Ownership<RegisteredPeer>[] = [];
  readonly #entriesOut: Uint8Array[] = [];
  readonly #ratesOut: number[] = [];
  readonly #havesOut: number[] = [];
  readonly #slab: ReplySlab;
  readonly #registered: RegisteredMessage = {
    type: "registered",
    txid: 0,
    cookie: 0n,
    intervalMs: 0,
    evictAfterMs: 0,
  };

  /**
   * Creates an empty registry.
   *
   * @param options timing, limits, clock start and randomness
   */
  constructor(options: RegistryOptions) {
    super(options);
    this.shares = new AddressLimits(this.limits);
    this.#files = new FileIndex({
      rateTauMs: this.rateTauMs,
      random: options.random ?? Math.random,
    });
    this.#jar = new CookieJar(
      this.cookieEpochMs,
      options.randomBytes ?? defaultRandomBytes,
      options.now,
    );
    this.recordsEvents = options.events ?? true;
    this.#slab = options.replySlab ?? new ReplySlab();
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

  /** The file index (read it only: the LIST rule pages through it). */
  get files(): FileIndex<RegisteredPeer> {
    return this.#files;
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
      files: [...p.files.values()].map((o) => o.file.key),
    };
  }

  /**
   * The address, prefix and host keys of a source hostname (cached; see `addressKeys`).
   *
   * @param hostname the source's hostname
   * @returns its keys
   */
  keysOf(hostname: string): { address: string; prefix: string; host: string } {
    let k = this.#keys.get(hostname);
    if (k === undefined) {
      if (this.#keys.size >= 65_536) this.#keys.clear();
      k = addressKeys(hostname);
      this.#keys.set(hostname, k);
    }
    return k;
  }

  /**
   * Takes a request token from the source's address and prefix buckets.
   *
   * @param from the source
   * @param now the current time in ms
   * @returns which bucket is empty, or undefined when the request may go on
   */
  allowRequest(from: Source, now: number): AddressLimitHit {
    const k = this.keysOf(from.hostname);
    const hit = this.shares.allowRequest(k.address, k.prefix, now);
    if (hit !== undefined) this.counters.addressLimited++;
    return hit;
  }

  /**
   * The registered peer with a node id, without evicting anyone.
   *
   * @param nodeId the node id
   * @returns the peer, or undefined
   */
  peer(nodeId: string): RegisteredPeer | undefined {
    return this.#peers.get(nodeId);
  }

  /**
   * Tells whether `cookie` is a valid session cookie for `peer` (the one last issued, or any
   * session cookie of the current or previous epoch for its address).
   *
   * @param peer the registered peer
   * @param cookie the cookie a request carries
   * @returns true when valid
   */
  isSessionCookie(peer: RegisteredPeer, cookie: bigint): boolean {
    return cookie === peer.cookie || this.#jar.verify(cookie, peer.packed) === "session";
  }

  /**
   * Records that a peer was heard from (a verified request keeps it alive).
   *
   * @param peer the registered peer
   * @param now the current time in ms
   */
  touch(peer: RegisteredPeer, now: number): void {
    this.#expiry.touch(peer, now);
  }

  /**
   * Evicts peers that are overdue and rotates the cookie key when due: the work a request
   * must not run ahead of.
   *
   * @param now the current time in ms
   */
  catchUp(now: number): void {
    const head = this.#expiry.peek();
    if (head !== undefined && now - head.lastSeen > this.evictAfterMs) this.#expire(now);
    if (now >= this.#jar.nextRotation) this.#rotate(now);
  }

  /**
   * Evicts overdue peers and rotates the cookie key when due.
   *
   * @param now the current time in ms
   */
  handleTimeout(now: number): void {
    this.#expire(now);
    if (now >= this.#jar.nextRotation) this.#rotate(now);
  }

  /**
   * The next time {@link Registry.handleTimeout} has work.
   *
   * @returns a time in ms on the registry's clock
   */
  pollTimeout(): number {
    let t = this.#jar.nextRotation;
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
    return this.#events.shift();
  }

  /**
   * Queues an event for {@link Registry.pollEvent} (when events are recorded).
   *
   * @param e the event
   */
  report(e: TrackerEvent): void {
    if (this.recordsEvents) this.#events.push(e);
  }

  // ---------------------------------------------------------------- rules

  /**
   * REGISTER: a heartbeat from a registered peer, a stateless challenge to a source without
   * proof, or a registration when the request carries the challenge cookie.
   *
   * @param txid the request's txid
   * @param cookie the cookie it carries (0n on first contact)
   * @param nodeId the node id
   * @param from its source
   * @param now the current time in ms
   * @returns REGISTERED, or a refusal (the source has not proven its address)
   */
  register(txid: number, cookie: bigint, nodeId: string, from: Source, now: number): RuleResult {
    const peer = this.#peers.get(nodeId);
    // Hot path: a heartbeat with the cookie we last issued, from the registered address.
    if (
      peer !== undefined && cookie === peer.cookie && peer.port === from.port &&
      peer.hostname === from.hostname
    ) {
      return this.heartbeat(peer, txid, now);
    }
    const packed = packAddress(from.hostname, from.port);
    if (packed === null) return refusal(ErrorCode.malformed, "unusable source address", false);
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
      // Never the registered address: this source has proven only its own.
      return refusal(
        ErrorCode.wrong_address,
        refusalText.otherAddress(nodeId, true),
        false,
      );
    }
    if (peer !== undefined) return this.heartbeat(peer, txid, now);
    if (kind === "session") {
      return refusal(
        ErrorCode.unknown_node,
        refusalText.notRegistered(nodeId),
        false,
      );
    }
    if (this.#peers.size >= this.limits.maxPeers) {
      return refusal(
        ErrorCode.too_many_peers,
        `Tracker is full: ${this.limits.maxPeers} peers`,
        false,
      );
    }
    const keys = this.keysOf(from.hostname);
    const full = this.shares.peerRoom(keys.address, keys.prefix);
    if (full !== undefined) {
      this.counters.addressLimited++;
      return refusal(
        ErrorCode.address_limit,
        full === "address"
          ? `Too many peers from this address: ${this.limits.maxPeersPerAddress}`
          : `Too many peers from this network: ${this.limits.maxPeersPerPrefix}`,
        false,
      );
    }
    const address = wireAddress(from.hostname, from.port);
    const wire = { nodeId, address, rate: 0 };
    const created: RegisteredPeer = {
      nodeId,
      hostname: from.hostname,
      port: from.port,
      packed,
      wire,
      entry: encodeOwnerEntry(wire),
      label: formatHostPort(from),
      addressKey: keys.address,
      prefixKey: keys.prefix,
      hostKey: keys.host,
      cookie: 0n,
      cookieHi: 0,
      cookieLo: 0,
      cookieEpoch: -1,
      rateKey: ZERO_RATE_KEY,
      uploaded: 0,
      credited: 0,
      files: new Map(),
      names: new Map(),
      lastSeen: now,
      expPrev: undefined,
      expNext: undefined,
      queued: false,
    };
    this.#peers.set(nodeId, created);
    this.shares.add(keys.address, keys.prefix, 1, 0, now);
    this.counters.registrations++;
    this.report({ type: "register", nodeId, address: created.label });
    return this.heartbeat(created, txid, now, false);
  }

  /**
   * A heartbeat: keeps the peer alive and answers REGISTERED with its session cookie (a new
   * one after the key rotated).
   *
   * @param peer the registered peer, already verified
   * @param txid the request's txid
   * @param now the current time in ms
   * @param count whether it counts as a heartbeat (not for a registration)
   * @returns REGISTERED, a view into the reply slab
   */
  heartbeat(peer: RegisteredPeer, txid: number, now: number, count = true): Uint8Array {
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
   * OWN from a verified peer: it shares a content under a name (re-OWN renames, never
   * duplicates; the same name with new content replaces the old).
   *
   * @param peer the verified peer
   * @param txid the request's txid
   * @param name the name (its length already checked)
   * @param contentId the content id
   * @param size the size in bytes
   * @param now the current time in ms
   * @param progress for a partial owner (a download in progress), how much it has
   * @returns ACK, or a refusal
   */
  own(
    peer: RegisteredPeer,
    txid: number,
    name: string,
    contentId: Uint8Array,
    size: number,
    now: number,
    progress?: OwnProgress,
  ): RuleResult {
    const key = toHex(contentId);
    const file = this.#files.get(key);
    if (file !== undefined && file.size !== size) {
      return refusal(
        ErrorCode.malformed,
        `Content ${key.slice(0, 16)}… is shared with size ${file.size}, not ${size}`,
        true,
      );
    }
    const adds = !peer.files.has(key) && !peer.names.has(name);
    if (adds && peer.files.size >= this.limits.maxFilesPerPeer) {
      return refusal(
        ErrorCode.too_many_files,
        `Peer already shares ${peer.files.size} files, the limit is ${this.limits.maxFilesPerPeer}`,
        true,
      );
    }
    const full = adds ? this.shares.fileRoom(peer.addressKey, peer.prefixKey) : undefined;
    if (full !== undefined) {
      this.counters.addressLimited++;
      return refusal(
        ErrorCode.address_limit,
        full === "address"
          ? `The peers of this address already share ${this.limits.maxFilesPerAddress} files`
          : `The peers of this network already share ${this.limits.maxFilesPerPrefix} files`,
        true,
      );
    }
    const have = progress === undefined ? COMPLETE : shareByte(progress.have, progress.pieces);
    const before = peer.files.size;
    const replaced = this.#files.own(peer, name, contentId, key, size, now, have);
    this.shares.add(peer.addressKey, peer.prefixKey, 0, peer.files.size - before, now);
    this.counters.owns++;
    this.report(
      replaced === undefined
        ? { type: "own", nodeId: peer.nodeId, name, contentId: key, size }
        : { type: "own", nodeId: peer.nodeId, name, contentId: key, size, replaced },
    );
    return ack(txid);
  }

  /**
   * NEED from a verified peer: up to N owners of the content, best first, never the asker.
   *
   * @param peer the verified peer
   * @param txid the request's txid
   * @param maxOwners the asker's cap (0: the tracker's N)
   * @param byName whether `want` is a name (else the content id's hex)
   * @param want the name or the content id's hex
   * @param now the current time in ms
   * @param nameBytes the name's UTF-8 when the caller has it (a view of the request)
   * @param exclude node ids the asker found dead or failing: left out of the reply
   * @param partial the asker takes partial owners (NEED_PARTIAL): the reply mixes them with
   *   complete ones and says each owner's share
   * @returns OWNERS (a view into the reply slab), or a not_found refusal
   */
  need(
    peer: RegisteredPeer,
    txid: number,
    maxOwners: number,
    byName: boolean,
    want: string,
    now: number,
    nameBytes: Uint8Array | undefined,
    exclude?: readonly string[],
    partial = false,
  ): RuleResult {
    const k = ownersWanted(maxOwners, this.maxOwners);
    const { file, alternatives, known } = this.#files.lookup(want, byName, peer);
    const picked = this.#picked;
    const skip = this.#skip;
    fillExcluded(skip, exclude, this.#peers);
    // A quarter of the places go to owners drawn at random: a bought (or stale) ranking cannot
    // keep any owner out of every reply.
    const mix = k >> 2;
    const count = file === undefined ? 0 : this.#files.select(
      file,
      k,
      peer,
      now,
      picked,
      skip.size > 0 ? skip : undefined,
      mix,
      partial,
    );
    skip.clear();
    if (file === undefined || count === 0) {
      const query = byName ? JSON.stringify(want) : want;
      this.report({
        type: "need",
        nodeId: peer.nodeId,
        query,
        contentId: undefined,
        owners: [],
        alternatives: 0,
      });
      const what = byName ? query : `content ${want}`;
      const text = known ? `Nobody but you shares ${what}` : `Nobody shares ${what}`;
      return refusal(ErrorCode.not_found, text, true, false);
    }
    const entries = this.#entriesOut;
    const rates = this.#ratesOut;
    const haves = this.#havesOut;
    for (let i = 0; i < count; i++) {
      const o = picked[i]!.peer;
      entries[i] = o.entry;
      rates[i] = wireRate(rateAt(o.rateKey, now, this.rateTauMs));
      haves[i] = picked[i]!.have;
    }
    this.counters.needs++;
    if (this.recordsEvents) {
      this.report({
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
    if (nameBytes !== undefined) name = nameBytes;
    else if (byName) name = utf8.encode(want);
    else name = this.#files.displayBytes(file);
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
      partial ? haves : undefined,
    );
    picked.length = 0;
    return reply;
  }

  /**
   * UPDATE from a verified peer: the bytes it claims to have uploaded are counted and logged,
   * but do not rank it (an owner's own claim is worth nothing: REPORTs from the downloaders
   * rank owners, see {@link Registry.credit}). Kept so older peers keep working.
   *
   * @param peer the verified peer
   * @param txid the request's txid
   * @param uploaded bytes uploaded since its last UPDATE
   * @param now the current time in ms
   * @returns ACK
   */
  update(peer: RegisteredPeer, txid: number, uploaded: number, now: number): Uint8Array {
    if (uploaded > 0) peer.uploaded = Math.min(Number.MAX_SAFE_INTEGER, peer.uploaded + uploaded);
    this.counters.updates++;
    this.report({
      type: "update",
      nodeId: peer.nodeId,
      uploaded,
      rate: rateAt(peer.rateKey, now, this.rateTauMs),
    });
    return ack(txid);
  }

  /**
   * REPORT from a verified peer: the bytes it received and verified from each owner of a
   * content. Each owner is credited (its rate rises and its files re-rank) unless it is not
   * registered, does not share the content, is the reporter, or sits on the reporter's own host
   * (IPv4 address or IPv6 /64). Together a REPORT credits at most the content's size, and the
   * reporters of one address at most `reportBytesPerAddress` per τ.
   *
   * @param peer the verified reporter
   * @param txid the request's txid
   * @param contentId the content downloaded
   * @param entries owners and their verified bytes
   * @param now the current time in ms
   * @returns ACK (also for a content nobody shares any more: nothing to credit)
   */
  credit(
    peer: RegisteredPeer,
    txid: number,
    contentId: Uint8Array,
    entries: readonly ReportEntry[],
    now: number,
  ): Uint8Array {
    const key = toHex(contentId);
    const file = this.#files.get(key);
    let credited = 0, ignored = 0;
    let room = file?.size ?? 0;
    for (const e of entries) {
      const owner = this.#peers.get(e.nodeId);
      if (
        file === undefined || owner === undefined || owner === peer ||
        owner.hostKey === peer.hostKey || !owner.files.has(key) || room <= 0
      ) {
        ignored++;
        continue;
      }
      const bytes = this.shares.takeCredit(
        peer.addressKey,
        Math.min(e.bytes, room),
        this.rateTauMs,
        now,
      );
      if (bytes <= 0) {
        ignored++;
        continue;
      }
      room -= bytes;
      credited += bytes;
      owner.credited += bytes;
      this.#files.rerate(owner, addUpload(owner.rateKey, bytes, now, this.rateTauMs), now);
    }
    this.counters.reports++;
    this.counters.creditedBytes += credited;
    this.report({ type: "report", nodeId: peer.nodeId, contentId: key, credited, ignored });
    return ack(txid);
  }

  /**
   * EXIT from a verified peer: forgets it and everything it shares.
   *
   * @param peer the verified peer
   * @param txid the request's txid
   * @returns ACK
   */
  exit(peer: RegisteredPeer, txid: number): Uint8Array {
    const files = peer.files.size;
    this.#removePeer(peer);
    this.counters.exits++;
    this.report({ type: "exit", nodeId: peer.nodeId, address: peer.label, files });
    return ack(txid);
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
      this.report({
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
      this.report({ type: "key_rotated", epoch: this.#jar.epoch });
    }
  }

  #removePeer(peer: RegisteredPeer): void {
    this.#expiry.remove(peer);
    const files = peer.files.size;
    this.#files.dropAll(peer);
    this.#peers.delete(peer.nodeId);
    this.shares.add(peer.addressKey, peer.prefixKey, -1, -files, peer.lastSeen);
  }
}

/**
 * An ACK.
 *
 * @param txid the request's txid
 * @returns the datagram
 */
export function ack(txid: number): Uint8Array {
  return encodeMessage({ type: "ack", txid });
}
