/**
 * Tracker limits and their defaults (docs/TRACKER.md lists them), and {@link AddressLimits}: what
 * one source address and one network prefix (IPv4 /24, IPv6 /64) hold and send, so that one host
 * cannot fill the tracker, own every file or buy the owner ranking.
 * @module
 */
import { parseIPv4, parseIPv6 } from "../wire/address.ts";
import { MAX_NAME_BYTES, MAX_OWNERS } from "../wire/limits.ts";
import { Rows } from "../_util/rows.ts";

/**
 * How many owners a NEED gets: what it asks for (0: the tracker's N), at most N.
 *
 * @param asked the NEED's maxOwners
 * @param maxOwners the tracker's N
 * @returns the number of owners to pick
 */
export function ownersWanted(asked: number, maxOwners: number): number {
  return asked === 0 ? maxOwners : Math.min(asked, maxOwners, MAX_OWNERS);
}

/**
 * Fills `skip` with the items of the node ids a NEED excludes (the ids `byId` knows).
 *
 * @param skip the set to fill (cleared first)
 * @param exclude the NEED's excluded node ids
 * @param byId the store's items by node id (a `Map` fits)
 */
export function fillExcluded<T>(
  skip: Set<T>,
  exclude: readonly string[] | undefined,
  byId: { get(nodeId: string): T | undefined },
): void {
  skip.clear();
  if (exclude === undefined) return;
  for (const id of exclude) {
    const item = byId.get(id);
    if (item !== undefined) skip.add(item);
  }
}

/** Timing and limit options of a tracker core: the memory {@link Registry} and the store path alike. */
export interface TrackerTimingOptions {
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
}

/**
 * The timing and limits a tracker core runs by, checked from its options: the base of the memory
 * core's `Registry` and of the store path's `StoreDispatcher`.
 */
export class TrackerCoreTiming {
  /** Heartbeat interval T in ms. */
  readonly intervalMs: number;
  /** A peer silent for longer than this is evicted (T × (1 + grace)). */
  readonly evictAfterMs: number;
  /** N: owners in a NEED reply. */
  readonly maxOwners: number;
  /** The limits in force. */
  readonly limits: Readonly<TrackerLimits>;
  /** Time constant τ of the upload-rate EWMA in ms. */
  readonly rateTauMs: number;
  /** How often the cookie key rotates, in ms (at least the eviction time). */
  readonly cookieEpochMs: number;

  /**
   * The timing and limits in force.
   *
   * @param options the timing options as given; missing ones take their defaults
   * @throws {RangeError} for an interval outside 1..2^31-1 ms, a negative grace, an eviction
   *   time past 2^32-1 ms, τ ≤ 0, or a cookie epoch shorter than the eviction time
   */
  constructor(options: TrackerTimingOptions) {
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
    this.rateTauMs = options.rateTauMs ?? DEFAULT_RATE_TAU_MS;
    if (!(this.rateTauMs > 0)) {
      throw new RangeError(`Cannot use rateTauMs: expected > 0, got ${this.rateTauMs}`);
    }
    this.cookieEpochMs = options.cookieEpochMs ?? Math.max(2 * interval, this.evictAfterMs);
    if (this.cookieEpochMs < this.evictAfterMs) {
      throw new RangeError(
        `Cannot use cookieEpochMs ${this.cookieEpochMs}: it must be at least the eviction time ${this.evictAfterMs} ms, or live peers would hold expired cookies`,
      );
    }
    this.limits = Object.freeze(resolveLimits(options.limits));
  }
}

/** Limits that protect the tracker; every one is configurable. */
export interface TrackerLimits {
  /** Registered peers at once; REGISTER past it gets ERROR too_many_peers. @default 100000 */
  maxPeers: number;
  /** Files one peer may OWN; OWN past it gets ERROR too_many_files. @default 1024 */
  maxFilesPerPeer: number;
  /** Longest file name in UTF-8 bytes (1..255); longer gets ERROR out_of_range. @default 255 */
  maxNameBytes: number;
  /** Sustained requests per second from one source address (ip, port). @default 100 */
  requestsPerSecond: number;
  /** Burst of requests one source may send at once. @default 200 */
  burst: number;
  /** Source addresses whose token bucket is tracked at once. @default 65536 */
  maxSources: number;
  /** Peers registered from one IP address at once (all ports). @default 64 */
  maxPeersPerAddress: number;
  /** Peers registered from one network prefix (IPv4 /24, IPv6 /64) at once. @default 1024 */
  maxPeersPerPrefix: number;
  /** Files (one peer sharing one content) held by the peers of one IP address. @default 8192 */
  maxFilesPerAddress: number;
  /** Files held by the peers of one network prefix. @default 65536 */
  maxFilesPerPrefix: number;
  /** Sustained requests per second from one IP address, all its ports together. @default 2000 */
  addressRequestsPerSecond: number;
  /** Burst of requests from one IP address. @default 4000 */
  addressBurst: number;
  /** Sustained requests per second from one network prefix. @default 8000 */
  prefixRequestsPerSecond: number;
  /** Burst of requests from one network prefix. @default 16000 */
  prefixBurst: number;
  /**
   * Bytes the downloaders of one IP address may credit to owners with REPORT per rate time
   * constant τ (60 s); credit past it is ignored. @default 4294967296 (4 GiB, ~72 MB/s)
   */
  reportBytesPerAddress: number;
}

/** The defaults of {@link TrackerLimits}. */
export const DEFAULT_LIMITS: Readonly<TrackerLimits> = Object.freeze({
  maxPeers: 100_000,
  maxFilesPerPeer: 1024,
  maxNameBytes: MAX_NAME_BYTES,
  requestsPerSecond: 100,
  burst: 200,
  maxSources: 65_536,
  maxPeersPerAddress: 64,
  maxPeersPerPrefix: 1024,
  maxFilesPerAddress: 8192,
  maxFilesPerPrefix: 65_536,
  addressRequestsPerSecond: 2000,
  addressBurst: 4000,
  prefixRequestsPerSecond: 8000,
  prefixBurst: 16_000,
  reportBytesPerAddress: 4 * 1024 ** 3,
});

/** Incident lines (refusals, malformed datagrams, rate limiting) tracker.log takes per minute. */
export const MAX_INCIDENT_LINES_PER_MINUTE = 120;

/** Default heartbeat interval T in ms. */
export const DEFAULT_INTERVAL_MS = 30_000;
/** Default grace: a peer is evicted after T × (1 + grace) of silence. */
export const DEFAULT_GRACE = 0.5;
/** Default number N of owners in a NEED reply. */
export const DEFAULT_MAX_OWNERS = 8;
/** Default time constant τ of the upload-rate EWMA in ms. */
export const DEFAULT_RATE_TAU_MS = 60_000;

/**
 * Merges limits with the defaults and checks them.
 *
 * @param limits overrides
 * @returns complete limits
 * @throws {RangeError} a limit is out of range
 */
export function resolveLimits(limits: Partial<TrackerLimits> = {}): TrackerLimits {
  const out: TrackerLimits = { ...DEFAULT_LIMITS };
  for (const [k, v] of Object.entries(limits)) {
    if (v !== undefined) (out as unknown as Record<string, number>)[k] = v;
  }
  const positive = (name: keyof TrackerLimits) => {
    const v = out[name];
    if (!Number.isFinite(v) || v <= 0) {
      throw new RangeError(`Cannot use limit ${name}: expected a positive number, got ${v}`);
    }
  };
  for (const k of Object.keys(DEFAULT_LIMITS) as (keyof TrackerLimits)[]) positive(k);
  if (out.maxNameBytes > MAX_NAME_BYTES) {
    throw new RangeError(
      `Cannot use limit maxNameBytes: at most ${MAX_NAME_BYTES}, got ${out.maxNameBytes}`,
    );
  }
  return out;
}

/**
 * Checks N, the owners per NEED reply.
 *
 * @param n the requested value
 * @returns n
 * @throws {RangeError} unless 1 ≤ n ≤ MAX_OWNERS
 */
export function checkMaxOwners(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > MAX_OWNERS) {
    throw new RangeError(`Cannot use maxOwners: expected an integer in 1..${MAX_OWNERS}, got ${n}`);
  }
  return n;
}

/**
 * The keys an address is counted under: the address itself and its network prefix (IPv4 /24,
 * IPv6 /64; an IPv4-mapped IPv6 address counts as IPv4). An IPv6 host usually owns a whole /64,
 * so for IPv6 the "host" that REPORT refuses self-credit from is the prefix.
 *
 * @param hostname the source's hostname as the socket reports it
 * @returns the address key, the prefix key and the host key
 */
export function addressKeys(hostname: string): { address: string; prefix: string; host: string } {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(hostname);
  const v4 = parseIPv4(mapped ? mapped[1]! : hostname);
  if (v4 !== null) {
    let address = `${v4[0]}.${v4[1]}.${v4[2]}.${v4[3]}`;
    // The source's own string when it is already canonical (one string kept, not two).
    if (address === hostname) address = hostname;
    return { address, prefix: `${v4[0]}.${v4[1]}.${v4[2]}/24`, host: address };
  }
  const v6 = parseIPv6(hostname);
  if (v6 === null) return { address: hostname, prefix: hostname, host: hostname };
  let hex = "";
  for (const b of v6) hex += b.toString(16).padStart(2, "0");
  const prefix = `${hex.slice(0, 16)}/64`;
  return { address: hex, prefix, host: prefix };
}

const NIL = -1;

/** What one address or prefix holds, and its request bucket: one row per record. */
const shareCols = (n: number) => ({
  /** Registered peers. */
  peers: new Int32Array(n),
  /** Ownerships of its peers. */
  files: new Int32Array(n),
  /** Request tokens left, and when they were last topped up (ms). */
  tokens: new Float64Array(n),
  last: new Float64Array(n),
  /** REPORT bytes credited in the current window, and when the window started (ms). */
  credited: new Float64Array(n),
  windowStart: new Float64Array(n),
});

/** Which limit a source hit (or undefined when it may go on). */
export type AddressLimitHit = "address" | "prefix" | undefined;

/**
 * Counts per source address and per network prefix: registered peers, their files, a token
 * bucket of requests, and REPORT credit per window. A record is deleted as soon as it holds
 * nothing and its bucket is full, so memory goes back when the peers leave. Pure: the caller
 * passes the time.
 */
export class AddressLimits {
  readonly #limits: Readonly<TrackerLimits>;
  /** Address and prefix keys → row. */
  readonly #ids = new Map<string, number>();
  readonly #rows = new Rows(shareCols, 1);
  readonly #keyOf = this.#rows.strs[0]!;
  /** Shared by sources that arrive while `maxSources` records exist (a spoofed flood). */
  #overflowTokens: number;
  #overflowLast = -Infinity;

  /** @param limits the limits in force */
  constructor(limits: Readonly<TrackerLimits>) {
    this.#limits = limits;
    this.#overflowTokens = limits.prefixBurst * 16;
  }

  /** Addresses and prefixes with a record (for tests and memory checks). */
  get size(): number {
    return this.#ids.size;
  }

  /**
   * Takes one request token from the address and from its prefix.
   *
   * @param address the address key ({@link addressKeys})
   * @param prefix the prefix key
   * @param now the current time in ms
   * @returns which bucket is empty, or undefined when the request may go on
   */
  allowRequest(address: string, prefix: string, now: number): AddressLimitHit {
    const l = this.#limits;
    const a = this.#bucket(address, l.addressBurst, now);
    const p = this.#bucket(prefix, l.prefixBurst, now);
    const at = this.#refill(
      a,
      a === NIL ? l.addressBurst * 16 : l.addressBurst,
      l.addressRequestsPerSecond,
      now,
    );
    const pt = this.#refill(
      p,
      p === NIL ? l.prefixBurst * 16 : l.prefixBurst,
      l.prefixRequestsPerSecond,
      now,
    );
    if (at < 1) return "address";
    if (pt < 1) return "prefix";
    this.#take(a);
    this.#take(p);
    return undefined;
  }

  /**
   * Tells whether one more peer may register from an address.
   *
   * @param address the address key
   * @param prefix the prefix key
   * @returns which limit is full, or undefined
   */
  peerRoom(address: string, prefix: string): AddressLimitHit {
    if (this.#count(address, 0) >= this.#limits.maxPeersPerAddress) return "address";
    if (this.#count(prefix, 0) >= this.#limits.maxPeersPerPrefix) return "prefix";
    return undefined;
  }

  /**
   * Tells whether the peers of an address may own one more file.
   *
   * @param address the address key
   * @param prefix the prefix key
   * @returns which limit is full, or undefined
   */
  fileRoom(address: string, prefix: string): AddressLimitHit {
    if (this.#count(address, 1) >= this.#limits.maxFilesPerAddress) return "address";
    if (this.#count(prefix, 1) >= this.#limits.maxFilesPerPrefix) return "prefix";
    return undefined;
  }

  /**
   * Adds (or, negative, removes) peers and files held by an address and its prefix.
   *
   * @param address the address key
   * @param prefix the prefix key
   * @param peers peers added
   * @param files files added
   * @param now the current time in ms
   */
  add(address: string, prefix: string, peers: number, files: number, now: number): void {
    if (peers === 0 && files === 0) return;
    for (
      const [key, burst] of [[address, this.#limits.addressBurst], [
        prefix,
        this.#limits.prefixBurst,
      ]] as const
    ) {
      const s = this.#share(key, burst, now);
      const c = this.#rows.cols;
      c.peers[s] = c.peers[s]! + peers;
      c.files[s] = c.files[s]! + files;
      if (c.peers[s]! <= 0 && c.files[s]! <= 0 && c.tokens[s]! >= burst && c.credited[s] === 0) {
        this.#forget(s);
      }
    }
  }

  /**
   * Takes REPORT credit from an address's window of one τ.
   *
   * @param address the reporter's address key
   * @param bytes the bytes it wants to credit
   * @param windowMs the window (the rate time constant τ)
   * @param now the current time in ms
   * @returns the bytes that may be credited (≤ `bytes`)
   */
  takeCredit(address: string, bytes: number, windowMs: number, now: number): number {
    const s = this.#share(address, this.#limits.addressBurst, now);
    const c = this.#rows.cols;
    if (now - c.windowStart[s]! >= windowMs) {
      c.windowStart[s] = now;
      c.credited[s] = 0;
    }
    const room = Math.max(0, this.#limits.reportBytesPerAddress - c.credited[s]!);
    const granted = Math.min(room, bytes);
    c.credited[s] = c.credited[s]! + granted;
    return granted;
  }

  /**
   * Gives back REPORT credit taken by {@link AddressLimits.takeCredit} and not used (the store
   * path takes the address's room before the store knows what it credits).
   *
   * @param address the address key
   * @param bytes bytes not credited
   */
  returnCredit(address: string, bytes: number): void {
    const s = this.#ids.get(address);
    if (s === undefined || !(bytes > 0)) return;
    const c = this.#rows.cols;
    c.credited[s] = Math.max(0, c.credited[s]! - bytes);
  }

  /**
   * Forgets records that hold nothing, whose bucket has refilled and whose REPORT window is over.
   *
   * @param now the current time in ms
   * @param windowMs the REPORT window (τ)
   */
  sweep(now: number, windowMs: number): void {
    const l = this.#limits;
    for (const [key, s] of this.#ids) {
      const c = this.#rows.cols;
      if (c.peers[s]! > 0 || c.files[s]! > 0) continue;
      const prefix = key.endsWith("/24") || key.endsWith("/64");
      const burst = prefix ? l.prefixBurst : l.addressBurst;
      const tokens = this.#refill(
        s,
        burst,
        prefix ? l.prefixRequestsPerSecond : l.addressRequestsPerSecond,
        now,
      );
      if (tokens >= burst && (c.credited[s] === 0 || now - c.windowStart[s]! >= windowMs)) {
        this.#forget(s);
      }
    }
  }

  /** A request bucket: the record of `key`, or NIL (the overflow) when too many are tracked. */
  #bucket(key: string, burst: number, now: number): number {
    const s = this.#ids.get(key);
    if (s !== undefined) return s;
    if (this.#ids.size >= this.#limits.maxSources) return NIL;
    return this.#share(key, burst, now);
  }

  #share(key: string, burst: number, now: number): number {
    let s = this.#ids.get(key);
    if (s === undefined) {
      s = this.#rows.alloc();
      const c = this.#rows.cols;
      c.peers[s] = c.files[s] = c.credited[s] = 0;
      c.tokens[s] = burst;
      c.last[s] = c.windowStart[s] = now;
      this.#keyOf[s] = key;
      this.#ids.set(key, s);
    }
    return s;
  }

  #forget(s: number): void {
    this.#ids.delete(this.#keyOf[s]!);
    this.#rows.release(s);
  }

  /** The peers (`which` 0) or files (1) of a key. */
  #count(key: string, which: 0 | 1): number {
    const s = this.#ids.get(key);
    if (s === undefined) return 0;
    return which === 0 ? this.#rows.cols.peers[s]! : this.#rows.cols.files[s]!;
  }

  /** Tops up a bucket (NIL: the overflow one); returns its tokens. */
  #refill(s: number, burst: number, perSecond: number, now: number): number {
    if (s === NIL) {
      const elapsed = now - this.#overflowLast;
      if (elapsed > 0) {
        this.#overflowTokens = Math.min(burst, this.#overflowTokens + (elapsed * perSecond) / 1000);
        this.#overflowLast = now;
      }
      return this.#overflowTokens;
    }
    const c = this.#rows.cols;
    const elapsed = now - c.last[s]!;
    if (elapsed > 0) {
      c.tokens[s] = Math.min(burst, c.tokens[s]! + (elapsed * perSecond) / 1000);
      c.last[s] = now;
    }
    return c.tokens[s]!;
  }

  #take(s: number): void {
    if (s === NIL) this.#overflowTokens -= 1;
    else this.#rows.cols.tokens[s] = this.#rows.cols.tokens[s]! - 1;
  }
}
