/**
 * The driver of a {@link TrackerSession}: sends its datagrams, keeps one timer for its next
 * deadline, and turns its commands into Promises. The rules (registration, heartbeat,
 * retries, re-registration) are in `lib/peer/core/tracker_session.ts`.
 *
 * A peer uses one UDP socket for the tracker and for other peers (the tracker learns the
 * peer's data address from the source address), so the client does not own the socket: it
 * sends through `send` and consumes tracker replies in {@link TrackerClient.handleDatagram}.
 * @module
 */
import type { ListingMessage, NeedTarget, OwnersMessage, ReportEntry } from "../wire/messages.ts";
import { parseHostPort } from "../net/host_port.ts";
import { UdpEndpoint } from "../net/udp_endpoint.ts";
import {
  type OwnedFile,
  type RegisteredInfo,
  type TrackerListQuery,
  TrackerSession,
} from "./core/tracker_session.ts";
import type { RetryPolicy } from "./core/request_retry.ts";

export type { OwnedFile, RegisteredInfo, TrackerListQuery };

/** Options for {@link TrackerClient}. */
export interface TrackerClientOptions {
  /** The tracker's address. */
  tracker: Deno.NetAddr;
  /**
   * More trackers of the same swarm, tried in order when the one in use stops answering (a
   * request timed out, or a heartbeat was lost): the client registers there, announces every
   * shared file again, and sends the requests in flight there.
   * @default []
   */
  fallbacks?: readonly Deno.NetAddr[];
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
  /**
   * The tracker, as an address or `host:port`; a comma-separated `A,B,…` (or an array) adds
   * fallbacks, tried in order when the one in use stops answering.
   */
  tracker: Deno.NetAddr | string | readonly (Deno.NetAddr | string)[];
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
  readonly #session: TrackerSession;
  /** The ports of every tracker: datagrams from other ports skip the session. */
  readonly #ports: ReadonlySet<number>;
  readonly #send: (bytes: Uint8Array, to: Deno.NetAddr) => void;
  readonly #log: (line: string) => void;
  readonly #now: () => number;
  /** Promises of commands in flight, by the session's handle. */
  readonly #waiters = new Map<number, PromiseWithResolvers<never>>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt: number | undefined;
  #endpoint: UdpEndpoint | undefined;

  /**
   * Creates a client that sends through `options.send`; it does not register until
   * {@link TrackerClient.start} or the first request.
   *
   * @param options tracker address, node id, send function, log, clock and retry policy
   * @throws {TypeError} the node id is not 1..24 characters of `[A-Za-z0-9._-]`
   */
  constructor(options: TrackerClientOptions) {
    this.#session = new TrackerSession({
      tracker: options.tracker,
      nodeId: options.nodeId,
      random: Math.random,
      ...(options.retry ? { retry: options.retry } : {}),
      ...(options.fallbacks ? { fallbacks: options.fallbacks } : {}),
    });
    this.nodeId = options.nodeId;
    this.#ports = new Set(this.#session.trackers.map((t) => t.port));
    this.#send = options.send;
    this.#log = options.log ?? (() => {});
    this.#now = options.now ?? (() => performance.now());
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
    const [tracker, ...fallbacks] = trackerAddresses(options.tracker);
    if (tracker === undefined) {
      return Promise.reject(new TypeError("Cannot connect: no tracker address given"));
    }
    const endpoint = UdpEndpoint.open({
      hostname: options.hostname ?? (tracker.hostname.includes(":") ? "::1" : "127.0.0.1"),
      port: options.port ?? 0,
    });
    const client = new TrackerClient({
      tracker,
      nodeId: options.nodeId,
      send: (bytes, to) => endpoint.send(bytes, to),
      fallbacks,
      ...(options.log ? { log: options.log } : {}),
      ...(options.retry ? { retry: options.retry } : {}),
    });
    client.#endpoint = endpoint;
    endpoint.onDatagram((bytes, from) => client.handleDatagram(bytes, from));
    return Promise.resolve(client);
  }

  /** The local address of the socket opened by {@link TrackerClient.connect}, if any. */
  get localAddr(): Deno.NetAddr | undefined {
    return this.#endpoint?.localAddr;
  }

  /** The address of the tracker in use (it changes at a failover). */
  get tracker(): Deno.NetAddr {
    return { transport: "udp", ...this.#session.tracker };
  }

  /** Times the client moved to the next tracker because the one in use stopped answering. */
  get failovers(): number {
    return this.#session.failovers;
  }

  /** True while registered (as far as this client knows). */
  get registered(): boolean {
    return this.#session.registered;
  }

  /** What the tracker said at the last successful REGISTER. */
  get info(): RegisteredInfo | undefined {
    return this.#session.info;
  }

  /** Files announced with OWN, by content id hex (re-announced after a re-register). */
  get ownedFiles(): ReadonlyMap<string, OwnedFile> {
    return this.#session.ownedFiles;
  }

  /** Requests retransmitted so far. */
  get retransmits(): number {
    return this.#session.retransmits;
  }

  /** Datagrams from the tracker address that failed to decode. */
  get malformed(): number {
    return this.#session.malformed;
  }

  /** Times the client registered again after the tracker forgot it. */
  get reregistrations(): number {
    return this.#session.reregistrations;
  }

  /** Heartbeats that got no reply within their cycle. */
  get missedHeartbeats(): number {
    return this.#session.missedHeartbeats;
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
    if (!this.#ports.has(from.port)) return false; // most peer traffic: no clock read
    if (!this.#session.handleDatagram(bytes, from, this.#now())) return false;
    this.#pump();
    return true;
  }

  /**
   * Registers (cookie handshake, then REGISTER with the cookie) and starts the heartbeat.
   * Idempotent while registered.
   *
   * @returns what the tracker said
   * @throws {TrackerError} `timeout` when the tracker never answers; `wrong_address`,
   *   `too_many_peers` when it refuses
   */
  start(): Promise<RegisteredInfo> {
    return this.#wait(this.#session.register(this.#now()));
  }

  /**
   * Announces a file (OWN). The client remembers it and announces it again by itself after
   * a re-registration. Announcing the same content id again replaces the entry.
   *
   * @param file name, size and content id
   * @throws {TrackerError} when the tracker refuses (`too_many_files`, `out_of_range`, …)
   *   or never answers
   */
  own(file: OwnedFile): Promise<void> {
    return this.#command(() => this.#session.own(file, this.#now()));
  }

  /**
   * Forgets a file locally: it is no longer re-announced. (The protocol has no DISOWN; the
   * tracker drops it at EXIT or eviction, or when a new content is OWNed under its name.)
   *
   * @param contentId the content id
   * @returns true when the file was known
   */
  disown(contentId: Uint8Array): boolean {
    return this.#session.disown(contentId);
  }

  /**
   * Asks who shares a file (NEED), by name or content id.
   *
   * @param want `{ kind: "name", name }` or `{ kind: "content", contentId }`
   * @param maxOwners at most this many owners (0 or undefined: the tracker's N)
   * @param exclude owners found dead or failing, for the tracker to leave out
   * @param flags NEED flags (`NEED_PARTIAL`: partial owners welcome)
   * @returns the owners, best first, with the content id, name, size and the number of
   *   other contents with that name
   * @throws {TrackerError} `not_found` when nobody else shares it; `timeout` when the tracker
   *   never answers
   */
  need(
    want: NeedTarget,
    maxOwners = 0,
    exclude?: readonly string[],
    flags = 0,
  ): Promise<OwnersMessage> {
    return this.#wait(this.#session.need(want, maxOwners, this.#now(), exclude, flags));
  }

  /**
   * Asks for one page of the files the tracker knows (LIST), registering first if needed.
   *
   * @param query pattern, match kind, cursor (0, then each page's `nextCursor`) and entry cap
   * @returns the page: entries sorted by name then content id, the total, the next cursor
   * @throws {TrackerError} `timeout` when the tracker never answers
   *
   * @example Listing what a tracker knows
   * ```ts
   * import assert from "node:assert/strict";
   * import { startTracker, TrackerClient } from "@udpswarm/udpswarm";
   *
   * await using tracker = await startTracker({ port: 0 });
   * await using alice = await TrackerClient.connect({ tracker: tracker.localAddr, nodeId: "alice" });
   * await alice.own({ name: "song.mp3", size: 4_000_000, contentId: new Uint8Array(32).fill(7) });
   * const page = await alice.list({ pattern: "*.MP3", match: "glob" });
   * assert.deepEqual(page.entries.map((e) => [e.name, e.size, e.owners]), [["song.mp3", 4_000_000, 1]]);
   * assert.equal(page.nextCursor, 0); // nothing more
   * ```
   */
  list(query: TrackerListQuery): Promise<ListingMessage> {
    let id: number;
    try {
      id = this.#session.list(query, this.#now());
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#wait(id);
  }

  /**
   * Tells the tracker the bytes received and verified from each owner of a content (REPORT):
   * what ranks owners.
   *
   * @param contentId the 32-byte content id
   * @param entries owners and their verified bytes (0-byte ones are left out)
   * @throws {TrackerError} when the tracker never answers
   */
  report(contentId: Uint8Array, entries: readonly ReportEntry[]): Promise<void> {
    let id: number | undefined;
    try {
      id = this.#session.report(contentId, entries, this.#now());
    } catch (e) {
      return Promise.reject(e);
    }
    return id === undefined ? Promise.resolve() : this.#wait(id).then(() => {});
  }

  /**
   * Reports bytes uploaded since the previous UPDATE (logged by the tracker; it no longer ranks:
   * the downloaders' REPORTs do).
   *
   * @param uploadedBytes bytes uploaded since the last call
   * @throws {TrackerError} when the tracker never answers
   */
  update(uploadedBytes: number): Promise<void> {
    return this.#command(() => this.#session.update(uploadedBytes, this.#now()));
  }

  /** True once the tracker acknowledged {@link TrackerClient.exit}. */
  get exitAcknowledged(): boolean {
    return this.#session.exitAcknowledged;
  }

  /**
   * Leaves the swarm (EXIT): the tracker forgets this peer and its files. Stops the
   * heartbeat. Idempotent; `start()` may register again afterwards.
   *
   * @throws {TrackerError} `timeout` when the tracker never acknowledged (the peer will be
   *   evicted anyway)
   */
  exit(): Promise<void> {
    return this.#wait(this.#session.exit(this.#now()));
  }

  /** Stops the timer and fails outstanding requests; closes the socket only if it owns one. */
  async close(): Promise<void> {
    this.#session.close(this.#now());
    this.#pump();
    await this.#endpoint?.close();
  }

  /** Same as {@link TrackerClient.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** A command that may throw on bad arguments: the throw becomes the rejection. */
  #command(issue: () => number): Promise<void> {
    let id: number;
    try {
      id = issue();
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#wait(id);
  }

  /** The Promise of the command with handle `id` (the same one when asked twice). */
  #wait<T>(id: number): Promise<T> {
    let waiter = this.#waiters.get(id);
    if (waiter === undefined) {
      waiter = Promise.withResolvers<never>();
      this.#waiters.set(id, waiter);
      this.#pump();
    }
    return waiter.promise;
  }

  /** Sends what the session has to send, settles finished commands, re-arms the timer. */
  #pump(): void {
    const session = this.#session;
    let to: Deno.NetAddr | undefined;
    for (let bytes; (bytes = session.pollTransmit()) !== undefined;) {
      this.#send(bytes, to ??= this.tracker);
    }
    for (let event; (event = session.pollEvent()) !== undefined;) {
      switch (event.type) {
        case "done":
          this.#waiters.get(event.id)?.resolve(event.value as never);
          this.#waiters.delete(event.id);
          break;
        case "failed":
          this.#waiters.get(event.id)?.reject(event.error);
          this.#waiters.delete(event.id);
          break;
        case "registered":
          this.#log(
            event.again
              ? `registered again with tracker ${session.trackerLabel}; announcing ${event.files} file(s)`
              : `registered with tracker ${session.trackerLabel} as ${this.nodeId} (heartbeat every ${event.info.intervalMs} ms)`,
          );
          break;
        case "log":
          this.#log(event.line);
      }
    }
    const at = session.pollTimeout();
    if (at === this.#timerAt) return;
    clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = at === undefined ? undefined : setTimeout(() => {
      this.#timerAt = undefined;
      this.#session.handleTimeout(this.#now());
      this.#pump();
    }, Math.max(0, at - this.#now()));
  }
}

/**
 * Tracker addresses from `host:port` strings (each may be a comma-separated list) and addresses.
 *
 * @param given one address or list, or several
 * @returns the addresses, in order
 * @throws {TypeError} an address that does not parse
 */
export function trackerAddresses(
  given: Deno.NetAddr | string | readonly (Deno.NetAddr | string)[],
): Deno.NetAddr[] {
  const items = Array.isArray(given) ? given : [given as Deno.NetAddr | string];
  const out: Deno.NetAddr[] = [];
  for (const item of items) {
    if (typeof item !== "string") {
      out.push({ transport: "udp", hostname: item.hostname, port: item.port });
      continue;
    }
    for (const part of item.split(",")) {
      const hp = parseHostPort(part.trim());
      out.push({ transport: "udp", hostname: hp.hostname, port: hp.port });
    }
  }
  return out;
}
