/**
 * The tracker server: the tracker's sans-I/O core ({@link Dispatcher} on the memory store, or
 * {@link StoreDispatcher} on a shared one; both are the rules of tracker_core.ts) driven by one
 * UDP socket and one timer.
 * @module
 */
import { type PeerAddress } from "../wire/address.ts";
import { UdpEndpoint } from "../net/udp_endpoint.ts";
import { type TrackerLimits } from "./limits.ts";
import { LogFile } from "../log/log_file.ts";
import { escapeLogText } from "../log/log_escape.ts";
import type { RegistryCounters, TrackerCore } from "./tracker_core.ts";
import { Dispatcher } from "./dispatch.ts";
import { ReplySlab } from "../wire/fast_path.ts";
import { formatEvent, type TrackerEvent } from "./tracker_event.ts";
import { TrackerMetrics } from "./tracker_metrics.ts";
import { formatHostPort } from "../net/host_port.ts";
import { Bep15Dispatch, formatBep15Event, isBep15Datagram } from "./bep15_dispatch.ts";
import { StoreDispatcher } from "./store_dispatch.ts";
import type { SwarmStore } from "./store/swarm_store.ts";

/** Options for {@link startTracker}. */
export interface TrackerOptions {
  /** Address to bind. @default "127.0.0.1" */
  hostname?: string;
  /** UDP port; 0 picks a free one. @default 6969 */
  port?: number;
  /** Heartbeat interval T in ms, told to peers in every REGISTER reply. @default 30000 */
  intervalMs?: number;
  /** A peer silent for longer than T × (1 + grace) is evicted with its files. @default 0.5 */
  grace?: number;
  /** N: owners in a NEED reply, 1..16. @default 8 */
  maxOwners?: number;
  /**
   * Directory of `tracker.log`; undefined writes no file. The file is locked while the tracker
   * runs: a second tracker started in the same directory writes `tracker-<port>.log` instead,
   * so two trackers never interleave lines in one file. @default undefined
   */
  logDir?: string;
  /**
   * Size cap of `tracker.log` in bytes: past it the file becomes `tracker.log.1` (replacing the
   * previous one) and a new one starts. @default 67108864 (64 MiB)
   */
  logMaxBytes?: number;
  /** Count requests, replies and handling time for `--metrics` (see `metrics`). @default false */
  metrics?: boolean;
  /** Receives every log line (without timestamp), e.g. for the console. */
  log?: (line: string) => void;
  /** Limits on peers, files, names and request rates; missing ones take their defaults. */
  limits?: Partial<TrackerLimits>;
  /** How often the cookie key rotates in ms. @default max(2 × T, T × (1 + grace)) */
  cookieEpochMs?: number;
  /** Time constant of the upload-rate EWMA in ms. @default 60000 */
  rateTauMs?: number;
  /**
   * Keep peers and files in Redis: every tracker started with the same `url` and `prefix`
   * serves one swarm (peers registered at one are known at all, cookies are valid at all).
   * The tracker connects at start (rejecting with `StoreUnavailable` when Redis cannot be
   * reached) and closes the connection when it stops. Operators: docs/TRACKER.md, _Storage_.
   * @default undefined (the tracker's own memory)
   */
  redis?: TrackerRedisOptions;
  /**
   * Keep peers and files in this store (a `RedisStore`: several trackers serve one swarm)
   * instead of the tracker's own memory; the tracker closes it. Internal for now (tracker.ts
   * `--store`); the store API may change. @default undefined (memory)
   *
   * @ignore
   */
  store?: SwarmStore;
  /**
   * With `store`: the secret address cookies derive from (`RedisStore.sharedSecret()`).
   *
   * @ignore
   */
  storeSecret?: Uint8Array;
}

/** Counters of a running tracker. */
export interface TrackerCounters extends RegistryCounters {
  /** Replies the socket failed to send. */
  sendErrors: number;
  /** Exceptions caught in the receive loop (bugs; the loop keeps serving). */
  handlerErrors: number;
  /** Requests dropped because the store was unreachable (0 for the memory tracker). */
  storeErrors: number;
  /** Registered peers now. */
  peers: number;
  /** Content ids with at least one owner now. */
  files: number;
}

/** A tracker serving on a UDP socket. `await using` closes it. */
export interface RunningTracker extends AsyncDisposable {
  /** The bound address (with the real port when started with port 0). */
  readonly address: PeerAddress;
  /** The bound address as a `Deno.NetAddr`, ready for `TrackerClient`. */
  readonly localAddr: Deno.NetAddr;
  /** Path of the log file, when there is one. */
  readonly logPath: string | undefined;
  /** A snapshot of the counters. */
  readonly counters: TrackerCounters;
  /** Datagrams that failed to decode (dropped). */
  readonly malformed: number;
  /** Registered peers now. */
  readonly peerCount: number;
  /** Request and reply counts and latency, when started with `metrics: true`. */
  readonly metrics: TrackerMetrics | undefined;
  /** Stops serving, flushes the log and closes the socket. Idempotent. */
  close(): Promise<void>;
}

/** What the driver needs of a core: the memory Dispatcher, or the StoreDispatcher. */
interface Core {
  handleDatagram(
    bytes: Uint8Array,
    from: Deno.NetAddr,
    now: number,
  ): Uint8Array | undefined | Promise<Uint8Array | undefined>;
  handleTimeout(now: number): void | Promise<void>;
  pollTimeout(): number;
  pollEvent(): TrackerEvent | undefined;
}

class Tracker implements RunningTracker {
  readonly #endpoint: UdpEndpoint;
  readonly #core: Core;
  readonly #registry: TrackerCore;
  readonly #store: SwarmStore | undefined;
  /** The store path's clock: the wall clock, shared by the trackers of one store. */
  readonly #now: () => number;
  readonly #slab: ReplySlab;
  readonly #logFile: LogFile | undefined;
  readonly #log: ((line: string) => void) | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;
  #closing: Promise<void> | undefined;
  #handlerErrors = 0;
  readonly metrics: TrackerMetrics | undefined;
  /** BEP 15 on the same port (lib/tracker/bep15_dispatch.ts). */
  readonly #bep15: Bep15Dispatch;
  /** BEP 15's clock: the wall clock with a shared store (its connection ids), else monotonic. */
  readonly #bep15Now: () => number;

  constructor(
    endpoint: UdpEndpoint,
    core: Dispatcher | StoreDispatcher,
    slab: ReplySlab,
    logFile: LogFile | undefined,
    log: ((line: string) => void) | undefined,
    metrics: TrackerMetrics | undefined,
    bep15: Bep15Dispatch,
  ) {
    this.metrics = metrics;
    this.#bep15 = bep15;
    this.#endpoint = endpoint;
    this.#core = core;
    this.#registry = core;
    if (core instanceof StoreDispatcher) {
      this.#store = core.store;
      this.#now = Date.now;
    } else {
      this.#store = undefined;
      this.#now = () => performance.now();
    }
    this.#bep15Now = this.#store?.bep15 !== undefined ? Date.now : () => performance.now();
    this.#slab = slab;
    this.#logFile = logFile;
    this.#log = log;
    endpoint.onDatagram((bytes, from) => this.#onDatagram(bytes, from));
    this.#arm();
  }

  get address(): PeerAddress {
    return this.#endpoint.address;
  }

  get localAddr(): Deno.NetAddr {
    return this.#endpoint.localAddr;
  }

  get logPath(): string | undefined {
    return this.#logFile?.path;
  }

  get counters(): TrackerCounters {
    const bep15 = this.#bep15.counters;
    return {
      ...this.#registry.counters,
      // Datagrams of both protocols (the BEP 15 side: lib/tracker/bep15_dispatch.ts).
      received: this.#registry.counters.received + bep15.received,
      malformed: this.#registry.counters.malformed + bep15.malformed,
      sendErrors: this.#endpoint.sendErrors,
      handlerErrors: this.#handlerErrors + this.#endpoint.handlerErrors,
      storeErrors: this.#registry.storeErrors + bep15.storeErrors,
      peers: this.#registry.peerCount,
      files: this.#registry.fileCount,
    };
  }

  get malformed(): number {
    return this.#registry.counters.malformed + this.#bep15.counters.malformed;
  }

  get peerCount(): number {
    return this.#registry.peerCount;
  }

  line(text: string): void {
    const line = escapeLogText(text); // names and details from the network: one line each
    this.#logFile?.write(line);
    this.#log?.(line);
  }

  #onDatagram(bytes: Uint8Array, from: Deno.NetAddr): void {
    const now = performance.now();
    let reply: Uint8Array | undefined;
    const bep15 = isBep15Datagram(bytes);
    try {
      // BEP 15 first, on its first bytes, before any other parsing (see isBep15Datagram).
      const r = bep15
        ? this.#bep15.handleDatagram(bytes, from, this.#bep15Now())
        : this.#core.handleDatagram(bytes, from, this.#now());
      if (r instanceof Promise) {
        // The store path: the reply goes out when the store has answered.
        const copy = bytes.slice();
        r.then(
          (reply) => this.#send(copy, reply, from, now, bep15),
          (e) => this.#internalError(from, e),
        );
        return;
      }
      reply = r;
    } catch (e) {
      this.#internalError(from, e);
    }
    this.#send(bytes, reply, from, now, bep15);
  }

  /** A bug, not bad input (the cores drop bad input): count it and keep serving. */
  #internalError(from: Deno.NetAddr, e: unknown): void {
    this.#handlerErrors++;
    this.line(`internal error handling a datagram from ${formatHostPort(from)}: ${e}`);
  }

  #send(
    bytes: Uint8Array,
    reply: Uint8Array | undefined,
    from: Deno.NetAddr,
    now: number,
    bep15: boolean,
  ): void {
    if (this.#closing) return;
    this.metrics?.onRequest(bytes, reply, (performance.now() - now) / 1000, bep15);
    if (reply !== undefined) {
      const token = this.#slab.sending(reply);
      if (token < 0) this.#endpoint.send(reply, from);
      else this.#endpoint.sendAndWait(reply, from).finally(() => this.#slab.sent(token));
    }
    this.#drainEvents();
    if (this.#deadline() < this.#timerAt) this.#arm();
  }

  #onTimer(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    if (this.#closing) return;
    const core = this.#core.handleTimeout(this.#now());
    const bep15 = this.#bep15.handleTimeout(this.#bep15Now());
    this.#drainEvents();
    if (core instanceof Promise || bep15 instanceof Promise) {
      Promise.all([core, bep15]).then(
        () => {
          this.#drainEvents();
          this.#arm();
        },
        (e) => {
          this.line(`internal error in the timer: ${e}`);
          this.#arm();
        },
      );
      return;
    }
    this.#arm();
  }

  /** The earlier of the two cores' deadlines, on performance.now()'s clock. */
  #deadline(): number {
    const core = this.#core.pollTimeout() - this.#now() + performance.now();
    return Math.min(core, this.#bep15.pollTimeout() - this.#bep15Now() + performance.now());
  }

  #arm(): void {
    if (this.#closing) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    // The store path runs on the wall clock, the memory one on performance.now(): compare in
    // delays.
    const coreIn = this.#core.pollTimeout() - this.#now();
    const bep15In = this.#bep15.pollTimeout() - this.#bep15Now();
    const delay = Math.min(coreIn, bep15In);
    this.#timerAt = performance.now() + delay;
    this.#timer = setTimeout(() => this.#onTimer(), Math.max(0, Math.ceil(delay)));
  }

  #drainEvents(): void {
    for (let e = this.#core.pollEvent(); e !== undefined; e = this.#core.pollEvent()) {
      if (e.type === "rate_limited") this.metrics?.onRateLimitedSource();
      this.line(formatEvent(e as TrackerEvent));
    }
    for (let e = this.#bep15.pollEvent(); e !== undefined; e = this.#bep15.pollEvent()) {
      this.line(formatBep15Event(e));
    }
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      this.#timer = undefined;
      await this.#endpoint.close();
      this.#drainEvents();
      const c = this.counters;
      this.line(
        `tracker stopped: ${this.#registry.peerCount} peer(s) registered, ${c.received} datagram(s) handled, ${c.malformed} malformed`,
      );
      await this.#store?.close();
      this.#logFile?.close();
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function storeLabel(store: SwarmStore): string {
  return "url" in store && typeof store.url === "string" ? store.url : store.kind;
}

/** Where a tracker keeps its state in Redis ({@link TrackerOptions.redis}). */
export interface TrackerRedisOptions {
  /** `redis://HOST:PORT[/DB]`; any node of a Redis Cluster will do (`MOVED` is followed). */
  url: string;
  /**
   * The swarm's key prefix, a Cluster hash tag (`{NAME}`): trackers with the same prefix serve
   * one swarm, and each prefix lives in one Cluster slot. @default "{swarm}"
   */
  prefix?: string;
  /**
   * A command unanswered this long (ms) counts as the connection lost: waiting requests are
   * dropped (peers retry) and the client reconnects; 0 waits forever. @default 5000
   */
  commandTimeoutMs?: number;
  /** How long the first connection may take, in ms. @default 3000 */
  connectTimeoutMs?: number;
}

/**
 * Starts a tracker on a UDP socket.
 *
 * @param options address, timing, N, limits and logging
 * @returns the running tracker; `await using` closes it
 * @throws {Deno.errors.AddrInUse} when the port is taken
 * @throws {RangeError} an option is out of range
 *
 * @example A tracker on a free port
 * ```ts
 * import assert from "node:assert/strict";
 * import { startTracker } from "@udpswarm/udpswarm";
 *
 * await using tracker = await startTracker({ port: 0, log: (line) => console.log(line) });
 * assert.notEqual(tracker.address.port, 0); // the port the OS picked
 * assert.equal(tracker.peerCount, 0);
 * // `await using` stops it at the end of the scope; `await tracker.close()` does too
 * ```
 *
 * @example Two trackers serving one swarm through Redis
 * ```ts ignore
 * import { startTracker } from "@udpswarm/udpswarm";
 *
 * const redis = { url: "redis://127.0.0.1:6379", prefix: "{lan}" };
 * await using a = await startTracker({ port: 6969, redis });
 * await using b = await startTracker({ port: 6970, redis });
 * // peers given --tracker 127.0.0.1:6969,127.0.0.1:6970 see one swarm, whichever they ask
 * ```
 */
export async function startTracker(options: TrackerOptions = {}): Promise<RunningTracker> {
  if (options.redis === undefined || options.store !== undefined) return startOn(options);
  const { url, prefix, commandTimeoutMs, connectTimeoutMs } = options.redis;
  // Loaded only here: a memory tracker never loads the Redis client.
  const { RedisStore } = await import("./store/redis_store.ts");
  const store = await RedisStore.connect({
    url,
    ...(prefix !== undefined ? { prefix } : {}),
    ...(commandTimeoutMs !== undefined ? { commandTimeoutMs } : {}),
    ...(connectTimeoutMs !== undefined ? { connectTimeoutMs } : {}),
    ...(options.rateTauMs !== undefined ? { rateTauMs: options.rateTauMs } : {}),
  });
  try {
    const storeSecret = await store.sharedSecret();
    return await startOn({ ...options, store, storeSecret });
  } catch (e) {
    await store.close();
    throw e;
  }
}

function startOn(options: TrackerOptions): Promise<RunningTracker> {
  const now = performance.now();
  const logging = options.logDir !== undefined || options.log !== undefined;
  const slab = new ReplySlab();
  const common = {
    ...(options.intervalMs !== undefined ? { intervalMs: options.intervalMs } : {}),
    ...(options.grace !== undefined ? { grace: options.grace } : {}),
    ...(options.maxOwners !== undefined ? { maxOwners: options.maxOwners } : {}),
    ...(options.limits !== undefined ? { limits: options.limits } : {}),
    ...(options.cookieEpochMs !== undefined ? { cookieEpochMs: options.cookieEpochMs } : {}),
    ...(options.rateTauMs !== undefined ? { rateTauMs: options.rateTauMs } : {}),
    events: logging || (options.metrics ?? false),
  };
  const core = options.store !== undefined
    ? new StoreDispatcher({
      store: options.store,
      now: Date.now(),
      ...(options.storeSecret !== undefined ? { secret: options.storeSecret } : {}),
      replySlab: slab,
      ...common,
    })
    : new Dispatcher({ now, replySlab: slab, ...common });
  let endpoint: UdpEndpoint;
  try {
    endpoint = UdpEndpoint.open({
      hostname: options.hostname ?? "127.0.0.1",
      port: options.port ?? 6969,
    });
  } catch (e) {
    return Promise.reject(e);
  }
  let logFile: LogFile | undefined;
  try {
    if (options.logDir !== undefined) {
      logFile = LogFile.openExclusive(
        options.logDir,
        ["tracker.log", `tracker-${endpoint.localAddr.port}.log`],
        options.logMaxBytes !== undefined ? { maxBytes: options.logMaxBytes } : {},
      );
    }
  } catch (e) {
    return endpoint.close().then(() => Promise.reject(e));
  }
  const metrics = options.metrics ? new TrackerMetrics() : undefined;
  const registry = core;
  // With a shared store the BitTorrent swarms live there too, and the connection ids derive from
  // the store's secret on the wall clock: trackers of one store serve one set of swarms.
  const shared = options.store?.bep15;
  const bep15 = new Bep15Dispatch({
    now: shared !== undefined ? Date.now() : now,
    ...(shared !== undefined ? { store: shared } : {}),
    ...(shared !== undefined && options.storeSecret !== undefined
      ? { secret: options.storeSecret }
      : {}),
    replySlab: slab,
    intervalMs: registry.intervalMs,
    ...(options.grace !== undefined ? { grace: options.grace } : {}),
    ...(options.limits !== undefined ? { limits: options.limits } : {}),
    events: logging,
  });
  const tracker = new Tracker(endpoint, core, slab, logFile, options.log, metrics, bep15);
  const a = endpoint.localAddr;
  tracker.line(
    `tracker started on ${
      formatHostPort(a)
    }: interval ${registry.intervalMs} ms, eviction after ${registry.evictAfterMs} ms, ${registry.maxOwners} owners per reply` +
      (options.store !== undefined ? `, store ${storeLabel(options.store)}` : ""),
  );
  return Promise.resolve(tracker);
}
