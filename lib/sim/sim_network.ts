/**
 * A deterministic, in-memory datagram network for running the real sans-I/O cores of a tracker
 * and many peers together, with no sockets and no timers: a virtual clock (ms), a min-heap of
 * events, seeded randomness, hosts with an upload (and optionally a download) capacity behind a
 * drop-tail queue, and links that lose, delay, jitter, reorder, duplicate and cut datagrams to an
 * MTU. Datagrams are real bytes (copied at send, as a kernel would), so every byte goes through
 * the real codec.
 *
 * A driver binds a {@link SimSocket} per address and arms one {@link SimTimer} per core;
 * {@link SimNetwork.run} advances the clock to the earliest event until a condition holds.
 *
 * Wire bytes count a 28-byte IPv4 + UDP header per datagram, so figures compare with `tc`
 * shaped links that count whole packets.
 * @module
 */
import { EventQueue } from "./event_queue.ts";
import { Prng } from "./prng.ts";

/** Bytes of IPv4 + UDP headers counted per datagram on the wire. */
export const UDP_IP_OVERHEAD = 28;
/** Bytes of an IPv4 header, repeated in every fragment. */
const IP_HEADER = 20;

/** An address on the simulated network. */
export interface SimAddr {
  /** The host's IP address. */
  readonly hostname: string;
  /** The UDP port. */
  readonly port: number;
}

/** Faults of a path between two hosts (each direction draws on its own). */
export interface SimLink {
  /** Probability that a datagram is lost. @default 0 */
  loss: number;
  /** One-way delay, ms. @default 1 */
  latencyMs: number;
  /** Extra delay per datagram, uniform in [0, jitterMs), ms. @default 0 */
  jitterMs: number;
  /** Probability that a datagram is held back an extra [0, reorderMs) ms. @default 0 */
  reorder: number;
  /** Longest extra delay of a reordered datagram, ms. @default 20 */
  reorderMs: number;
  /** Probability that a datagram arrives twice. @default 0 */
  duplicate: number;
  /** Largest payload the path carries; larger datagrams are dropped. @default 65507 */
  mtu: number;
}

/** Capacity of one host's access link. */
export interface SimHostOptions {
  /** Upload rate, bytes per ms (1000 = 1 MB/s). @default Infinity */
  upload?: number;
  /** Download rate, bytes per ms. @default Infinity */
  download?: number;
  /** Bytes each direction's queue holds; beyond it datagrams are dropped (drop-tail). @default 262144 */
  queueBytes?: number;
  /**
   * Largest IP packet of the host's upload link (an Ethernet MTU: 1500), or 0 for no limit. A
   * larger datagram leaves as IPv4 fragments (20-byte headers, payloads in multiples of 8 bytes)
   * that the drop-tail queue admits one by one, as `tc` does: a datagram that lost a fragment is
   * lost, and its fragments that got in still take the link (counted in `wastedWireBytes`).
   * @default 0
   */
  fragmentMtu?: number;
}

/** Options for {@link SimNetwork}. */
export interface SimNetworkOptions {
  /** Seed of every random choice: equal seeds and equal traffic give equal runs. */
  seed: number;
  /** Faults of every path unless {@link SimNetwork.setLink} says otherwise. */
  link?: Partial<SimLink>;
}

/** Counters of one host. */
export interface SimHostStats {
  /** Datagrams that left the host. */
  sentDatagrams: number;
  /** Wire bytes (payload + 28) that left the host. */
  sentWireBytes: number;
  /** Payload bytes that left the host. */
  sentBytes: number;
  /** Datagrams delivered to the host. */
  receivedDatagrams: number;
  /** Payload bytes delivered to the host. */
  receivedBytes: number;
  /** Datagrams dropped at this host's full upload or download queue. */
  queueDrops: number;
  /** Wire bytes of fragments sent for datagrams that lost another fragment at the queue. */
  wastedWireBytes: number;
}

/** Counters of the whole network. */
export interface SimNetworkStats {
  /** Datagrams sent. */
  sent: number;
  /** Datagrams lost on a path. */
  lost: number;
  /** Datagrams delivered twice. */
  duplicated: number;
  /** Datagrams held back (reordered). */
  reordered: number;
  /** Datagrams larger than their path's MTU, dropped. */
  mtuDrops: number;
  /** Datagrams dropped at a full host queue. */
  queueDrops: number;
  /** Datagrams to an address nobody is bound to. */
  unreachable: number;
}

/** Receives a datagram: `bytes` is the receiver's own copy. */
export type SimReceive = (bytes: Uint8Array, from: Deno.NetAddr, now: number) => void;

/** A bound address: sends datagrams from it. */
export interface SimSocket {
  /** The address it is bound to. */
  readonly addr: Deno.NetAddr;
  /** Sends a copy of `bytes` to `to` at the current virtual time. */
  send(bytes: Uint8Array, to: SimAddr): void;
  /** Sends `bytes` itself (no copy): the caller never touches them again. */
  transfer(bytes: Uint8Array, to: SimAddr): void;
  /** Unbinds: datagrams to this address are dropped from now on. */
  close(): void;
}

/** One timer a driver re-arms to its core's next deadline. */
export interface SimTimer {
  /** Fires once at `deadline` (virtual ms); re-arming replaces the previous deadline. */
  arm(deadline: number | undefined): void;
  /** Disarms the timer. */
  cancel(): void;
}

interface Host {
  readonly options: Required<SimHostOptions>;
  readonly stats: SimHostStats;
  upFree: number;
  downFree: number;
}

type SimEvent =
  | { kind: "arrive"; to: SimAddr; from: Deno.NetAddr; bytes: Uint8Array }
  | { kind: "deliver"; to: SimAddr; from: Deno.NetAddr; bytes: Uint8Array }
  | { kind: "call"; fn: (now: number) => void }
  | { kind: "timer"; timer: Timer; generation: number };

interface Timer {
  generation: number;
  readonly fire: (now: number) => void;
}

const DEFAULT_LINK: SimLink = {
  loss: 0,
  latencyMs: 1,
  jitterMs: 0,
  reorder: 0,
  reorderMs: 20,
  duplicate: 0,
  mtu: 65507,
};

function key(a: SimAddr): string {
  return `${a.hostname}:${a.port}`;
}

/**
 * Hosts, links and a virtual clock (see the module doc).
 *
 * @example Two sockets and a 5 ms link
 * ```ts
 * import assert from "node:assert/strict";
 * import { SimNetwork } from "@udpswarm/udpswarm";
 *
 * const net = new SimNetwork({ seed: 1, link: { latencyMs: 5 } });
 * net.addHost("10.0.0.1", { upload: 5_000 }); // 5 MB/s
 * net.addHost("10.0.0.2");
 * const got: number[] = [];
 * const a = net.bind({ hostname: "10.0.0.1", port: 1 }, () => {});
 * net.bind({ hostname: "10.0.0.2", port: 2 }, (_bytes, _from, now) => got.push(now));
 * a.send(new TextEncoder().encode("hi"), { hostname: "10.0.0.2", port: 2 });
 * assert.ok(net.run(() => got.length > 0, { maxMs: 1000 }));
 * assert.ok(got[0]! >= 5); // virtual ms: the link's latency, no real waiting
 * ```
 */
export class SimNetwork {
  /** Virtual time, ms. */
  now = 0;
  /** Counters of the whole network. */
  readonly stats: SimNetworkStats = {
    sent: 0,
    lost: 0,
    duplicated: 0,
    reordered: 0,
    mtuDrops: 0,
    queueDrops: 0,
    unreachable: 0,
  };
  readonly #queue = new EventQueue<SimEvent>();
  readonly #hosts = new Map<string, Host>();
  readonly #sockets = new Map<string, SimReceive>();
  readonly #links = new Map<string, SimLink>();
  readonly #defaultLink: SimLink;
  readonly #prng: Prng;

  /**
   * Creates an empty network at virtual time 0.
   *
   * @param options the seed and the default faults of every path
   */
  constructor(options: SimNetworkOptions) {
    this.#prng = new Prng(options.seed);
    this.#defaultLink = { ...DEFAULT_LINK, ...options.link };
  }

  /** Adds a host (an IP address) with its access-link capacity. */
  addHost(hostname: string, options: SimHostOptions = {}): void {
    if (this.#hosts.has(hostname)) throw new TypeError(`Cannot add host: ${hostname} exists`);
    this.#hosts.set(hostname, {
      options: {
        upload: options.upload ?? Infinity,
        download: options.download ?? Infinity,
        queueBytes: options.queueBytes ?? 262_144,
        fragmentMtu: options.fragmentMtu ?? 0,
      },
      stats: {
        sentDatagrams: 0,
        sentWireBytes: 0,
        sentBytes: 0,
        receivedDatagrams: 0,
        receivedBytes: 0,
        queueDrops: 0,
        wastedWireBytes: 0,
      },
      upFree: 0,
      downFree: 0,
    });
  }

  /** Counters of one host. */
  hostStats(hostname: string): SimHostStats {
    return this.#host(hostname).stats;
  }

  /** Sets the faults of the path from `a` to `b` (one direction). */
  setLink(a: string, b: string, link: Partial<SimLink>): void {
    this.#links.set(`${a}>${b}`, { ...this.#linkOf(a, b), ...link });
  }

  /** Binds `addr`; `receive` gets every datagram sent to it. */
  bind(addr: SimAddr, receive: SimReceive): SimSocket {
    this.#host(addr.hostname);
    const k = key(addr);
    if (this.#sockets.has(k)) throw new TypeError(`Cannot bind ${k}: address in use`);
    this.#sockets.set(k, receive);
    const own: Deno.NetAddr = { transport: "udp", hostname: addr.hostname, port: addr.port };
    return {
      addr: own,
      send: (bytes, to) => this.#send(own, to, bytes.slice()),
      transfer: (bytes, to) => this.#send(own, to, bytes),
      close: () => {
        if (this.#sockets.get(k) === receive) this.#sockets.delete(k);
      },
    };
  }

  /** A timer that calls `fire(now)` at the deadline it was last armed to. */
  timer(fire: (now: number) => void): SimTimer {
    const t: Timer = { generation: 0, fire };
    return {
      arm: (deadline) => {
        t.generation++;
        if (deadline === undefined) return;
        this.#queue.push(Math.max(deadline, this.now), {
          kind: "timer",
          timer: t,
          generation: t.generation,
        });
      },
      cancel: () => void t.generation++,
    };
  }

  /** Runs `fn` at virtual time `at` (a peer joining, a host dying, …). */
  at(at: number, fn: (now: number) => void): void {
    this.#queue.push(Math.max(at, this.now), { kind: "call", fn });
  }

  /** A seeded random number in [0, 1) (mulberry32), for cores and scenarios. */
  random(): number {
    return this.#prng.next();
  }

  /** Handles the earliest event; false when nothing is left to do. */
  step(): boolean {
    const next = this.#queue.pop();
    if (!next) return false;
    if (next.due > this.now) this.now = next.due;
    const e = next.value;
    switch (e.kind) {
      case "call":
        e.fn(this.now);
        break;
      case "timer":
        if (e.generation === e.timer.generation) {
          e.timer.generation++;
          e.timer.fire(this.now);
        }
        break;
      case "arrive":
        this.#arrive(e.to, e.from, e.bytes);
        break;
      case "deliver": {
        const receive = this.#sockets.get(key(e.to));
        if (!receive) {
          this.stats.unreachable++;
          break;
        }
        const host = this.#host(e.to.hostname);
        host.stats.receivedDatagrams++;
        host.stats.receivedBytes += e.bytes.byteLength;
        receive(e.bytes, e.from, this.now);
        break;
      }
    }
    return true;
  }

  /**
   * Steps until `done()` holds (true), nothing is left to do (false), or the virtual clock passes
   * `maxMs` (false). `maxEvents` bounds the work in case a bug makes cores spin at one instant.
   */
  run(done: () => boolean, options: { maxMs: number; maxEvents?: number }): boolean {
    const maxEvents = options.maxEvents ?? 50_000_000;
    for (let n = 0; n < maxEvents; n++) {
      if (done()) return true;
      const due = this.#queue.peekDue();
      if (due === undefined || due > options.maxMs) return false;
      this.step();
    }
    throw new RangeError(
      `Cannot finish the simulation: more than ${maxEvents} events (at ${this.now} ms)`,
    );
  }

  #host(hostname: string): Host {
    const h = this.#hosts.get(hostname);
    if (!h) throw new TypeError(`Cannot find host: ${hostname}`);
    return h;
  }

  #linkOf(a: string, b: string): SimLink {
    if (this.#links.size === 0) return this.#defaultLink;
    return this.#links.get(`${a}>${b}`) ?? this.#defaultLink;
  }

  #send(from: Deno.NetAddr, to: SimAddr, bytes: Uint8Array): void {
    const host = this.#host(from.hostname);
    const wire = bytes.byteLength + UDP_IP_OVERHEAD;
    this.stats.sent++;
    const up = host.options.upload;
    const start = Math.max(this.now, host.upFree);
    let departs: number;
    if (up !== Infinity && host.options.fragmentMtu > 0 && wire > host.options.fragmentMtu) {
      const fragmented = this.#enqueueFragments(host, bytes.byteLength, start);
      if (fragmented === undefined) return;
      departs = fragmented;
    } else {
      if (up !== Infinity && (start - this.now) * up + wire > host.options.queueBytes) {
        host.stats.queueDrops++;
        this.stats.queueDrops++;
        return;
      }
      departs = up === Infinity ? start : start + wire / up;
      host.stats.sentWireBytes += wire;
    }
    host.upFree = departs;
    host.stats.sentDatagrams++;
    host.stats.sentBytes += bytes.byteLength;
    const link = this.#linkOf(from.hostname, to.hostname);
    if (bytes.byteLength > link.mtu) {
      this.stats.mtuDrops++;
      return;
    }
    if (link.loss > 0 && this.random() < link.loss) {
      this.stats.lost++;
      return;
    }
    const copies = link.duplicate > 0 && this.random() < link.duplicate ? 2 : 1;
    this.stats.duplicated += copies - 1;
    for (let i = 0; i < copies; i++) {
      let delay = link.latencyMs;
      if (link.jitterMs > 0) delay += this.random() * link.jitterMs;
      if (link.reorder > 0 && this.random() < link.reorder) {
        delay += this.random() * link.reorderMs;
        this.stats.reordered++;
      }
      this.#queue.push(departs + delay, { kind: "arrive", to, from, bytes });
    }
  }

  /**
   * Queues a datagram of `payload` bytes as IPv4 fragments one by one behind the upload link
   * (see `fragmentMtu`): returns when its last fragment leaves, or undefined when the queue
   * dropped one (the datagram is lost; the fragments that got in still take the link).
   */
  #enqueueFragments(host: Host, payload: number, start: number): number | undefined {
    const up = host.options.upload;
    const perFragment = Math.floor((host.options.fragmentMtu - IP_HEADER) / 8) * 8;
    let left = payload + UDP_IP_OVERHEAD - IP_HEADER;
    let at = start;
    let sent = 0;
    let whole = true;
    while (left > 0) {
      const wire = Math.min(perFragment, left) + IP_HEADER;
      left -= wire - IP_HEADER;
      if ((at - this.now) * up + wire > host.options.queueBytes) {
        whole = false;
        continue;
      }
      at += wire / up;
      sent += wire;
    }
    host.upFree = at;
    host.stats.sentWireBytes += sent;
    if (whole) return at;
    host.stats.wastedWireBytes += sent;
    host.stats.queueDrops++;
    this.stats.queueDrops++;
    return undefined;
  }

  /** A datagram reaches the receiving host: it queues behind the host's download capacity. */
  #arrive(to: SimAddr, from: Deno.NetAddr, bytes: Uint8Array): void {
    const host = this.#hosts.get(to.hostname);
    if (!host) {
      this.stats.unreachable++;
      return;
    }
    const down = host.options.download;
    if (down === Infinity) return this.#queue.push(this.now, { kind: "deliver", to, from, bytes });
    const wire = bytes.byteLength + UDP_IP_OVERHEAD;
    const start = Math.max(this.now, host.downFree);
    if ((start - this.now) * down + wire > host.options.queueBytes) {
      host.stats.queueDrops++;
      this.stats.queueDrops++;
      return;
    }
    host.downFree = start + wire / down;
    this.#queue.push(host.downFree, { kind: "deliver", to, from, bytes });
  }
}
