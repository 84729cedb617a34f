/**
 * The peer's side of the tracker protocol as a pure state machine (sans-I/O): registration
 * with the cookie handshake, the heartbeat every T, OWN/NEED/UPDATE/EXIT matched to their
 * replies by transaction id and retransmitted with exponential backoff (the table of requests
 * in flight is {@link RequestRetry}), re-registration after an eviction or a tracker restart,
 * and OWN again of every shared file after it. Given several trackers, the session uses one and
 * fails over to the next when it stops answering (a request timed out, or heartbeats lost): it
 * registers there, OWNs every shared file again, and sends the commands in flight there.
 *
 * No socket, timer or clock: commands and datagrams come in with `now`, datagrams for the
 * tracker leave through {@link TrackerSession.pollTransmit}, results through
 * {@link TrackerSession.pollEvent}, and {@link TrackerSession.pollTimeout} tells when to call
 * {@link TrackerSession.handleTimeout}. `lib/peer/tracker_client.ts` drives it on a socket.
 *
 * Longer than 600 lines (about half of it JSDoc) because it is one state machine: the
 * registration, the heartbeat and the commands share the requests in flight, the cookie and the queue of commands waiting for a registration; split apart, each piece would
 * reach into the others' state.
 * @module
 */
import { canonicalAddress } from "../../wire/address.ts";
import { decodeHeader, decodeMessage, encodeMessage, isValidNodeId } from "../../wire/codec.ts";
import { toHex } from "../../wire/hex.ts";
import { MAX_NEED_EXCLUDE, MAX_OWNERS, MAX_REPORT_ENTRIES } from "../../wire/limits.ts";
import type {
  ErrorMessage,
  ExitMessage,
  ListingMessage,
  ListMatch,
  ListMessage,
  Message,
  NeedMessage,
  NeedTarget,
  OwnersMessage,
  OwnMessage,
  OwnProgress,
  RegisterMessage,
  ReportEntry,
  ReportMessage,
  UpdateMessage,
} from "../../wire/messages.ts";
import { formatHostPort } from "../../net/host_port.ts";
import { TrackerError, TrackerErrorCode } from "../../tracker/tracker_error.ts";
import { Fifo } from "../../_util/fifo.ts";
/** Shortest first retransmission of a NEED or EXIT once the tracker's round trip is known, ms. */
export const NEED_RETRY_MIN_MS = 20;

import {
  DEFAULT_RETRY,
  RequestRetry,
  type Retrying,
  retrying,
  type RetryPolicy,
} from "./request_retry.ts";

/** What the tracker said when it registered this peer. */
export interface RegisteredInfo {
  /** The session cookie. */
  cookie: bigint;
  /** Heartbeat interval T in ms. */
  intervalMs: number;
  /** Silence after which the tracker evicts this peer, in ms. */
  evictAfterMs: number;
}

/** A file to announce with OWN. */
export interface OwnedFile {
  /** Display name, 1..255 bytes of UTF-8. */
  name: string;
  /** Size in bytes. */
  size: number;
  /** 32-byte content id (SHA-256 of the manifest). */
  contentId: Uint8Array;
  /** A download in progress: pieces verified of the total (absent: the whole file). */
  progress?: OwnProgress;
}

/** What {@link TrackerSession.pollEvent} reports. */
export type TrackerSessionEvent =
  /**
   * The command with handle `id` succeeded: `register` gives its info, `need` the owners,
   * `list` the page.
   */
  | {
    type: "done";
    id: number;
    value: RegisteredInfo | OwnersMessage | ListingMessage | undefined;
  }
  /** The command with handle `id` failed. */
  | { type: "failed"; id: number; error: TrackerError }
  /** A fresh registration (after a challenge); `again` after an eviction or tracker restart. */
  | { type: "registered"; info: RegisteredInfo; again: boolean; files: number }
  /** Something worth a log line (a lost heartbeat, a refused re-announce, a bad reply). */
  | { type: "log"; line: string };

/** What {@link TrackerSession.list} asks for. */
export interface TrackerListQuery {
  /** The pattern, 0..255 bytes of UTF-8. */
  pattern: string;
  /** How the pattern is matched (substring and glob ignore case). */
  match: ListMatch;
  /** Where the page starts: 0, or the previous page's `nextCursor`. @default 0 */
  cursor?: number;
  /** At most this many entries; 0: as many as fit one reply. @default 0 */
  maxEntries?: number;
}

/** Options for {@link TrackerSession}. */
export interface TrackerSessionOptions {
  /** The tracker's address (`localhost` means 127.0.0.1). */
  tracker: { hostname: string; port: number };
  /** This peer's node id, 1..24 characters of `[A-Za-z0-9._-]`. */
  nodeId: string;
  /** Random numbers in [0, 1): the first transaction id and ±10 % backoff jitter. */
  random: () => number;
  /** Retransmission policy of requests. @default {@link DEFAULT_RETRY} */
  retry?: Partial<RetryPolicy>;
  /**
   * More trackers (of the same swarm), tried in order, then from the first again, when the
   * current one stops answering: a request timed out, or
   * {@link TrackerSessionOptions.failoverAfterHeartbeats} heartbeats in a row were lost.
   * @default []
   */
  fallbacks?: readonly { hostname: string; port: number }[];
  /** Heartbeats lost in a row before failing over to the next tracker (with fallbacks). @default 1 */
  failoverAfterHeartbeats?: number;
  /**
   * Copies of each REGISTER send while the tracker's round trip is unknown (the first
   * registration): with 2, one lost datagram does not cost a blind wait of
   * {@link RetryPolicy.initialMs} or more. The tracker answers each copy with a challenge no
   * larger than the REGISTER. @default 2
   */
  registerCopies?: number;
}

/** One tracker of the session's list. */
interface TrackerAddress {
  readonly hostname: string;
  readonly port: number;
  /** Its canonical address (a host name stays as given). */
  readonly host: string;
  /** `host:port`, for messages. */
  readonly label: string;
}

function trackerAddress(address: { hostname: string; port: number }): TrackerAddress {
  const hostname = address.hostname === "localhost" ? "127.0.0.1" : address.hostname;
  let host = hostname;
  try {
    host = canonicalAddress(hostname, address.port).host;
  } catch {
    // a host name: replies come from its address, matched by port and then by name
  }
  return {
    hostname,
    port: address.port,
    host,
    label: formatHostPort({ hostname, port: address.port }),
  };
}

type State = "new" | "registering" | "registered" | "exited" | "closed";
/** What a request is for: a caller's command (`start` never goes on the wire) or the session's own. */
type Purpose =
  | "start"
  | "own"
  | "need"
  | "list"
  | "update"
  | "report"
  | "exit"
  | "handshake"
  | "heartbeat"
  | "reown";
type Outgoing =
  | RegisterMessage
  | OwnMessage
  | NeedMessage
  | ListMessage
  | UpdateMessage
  | ReportMessage
  | ExitMessage;

/** A command or one of the session's own requests, with its retransmission state. */
interface Request extends Retrying {
  /** The caller's handle; 0 for the session's own requests. */
  readonly id: number;
  readonly purpose: Purpose;
  /** Re-encoded with a fresh txid and the current cookie at every (re)send. */
  readonly message: Outgoing | undefined;
  /** Registered again once already because of this request's ERROR. */
  retried: boolean;
  /** Trackers this request timed out at (it fails once it has at all of them). */
  timedOut: number;
}

/** The tracker's replies (everything else from its address is not for the session). */
const REPLY_TYPES: ReadonlySet<string> = new Set([
  "registered",
  "owners",
  "listing",
  "ack",
  "error",
]);
const REREGISTER_CODES: ReadonlySet<number> = new Set([
  TrackerErrorCode.unknown_node,
  TrackerErrorCode.bad_cookie,
]);
/** OWNs in flight while announcing every file again after a re-registration. */
const OWN_CONCURRENCY = 8;
/** Challenge rounds of one registration before giving up. */
const HANDSHAKE_ROUNDS = 4;
/** Heartbeat interval assumed before the tracker told one, ms. */
const DEFAULT_INTERVAL_MS = 30_000;

function hint(code: number): string {
  switch (code) {
    case TrackerErrorCode.wrong_address:
      return "another peer (or an earlier run of this one on another port) uses this node id; wait for it to expire or choose another id";
    case TrackerErrorCode.too_many_peers:
      return "the tracker is full; try again later";
    case TrackerErrorCode.too_many_files:
      return "this peer shares as many files as the tracker allows";
    case TrackerErrorCode.rate_limited:
      return "this peer sends too many requests; slow down";
    case TrackerErrorCode.out_of_range:
      return "a field is beyond the tracker's limits";
    default:
      return "";
  }
}

function requestName(purpose: Purpose): string {
  switch (purpose) {
    case "start":
    case "handshake":
    case "heartbeat":
      return "register";
    case "reown":
      return "own";
    default:
      return purpose;
  }
}

/**
 * The tracker client's rules for one peer, without I/O. Commands return a handle whose
 * outcome arrives later as a `done` or `failed` event; replies are matched by transaction id
 * (late, duplicate and unknown replies are ignored).
 *
 * @example Registering on a virtual clock
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeMessage, encodeMessage, TrackerSession } from "@udpswarm/udpswarm";
 *
 * const session = new TrackerSession({
 *   tracker: { hostname: "127.0.0.1", port: 6969 },
 *   nodeId: "alice",
 *   random: () => 0.5,
 * });
 * const id = session.register(0);
 * // The tracker answers the first REGISTER with a challenge, the second with T. The first goes
 * // out twice (no round trip is known yet): its copies carry the same txid.
 * for (const evictAfterMs of [0, 45_000]) {
 *   let sent = decodeMessage(session.pollTransmit(0)!);
 *   for (let copy; (copy = session.pollTransmit(0)) !== undefined;) sent = decodeMessage(copy);
 *   const reply = { type: "registered", txid: sent.txid, cookie: 9n, intervalMs: 30_000, evictAfterMs } as const;
 *   session.handleDatagram(encodeMessage(reply), undefined, 10);
 * }
 * assert.equal(session.pollEvent()?.type, "registered");
 * assert.deepEqual(session.pollEvent(), { type: "done", id, value: { cookie: 9n, intervalMs: 30_000, evictAfterMs: 45_000 } });
 * assert.equal(session.pollTimeout(), 30_010); // the next heartbeat
 * ```
 */
export class TrackerSession {
  /** This peer's node id. */
  readonly nodeId: string;
  #exitAcked = false;
  /** The tracker and its fallbacks; `#current` is the one in use. */
  readonly #trackers: readonly TrackerAddress[];
  #current = 0;
  readonly #failoverAfterHeartbeats: number;
  #failovers = 0;
  /** Failovers since the last successful registration. */
  #failoversInRow = 0;
  /** Heartbeats lost since the last one answered. */
  #heartbeatsLostInRow = 0;
  readonly #policy: RetryPolicy;
  readonly #registerCopies: number;
  /** Requests in flight, their datagrams and deadlines. */
  readonly #pending: RequestRetry<Request>;
  readonly #owned = new Map<string, OwnedFile>();
  /** Requests waiting for the registration in progress. */
  #waiting: Request[] = [];
  readonly #events = new Fifo<TrackerSessionEvent>();
  #nextId = 1;
  #state: State = "new";
  #cookie = 0n;
  #info: RegisteredInfo | undefined;
  #lastHeard = -Infinity;
  #heartbeatOn = false;
  #heartbeat: Request | undefined;
  #exit: Request | undefined;
  /** Registration in progress: the REGISTER handshake, then OWN of every file again. */
  #phase: "idle" | "handshake" | "reannounce" = "idle";
  #handshake: Request | undefined;
  #round = 0;
  #fresh = false;
  #again = false;
  #reannounce: OwnedFile[] = [];
  #reannounceNext = 0;
  #reannounceInFlight = 0;
  #malformed = 0;
  #reregistrations = 0;
  #missedHeartbeats = 0;

  /**
   * Creates a session; nothing is sent until a command.
   *
   * @param options tracker address, node id, randomness and retry policy
   * @throws {TypeError} the node id is not 1..24 characters of `[A-Za-z0-9._-]`
   */
  constructor(options: TrackerSessionOptions) {
    if (!isValidNodeId(options.nodeId)) {
      throw new TypeError(
        `Cannot use node id "${options.nodeId}": expected 1..24 characters of [A-Za-z0-9._-]`,
      );
    }
    this.nodeId = options.nodeId;
    this.#trackers = [options.tracker, ...options.fallbacks ?? []].map(trackerAddress);
    this.#failoverAfterHeartbeats = Math.max(1, Math.floor(options.failoverAfterHeartbeats ?? 1));
    this.#policy = { ...DEFAULT_RETRY, ...options.retry };
    this.#registerCopies = Math.max(1, Math.floor(options.registerCopies ?? 2));
    this.#pending = new RequestRetry({ random: options.random });
  }

  /** The address of the tracker in use (it changes at a failover). */
  get tracker(): { readonly hostname: string; readonly port: number } {
    const t = this.#trackers[this.#current]!;
    return { hostname: t.hostname, port: t.port };
  }

  /** The tracker in use as `host:port`, for messages. */
  get trackerLabel(): string {
    return this.#trackers[this.#current]!.label;
  }

  /** Every tracker this session may use: the first given, then the fallbacks. */
  get trackers(): readonly { readonly hostname: string; readonly port: number }[] {
    return this.#trackers.map((t) => ({ hostname: t.hostname, port: t.port }));
  }

  /** Times the session moved to the next tracker because the one in use stopped answering. */
  get failovers(): number {
    return this.#failovers;
  }

  /** True once the tracker acknowledged this session's EXIT. */
  get exitAcknowledged(): boolean {
    return this.#exitAcked;
  }

  /** True while registered (as far as this session knows). */
  get registered(): boolean {
    return this.#state === "registered";
  }

  /** What the tracker said at the last successful REGISTER. */
  get info(): RegisteredInfo | undefined {
    return this.#info;
  }

  /** Files announced with OWN, by content id hex (announced again after a re-register). */
  get ownedFiles(): ReadonlyMap<string, OwnedFile> {
    return this.#owned;
  }

  /** Requests retransmitted so far. */
  get retransmits(): number {
    return this.#pending.retransmits;
  }

  /** Datagrams from the tracker address that failed to decode. */
  get malformed(): number {
    return this.#malformed;
  }

  /** Times the session registered again after the tracker forgot it. */
  get reregistrations(): number {
    return this.#reregistrations;
  }

  /** Heartbeats that got no reply within their cycle. */
  get missedHeartbeats(): number {
    return this.#missedHeartbeats;
  }

  // ------------------------------------------------------------------ commands

  /**
   * Registers (cookie handshake, then REGISTER with the cookie) and keeps the heartbeat going
   * from then on. Done at once while registered; joins a registration in progress.
   *
   * @param now the time, ms
   * @returns the handle; `done` carries the {@link RegisteredInfo}
   */
  register(now: number): number {
    const id = this.#nextId++;
    if (this.#state === "closed") {
      this.#fail(
        id,
        new TrackerError(TrackerErrorCode.closed, "register", "Tracker client is closed"),
      );
    } else if (this.#state === "registered" && this.#info && this.#phase === "idle") {
      this.#done(id, this.#info);
    } else {
      this.#waiting.push(this.#request(id, "start", undefined, this.#policy));
      this.#register(false, now);
    }
    return id;
  }

  /**
   * Announces a file (OWN), registering first if needed. The session remembers it and
   * announces it again by itself after a re-registration; the same content id again replaces
   * the entry, and so does another content under the same name (the tracker does the same).
   *
   * @param file name, size and content id
   * @param now the time, ms
   * @returns the handle
   * @throws {TypeError} a field the codec cannot encode
   * @throws {RangeError} a field out of range
   */
  own(file: OwnedFile, now: number): number {
    const entry: OwnedFile = {
      name: file.name,
      size: file.size,
      contentId: file.contentId.slice(),
      ...(file.progress ? { progress: { ...file.progress } } : {}),
    };
    const message: OwnMessage = { type: "own", txid: 1, cookie: 0n, nodeId: this.nodeId, ...entry };
    encodeMessage(message); // fails fast with a clear TypeError/RangeError
    const key = toHex(entry.contentId);
    for (const [k, f] of this.#owned) if (f.name === entry.name && k !== key) this.#owned.delete(k);
    this.#owned.set(key, entry);
    return this.#command("own", message, now);
  }

  /**
   * Forgets a file locally: it is no longer announced again. (The protocol has no DISOWN; the
   * tracker drops it at EXIT or eviction, or when a new content is OWNed under its name.)
   *
   * @param contentId the content id
   * @returns true when the file was known
   */
  disown(contentId: Uint8Array): boolean {
    return this.#owned.delete(toHex(contentId));
  }

  /**
   * Asks who shares a file (NEED), registering first if needed.
   *
   * @param want `{ kind: "name", name }` or `{ kind: "content", contentId }`
   * @param maxOwners at most this many owners (0: the tracker's N)
   * @param now the time, ms
   * @param exclude owners found dead or failing, for the tracker to leave out (the last
   *   32 are sent)
   * @param flags NEED flags (`NEED_PARTIAL`: partial owners welcome)
   * @returns the handle; `done` carries the {@link OwnersMessage}
   */
  need(
    want: NeedTarget,
    maxOwners: number,
    now: number,
    exclude?: readonly string[],
    flags = 0,
  ): number {
    const max = Math.max(0, Math.min(MAX_OWNERS, Math.floor(maxOwners) || 0));
    const message: NeedMessage = {
      type: "need",
      txid: 0,
      cookie: 0n,
      nodeId: this.nodeId,
      want,
      maxOwners: max,
    };
    const ids = exclude?.filter(isValidNodeId).slice(-MAX_NEED_EXCLUDE);
    if (ids !== undefined && ids.length > 0) message.exclude = ids;
    if (flags) message.flags = flags;
    return this.#command("need", message, now);
  }

  /**
   * Asks for one page of the files the tracker knows (LIST), registering first if needed.
   *
   * @param query the pattern, how to match it, the page's cursor (0 first, then the last
   *   page's `nextCursor`) and an entry cap (0: as many as fit one reply)
   * @param now the time, ms
   * @returns the handle; `done` carries the {@link ListingMessage}
   * @throws {TypeError} a match kind the codec does not know, a pattern with lone surrogates
   * @throws {RangeError} a pattern over 255 bytes, a cursor or cap out of range
   */
  list(query: TrackerListQuery, now: number): number {
    const message: ListMessage = {
      type: "list",
      txid: 0,
      cookie: 0n,
      nodeId: this.nodeId,
      cursor: query.cursor ?? 0,
      maxEntries: query.maxEntries ?? 0,
      match: query.match,
      pattern: query.pattern,
    };
    encodeMessage(message); // fails fast with a clear TypeError/RangeError
    return this.#command("list", message, now);
  }

  /**
   * Tells the tracker the bytes received and verified from each owner of a content since the
   * previous REPORT for it (REPORT): what ranks owners. Owners with 0 bytes are left out; more
   * than 32 owners go in several REPORTs (the handle is the last one's).
   *
   * @param contentId the 32-byte content id
   * @param entries owners and their verified bytes
   * @param now the time, ms
   * @returns the handle, or undefined when there was nothing to report
   */
  report(contentId: Uint8Array, entries: readonly ReportEntry[], now: number): number | undefined {
    const valid = entries.filter((e) =>
      isValidNodeId(e.nodeId) && Number.isSafeInteger(e.bytes) && e.bytes > 0
    );
    let id: number | undefined;
    for (let i = 0; i < valid.length; i += MAX_REPORT_ENTRIES) {
      id = this.#command(
        "report",
        {
          type: "report",
          txid: 0,
          cookie: 0n,
          nodeId: this.nodeId,
          contentId,
          entries: valid.slice(i, i + MAX_REPORT_ENTRIES),
        },
        now,
      );
    }
    return id;
  }

  /**
   * Reports bytes uploaded since the previous UPDATE (logged by the tracker; it no longer ranks:
   * the downloaders' REPORTs do).
   *
   * @param uploadedBytes bytes uploaded since the last call
   * @param now the time, ms
   * @returns the handle
   * @throws {RangeError} `uploadedBytes` is not a safe integer ≥ 0
   */
  update(uploadedBytes: number, now: number): number {
    if (!Number.isSafeInteger(uploadedBytes) || uploadedBytes < 0) {
      throw new RangeError(
        `Cannot send UPDATE: uploaded bytes must be an integer ≥ 0, got ${uploadedBytes}`,
      );
    }
    return this.#command(
      "update",
      { type: "update", txid: 0, cookie: 0n, nodeId: this.nodeId, uploaded: uploadedBytes },
      now,
    );
  }

  /**
   * Leaves the swarm (EXIT, 3 sends): the tracker forgets this peer and its files. Stops the
   * heartbeat and any registration in progress. Idempotent (an EXIT in flight returns its
   * own handle); {@link TrackerSession.register} joins again afterwards.
   *
   * @param now the time, ms
   * @returns the handle; `failed` with `timeout` when the tracker never acknowledged
   */
  exit(now: number): number {
    if (this.#exit) return this.#exit.id;
    const id = this.#nextId++;
    if (this.#state === "closed" || this.#state === "exited" || this.#state === "new") {
      if (this.#state === "new") this.#state = "exited";
      this.#done(id, undefined);
      return id;
    }
    const wasRegistered = this.#state === "registered" || this.#cookie !== 0n;
    this.#state = "exited";
    this.#stop("left");
    if (!wasRegistered) {
      this.#done(id, undefined);
      return id;
    }
    const message: ExitMessage = { type: "exit", txid: 0, cookie: 0n, nodeId: this.nodeId };
    this.#exit = this.#request(id, "exit", message, { ...this.#policy, attempts: 3 });
    this.#send(this.#exit, now);
    return id;
  }

  /**
   * Stops everything: every outstanding command fails with `closed`; nothing is sent again.
   *
   * @param _now the time, ms
   */
  close(_now: number): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#stop("closed");
    this.#exit = undefined;
  }

  // ------------------------------------------------------------------ events in

  /**
   * Consumes a datagram if it is a tracker reply (REGISTERED, OWNERS, ACK or ERROR from the
   * tracker's address when `from` is given). `datagram` is only read during the call.
   *
   * @param datagram the encoded datagram, or a message decoded already (a simulator's)
   * @param from its source; undefined skips the address check
   * @param now the time, ms
   * @returns false when the datagram is not for this session (route it elsewhere)
   */
  handleDatagram(
    datagram: Uint8Array | Message,
    from: { hostname: string; port: number } | undefined,
    now: number,
  ): boolean {
    if (from !== undefined) {
      const which = this.#fromTracker(from);
      if (which === undefined) return false;
      // A late reply of a tracker failed over from: its requests are not in flight any more.
      if (which !== this.#current) return this.#isReply(datagram);
    }
    let msg: Message;
    if (datagram instanceof Uint8Array) {
      let type: string;
      try {
        type = decodeHeader(datagram).type;
      } catch {
        return false;
      }
      if (!REPLY_TYPES.has(type)) {
        return false;
      }
      try {
        msg = decodeMessage(datagram);
      } catch (e) {
        this.#malformed++;
        this.#log(`malformed ${type} from tracker ${this.trackerLabel}: ${(e as Error).message}`);
        return true;
      }
    } else {
      msg = datagram;
      const type = msg.type;
      if (!REPLY_TYPES.has(type)) {
        return false;
      }
    }
    const req = this.#pending.take(msg.txid, now);
    if (req === undefined) return true; // late, duplicate or unknown: ignored
    switch (req.purpose) {
      case "handshake":
        this.#onHandshakeReply(req, msg, now);
        return true;
      case "heartbeat":
        this.#onHeartbeatReply(msg, now);
        return true;
      case "reown":
        if (msg.type === "error") {
          this.#log(`re-announcing "${(req.message as OwnMessage).name}" failed: ${msg.text}`);
        }
        this.#reannounced(now);
        return true;
      case "exit":
        this.#exitAcked = true;
        this.#log(`exit: tracker ${this.trackerLabel} forgot ${this.nodeId}`);
        this.#exited();
        this.#done(req.id, undefined);
        return true;
      default:
        this.#onCommandReply(req, msg, now);
        return true;
    }
  }

  /**
   * Retransmits, gives up and sends heartbeats whose time has come.
   *
   * @param now the time, ms
   */
  handleTimeout(now: number): void {
    this.#pending.handleTimeout(
      now,
      (req) => this.#onTimeout(req, this.#timeoutError(req, now), now),
    );
    if (this.#heartbeatDue() <= now) this.#sendHeartbeat(now);
  }

  // ------------------------------------------------------------------ actions out

  /**
   * The next datagram to send to the tracker ({@link TrackerSession.tracker}).
   *
   * @param _now the time, ms
   * @returns the bytes, or undefined when nothing is due
   */
  pollTransmit(_now?: number): Uint8Array | undefined {
    return this.#pending.pollTransmit();
  }

  /**
   * The next event: a command's outcome, a registration, or a log line.
   *
   * @returns the event, or undefined when none is queued
   */
  pollEvent(): TrackerSessionEvent | undefined {
    return this.#events.shift();
  }

  /**
   * When to call {@link TrackerSession.handleTimeout} next.
   *
   * @returns the earliest retransmission, give-up or heartbeat time in ms; undefined when idle
   */
  pollTimeout(): number | undefined {
    const at = Math.min(this.#heartbeatDue(), this.#pending.pollTimeout());
    return at === Infinity ? undefined : at;
  }

  // ------------------------------------------------------------------ requests

  #request(
    id: number,
    purpose: Purpose,
    message: Outgoing | undefined,
    policy: RetryPolicy,
  ): Request {
    return { ...retrying(policy), id, purpose, message, retried: false, timedOut: 0 };
  }

  /** Sends a command now, or queues it behind the registration it needs. */
  #command(
    purpose: "own" | "need" | "list" | "update" | "report",
    message: Outgoing,
    now: number,
  ): number {
    const id = this.#nextId++;
    const req = this.#request(id, purpose, message, this.#policy);
    if (this.#state === "closed" || this.#state === "exited") {
      this.#failCommand(req, this.#closedError(purpose));
    } else if (this.#state !== "registered" || this.#phase !== "idle") {
      this.#waiting.push(req);
      this.#register(false, now);
    } else {
      this.#send(req, now);
    }
    return id;
  }

  /** Puts a request on the wire with a fresh txid and the cookie it needs. */
  #send(req: Request, now: number): void {
    const message = req.message!;
    const txid = this.#pending.nextTxid();
    message.txid = txid;
    if (req.purpose !== "handshake") message.cookie = this.#cookie;
    req.txid = txid;
    // A NEED (a download waits for it) and an EXIT (`peer.ts get` waits for it before it ends):
    // their first retransmission follows the tracker's measured round trip
    // A REGISTER too once the tracker's round trip is known (the challenge answered); before
    // that, each REGISTER goes out in duplicate, so one lost datagram costs no blind wait.
    const timed = req.purpose === "need" || req.purpose === "exit" || req.purpose === "handshake";
    const blind = req.purpose === "handshake" && this.#pending.srtt === undefined;
    this.#pending.send(req, txid, encodeMessage(message), now, {
      timed,
      minFirstMs: NEED_RETRY_MIN_MS,
      copies: blind ? this.#registerCopies : 1,
    });
  }

  #onCommandReply(req: Request, msg: Message, now: number): void {
    if (msg.type === "error") {
      if (this.#state === "exited") return this.#failCommand(req, this.#closedError(req.purpose));
      if (!req.retried && REREGISTER_CODES.has(msg.code)) {
        req.retried = true;
        this.#log(
          `tracker answered ${req.purpose} with ${msg.text || msg.code}: registering again`,
        );
        const stale = req.message!.cookie !== this.#cookie;
        if (stale && this.#state === "registered" && this.#phase === "idle") {
          this.#send(req, now); // registered again meanwhile: the new cookie will do
        } else {
          if (this.#state === "registered") this.#state = "registering";
          this.#waiting.push(req);
          this.#register(!stale, now);
        }
        return;
      }
      this.#failCommand(req, this.#errorFrom(requestName(req.purpose), msg));
    } else if (req.purpose === "need" && msg.type !== "owners") {
      this.#failCommand(
        req,
        new TrackerError(
          TrackerErrorCode.protocol,
          "need",
          `Tracker ${this.trackerLabel} answered NEED with ${msg.type}`,
        ),
      );
    } else if (req.purpose === "list" && msg.type !== "listing") {
      this.#failCommand(
        req,
        new TrackerError(
          TrackerErrorCode.protocol,
          "list",
          `Tracker ${this.trackerLabel} answered LIST with ${msg.type}`,
        ),
      );
    } else {
      this.#done(
        req.id,
        req.purpose === "need" || req.purpose === "list"
          ? msg as OwnersMessage | ListingMessage
          : undefined,
      );
    }
  }

  #onTimeout(req: Request, error: TrackerError, now: number): void {
    switch (req.purpose) {
      case "handshake":
        if (this.#canFailover() && this.#failoversInRow < this.#trackers.length - 1) {
          return this.#failover("did not answer REGISTER", now);
        }
        this.#registrationFailed(error, now);
        // The next attempt (the heartbeat's) goes to the next tracker.
        if (this.#canFailover()) this.#switchTracker("did not answer REGISTER", 0);
        return;
      case "heartbeat":
        this.#heartbeat = undefined;
        this.#missedHeartbeats++;
        if (
          this.#canFailover() && ++this.#heartbeatsLostInRow >= this.#failoverAfterHeartbeats
        ) {
          return this.#failover("did not answer the heartbeat", now);
        }
        this.#log(`heartbeat: tracker ${this.trackerLabel} did not answer; trying again`);
        this.#retryHeartbeatSoon(now);
        return;
      case "reown":
        if (this.#canFailover()) return this.#failover("did not answer OWN", now);
        this.#log(
          `re-announcing "${(req.message as OwnMessage).name}" failed: ${error.message}`,
        );
        this.#reannounced(now);
        return;
      case "exit":
        this.#exited();
        this.#fail(req.id, error);
        return;
      default:
        if (this.#canFailover() && ++req.timedOut < this.#trackers.length) {
          this.#waiting.push(req); // sent again once registered at the next tracker
          return this.#failover(`did not answer ${requestName(req.purpose).toUpperCase()}`, now);
        }
        this.#failCommand(req, error);
    }
  }

  // ------------------------------------------------------------------ failover

  /** Several trackers, and the session still wants one. */
  #canFailover(): boolean {
    return this.#trackers.length > 1 && this.#state !== "exited" && this.#state !== "closed";
  }

  /** Moves to the next tracker in the list (no datagram is sent). */
  #switchTracker(why: string, inRow: number): void {
    const from = this.trackerLabel;
    this.#current = (this.#current + 1) % this.#trackers.length;
    this.#failovers++;
    this.#failoversInRow = inRow;
    this.#heartbeatsLostInRow = 0;
    this.#log(`tracker ${from} ${why}: failing over to ${this.trackerLabel}`);
  }

  /**
   * Moves to the next tracker and registers there: the caller's commands in flight wait for that
   * registration and are sent there, the session's own requests are dropped, and every shared
   * file is announced again once registered.
   */
  #failover(why: string, now: number): void {
    this.#switchTracker(why, this.#failoversInRow + 1);
    const moved: Request[] = [];
    for (const req of this.#pending.values()) {
      if (req.id !== 0 && req.purpose !== "exit") moved.push(req);
    }
    this.#pending.clear();
    this.#pending.dropTransmits(); // retransmissions queued for the tracker left behind
    this.#heartbeat = undefined;
    this.#handshake = undefined;
    this.#reannounce = [];
    this.#phase = "idle";
    this.#waiting = [...moved, ...this.#waiting];
    this.#cookie = 0n;
    this.#state = "registering";
    this.#register(true, now);
  }

  /** A failed OWN leaves the file unannounced, so it is not announced again later either. */
  #failCommand(req: Request, error: TrackerError): void {
    if (req.purpose === "own") {
      const message = req.message as OwnMessage;
      const key = toHex(message.contentId);
      if (this.#owned.get(key)?.contentId === message.contentId) this.#owned.delete(key);
    }
    this.#fail(req.id, error);
  }

  // ------------------------------------------------------------------ registration

  /** Starts a registration unless one is running; `force` starts over without a cookie. */
  #register(force: boolean, now: number): void {
    if (this.#phase !== "idle") return;
    if (this.#state !== "registered") this.#state = "registering";
    this.#phase = "handshake";
    this.#again = this.#info !== undefined;
    this.#fresh = false;
    this.#round = 0;
    const message: RegisterMessage = {
      type: "register",
      txid: 0,
      cookie: force ? 0n : this.#cookie,
      nodeId: this.nodeId,
    };
    this.#handshake = this.#request(0, "handshake", message, this.#policy);
    this.#send(this.#handshake, now);
  }

  #onHandshakeReply(req: Request, msg: Message, now: number): void {
    let cookie = 0n;
    if (msg.type === "error") {
      if (!REREGISTER_CODES.has(msg.code)) {
        return this.#registrationFailed(this.#errorFrom("register", msg), now);
      }
    } else if (msg.type !== "registered") {
      return this.#registrationFailed(
        new TrackerError(
          TrackerErrorCode.protocol,
          "register",
          `Tracker ${this.trackerLabel} answered REGISTER with ${msg.type}`,
        ),
        now,
      );
    } else if (msg.evictAfterMs === 0) {
      // A challenge: prove the address by presenting the cookie.
      cookie = msg.cookie;
      this.#fresh = true;
    } else {
      return this.#handshakeDone(msg.cookie, msg.intervalMs, msg.evictAfterMs, now);
    }
    if (++this.#round >= HANDSHAKE_ROUNDS) {
      return this.#registrationFailed(
        new TrackerError(
          TrackerErrorCode.protocol,
          "register",
          `Tracker ${this.trackerLabel} kept challenging REGISTER; giving up after ${HANDSHAKE_ROUNDS} rounds`,
        ),
        now,
      );
    }
    req.message!.cookie = cookie;
    this.#send(req, now);
  }

  #handshakeDone(cookie: bigint, intervalMs: number, evictAfterMs: number, now: number): void {
    this.#handshake = undefined;
    this.#failoversInRow = 0;
    this.#heartbeatsLostInRow = 0;
    this.#cookie = cookie;
    this.#lastHeard = now;
    this.#state = "registered";
    this.#heartbeatOn = true;
    const info: RegisteredInfo = { cookie, intervalMs, evictAfterMs };
    this.#info = info;
    if (!this.#fresh) return this.#registrationDone(now);
    if (this.#again) this.#reregistrations++;
    this.#events.push({ type: "registered", info, again: this.#again, files: this.#owned.size });
    if (this.#owned.size === 0) return this.#registrationDone(now);
    this.#phase = "reannounce";
    this.#reannounce = [...this.#owned.values()];
    this.#reannounceNext = 0;
    this.#reannounceInFlight = 0;
    this.#reannounced(now, 0);
  }

  /** One re-announce finished (or none yet, `finished` 0): sends the next, ends the phase. */
  #reannounced(now: number, finished = 1): void {
    this.#reannounceInFlight -= finished;
    const files = this.#reannounce;
    while (this.#reannounceInFlight < OWN_CONCURRENCY && this.#reannounceNext < files.length) {
      const f = files[this.#reannounceNext++]!;
      const message: OwnMessage = { type: "own", txid: 0, cookie: 0n, nodeId: this.nodeId, ...f };
      this.#send(this.#request(0, "reown", message, this.#policy), now);
      this.#reannounceInFlight++;
    }
    if (this.#reannounceInFlight === 0) {
      this.#reannounce = [];
      this.#registrationDone(now);
    }
  }

  /** Releases what waited for the registration: `register` handles get the info. */
  #registrationDone(now: number): void {
    this.#phase = "idle";
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const req of waiting) {
      if (req.purpose === "start") this.#done(req.id, this.#info);
      else this.#send(req, now);
    }
  }

  #registrationFailed(error: TrackerError, now: number): void {
    this.#abortRegistration(error);
    if (!this.#heartbeatOn) return;
    if (error.code === TrackerErrorCode.timeout) this.#missedHeartbeats++;
    this.#log(`registering again failed: ${error.message}; trying again`);
    this.#retryHeartbeatSoon(now);
  }

  /** Drops the registration in progress and fails what waited for it (by default: closed). */
  #abortRegistration(error?: TrackerError): void {
    this.#phase = "idle";
    this.#handshake = undefined;
    this.#reannounce = [];
    for (const req of this.#pending.values()) {
      if (req.purpose === "handshake" || req.purpose === "reown") this.#pending.delete(req);
    }
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const req of waiting) this.#failCommand(req, error ?? this.#closedError(req.purpose));
  }

  // ------------------------------------------------------------------ heartbeat

  #heartbeatDue(): number {
    if (!this.#heartbeatOn || this.#heartbeat || this.#phase !== "idle") return Infinity;
    return this.#lastHeard + (this.#info?.intervalMs ?? DEFAULT_INTERVAL_MS);
  }

  #sendHeartbeat(now: number): void {
    const interval = this.#info?.intervalMs ?? DEFAULT_INTERVAL_MS;
    const evictAfter = this.#info?.evictAfterMs ?? interval;
    // Many quick retransmissions before the eviction deadline, so one lost datagram never
    // costs the registration. With another tracker to fail over to, a heartbeat is lost
    // after half the grace (at least T/4), so the next tracker has it before the eviction.
    const initial = Math.min(this.#policy.initialMs, Math.max(10, interval / 20));
    const totalMs = this.#trackers.length > 1
      ? Math.max(interval / 4, (evictAfter - interval) / 2)
      : evictAfter - interval + interval / 2;
    const message: RegisterMessage = {
      type: "register",
      txid: 0,
      cookie: 0n,
      nodeId: this.nodeId,
    };
    this.#heartbeat = this.#request(0, "heartbeat", message, {
      initialMs: initial,
      factor: this.#policy.factor,
      maxDelayMs: Math.max(initial, interval / 4),
      attempts: 1000,
      totalMs: Math.max(initial, totalMs),
    });
    this.#send(this.#heartbeat, now);
  }

  #onHeartbeatReply(msg: Message, now: number): void {
    this.#heartbeat = undefined;
    this.#heartbeatsLostInRow = 0;
    if (msg.type === "registered" && msg.evictAfterMs > 0) {
      this.#cookie = msg.cookie;
      this.#lastHeard = now;
      this.#state = "registered";
      this.#info = {
        cookie: msg.cookie,
        intervalMs: msg.intervalMs,
        evictAfterMs: msg.evictAfterMs,
      };
    } else if (
      msg.type === "registered" || (msg.type === "error" && REREGISTER_CODES.has(msg.code))
    ) {
      // The tracker restarted or evicted us: register again and announce our files again.
      this.#log(`tracker ${this.trackerLabel} no longer knows ${this.nodeId}: registering again`);
      this.#state = "registering";
      this.#register(true, now);
    } else {
      this.#log(`heartbeat refused: ${msg.type === "error" ? msg.text : msg.type}`);
      this.#retryHeartbeatSoon(now);
    }
  }

  /** The next heartbeat in a quarter of T (at most 5 s) instead of a whole T. */
  #retryHeartbeatSoon(now: number): void {
    const interval = this.#info?.intervalMs ?? DEFAULT_INTERVAL_MS;
    this.#lastHeard = now - interval + Math.min(interval / 4, 5000);
  }

  // ------------------------------------------------------------------ helpers

  /** Stops the heartbeat and the registration; `closed` also fails every command in flight. */
  #stop(why: "left" | "closed"): void {
    this.#heartbeatOn = false;
    if (this.#heartbeat) this.#pending.delete(this.#heartbeat);
    this.#heartbeat = undefined;
    this.#abortRegistration();
    if (why === "closed") {
      for (const req of this.#pending.values()) this.#fail(req.id, this.#closedError(req.purpose));
      this.#pending.clear();
    }
  }

  #exited(): void {
    this.#exit = undefined;
    this.#cookie = 0n;
    this.#info = undefined;
  }

  /** Which of the trackers `from` is (the one in use first), or undefined for none. */
  #fromTracker(from: { hostname: string; port: number }): number | undefined {
    let canonical: string | undefined;
    for (let k = 0; k < this.#trackers.length; k++) {
      const i = (this.#current + k) % this.#trackers.length;
      const t = this.#trackers[i]!;
      if (from.port !== t.port) continue;
      if (from.hostname === t.host || from.hostname === t.hostname) return i;
      try {
        canonical ??= canonicalAddress(from.hostname, from.port).host;
      } catch {
        canonical = "";
      }
      if (canonical === t.host) return i;
    }
    return undefined;
  }

  /** True when `datagram` is of a type the tracker replies with. */
  #isReply(datagram: Uint8Array | Message): boolean {
    if (!(datagram instanceof Uint8Array)) return REPLY_TYPES.has(datagram.type);
    try {
      return REPLY_TYPES.has(decodeHeader(datagram).type);
    } catch {
      return false;
    }
  }

  #closedError(purpose: Purpose): TrackerError {
    const request = requestName(purpose);
    return new TrackerError(
      TrackerErrorCode.closed,
      request,
      this.#state === "exited" && request !== "exit"
        ? "Peer has left the tracker (exit); call start() to join again"
        : "Tracker client is closed",
    );
  }

  #timeoutError(req: Request, now: number): TrackerError {
    const request = requestName(req.purpose);
    return new TrackerError(
      TrackerErrorCode.timeout,
      request,
      `Tracker ${this.trackerLabel} did not answer ${request.toUpperCase()} (${req.attempts} attempts over ${
        ((now - req.started) / 1000).toFixed(1)
      } s): is it running and reachable?`,
    );
  }

  #errorFrom(request: string, reply: ErrorMessage): TrackerError {
    const h = hint(reply.code);
    const text = reply.text || "no reason given";
    return new TrackerError(
      reply.code,
      request,
      `Tracker refused ${request.toUpperCase()}: ${text}${h ? ` (${h})` : ""}`,
    );
  }

  #done(id: number, value: RegisteredInfo | OwnersMessage | ListingMessage | undefined): void {
    if (id !== 0) this.#events.push({ type: "done", id, value });
  }

  #fail(id: number, error: TrackerError): void {
    if (id !== 0) this.#events.push({ type: "failed", id, error });
  }

  #log(line: string): void {
    this.#events.push({ type: "log", line });
  }
}
