/**
 * The tracker's sans-I/O core as a driver sees it: a datagram in, the reply out. It parses
 * (the fast path for heartbeats and NEEDs of verified peers, else the reference codec), applies
 * the per-source token bucket and the per-address and per-prefix ones, checks that a request
 * comes from the address that registered its node id with a valid session cookie, routes it to
 * the {@link Registry} rule, and turns a rule's {@link Refusal} into an ERROR reply (never larger
 * than the request for a source that has proven nothing, and never naming another address). Bad
 * input is dropped and logged once per address per minute, at most
 * `MAX_INCIDENT_LINES_PER_MINUTE` incident lines a minute in all ({@link IncidentLog}).
 *
 * The driver (server.ts) passes the time to every call, sends what
 * {@link Dispatcher.handleDatagram} returns back to the source, calls
 * {@link Dispatcher.handleTimeout} at {@link Dispatcher.pollTimeout}, and drains
 * {@link Dispatcher.pollEvent} into the log. Rules: docs/TRACKER.md.
 * @module
 */
import { encodeMessage } from "../wire/codec.ts";
import {
  ErrorCode,
  type ErrorCodeValue,
  type ListMessage,
  type Message,
  MessageType,
  NEED_PARTIAL,
} from "../wire/messages.ts";
import { SAFE_DATAGRAM } from "../wire/limits.ts";
import { fastType, newFastRequest, parseNeed, parseRegister } from "../wire/fast_path.ts";
import { toHex } from "../wire/hex.ts";
import { RateLimiter } from "../net/rate_limiter.ts";
import { fileNameProblem, quoteName } from "../wire/file_name.ts";
import type { TrackerEvent } from "./tracker_event.ts";
import { FileListing } from "./file_listing.ts";
import { IncidentLog, listEvent, refusalText, utf8Length } from "./error_reply.ts";
import {
  ack,
  type RegisteredPeer,
  Registry,
  type RegistryOptions,
  type RuleResult,
  type Source,
} from "./registry.ts";

const SWEEP_EVERY_MS = 10_000;

/**
 * The tracker's core: parse → limits → cookie checks → registry rule → reply. Sans-I/O: the
 * caller passes the time to every call and sends each reply {@link Dispatcher.handleDatagram}
 * returns back to its source.
 *
 * @example Register a peer, then let it expire on a virtual clock
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeMessage, encodeMessage } from "../wire/codec.ts";
 * import { Dispatcher } from "./dispatch.ts";
 *
 * const tracker = new Dispatcher({ now: 0 });
 * const from = { hostname: "127.0.0.1", port: 40000 };
 * const register = (txid: number, cookie: bigint, now: number) => {
 *   const hello = encodeMessage({ type: "register", txid, cookie, nodeId: "alice" });
 *   const reply = decodeMessage(tracker.handleDatagram(hello, from, now)!.slice());
 *   assert.equal(reply.type, "registered");
 *   return reply;
 * };
 * // First contact (cookie 0n) only earns an address cookie; presenting it registers.
 * const challenge = register(1, 0n, 0);
 * const registered = register(2, challenge.cookie, 1);
 * assert.ok(tracker.registry.hasPeer("alice", 1));
 * // Silent past the eviction deadline: the next timeouts forget the peer.
 * const deadline = 1 + registered.evictAfterMs;
 * for (let t = tracker.pollTimeout(); t <= deadline; t = tracker.pollTimeout()) {
 *   tracker.handleTimeout(t);
 * }
 * tracker.handleTimeout(deadline + 1);
 * assert.ok(!tracker.registry.hasPeer("alice", deadline + 1));
 * ```
 */
export class Dispatcher {
  /**
   * The peers, files and rules this dispatcher routes to (for tests and counters; its API is
   * internal and may change).
   *
   * @ignore
   */
  readonly registry: Registry;
  readonly #limiter: RateLimiter;
  readonly #incidents: IncidentLog;
  readonly #fast = newFastRequest();
  readonly #listing: FileListing<RegisteredPeer>;
  #nextSweep: number;

  /**
   * Creates a dispatcher and the registry it routes to.
   *
   * @param options the registry's options (timing, limits, clock start, randomness)
   */
  constructor(options: RegistryOptions) {
    this.registry = new Registry(options);
    this.#incidents = new IncidentLog((e) => this.registry.report(e), this.registry.counters);
    const limits = this.registry.limits;
    this.#limiter = new RateLimiter({
      ratePerSecond: limits.requestsPerSecond,
      burst: limits.burst,
      maxSources: limits.maxSources,
    });
    this.#nextSweep = options.now + SWEEP_EVERY_MS;
    this.#listing = new FileListing(this.registry.files);
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

  /**
   * Evicts overdue peers, rotates the cookie key and sweeps limiter state that is due.
   *
   * @param now the current time in ms
   */
  handleTimeout(now: number): void {
    this.registry.handleTimeout(now);
    if (now >= this.#nextSweep) {
      this.#limiter.sweep(now);
      this.#incidents.sweep(now);
      this.registry.shares.sweep(now, this.registry.rateTauMs);
      this.#nextSweep = now + SWEEP_EVERY_MS;
    }
  }

  /**
   * The next time {@link Dispatcher.handleTimeout} has work.
   *
   * @returns a time in ms on the core's clock
   */
  pollTimeout(): number {
    return Math.min(this.registry.pollTimeout(), this.#nextSweep);
  }

  /**
   * The oldest event not yet drained.
   *
   * @returns the event, or undefined
   */
  pollEvent(): TrackerEvent | undefined {
    return this.registry.pollEvent();
  }

  #dispatch(bytes: Uint8Array, from: Source, now: number): Uint8Array | undefined {
    const registry = this.registry;
    registry.counters.received++;
    registry.catchUp(now);

    if (
      !this.#limiter.allow(from.hostname, from.port, now) ||
      registry.allowRequest(from, now) !== undefined
    ) {
      registry.counters.rateLimited++;
      return this.#incidents.rateLimited(bytes, from, now);
    }

    // Fast path: a heartbeat or NEED from a verified peer with the stored cookie.
    const type = fastType(bytes);
    if (type === MessageType.register || type === MessageType.need) {
      const fast = this.#fast;
      if (type === MessageType.register ? parseRegister(bytes, fast) : parseNeed(bytes, fast)) {
        const peer = registry.peer(fast.nodeId);
        if (
          peer !== undefined && peer.cookieLo === fast.cookieLo &&
          peer.cookieHi === fast.cookieHi && peer.cookie !== 0n && peer.port === from.port &&
          peer.hostname === from.hostname
        ) {
          if (type === MessageType.register) return registry.heartbeat(peer, fast.txid, now);
          registry.touch(peer, now);
          const byName = fast.wantKind === 1;
          return this.#reply(
            "need",
            from,
            fast.txid,
            Infinity,
            registry.need(
              peer,
              fast.txid,
              fast.maxOwners,
              byName,
              byName ? fast.name : toHex(bytes, fast.contentIdStart, 32),
              now,
              byName ? bytes.subarray(fast.nameStart, fast.nameStart + fast.nameLength) : undefined,
              undefined,
              (fast.flags & NEED_PARTIAL) !== 0,
            ),
            now,
          );
        }
      }
    }

    const msg = this.#incidents.decode(bytes, from, now);
    if (msg === undefined) return undefined;
    return this.#route(msg, from, bytes.byteLength, now);
  }

  /** Sends a decoded request to its rule, after the cookie checks it needs. */
  #route(msg: Message, from: Source, size: number, now: number): Uint8Array | undefined {
    const registry = this.registry;
    switch (msg.type) {
      case "register":
        return this.#reply(
          "register",
          from,
          msg.txid,
          size,
          registry.register(msg.txid, msg.cookie, msg.nodeId, from, now),
          now,
        );
      case "own": {
        const peer = this.#verify("own", msg, from, size, now);
        if (peer instanceof Uint8Array) return peer;
        const nameBytes = utf8Length(msg.name);
        if (nameBytes > registry.limits.maxNameBytes) {
          return this.#refuse(
            "own",
            from,
            msg.txid,
            ErrorCode.out_of_range,
            `Name is ${nameBytes} bytes, the limit is ${registry.limits.maxNameBytes}`,
            Infinity,
            true,
            now,
          );
        }
        const problem = fileNameProblem(msg.name);
        if (problem !== undefined) {
          return this.#refuse(
            "own",
            from,
            msg.txid,
            ErrorCode.bad_name,
            `Cannot use name ${quoteName(msg.name)}: ${problem}`,
            Infinity,
            true,
            now,
          );
        }
        const r = registry.own(
          peer,
          msg.txid,
          msg.name,
          msg.contentId,
          msg.size,
          now,
          msg.progress,
        );
        return this.#reply("own", from, msg.txid, Infinity, r, now);
      }
      case "need": {
        const peer = this.#verify("need", msg, from, size, now);
        if (peer instanceof Uint8Array) return peer;
        const byName = msg.want.kind === "name";
        const want = msg.want.kind === "name" ? msg.want.name : toHex(msg.want.contentId);
        const r = registry.need(
          peer,
          msg.txid,
          msg.maxOwners,
          byName,
          want,
          now,
          undefined,
          msg.exclude,
          ((msg.flags ?? 0) & NEED_PARTIAL) !== 0,
        );
        return this.#reply("need", from, msg.txid, Infinity, r, now);
      }
      case "report": {
        const peer = this.#verify("report", msg, from, size, now);
        if (peer instanceof Uint8Array) return peer;
        return registry.credit(peer, msg.txid, msg.contentId, msg.entries, now);
      }
      case "update": {
        const peer = this.#verify("update", msg, from, size, now);
        if (peer instanceof Uint8Array) return peer;
        return registry.update(peer, msg.txid, msg.uploaded, now);
      }
      case "list": {
        const peer = this.#verify("list", msg, from, size, now);
        if (peer instanceof Uint8Array) return peer;
        return this.#list(peer, msg, from, now);
      }
      case "exit": {
        // Idempotent: an unknown node id has nothing left to forget.
        if (registry.peer(msg.nodeId) === undefined) return ack(msg.txid);
        const peer = this.#verify("exit", msg, from, size, now);
        if (peer instanceof Uint8Array) return peer;
        return registry.exit(peer, msg.txid);
      }
      default:
        this.#incidents.unexpected(msg.type, from, now);
        return undefined;
    }
  }

  /**
   * LIST from a verified peer: one page of the matching (name, content) entries, in a LISTING
   * of at most {@link SAFE_DATAGRAM} bytes (only verified sources get here).
   */
  #list(peer: RegisteredPeer, msg: ListMessage, from: Source, now: number): Uint8Array {
    const page = this.#listing.page(msg, SAFE_DATAGRAM, now);
    const registry = this.registry;
    if (page === "busy") {
      const text = "Too many new listing patterns right now: try again in a second";
      return this.#refuse(
        "list",
        from,
        msg.txid,
        ErrorCode.rate_limited,
        text,
        Infinity,
        true,
        now,
      );
    }
    registry.counters.lists++;
    registry.report(listEvent(peer.nodeId, msg, page));
    return encodeMessage({ type: "listing", txid: msg.txid, ...page });
  }

  /**
   * Checks that a request comes from the address that registered the node id and carries a
   * valid session cookie for it. Returns the peer (kept alive), or the ERROR reply (never
   * larger than the request: the source has not proven anything).
   */
  #verify(
    request: string,
    msg: { txid: number; cookie: bigint; nodeId: string },
    from: Source,
    size: number,
    now: number,
  ): RegisteredPeer | Uint8Array {
    const { txid, nodeId } = msg;
    const peer = this.registry.peer(nodeId);
    let code: ErrorCodeValue, text: string;
    if (peer === undefined) {
      code = ErrorCode.unknown_node;
      text = refusalText.notRegistered(nodeId);
    } else if (peer.port !== from.port || peer.hostname !== from.hostname) {
      // Never the registered address: this source has proven nothing, not even its own.
      code = ErrorCode.wrong_address;
      text = refusalText.otherAddress(nodeId, false);
    } else if (!this.registry.isSessionCookie(peer, msg.cookie)) {
      code = ErrorCode.bad_cookie;
      text = refusalText.badCookie;
    } else {
      this.registry.touch(peer, now);
      return peer;
    }
    return this.#refuse(request, from, txid, code, text, size, true, now);
  }

  /** A rule's reply as it is, or its refusal as an ERROR. */
  #reply(
    request: string,
    from: Source,
    txid: number,
    size: number,
    r: RuleResult,
    now: number,
  ): Uint8Array {
    if (r instanceof Uint8Array) return r;
    const maxBytes = r.verified ? Infinity : size;
    return this.#refuse(request, from, txid, r.code, r.text, maxBytes, r.log, now);
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
    log: boolean,
    now: number,
  ): Uint8Array {
    log &&= this.registry.recordsEvents;
    const r = { request, txid, code, text, maxBytes, log };
    // Every request is at least 18 bytes, so an ERROR with a cut text always fits.
    return this.#incidents.refuse(r, from, now) ?? new Uint8Array(0);
  }
}
