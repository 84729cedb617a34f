/**
 * The peer side of the tracker protocol: registration (with the cookie handshake), the
 * heartbeat loop, OWN/NEED/UPDATE/EXIT with retries, and automatic re-registration.
 *
 * A peer uses one UDP socket for the tracker and for other peers (the tracker learns the
 * peer's data address from the source address), so the client does not own the socket: it
 * sends through `send` and consumes tracker replies in {@link TrackerClient.handleDatagram}.
 * @module
 */
import { canonicalAddress } from "../wire/address.ts";
import { decodeHeader, decodeMessage, encodeMessage, isValidNodeId } from "../wire/codec.ts";
import { MAX_OWNERS } from "../wire/limits.ts";
import type {
  AckMessage,
  ErrorMessage,
  Message,
  NeedTarget,
  OwnersMessage,
  RegisteredMessage,
} from "../wire/messages.ts";
import { formatHostPort, parseHostPort } from "../net/host_port.ts";
import {
  RequestCancelledError,
  RequestTable,
  RequestTimeoutError,
  type RetryPolicy,
} from "../net/request_table.ts";
import { UdpEndpoint } from "../net/udp_endpoint.ts";
import { TrackerError, TrackerErrorCode } from "../tracker/tracker_error.ts";
import { toHex } from "../wire/hex.ts";

type Reply = RegisteredMessage | OwnersMessage | AckMessage | ErrorMessage;

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
}

/** Options for {@link TrackerClient}. */
export interface TrackerClientOptions {
  /** The tracker's address. */
  tracker: Deno.NetAddr;
  /** This peer's node id, 1..24 characters of `[A-Za-z0-9._-]`. */
  nodeId: string;
  /** Sends a datagram from the peer's socket (fire and forget). */
  send: (bytes: Uint8Array, to: Deno.NetAddr) => void;
  /** Receives log lines (no timestamp). */
  log?: (line: string) => void;
  /** Clock in ms. @default performance.now */
  now?: () => number;
  /** Retransmission policy of requests. @default 250 ms doubling, 5 sends (7.75 s) */
  retry?: Partial<RetryPolicy>;
}

/** Options for {@link TrackerClient.connect}. */
export interface TrackerConnectOptions {
  /** The tracker, as an address or `host:port`. */
  tracker: Deno.NetAddr | string;
  /** This peer's node id. */
  nodeId: string;
  /** Local address to bind. @default "127.0.0.1" (or "::1" for an IPv6 tracker) */
  hostname?: string;
  /** Local port. @default 0 */
  port?: number;
  /** Receives log lines. */
  log?: (line: string) => void;
  /** Retransmission policy of requests. */
  retry?: Partial<RetryPolicy>;
}

type State = "new" | "registering" | "registered" | "exited" | "closed";

const REREGISTER_CODES: ReadonlySet<number> = new Set([
  TrackerErrorCode.unknown_node,
  TrackerErrorCode.bad_cookie,
]);
const OWN_CONCURRENCY = 8;

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

/**
 * Talks to the tracker on behalf of one peer: registers (and re-registers when the tracker
 * forgot it), keeps the heartbeat going, and sends OWN, NEED, UPDATE and EXIT with
 * retransmission. A peer passes its own socket's `send` to the constructor and routes
 * datagrams in through {@link TrackerClient.handleDatagram}; tools and tests use
 * {@link TrackerClient.connect}, which opens a socket of its own.
 *
 * @example Announcing a file and finding its owner
 * ```ts
 * import assert from "node:assert/strict";
 * import { startTracker, TrackerClient } from "@udpswarm/udpswarm";
 *
 * await using tracker = await startTracker({ port: 0 });
 * await using alice = await TrackerClient.connect({ tracker: tracker.localAddr, nodeId: "alice" });
 * await using bob = await TrackerClient.connect({ tracker: tracker.localAddr, nodeId: "bob" });
 * await alice.start();
 * await alice.own({ name: "song.mp3", size: 4_000_000, contentId: new Uint8Array(32).fill(7) });
 * const found = await bob.need({ kind: "name", name: "song.mp3" }); // registers bob first
 * assert.equal(found.size, 4_000_000);
 * assert.deepEqual(found.owners.map((o) => o.nodeId), ["alice"]);
 * await alice.exit();
 * ```
 */
export class TrackerClient implements AsyncDisposable {
  /** This peer's node id. */
  readonly nodeId: string;
  /** The tracker's address. */
  readonly tracker: Deno.NetAddr;
  readonly #trackerHost: string;
  readonly #trackerLabel: string;
  readonly #send: (bytes: Uint8Array, to: Deno.NetAddr) => void;
  readonly #log: (line: string) => void;
  readonly #now: () => number;
  readonly #requests: RequestTable<Reply>;
  readonly #retry: Partial<RetryPolicy>;
  readonly #owned = new Map<string, OwnedFile>();
  #endpoint: UdpEndpoint | undefined;
  #state: State = "new";
  #cookie = 0n;
  #info: RegisteredInfo | undefined;
  #lastHeard = -Infinity;
  #registering: Promise<RegisteredInfo> | undefined;
  #heartbeatTimer: ReturnType<typeof setTimeout> | undefined;
  #heartbeatRunning = false;
  #exiting: Promise<void> | undefined;
  /** Datagrams from the tracker address that failed to decode. */
  malformed = 0;
  /** Times the client registered again after the tracker forgot it. */
  reregistrations = 0;
  /** Heartbeats that got no reply within their cycle. */
  missedHeartbeats = 0;

  /**
   * Creates a client that sends through `options.send`; it does not register until
   * {@link TrackerClient.start} or the first request.
   *
   * @param options tracker address, node id, send function, log, clock and retry policy
   * @throws {TypeError} the node id is not 1..24 characters of `[A-Za-z0-9._-]`
   */
  constructor(options: TrackerClientOptions) {
    if (!isValidNodeId(options.nodeId)) {
      throw new TypeError(
        `Cannot use node id "${options.nodeId}": expected 1..24 characters of [A-Za-z0-9._-]`,
      );
    }
    this.nodeId = options.nodeId;
    const host = options.tracker.hostname === "localhost" ? "127.0.0.1" : options.tracker.hostname;
    this.tracker = { transport: "udp", hostname: host, port: options.tracker.port };
    let canonical = host;
    try {
      canonical = canonicalAddress(host, options.tracker.port).host;
    } catch {
      // a host name: replies come from its address, matched by port and then by name below
    }
    this.#trackerHost = canonical;
    this.#trackerLabel = formatHostPort(this.tracker);
    this.#send = options.send;
    this.#log = options.log ?? (() => {});
    this.#now = options.now ?? (() => performance.now());
    this.#retry = options.retry ?? {};
    this.#requests = new RequestTable<Reply>({
      send: options.send,
      policy: this.#retry,
      now: this.#now,
    });
  }

  /**
   * Opens a UDP socket of its own and returns a client that uses it (for tests, benchmarks
   * and tools; a peer passes its own socket's `send` to the constructor instead). Does not
   * register: call {@link TrackerClient.start}.
   *
   * @param options tracker, node id and local address
   * @returns the client; `close()` also closes its socket
   *
   * @example Registering with a tracker
   * ```ts
   * import assert from "node:assert/strict";
   * import { startTracker, TrackerClient } from "@udpswarm/udpswarm";
   *
   * await using tracker = await startTracker({ port: 0, intervalMs: 10_000 });
   * const at = `127.0.0.1:${tracker.address.port}`;
   * await using client = await TrackerClient.connect({ tracker: at, nodeId: "me" });
   * const info = await client.start();
   * assert.equal(info.intervalMs, 10_000); // heartbeat interval the tracker asks for
   * assert.equal(client.registered, true);
   * ```
   */
  static connect(options: TrackerConnectOptions): Promise<TrackerClient> {
    let tracker: Deno.NetAddr;
    if (typeof options.tracker === "string") {
      const hp = parseHostPort(options.tracker);
      tracker = { transport: "udp", hostname: hp.hostname, port: hp.port };
    } else {
      tracker = options.tracker;
    }
    const v6 = tracker.hostname.includes(":");
    const endpoint = UdpEndpoint.open({
      hostname: options.hostname ?? (v6 ? "::1" : "127.0.0.1"),
      port: options.port ?? 0,
    });
    const client = new TrackerClient({
      tracker,
      nodeId: options.nodeId,
      send: (bytes, to) => endpoint.send(bytes, to),
      ...(options.log ? { log: options.log } : {}),
      ...(options.retry ? { retry: options.retry } : {}),
    });
    client.#endpoint = endpoint;
    endpoint.onDatagram((bytes, from) => {
      client.handleDatagram(bytes, from);
    });
    return Promise.resolve(client);
  }

  /** The local address of the socket opened by {@link TrackerClient.connect}, if any. */
  get localAddr(): Deno.NetAddr | undefined {
    return this.#endpoint?.localAddr;
  }

  /** True while registered (as far as this client knows). */
  get registered(): boolean {
    return this.#state === "registered";
  }

  /** What the tracker said at the last successful REGISTER. */
  get info(): RegisteredInfo | undefined {
    return this.#info;
  }

  /** Files announced with OWN, by content id hex (re-announced after a re-register). */
  get ownedFiles(): ReadonlyMap<string, OwnedFile> {
    return this.#owned;
  }

  /** Requests retransmitted so far. */
  get retransmits(): number {
    return this.#requests.retransmits;
  }

  /**
   * Consumes a datagram if it is a tracker reply (REGISTERED, OWNERS, ACK or ERROR from the
   * tracker's address). `bytes` is only read during the call.
   *
   * @param bytes the datagram
   * @param from its source
   * @returns false when the datagram is not for this client (route it elsewhere)
   */
  handleDatagram(bytes: Uint8Array, from: Deno.NetAddr): boolean {
    if (from.port !== this.tracker.port) return false;
    if (from.hostname !== this.#trackerHost && from.hostname !== this.tracker.hostname) {
      let h: string;
      try {
        h = canonicalAddress(from.hostname, from.port).host;
      } catch {
        return false;
      }
      if (h !== this.#trackerHost) return false;
    }
    let type: string;
    try {
      type = decodeHeader(bytes).type;
    } catch {
      return false;
    }
    if (type !== "registered" && type !== "owners" && type !== "ack" && type !== "error") {
      return false;
    }
    let msg: Message;
    try {
      msg = decodeMessage(bytes);
    } catch (e) {
      this.malformed++;
      this.#log(`malformed ${type} from tracker ${this.#trackerLabel}: ${(e as Error).message}`);
      return true;
    }
    this.#requests.resolve(msg.txid, msg as Reply);
    return true;
  }

  /**
   * Registers (cookie handshake, then REGISTER with the cookie) and starts the heartbeat
   * loop. Idempotent while registered.
   *
   * @returns what the tracker said
   * @throws {TrackerError} `timeout` when the tracker never answers; `wrong_address`,
   *   `too_many_peers` when it refuses
   */
  async start(): Promise<RegisteredInfo> {
    if (this.#state === "closed") {
      throw new TrackerError(TrackerErrorCode.closed, "register", "Tracker client is closed");
    }
    if (this.#state === "registered" && this.#info) return this.#info;
    const info = await this.#ensureRegistered();
    this.#scheduleHeartbeat();
    return info;
  }

  /**
   * Announces a file (OWN). The client remembers it and announces it again by itself after
   * a re-registration. Announcing the same content id again replaces the entry.
   *
   * @param file name, size and content id
   * @throws {TrackerError} when the tracker refuses (`too_many_files`, `out_of_range`, …)
   *   or never answers
   */
  async own(file: OwnedFile): Promise<void> {
    const key = toHex(file.contentId);
    const entry: OwnedFile = {
      name: file.name,
      size: file.size,
      contentId: file.contentId.slice(),
    };
    // Validate the fields here so a bad call fails fast with a clear TypeError/RangeError.
    encodeMessage({ type: "own", txid: 1, cookie: 0n, nodeId: this.nodeId, ...entry });
    for (const [k, f] of this.#owned) {
      if (f.name === entry.name && k !== key) this.#owned.delete(k); // the tracker replaces it too
    }
    this.#owned.set(key, entry);
    try {
      await this.#call("own", (txid, cookie) => ({
        type: "own",
        txid,
        cookie,
        nodeId: this.nodeId,
        ...entry,
      }));
    } catch (e) {
      if (this.#owned.get(key) === entry) this.#owned.delete(key);
      throw e;
    }
  }

  /**
   * Forgets a file locally: it is no longer re-announced. (The protocol has no DISOWN; the
   * tracker drops it at EXIT or eviction, or when a new content is OWNed under its name.)
   *
   * @param contentId the content id
   * @returns true when the file was known
   */
  disown(contentId: Uint8Array): boolean {
    return this.#owned.delete(toHex(contentId));
  }

  /**
   * Asks who shares a file (NEED), by name or content id.
   *
   * @param want `{ kind: "name", name }` or `{ kind: "content", contentId }`
   * @param maxOwners at most this many owners (0 or undefined: the tracker's N)
   * @returns the owners, best first, with the content id, name, size and the number of
   *   other contents with that name
   * @throws {TrackerError} `not_found` when nobody else shares it; `timeout` when the tracker
   *   never answers
   */
  async need(want: NeedTarget, maxOwners = 0): Promise<OwnersMessage> {
    const max = Math.max(0, Math.min(MAX_OWNERS, Math.floor(maxOwners)));
    const reply = await this.#call("need", (txid, cookie) => ({
      type: "need",
      txid,
      cookie,
      nodeId: this.nodeId,
      want,
      maxOwners: max,
    }));
    if (reply.type !== "owners") {
      throw new TrackerError(
        TrackerErrorCode.protocol,
        "need",
        `Tracker ${this.#trackerLabel} answered NEED with ${reply.type}`,
      );
    }
    return reply;
  }

  /**
   * Reports bytes uploaded since the previous UPDATE; the tracker raises this peer's rate.
   *
   * @param uploadedBytes bytes uploaded since the last call
   * @throws {TrackerError} when the tracker never answers
   */
  async update(uploadedBytes: number): Promise<void> {
    if (!Number.isSafeInteger(uploadedBytes) || uploadedBytes < 0) {
      throw new RangeError(
        `Cannot send UPDATE: uploaded bytes must be an integer ≥ 0, got ${uploadedBytes}`,
      );
    }
    await this.#call("update", (txid, cookie) => ({
      type: "update",
      txid,
      cookie,
      nodeId: this.nodeId,
      uploaded: uploadedBytes,
    }));
  }

  /**
   * Leaves the swarm (EXIT): the tracker forgets this peer and its files. Stops the
   * heartbeat. Idempotent; `start()` may register again afterwards.
   *
   * @throws {TrackerError} `timeout` when the tracker never acknowledged (the peer will be
   *   evicted anyway)
   */
  exit(): Promise<void> {
    if (this.#state === "closed" || this.#state === "exited" || this.#state === "new") {
      if (this.#state === "new") this.#state = "exited";
      return this.#exiting ?? Promise.resolve();
    }
    this.#stopHeartbeat();
    const wasRegistered = this.#state === "registered" || this.#cookie !== 0n;
    this.#state = "exited";
    this.#exiting = (async () => {
      if (!wasRegistered) return;
      try {
        await this.#requestOnce(
          "exit",
          (txid) =>
            encodeMessage({ type: "exit", txid, cookie: this.#cookie, nodeId: this.nodeId }),
          {
            attempts: 3,
          },
        );
        this.#log(`exit: tracker ${this.#trackerLabel} forgot ${this.nodeId}`);
      } finally {
        this.#cookie = 0n;
        this.#info = undefined;
      }
    })();
    return this.#exiting;
  }

  /** Stops timers and cancels outstanding requests; closes the socket only if it owns one. */
  async close(): Promise<void> {
    if (this.#state !== "closed") {
      this.#state = "closed";
      this.#stopHeartbeat();
      this.#requests.cancelAll(new RequestCancelledError("Tracker client closed"));
    }
    await this.#exiting?.catch(() => {});
    await this.#registering?.catch(() => {});
    await this.#endpoint?.close();
  }

  /** Same as {@link TrackerClient.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ------------------------------------------------------------------ internals

  /** True once closed or exited (a method, so checks after an await are not narrowed away). */
  #gone(): boolean {
    return this.#state === "closed" || this.#state === "exited";
  }

  /** One request with retransmissions; maps timeouts and cancellation to TrackerError. */
  async #requestOnce(
    request: string,
    encode: (txid: number) => Uint8Array,
    policy?: Partial<RetryPolicy>,
  ): Promise<Reply> {
    if (this.#state === "closed") {
      throw new TrackerError(TrackerErrorCode.closed, request, "Tracker client is closed");
    }
    try {
      return await this.#requests.request(encode, this.tracker, policy);
    } catch (e) {
      if (e instanceof RequestTimeoutError) {
        throw new TrackerError(
          TrackerErrorCode.timeout,
          request,
          `Tracker ${this.#trackerLabel} did not answer ${request.toUpperCase()} (${e.attempts} attempts over ${
            (e.elapsedMs / 1000).toFixed(1)
          } s): is it running and reachable?`,
          { cause: e },
        );
      }
      if (e instanceof RequestCancelledError) {
        throw new TrackerError(TrackerErrorCode.closed, request, "Tracker client is closed", {
          cause: e,
        });
      }
      throw e;
    }
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

  /** A request that needs registration; re-registers once on unknown_node/bad_cookie. */
  async #call(
    request: "own" | "need" | "update",
    build: (txid: number, cookie: bigint) => Message,
  ): Promise<Reply> {
    if (this.#state === "closed" || this.#state === "exited") {
      throw new TrackerError(
        TrackerErrorCode.closed,
        request,
        this.#state === "closed"
          ? "Tracker client is closed"
          : "Peer has left the tracker (exit); call start() to join again",
      );
    }
    if (this.#state !== "registered") await this.start();
    for (let attempt = 0;; attempt++) {
      const reply = await this.#requestOnce(
        request,
        (txid) => encodeMessage(build(txid, this.#cookie)),
      );
      if (reply.type !== "error") return reply;
      if (attempt === 0 && REREGISTER_CODES.has(reply.code)) {
        this.#log(
          `tracker answered ${request} with ${reply.text || reply.code}: registering again`,
        );
        this.#state = "registering";
        await this.#ensureRegistered(true);
        continue;
      }
      throw this.#errorFrom(request, reply);
    }
  }

  /** Registers (one run at a time); after a fresh registration announces all files again. */
  #ensureRegistered(forceHandshake = false): Promise<RegisteredInfo> {
    this.#registering ??= (async () => {
      try {
        if (this.#state !== "registered") this.#state = "registering";
        const again = this.#info !== undefined;
        const { info, fresh } = await this.#handshake(forceHandshake ? 0n : this.#cookie);
        if (this.#gone()) return info;
        this.#state = "registered";
        if (fresh && again) {
          this.reregistrations++;
          this.#log(
            `registered again with tracker ${this.#trackerLabel}; announcing ${this.#owned.size} file(s)`,
          );
        } else if (fresh) {
          this.#log(
            `registered with tracker ${this.#trackerLabel} as ${this.nodeId} (heartbeat every ${info.intervalMs} ms)`,
          );
        }
        this.#info = info;
        if (fresh && this.#owned.size > 0) await this.#reannounce();
        return info;
      } finally {
        this.#registering = undefined;
      }
    })();
    return this.#registering;
  }

  async #handshake(startCookie: bigint): Promise<{ info: RegisteredInfo; fresh: boolean }> {
    let cookie = startCookie;
    let fresh = false;
    for (let round = 0; round < 4; round++) {
      const reply = await this.#requestOnce(
        "register",
        (txid) => encodeMessage({ type: "register", txid, cookie, nodeId: this.nodeId }),
      );
      if (reply.type === "error") {
        if (REREGISTER_CODES.has(reply.code)) {
          cookie = 0n;
          continue;
        }
        throw this.#errorFrom("register", reply);
      }
      if (reply.type !== "registered") {
        throw new TrackerError(
          TrackerErrorCode.protocol,
          "register",
          `Tracker ${this.#trackerLabel} answered REGISTER with ${reply.type}`,
        );
      }
      if (reply.evictAfterMs === 0) {
        // A challenge: prove the address by presenting the cookie.
        cookie = reply.cookie;
        fresh = true;
        continue;
      }
      this.#cookie = reply.cookie;
      this.#lastHeard = this.#now();
      return {
        info: {
          cookie: reply.cookie,
          intervalMs: reply.intervalMs,
          evictAfterMs: reply.evictAfterMs,
        },
        fresh,
      };
    }
    throw new TrackerError(
      TrackerErrorCode.protocol,
      "register",
      `Tracker ${this.#trackerLabel} kept challenging REGISTER; giving up after 4 rounds`,
    );
  }

  async #reannounce(): Promise<void> {
    const files = [...this.#owned.values()];
    let next = 0;
    const worker = async () => {
      while (next < files.length && this.#state === "registered") {
        const f = files[next++]!;
        try {
          const reply = await this.#requestOnce(
            "own",
            (txid) =>
              encodeMessage({ type: "own", txid, cookie: this.#cookie, nodeId: this.nodeId, ...f }),
          );
          if (reply.type === "error") {
            this.#log(`re-announcing "${f.name}" failed: ${reply.text}`);
          }
        } catch (e) {
          this.#log(`re-announcing "${f.name}" failed: ${(e as Error).message}`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(OWN_CONCURRENCY, files.length) }, worker));
  }

  // ------------------------------------------------------------------ heartbeat

  #scheduleHeartbeat(): void {
    if ((this.#state !== "registered" && this.#state !== "registering") || this.#heartbeatRunning) {
      return;
    }
    if (this.#heartbeatTimer !== undefined) clearTimeout(this.#heartbeatTimer);
    const interval = this.#info?.intervalMs ?? 30_000;
    const due = this.#lastHeard + interval;
    this.#heartbeatTimer = setTimeout(
      () => this.#heartbeat(),
      Math.max(0, due - this.#now()),
    );
  }

  #stopHeartbeat(): void {
    if (this.#heartbeatTimer !== undefined) clearTimeout(this.#heartbeatTimer);
    this.#heartbeatTimer = undefined;
  }

  async #heartbeat(): Promise<void> {
    this.#heartbeatTimer = undefined;
    if (this.#state !== "registered" && this.#state !== "registering") return;
    this.#heartbeatRunning = true;
    const interval = this.#info?.intervalMs ?? 30_000;
    const evictAfter = this.#info?.evictAfterMs ?? interval;
    try {
      if (this.#registering) {
        await this.#registering;
      } else {
        // Retries within the cycle: many quick retransmissions before the eviction deadline,
        // so one lost datagram never costs the registration.
        const initial = Math.min(this.#retry.initialMs ?? 250, Math.max(10, interval / 20));
        const reply = await this.#requestOnce(
          "register",
          (txid) =>
            encodeMessage({ type: "register", txid, cookie: this.#cookie, nodeId: this.nodeId }),
          {
            initialMs: initial,
            maxDelayMs: Math.max(initial, interval / 4),
            attempts: 1000,
            totalMs: Math.max(initial, evictAfter - interval + interval / 2),
          },
        );
        if (reply.type === "registered" && reply.evictAfterMs > 0) {
          this.#cookie = reply.cookie;
          this.#lastHeard = this.#now();
          this.#info = {
            cookie: reply.cookie,
            intervalMs: reply.intervalMs,
            evictAfterMs: reply.evictAfterMs,
          };
        } else if (
          reply.type === "registered" || REREGISTER_CODES.has((reply as ErrorMessage).code)
        ) {
          // The tracker restarted or evicted us: register again and announce our files again.
          this.#log(
            `tracker ${this.#trackerLabel} no longer knows ${this.nodeId}: registering again`,
          );
          this.#state = "registering";
          await this.#ensureRegistered(true);
        } else if (reply.type === "error") {
          this.#log(`heartbeat refused: ${reply.text}`);
        }
      }
    } catch (e) {
      if (e instanceof TrackerError && e.code === TrackerErrorCode.timeout) {
        this.missedHeartbeats++;
        this.#log(`heartbeat: tracker ${this.#trackerLabel} did not answer; trying again`);
        // Keep trying; once it answers, it either still knows us or we register again.
        this.#lastHeard = this.#now() - interval + Math.min(interval / 4, 5000);
      } else if (!(e instanceof TrackerError && e.code === TrackerErrorCode.closed)) {
        this.#log(`heartbeat failed: ${(e as Error).message}`);
        this.#lastHeard = this.#now() - interval + Math.min(interval / 4, 5000);
      }
    } finally {
      this.#heartbeatRunning = false;
    }
    this.#scheduleHeartbeat();
  }
}
