/**
 * A lossy UDP relay for fault tests on real sockets. Clients send to the relay; for every distinct
 * client source address the relay opens an upstream socket towards the target (like a NAT), so the
 * target's replies find their way back. Each direction drops, delays, reorders, duplicates,
 * truncates and corrupts datagrams with seeded randomness, so a run reproduces.
 *
 * No root needed: point a downloader at a relay with `PeerOptions.mapOwnerAddress`, or a peer at a
 * relay in front of the tracker.
 *
 * Tests that must not race a free-running transfer control it here: a bandwidth cap
 * (`bytesPerSecond`) makes a transfer last at least as long as the test needs, and
 * {@link Relay.pauseAfter} / {@link Relay.pause} hold every datagram (both ways) at a point the
 * test chooses until {@link Relay.resume}.
 *
 * @example Relay in front of a UDP echo server with 5 % loss each way
 * ```ts ignore
 * await using relay = startRelay({ target: echo.localAddr, seed: 7, loss: 0.05, reorder: 0.02 });
 * client.send(bytes, relay.address);
 * console.log(relay.stats.toTarget.dropped);
 * ```
 * @module
 */
import { UdpEndpoint } from "../../lib/net/udp_endpoint.ts";
import { addressKey, fromNetAddr } from "../../lib/net/host_port.ts";
import type { PeerAddress } from "../../lib/wire/address.ts";
import { deriveSeed, Prng } from "../../lib/sim/prng.ts";
import { type HeapItem, MinHeap } from "./_min_heap.ts";

/** The faults applied to one direction. Probabilities are per datagram, in [0, 1]. */
export interface FaultRates {
  /** Probability a datagram is dropped. @default 0 */
  loss: number;
  /** Fixed delay added to every datagram, in ms. @default 0 */
  delayMs: number;
  /** Extra uniformly random delay in [0, jitterMs) ms; large jitter reorders too. @default 0 */
  jitterMs: number;
  /** Probability a datagram is held back and sent after the next 1..reorderDepth ones. @default 0 */
  reorder: number;
  /** Probability a datagram is sent twice. @default 0 */
  duplicate: number;
  /** Probability a datagram is cut to a random shorter length (0..len-1 bytes). @default 0 */
  truncate: number;
  /** Probability 1 to 3 random bits of a datagram are flipped. @default 0 */
  corrupt: number;
  /**
   * Link capacity in bytes per second (0: unlimited). Datagrams queue behind each other; one that
   * would wait longer than `maxQueueMs` is dropped, like a router's full buffer. @default 0
   */
  bytesPerSecond: number;
}

/** Rates for both directions, with optional per-direction overrides. */
export interface RelayRates extends Partial<FaultRates> {
  /** Overrides `loss` for client → target datagrams. */
  lossToTarget?: number;
  /** Overrides `loss` for target → client datagrams. */
  lossFromTarget?: number;
  /** Overrides for client → target datagrams (applied over the common rates). */
  toTarget?: Partial<FaultRates>;
  /** Overrides for target → client datagrams (applied over the common rates). */
  fromTarget?: Partial<FaultRates>;
}

/** Options for {@link startRelay}. */
export interface RelayOptions extends RelayRates {
  /** Where datagrams from clients go. */
  target: Deno.NetAddr;
  /** Seed of the pseudo-random faults; equal seeds and traffic give equal faults. */
  seed: number;
  /** Address the relay listens on. @default "127.0.0.1" */
  hostname?: string;
  /** Port the relay listens on; 0 picks one. @default 0 */
  port?: number;
  /** Address the upstream sockets bind. @default hostname */
  upstreamHostname?: string;
  /** Most later datagrams that may overtake a held one (the count is drawn in 1..depth). @default 1 */
  reorderDepth?: number;
  /** A held datagram is released after this long even if no later one came, in ms. @default 20 */
  reorderHoldMs?: number;
  /** Upstream sockets kept at once; the oldest client is forgotten beyond this. @default 1024 */
  maxClients?: number;
  /** Longest queueing delay behind `bytesPerSecond` before a datagram is dropped, in ms. @default 500 */
  maxQueueMs?: number;
  /**
   * Rewrites each arriving datagram before the faults (e.g. the owner addresses in a tracker's
   * replies); `bytes` is a reused buffer, return a copy or a new array.
   */
  transform?: (bytes: Uint8Array, direction: "toTarget" | "fromTarget") => Uint8Array;
}

/** Counters of one direction. */
export interface DirectionStats {
  /** Datagrams that arrived. */
  received: number;
  /** Datagrams sent on, duplicates included. */
  forwarded: number;
  dropped: number;
  /** Datagrams sent twice (each counts once here and twice in `forwarded`). */
  duplicated: number;
  /** Datagrams held back so later ones overtook them. */
  reordered: number;
  truncated: number;
  corrupted: number;
  /** Bytes that arrived. */
  bytesIn: number;
  /** Bytes sent on, duplicates included. */
  bytesOut: number;
}

/** Counters of a relay. The objects are live: they change as traffic flows. */
export interface RelayStats {
  /** Client → target. */
  toTarget: DirectionStats;
  /** Target → client. */
  fromTarget: DirectionStats;
  /** Distinct client addresses seen. */
  clients: number;
  /** Clients forgotten because of `maxClients`. */
  evictedClients: number;
  /** Sends the kernel refused (ENOBUFS and the like). */
  sendErrors: number;
}

/** A running relay. */
export interface Relay extends AsyncDisposable {
  /** Where clients send. */
  readonly address: Deno.NetAddr;
  /** The same address in wire form, for `mapOwnerAddress`. */
  readonly wireAddress: PeerAddress;
  /** The target datagrams from clients go to. */
  readonly target: Deno.NetAddr;
  readonly stats: RelayStats;
  /** Datagrams waiting in the delay queue, held for reordering or held by a pause. */
  readonly pending: number;
  /** Whether datagrams are being held by {@link Relay.pause} or {@link Relay.pauseAfter}. */
  readonly paused: boolean;
  /** Holds every datagram, both ways, from now on (none is lost) until {@link Relay.resume}. */
  pause(): void;
  /**
   * Pauses once `bytes` more bytes have gone from the target to its clients (the datagram that
   * crosses the mark is still sent). Pausing at a byte count the test chooses, instead of at a
   * moment, is what keeps a test from racing a free-running transfer.
   *
   * @returns Resolves when the relay pauses (at once when it already is).
   */
  pauseAfter(bytes: number): Promise<void>;
  /** Sends what a pause held, in arrival order, forwards again and cancels a pending pauseAfter. */
  resume(): void;
  /** Changes rates from now on; unspecified rates keep their values. */
  setRates(rates: RelayRates): void;
  /** The rates in force for each direction. */
  rates(): { toTarget: FaultRates; fromTarget: FaultRates };
  /** Stops forwarding, drops what is queued and closes every socket. Idempotent. */
  close(): Promise<void>;
}

const ZERO_RATES: FaultRates = {
  loss: 0,
  delayMs: 0,
  jitterMs: 0,
  reorder: 0,
  duplicate: 0,
  truncate: 0,
  corrupt: 0,
  bytesPerSecond: 0,
};

const PROBABILITIES = ["loss", "reorder", "duplicate", "truncate", "corrupt"] as const;
const AMOUNTS = ["delayMs", "jitterMs", "bytesPerSecond"] as const;

/** All-zero counters of one direction. */
export function newDirectionStats(): DirectionStats {
  return {
    received: 0,
    forwarded: 0,
    dropped: 0,
    duplicated: 0,
    reordered: 0,
    truncated: 0,
    corrupted: 0,
    bytesIn: 0,
    bytesOut: 0,
  };
}

function checkProbability(name: string, v: number | undefined): void {
  if (v !== undefined && !(v >= 0 && v <= 1)) {
    throw new RangeError(`Cannot set relay rates: ${name} is ${v}, expected 0..1`);
  }
}

function checkRates(rates: Partial<FaultRates>, where: string): void {
  for (const k of PROBABILITIES) checkProbability(`${where}${k}`, rates[k]);
  for (const k of AMOUNTS) {
    const v = rates[k];
    if (v !== undefined && !(v >= 0 && Number.isFinite(v))) {
      throw new RangeError(
        `Cannot set relay rates: ${where}${k} is ${v}, expected a finite number >= 0`,
      );
    }
  }
}

function definedOnly(rates: Partial<FaultRates> | undefined): Partial<FaultRates> {
  const out: Partial<FaultRates> = {};
  if (!rates) return out;
  for (const k of [...PROBABILITIES, ...AMOUNTS]) {
    const v = rates[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** A datagram on its way: `copies` sends of `bytes` from `via` to `to`. */
interface Packet {
  bytes: Uint8Array;
  copies: number;
  via: UdpEndpoint;
  to: Deno.NetAddr;
}

interface Held {
  packet: Packet;
  /** Later datagrams still to pass before this one goes. */
  left: number;
  released: boolean;
}

interface QueueEntry extends HeapItem {
  lane: Lane;
  /** A delayed packet to send, or a held one to release when its hold time is over. */
  packet?: Packet;
  held?: Held;
}

/** One direction: its rates, counters, random streams and held datagrams. */
class Lane {
  rates: FaultRates = { ...ZERO_RATES };
  readonly stats = newDirectionStats();
  readonly held: Held[] = [];
  /** When the link of `bytesPerSecond` is free again (performance.now() time). */
  linkFreeAt = 0;
  readonly lossRng: Prng;
  readonly truncateRng: Prng;
  readonly corruptRng: Prng;
  readonly duplicateRng: Prng;
  readonly reorderRng: Prng;
  readonly jitterRng: Prng;

  constructor(seed: number, lane: number) {
    const s = (k: number) => new Prng(deriveSeed(seed, lane * 16 + k));
    this.lossRng = s(0);
    this.truncateRng = s(1);
    this.corruptRng = s(2);
    this.duplicateRng = s(3);
    this.reorderRng = s(4);
    this.jitterRng = s(5);
  }
}

interface Client {
  addr: Deno.NetAddr;
  upstream: UdpEndpoint;
}

class RelayImpl implements Relay {
  readonly target: Deno.NetAddr;
  readonly #main: UdpEndpoint;
  readonly #upstreamHostname: string;
  readonly #clients = new Map<string, Client>();
  readonly #closing = new Set<Promise<void>>();
  readonly #to: Lane;
  readonly #from: Lane;
  readonly #queue = new MinHeap<QueueEntry>();
  readonly #reorderDepth: number;
  readonly #reorderHoldMs: number;
  readonly #maxClients: number;
  readonly #maxQueueMs: number;
  readonly #transform: RelayOptions["transform"];
  /** Datagrams held by a pause, in arrival order. */
  readonly #parked: { lane: Lane; packet: Packet }[] = [];
  #paused = false;
  /** `fromTarget.bytesOut` at which to pause, if a pauseAfter is pending. */
  #pauseAt: number | undefined;
  #whenPaused = Promise.withResolvers<void>();
  #common: Partial<FaultRates> = {};
  #toOverride: Partial<FaultRates> = {};
  #fromOverride: Partial<FaultRates> = {};
  #seq = 0;
  #queuedPackets = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerDue = Infinity;
  #closed = false;
  #closePromise: Promise<void> | undefined;
  #evicted = 0;

  constructor(options: RelayOptions) {
    if (!Number.isFinite(options.seed)) {
      throw new RangeError(`Cannot start relay: seed is ${options.seed}, expected a number`);
    }
    this.#reorderDepth = options.reorderDepth ?? 1;
    this.#reorderHoldMs = options.reorderHoldMs ?? 20;
    this.#maxClients = options.maxClients ?? 1024;
    this.#maxQueueMs = options.maxQueueMs ?? 500;
    this.#transform = options.transform;
    if (!(Number.isInteger(this.#reorderDepth) && this.#reorderDepth >= 1)) {
      throw new RangeError(
        `Cannot start relay: reorderDepth is ${this.#reorderDepth}, expected >= 1`,
      );
    }
    if (!(this.#reorderHoldMs >= 0 && Number.isFinite(this.#reorderHoldMs))) {
      throw new RangeError(`Cannot start relay: reorderHoldMs is ${this.#reorderHoldMs}`);
    }
    if (!(Number.isInteger(this.#maxClients) && this.#maxClients >= 1)) {
      throw new RangeError(`Cannot start relay: maxClients is ${this.#maxClients}, expected >= 1`);
    }
    this.target = {
      transport: "udp",
      hostname: options.target.hostname,
      port: options.target.port,
    };
    this.#to = new Lane(options.seed, 1);
    this.#from = new Lane(options.seed, 2);
    this.setRates(options);
    const hostname = options.hostname ?? "127.0.0.1";
    this.#upstreamHostname = options.upstreamHostname ?? hostname;
    this.#main = UdpEndpoint.open({ hostname, port: options.port ?? 0 });
    this.#main.onDatagram((bytes, from) => this.#fromClient(bytes, from));
  }

  get address(): Deno.NetAddr {
    return this.#main.localAddr;
  }

  get wireAddress(): PeerAddress {
    return fromNetAddr(this.#main.localAddr);
  }

  get stats(): RelayStats {
    let sendErrors = this.#main.sendErrors;
    for (const c of this.#clients.values()) sendErrors += c.upstream.sendErrors;
    return {
      toTarget: this.#to.stats,
      fromTarget: this.#from.stats,
      clients: this.#clients.size + this.#evicted,
      evictedClients: this.#evicted,
      sendErrors,
    };
  }

  get pending(): number {
    return this.#queuedPackets + this.#to.held.length + this.#from.held.length +
      this.#parked.length;
  }

  get paused(): boolean {
    return this.#paused;
  }

  pause(): void {
    if (this.#paused || this.#closed) return;
    this.#paused = true;
    this.#pauseAt = undefined;
    this.#whenPaused.resolve();
  }

  pauseAfter(bytes: number): Promise<void> {
    if (!(bytes >= 0 && Number.isFinite(bytes))) {
      throw new RangeError(`Cannot pause relay: bytes is ${bytes}, expected a finite number >= 0`);
    }
    if (!this.#paused) {
      this.#pauseAt = this.#from.stats.bytesOut + bytes;
      if (bytes === 0) this.pause();
    }
    return this.#whenPaused.promise;
  }

  resume(): void {
    this.#pauseAt = undefined;
    if (!this.#paused) return;
    this.#paused = false;
    this.#whenPaused = Promise.withResolvers<void>();
    for (const { lane, packet } of this.#parked.splice(0)) this.#send(lane, packet);
  }

  setRates(rates: RelayRates): void {
    checkRates(rates, "");
    checkRates(rates.toTarget ?? {}, "toTarget.");
    checkRates(rates.fromTarget ?? {}, "fromTarget.");
    checkProbability("lossToTarget", rates.lossToTarget);
    checkProbability("lossFromTarget", rates.lossFromTarget);
    this.#common = { ...this.#common, ...definedOnly(rates) };
    this.#toOverride = { ...this.#toOverride, ...definedOnly(rates.toTarget) };
    this.#fromOverride = { ...this.#fromOverride, ...definedOnly(rates.fromTarget) };
    if (rates.lossToTarget !== undefined) this.#toOverride.loss = rates.lossToTarget;
    if (rates.lossFromTarget !== undefined) this.#fromOverride.loss = rates.lossFromTarget;
    // A common rate set later wins over an older per-direction override of the same rate.
    for (const k of Object.keys(definedOnly(rates)) as (keyof FaultRates)[]) {
      if (
        rates.toTarget?.[k] === undefined && !(k === "loss" && rates.lossToTarget !== undefined)
      ) {
        delete this.#toOverride[k];
      }
      if (
        rates.fromTarget?.[k] === undefined &&
        !(k === "loss" && rates.lossFromTarget !== undefined)
      ) {
        delete this.#fromOverride[k];
      }
    }
    this.#to.rates = { ...ZERO_RATES, ...this.#common, ...this.#toOverride };
    this.#from.rates = { ...ZERO_RATES, ...this.#common, ...this.#fromOverride };
  }

  rates(): { toTarget: FaultRates; fromTarget: FaultRates } {
    return { toTarget: { ...this.#to.rates }, fromTarget: { ...this.#from.rates } };
  }

  #fromClient(bytes: Uint8Array, from: Deno.NetAddr): void {
    if (this.#closed) return;
    const key = addressKey(from);
    let client = this.#clients.get(key);
    if (!client) {
      if (this.#clients.size >= this.#maxClients) this.#evictOldest();
      const addr: Deno.NetAddr = { transport: "udp", hostname: from.hostname, port: from.port };
      const upstream = UdpEndpoint.open({ hostname: this.#upstreamHostname, port: 0 });
      upstream.onDatagram((b) => this.#ingress(this.#from, b, this.#main, addr, "fromTarget"));
      client = { addr, upstream };
      this.#clients.set(key, client);
    }
    this.#ingress(this.#to, bytes, client.upstream, this.target, "toTarget");
  }

  #evictOldest(): void {
    const first = this.#clients.entries().next();
    if (first.done) return;
    const [key, client] = first.value;
    this.#clients.delete(key);
    this.#evicted++;
    this.#track(client.upstream.close());
  }

  #track(p: Promise<void>): void {
    this.#closing.add(p);
    p.finally(() => this.#closing.delete(p));
  }

  /** Runs one arriving datagram through the faults of its lane. `bytes` is a reused buffer. */
  #ingress(
    lane: Lane,
    arrived: Uint8Array,
    via: UdpEndpoint,
    to: Deno.NetAddr,
    direction: "toTarget" | "fromTarget",
  ): void {
    if (this.#closed) return;
    const bytes = this.#transform ? this.#transform(arrived, direction) : arrived;
    const r = lane.rates;
    const s = lane.stats;
    s.received++;
    s.bytesIn += bytes.length;
    // One draw per datagram from each stream that is consulted, so a seed fixes the pattern.
    if (lane.lossRng.next() < r.loss) {
      s.dropped++;
      return;
    }
    let data = bytes.slice();
    if (lane.truncateRng.next() < r.truncate && data.length > 0) {
      data = data.subarray(0, lane.truncateRng.below(data.length));
      s.truncated++;
    }
    if (lane.corruptRng.next() < r.corrupt && data.length > 0) {
      const flips = 1 + lane.corruptRng.below(3);
      for (let i = 0; i < flips; i++) {
        const bit = lane.corruptRng.below(data.length * 8);
        const j = bit >>> 3;
        data[j] = data[j]! ^ (1 << (bit & 7));
      }
      s.corrupted++;
    }
    let copies = 1;
    if (lane.duplicateRng.next() < r.duplicate) {
      copies = 2;
      s.duplicated++;
    }
    const packet: Packet = { bytes: data, copies, via, to };
    if (lane.reorderRng.next() < r.reorder) {
      s.reordered++;
      const held: Held = {
        packet,
        left: 1 + lane.reorderRng.below(this.#reorderDepth),
        released: false,
      };
      lane.held.push(held);
      this.#enqueue({ due: performance.now() + this.#reorderHoldMs, seq: 0, lane, held });
      return;
    }
    this.#delay(lane, packet);
    if (lane.held.length > 0) this.#passHeld(lane);
  }

  /** A datagram went by: the held ones it overtook get closer to their release. */
  #passHeld(lane: Lane): void {
    let kept = 0;
    const ready: Held[] = [];
    for (const h of lane.held) {
      if (--h.left <= 0) ready.push(h);
      else lane.held[kept++] = h;
    }
    lane.held.length = kept;
    for (const h of ready) this.#release(lane, h);
  }

  #release(lane: Lane, held: Held): void {
    if (held.released) return;
    held.released = true;
    const i = lane.held.indexOf(held);
    if (i >= 0) lane.held.splice(i, 1);
    this.#delay(lane, held.packet);
  }

  /** Sends now, or queues when the lane has a delay. */
  #delay(lane: Lane, packet: Packet): void {
    const r = lane.rates;
    let d = r.delayMs;
    if (r.jitterMs > 0) d += lane.jitterRng.next() * r.jitterMs;
    if (r.bytesPerSecond > 0) {
      const now = performance.now();
      const start = Math.max(now, lane.linkFreeAt);
      if (start - now > this.#maxQueueMs) {
        lane.stats.dropped++;
        return;
      }
      lane.linkFreeAt = start + (packet.bytes.length * packet.copies * 1000) / r.bytesPerSecond;
      d += lane.linkFreeAt - now;
    }
    if (d <= 0) {
      this.#send(lane, packet);
      return;
    }
    this.#queuedPackets++;
    this.#enqueue({ due: performance.now() + d, seq: 0, lane, packet });
  }

  #send(lane: Lane, p: Packet): void {
    if (this.#paused) {
      this.#parked.push({ lane, packet: p });
      return;
    }
    for (let i = 0; i < p.copies; i++) p.via.send(p.bytes, p.to);
    lane.stats.forwarded += p.copies;
    lane.stats.bytesOut += p.bytes.length * p.copies;
    if (
      lane === this.#from && this.#pauseAt !== undefined && lane.stats.bytesOut >= this.#pauseAt
    ) {
      this.pause();
    }
  }

  #enqueue(entry: QueueEntry): void {
    entry.seq = this.#seq++;
    this.#queue.push(entry);
    this.#arm();
  }

  #arm(): void {
    const top = this.#queue.peek();
    if (!top) {
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#timerDue = Infinity;
      return;
    }
    if (this.#timer !== undefined && this.#timerDue <= top.due) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerDue = top.due;
    this.#timer = setTimeout(() => this.#onTimer(), Math.max(0, top.due - performance.now()));
  }

  #onTimer(): void {
    this.#timer = undefined;
    this.#timerDue = Infinity;
    if (this.#closed) return;
    // Timers fire with ~1 ms granularity; send what is due within half a millisecond.
    const now = performance.now() + 0.5;
    for (let top = this.#queue.peek(); top && top.due <= now; top = this.#queue.peek()) {
      this.#queue.pop();
      if (top.packet) {
        this.#queuedPackets--;
        this.#send(top.lane, top.packet);
      } else if (top.held) this.#release(top.lane, top.held);
    }
    this.#arm();
  }

  close(): Promise<void> {
    this.#closePromise ??= this.#close();
    return this.#closePromise;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue.clear();
    this.#queuedPackets = 0;
    this.#parked.length = 0;
    this.#to.held.length = 0;
    this.#from.held.length = 0;
    const closing = [this.#main.close(), ...this.#closing];
    for (const c of this.#clients.values()) closing.push(c.upstream.close());
    this.#clients.clear();
    await Promise.all(closing);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Starts a relay in front of `options.target`. It is listening when this returns.
 *
 * @param options The target, the seed and the fault rates.
 * @returns The running relay; close it (or `await using` it) to release its sockets.
 *
 * @example Lossy path to the tracker
 * ```ts ignore
 * await using relay = startRelay({ target: trackerAddr, seed: 1, lossToTarget: 0.2 });
 * ```
 */
export function startRelay(options: RelayOptions): Relay {
  return new RelayImpl(options);
}
