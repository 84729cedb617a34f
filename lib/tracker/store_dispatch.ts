/**
 * The tracker's core on a {@link SwarmStore} (the store path, used with `--store redis://…`):
 * a datagram in, a Promise of the reply out, with one store operation (one Redis round trip)
 * per request. The same requests, replies, error codes and texts as the memory tracker
 * (dispatch.ts + registry.ts); the state lives in the store, so several tracker processes on one
 * store serve one swarm. Sans-I/O apart from the store: the driver (server.ts) passes the time
 * (the wall clock, shared by the trackers of one store), sends what
 * {@link StoreDispatcher.handleDatagram} resolves to, calls {@link StoreDispatcher.handleTimeout}
 * at {@link StoreDispatcher.pollTimeout} and drains {@link StoreDispatcher.pollEvent}.
 *
 * What is per process, not shared: the per-source token buckets, the per-address request
 * buckets and REPORT budgets, the log throttle and the LIST snapshot. Address cookies are
 * derived from the store's shared secret with wall-clock epochs (cookie_jar.ts), so a REGISTERED
 * cookie from one tracker is valid at every other. A request's session cookie is checked by
 * HMAC before the store is asked (a bad cookie costs no round trip). While the store is
 * unreachable requests are dropped (the peers retry, or fail over to another tracker), logged
 * once per outage. Rules: docs/TRACKER.md, _Storage_.
 *
 * Over 600 lines with its JSDoc: the seven request rules share the cookie jar, the limits, the
 * counters and the refusal path, as registry.ts and dispatch.ts do for the memory tracker.
 * @module
 */
import { encodeMessage } from "../wire/codec.ts";
import { ErrorCode, type ErrorCodeValue, type Message, type OwnerEntry } from "../wire/messages.ts";
import { SAFE_DATAGRAM } from "../wire/limits.ts";
import { fromHex, toHex } from "../wire/hex.ts";
import { CookieJar, packAddress } from "../net/cookie_jar.ts";
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
import { newCounters, type RegistryCounters, type Source, wireAddress } from "./registry.ts";
import { StoreListing } from "./store_listing.ts";
import { IncidentLog, listEvent, refusalText } from "./error_reply.ts";
import type { PeerCheck, SwarmStore } from "./store/swarm_store.ts";

/** How often expired peers are collected from the store. */
export const EXPIRE_EVERY_MS = 1000;
/** Peers evicted per `expire` call (another call follows at once when it is full). */
const EXPIRE_BATCH = 1000;
const SWEEP_EVERY_MS = 10_000;

/** Options for {@link StoreDispatcher}. */
export interface StoreDispatcherOptions extends TrackerTimingOptions {
  /** Where peers, files and rankings live. */
  store: SwarmStore;
  /** The time at construction in ms: the wall clock (`Date.now()`) for a shared store. */
  now: number;
  /** The secret cookies derive from (shared by the trackers of one store); none: random keys. */
  secret?: Uint8Array;
  /** Queue events for {@link StoreDispatcher.pollEvent}. @default true */
  events?: boolean;
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

/** The tracker's core on a store. Every reply comes back as a Promise. */
export class StoreDispatcher extends TrackerCoreTiming {
  /** The store. */
  readonly store: SwarmStore;
  /** What this tracker process has seen and done. */
  readonly counters: RegistryCounters = newCounters();
  /** Requests dropped because the store was unreachable. */
  storeErrors = 0;
  /** Peers and contents in the store at the last expiry run (for logs and counters). */
  peerCount = 0;
  fileCount = 0;
  readonly #events = new Fifo<TrackerEvent>();
  readonly #recordsEvents: boolean;
  readonly #jar: CookieJar;
  readonly #limiter: RateLimiter;
  readonly #shares: AddressLimits;
  readonly #incidents = new IncidentLog((e) => this.#report(e), this.counters);
  readonly #listing: StoreListing;
  #nextExpire: number;
  #nextSweep: number;
  #expiring = false;
  #down: string | undefined;

  /**
   * @param options the store, the timing, the limits and the cookie secret
   */
  constructor(options: StoreDispatcherOptions) {
    super(options);
    this.store = options.store;
    this.#jar = new CookieJar(
      this.cookieEpochMs,
      (n) => crypto.getRandomValues(new Uint8Array(n)),
      options.now,
      options.secret,
    );
    this.#limiter = new RateLimiter({
      ratePerSecond: this.limits.requestsPerSecond,
      burst: this.limits.burst,
      maxSources: this.limits.maxSources,
    });
    this.#shares = new AddressLimits(this.limits);
    this.#listing = new StoreListing(this.store);
    this.#recordsEvents = options.events ?? true;
    this.#nextExpire = options.now + EXPIRE_EVERY_MS;
    this.#nextSweep = options.now + SWEEP_EVERY_MS;
  }

  /**
   * Handles one datagram.
   *
   * @param bytes the datagram (copied if needed before the first await)
   * @param from its source
   * @param now the current time in ms
   * @returns the reply to send back to `from`, or undefined for none
   */
  async handleDatagram(
    bytes: Uint8Array,
    from: Source,
    now: number,
  ): Promise<Uint8Array | undefined> {
    this.counters.received++;
    const keys = addressKeys(from.hostname);
    if (
      !this.#limiter.allow(from.hostname, from.port, now) ||
      this.#shares.allowRequest(keys.address, keys.prefix, now) !== undefined
    ) {
      this.counters.rateLimited++;
      return this.#incidents.rateLimited(bytes, from, now);
    }
    const msg = this.#incidents.decode(bytes, from, now);
    if (msg === undefined) return undefined;
    try {
      const r = await this.#route(msg, from, keys, now);
      if (this.#down !== undefined) {
        this.#report({ type: "store", state: "up", detail: `store is back: ${this.#down}` });
        this.#down = undefined;
      }
      if (r === undefined || r instanceof Uint8Array) return r;
      return this.#refuse(msg.type, from, msg.txid, r, bytes.byteLength, now);
    } catch (e) {
      if (e instanceof Error && e.name === "StoreUnavailable") {
        this.storeErrors++;
        if (this.#down === undefined) {
          this.#down = e.message;
          this.#report({
            type: "store",
            state: "down",
            detail: `${e.message}: requests are dropped until it is back`,
          });
        }
        return undefined;
      }
      throw e;
    }
  }

  /**
   * Rotates the cookie key, collects expired peers from the store and sweeps limiter state,
   * when due. Resolves when the store has answered.
   *
   * @param now the current time in ms
   */
  async handleTimeout(now: number): Promise<void> {
    if (this.#jar.rotate(now)) {
      this.counters.keyRotations++;
      this.#report({ type: "key_rotated", epoch: this.#jar.epoch });
    }
    if (now >= this.#nextSweep) {
      this.#limiter.sweep(now);
      this.#incidents.sweep(now);
      this.#shares.sweep(now, this.rateTauMs);
      this.#nextSweep = now + SWEEP_EVERY_MS;
    }
    if (now < this.#nextExpire || this.#expiring) return;
    this.#expiring = true;
    this.#nextExpire = now + EXPIRE_EVERY_MS;
    try {
      // Silent for longer than evictAfterMs: last heard before now - evictAfterMs.
      for (;;) {
        const gone = await this.store.expire(now - this.evictAfterMs - 1, EXPIRE_BATCH);
        for (const e of gone) {
          this.counters.evictions++;
          this.#report({
            type: "evict",
            nodeId: e.nodeId,
            address: formatHostPort(e),
            files: e.files,
            silentMs: Math.round(now - e.lastSeen),
          });
        }
        if (gone.length < EXPIRE_BATCH) break;
      }
      const c = await this.store.counts();
      this.peerCount = c.peers;
      this.fileCount = c.files;
    } catch (e) {
      if (!(e instanceof Error && e.name === "StoreUnavailable")) throw e;
      // Logged once by the next request; expiry runs again at the next period.
    } finally {
      this.#expiring = false;
    }
  }

  /**
   * The next time {@link StoreDispatcher.handleTimeout} has work.
   *
   * @returns a time in ms
   */
  pollTimeout(): number {
    return Math.min(this.#nextExpire, this.#nextSweep, this.#jar.nextRotation);
  }

  /**
   * The oldest event not yet drained.
   *
   * @returns the event, or undefined
   */
  pollEvent(): TrackerEvent | undefined {
    return this.#events.shift();
  }

  #report(e: TrackerEvent): void {
    if (this.#recordsEvents) this.#events.push(e);
  }

  /** The session cookie is checked before the store: a bad one costs no round trip. */
  #badCookie(msg: { cookie: bigint }, from: Source): Refused | undefined {
    const packed = packAddress(from.hostname, from.port);
    if (packed !== null && this.#jar.verify(msg.cookie, packed) === "session") return undefined;
    return refused(ErrorCode.bad_cookie, refusalText.badCookie, false);
  }

  /** A heartbeat by a request's session cookie: its refusal, or undefined once the peer is touched. */
  async #touch(
    msg: { cookie: bigint; nodeId: string },
    from: Source,
    now: number,
  ): Promise<Refused | undefined> {
    const bad = this.#badCookie(msg, from);
    if (bad !== undefined) return bad;
    return checkRefusal(await this.store.touch(msg.nodeId, from, now), msg.nodeId);
  }

  async #route(
    msg: Message,
    from: Source,
    keys: { address: string; prefix: string; host: string },
    now: number,
  ): Promise<Uint8Array | Refused | undefined> {
    const store = this.store;
    switch (msg.type) {
      case "register":
        return await this.#register(msg.txid, msg.cookie, msg.nodeId, from, keys, now);
      case "own":
        return await this.#own(msg, from, now);
      case "need": {
        const bad = this.#badCookie(msg, from);
        if (bad !== undefined) return bad;
        return await this.#need(msg, from, now);
      }
      case "report": {
        const bad = this.#badCookie(msg, from);
        if (bad !== undefined) return bad;
        let asked = 0;
        for (const e of msg.entries) asked += e.bytes;
        const budget = this.#shares.takeCredit(keys.address, asked, this.rateTauMs, now);
        const key = toHex(msg.contentId);
        const r = await store.report(msg.nodeId, from, now, key, msg.entries, budget);
        this.#shares.returnCredit(keys.address, budget - r.credited);
        if (r.status !== "ok") return checkRefusal(r.status, msg.nodeId);
        this.counters.reports++;
        this.counters.creditedBytes += r.credited;
        this.#report({
          type: "report",
          nodeId: msg.nodeId,
          contentId: key,
          credited: r.credited,
          ignored: r.ignored,
        });
        return encodeMessage({ type: "ack", txid: msg.txid });
      }
      case "update": {
        // Logged only: an owner's own claim does not rank it (REPORTs do).
        const refusal = await this.#touch(msg, from, now);
        if (refusal !== undefined) return refusal;
        this.counters.updates++;
        this.#report({ type: "update", nodeId: msg.nodeId, uploaded: msg.uploaded, rate: 0 });
        return encodeMessage({ type: "ack", txid: msg.txid });
      }
      case "list": {
        const refusal = await this.#touch(msg, from, now);
        if (refusal !== undefined) return refusal;
        const page = await this.#listing.page(msg, SAFE_DATAGRAM, now);
        this.counters.lists++;
        this.#report(listEvent(msg.nodeId, msg, page));
        return encodeMessage({ type: "listing", txid: msg.txid, ...page });
      }
      case "exit": {
        const r = await store.exit(msg.nodeId, from);
        // Idempotent: an unknown node id has nothing left to forget.
        if (r.status === "unknown") return encodeMessage({ type: "ack", txid: msg.txid });
        if (r.status === "wrong_address") return checkRefusal(r.status, msg.nodeId);
        this.counters.exits++;
        this.#report({
          type: "exit",
          nodeId: msg.nodeId,
          address: formatHostPort(from),
          files: r.files,
        });
        return encodeMessage({ type: "ack", txid: msg.txid });
      }
      default:
        this.#incidents.unexpected(msg.type, from, now);
        return undefined;
    }
  }

  async #own(
    msg: Extract<Message, { type: "own" }>,
    from: Source,
    now: number,
  ): Promise<Uint8Array | Refused | undefined> {
    const store = this.store;
    const bad = this.#badCookie(msg, from);
    if (bad !== undefined) return bad;
    const nameBytes = new TextEncoder().encode(msg.name).byteLength;
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
    const r = await store.own(
      msg.nodeId,
      from,
      now,
      msg.name,
      key,
      msg.size,
      this.limits.maxFilesPerPeer,
      {
        maxFilesPerAddress: this.limits.maxFilesPerAddress,
        maxFilesPerPrefix: this.limits.maxFilesPerPrefix,
      },
    );
    switch (r.status) {
      case "ok":
        this.counters.owns++;
        this.#report(
          r.replaced === undefined
            ? {
              type: "own",
              nodeId: msg.nodeId,
              name: msg.name,
              contentId: key,
              size: msg.size,
            }
            : {
              type: "own",
              nodeId: msg.nodeId,
              name: msg.name,
              contentId: key,
              size: msg.size,
              replaced: r.replaced,
            },
        );
        return encodeMessage({ type: "ack", txid: msg.txid });
      case "size_mismatch":
        return refused(
          ErrorCode.malformed,
          `Content ${key.slice(0, 16)}… is shared with size ${r.knownSize}, not ${msg.size}`,
        );
      case "too_many_files":
        return refused(
          ErrorCode.too_many_files,
          `Peer already shares ${r.files} files, the limit is ${this.limits.maxFilesPerPeer}`,
        );
      case "address_full":
      case "prefix_full":
        this.counters.addressLimited++;
        return refused(
          ErrorCode.address_limit,
          r.status === "address_full"
            ? `The peers of this address already share ${this.limits.maxFilesPerAddress} files`
            : `The peers of this network already share ${this.limits.maxFilesPerPrefix} files`,
        );
      default:
        return checkRefusal(r.status, msg.nodeId);
    }
  }

  async #register(
    txid: number,
    cookie: bigint,
    nodeId: string,
    from: Source,
    keys: { address: string; prefix: string; host: string },
    now: number,
  ): Promise<Uint8Array | Refused> {
    const packed = packAddress(from.hostname, from.port);
    if (packed === null) return refused(ErrorCode.malformed, "unusable source address", false);
    const kind = this.#jar.verify(cookie, packed);
    if (kind === undefined) {
      // No proof yet: a stateless challenge, smaller than the padded REGISTER.
      this.counters.challenges++;
      return this.#registered(txid, this.#jar.issue(packed, "challenge"), 0);
    }
    if (kind === "session") {
      // A heartbeat, possibly the first one at this tracker after another one's cookie.
      const status = await this.store.touch(nodeId, from, now);
      if (status === "wrong_address") {
        return refused(ErrorCode.wrong_address, refusalText.otherAddress(nodeId, true), false);
      }
      if (status === "unknown") {
        return refused(ErrorCode.unknown_node, refusalText.notRegistered(nodeId), false);
      }
      this.counters.heartbeats++;
      return this.#registered(txid, this.#jar.issue(packed, "session"), this.evictAfterMs);
    }
    const l = this.limits;
    const status = await this.store.join(nodeId, from, now, l.maxPeers, {
      ...keys,
      maxPeersPerAddress: l.maxPeersPerAddress,
      maxPeersPerPrefix: l.maxPeersPerPrefix,
    });
    switch (status) {
      case "registered":
        this.counters.registrations++;
        this.#report({ type: "register", nodeId, address: formatHostPort(from) });
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
    return this.#registered(txid, this.#jar.issue(packed, "session"), this.evictAfterMs);
  }

  #registered(txid: number, cookie: bigint, evictAfterMs: number): Uint8Array {
    return encodeMessage({
      type: "registered",
      txid,
      cookie,
      intervalMs: this.intervalMs,
      evictAfterMs,
    });
  }

  async #need(
    msg: Extract<Message, { type: "need" }>,
    from: Source,
    now: number,
  ): Promise<Uint8Array | Refused> {
    const k = ownersWanted(msg.maxOwners, this.maxOwners);
    const byName = msg.want.kind === "name";
    const want = msg.want.kind === "name" ? msg.want.name : toHex(msg.want.contentId);
    // A quarter of the places go to owners drawn at random (as registry.ts).
    const r = await this.store.need(msg.nodeId, from, now, {
      byName,
      want,
      k,
      exclude: msg.exclude,
      mix: k >> 2,
    });
    const check = checkRefusal(r.status, msg.nodeId);
    if (check !== undefined) return check;
    const query = byName ? JSON.stringify(want) : want;
    if (r.contentKey === undefined || r.count === 0) {
      this.#report({
        type: "need",
        nodeId: msg.nodeId,
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
    const owners: OwnerEntry[] = [];
    for (let i = 0; i < r.count; i++) {
      owners.push({
        nodeId: r.nodeIds[i]!,
        address: wireAddress(r.hostnames[i]!, r.ports[i]!),
        rate: wireRate(rateAt(r.rateKeys[i]!, now, this.rateTauMs)),
      });
    }
    this.counters.needs++;
    this.#report({
      type: "need",
      nodeId: msg.nodeId,
      query,
      contentId: r.contentKey,
      owners: owners.map((o) => o.nodeId),
      alternatives: r.alternatives,
    });
    return encodeMessage({
      type: "owners",
      txid: msg.txid,
      contentId: fromHex(r.contentKey)!,
      name: r.displayName,
      size: r.size,
      alternatives: Math.min(r.alternatives, 0xffff),
      owners,
    });
  }

  /** An ERROR, never larger than the request for a source that has not proven its address. */
  #refuse(
    request: string,
    from: Source,
    txid: number,
    r: Refused,
    size: number,
    now: number,
  ): Uint8Array | undefined {
    const maxBytes = r.verified ? Infinity : size;
    const log = r.code !== ErrorCode.not_found;
    return this.#incidents.refuse(
      { request, txid, code: r.code, text: r.text, maxBytes, log },
      from,
      now,
    );
  }
}
