/**
 * A deterministic, in-memory network for the download engine: a virtual clock, a min-heap of
 * datagrams in flight, seeded randomness, and fake owners that serve block requests the way the
 * real uploader does. Links lose (both ways), delay, jitter, reorder and duplicate datagrams,
 * drop what exceeds the MTU, and an owner's upload runs at a fixed bandwidth behind an optional
 * drop-tail queue. {@link drive} pumps a {@link DownloadEngine} against it; no sockets, no
 * timers, no sleeps.
 *
 * @example Three owners at 5 % loss
 * ```ts ignore
 * const net = new SimNetwork({ seed: 1 });
 * for (const k of ["a", "b", "c"]) net.addOwner(k, { content, loss: 0.05, latencyMs: 10 });
 * const engine = new DownloadEngine({ manifest, blockSize: 1184 });
 * const report = drive(engine, net, { owners: ["a", "b", "c"], output });
 * ```
 * @module
 */
import { pieceHashMatches } from "../../../lib/peer/core/piece_hash.ts";
import type {
  DownloadEngine,
  EngineStats,
  Transmit,
} from "../../../lib/peer/core/download_engine.ts";
import type { ByteRange } from "../../../lib/wire/messages.ts";
import {
  BLOCK_DATA_HEADER_SIZE,
  CONTENT_ID_BYTES,
  HEADER_SIZE,
  MAX_DATAGRAM,
} from "../../../lib/wire/limits.ts";
import type { ContentSource } from "./content.ts";
import { EventQueue } from "../../../lib/sim/event_queue.ts";
import { Prng } from "../../../lib/sim/prng.ts";

/** Faults and capacity of the link between the downloader and one owner. */
export interface LinkOptions {
  /** Probability that a datagram is lost, each direction. @default 0 */
  loss?: number;
  /** Overrides `loss` for block requests (downloader → owner). */
  requestLoss?: number;
  /** Overrides `loss` for block data and errors (owner → downloader). */
  dataLoss?: number;
  /** One-way delay, ms. @default 10 */
  latencyMs?: number;
  /** Extra delay per datagram, uniform in [0, jitterMs), ms; reorders closely spaced ones. @default 0 */
  jitterMs?: number;
  /** Probability that a datagram is held back by an extra [0, reorderMs) ms. @default 0 */
  reorder?: number;
  /** @default 20 */
  reorderMs?: number;
  /** Probability that a datagram arrives twice. @default 0 */
  duplicate?: number;
  /** The owner's upload rate in bytes per ms (1000 = 1 MB/s); datagrams queue behind it. @default Infinity */
  bandwidth?: number;
  /** Bytes the owner's upload queue holds; datagrams beyond it are dropped. @default Infinity */
  queueBytes?: number;
  /** Largest UDP payload the path carries; larger datagrams are dropped. @default 65507 */
  mtu?: number;
}

/** A fake owner: what it serves and how it misbehaves. */
export interface SimOwnerOptions extends LinkOptions {
  content: ContentSource;
  /** From this virtual time on the owner sends nothing and ignores requests. @default Infinity */
  vanishAt?: number;
  /** Flip a byte of some blocks: a probability per block, or a predicate on the block offset. */
  corrupt?: number | ((offset: number, length: number) => boolean);
  /** Answer every request with ERROR `unknown_content`. @default false */
  unknownContent?: boolean;
}

/** What one owner saw and did. */
export interface OwnerCounters {
  /** Request datagrams that reached the owner. */
  requests: number;
  /** Bytes those requests asked for. */
  requestedBytes: number;
  blocksSent: number;
  bytesSent: number;
  corruptBlocks: number;
  /** Blocks dropped because the upload queue was full. */
  queueDrops: number;
}

/** Datagram counters for the whole network. */
export interface NetworkStats {
  requestsSent: number;
  requestsLost: number;
  /** Blocks the lost requests asked for: never sent, so they must be requested again. */
  blocksUnrequested: number;
  blocksSent: number;
  blocksLost: number;
  /** Extra copies created by duplication (both directions). */
  duplicated: number;
  /** Datagrams delayed by the `reorder` fault. */
  reordered: number;
  /** Datagrams larger than the path MTU. */
  mtuDrops: number;
}

/** What the downloader receives. */
export type Delivery =
  | { kind: "data"; owner: string; offset: number; data: Uint8Array }
  | { kind: "error"; owner: string; code: "unknown_content" | "out_of_range" };

type Packet =
  | { kind: "request"; owner: SimOwner; ranges: ByteRange[]; blockSize: number }
  | { kind: "data"; owner: SimOwner; offset: number; length: number; corrupt: boolean }
  | { kind: "error"; owner: SimOwner; code: "unknown_content" | "out_of_range" }
  | { kind: "call"; fn: (now: number) => void };

/** Bytes of a block request datagram with `n` ranges (see lib/wire/codec.ts). */
export function requestDatagramSize(n: number): number {
  return HEADER_SIZE + CONTENT_ID_BYTES + 4 + 1 + 12 * n;
}

/** A fake owner on the simulated network. */
export class SimOwner {
  readonly key: string;
  readonly content: ContentSource;
  readonly link: Required<Omit<LinkOptions, "requestLoss" | "dataLoss">> & {
    requestLoss: number;
    dataLoss: number;
  };
  readonly vanishAt: number;
  readonly corrupt: SimOwnerOptions["corrupt"];
  readonly unknownContent: boolean;
  readonly counters: OwnerCounters = {
    requests: 0,
    requestedBytes: 0,
    blocksSent: 0,
    bytesSent: 0,
    corruptBlocks: 0,
    queueDrops: 0,
  };
  /** When the upload link is free again. */
  linkFree = 0;

  constructor(key: string, options: SimOwnerOptions) {
    this.key = key;
    this.content = options.content;
    const loss = options.loss ?? 0;
    this.link = {
      loss,
      requestLoss: options.requestLoss ?? loss,
      dataLoss: options.dataLoss ?? loss,
      latencyMs: options.latencyMs ?? 10,
      jitterMs: options.jitterMs ?? 0,
      reorder: options.reorder ?? 0,
      reorderMs: options.reorderMs ?? 20,
      duplicate: options.duplicate ?? 0,
      bandwidth: options.bandwidth ?? Infinity,
      queueBytes: options.queueBytes ?? Infinity,
      mtu: options.mtu ?? MAX_DATAGRAM,
    };
    this.vanishAt = options.vanishAt ?? Infinity;
    this.corrupt = options.corrupt;
    this.unknownContent = options.unknownContent ?? false;
  }
}

/** Options for {@link SimNetwork}. */
export interface SimNetworkOptions {
  /** Seed of every random choice; equal seeds and equal traffic give equal runs. */
  seed: number;
}

/** The simulated network and its virtual clock (ms). */
export class SimNetwork {
  /** Virtual time, ms. */
  now = 0;
  readonly stats: NetworkStats = {
    requestsSent: 0,
    requestsLost: 0,
    blocksUnrequested: 0,
    blocksSent: 0,
    blocksLost: 0,
    duplicated: 0,
    reordered: 0,
    mtuDrops: 0,
  };
  readonly #queue = new EventQueue<Packet>();
  readonly #owners = new Map<string, SimOwner>();
  readonly #prng: Prng;

  constructor(options: SimNetworkOptions) {
    this.#prng = new Prng(options.seed);
  }

  /** Adds a fake owner reachable as `key`. */
  addOwner(key: string, options: SimOwnerOptions): SimOwner {
    if (this.#owners.has(key)) throw new TypeError(`Cannot add owner: ${key} exists`);
    const o = new SimOwner(key, options);
    this.#owners.set(key, o);
    return o;
  }

  owner(key: string): SimOwner {
    const o = this.#owners.get(key);
    if (!o) throw new TypeError(`Cannot find owner: ${key}`);
    return o;
  }

  get owners(): SimOwner[] {
    return [...this.#owners.values()];
  }

  /** Runs `fn` at virtual time `at` (a tracker answer, an owner joining, …). */
  at(at: number, fn: (now: number) => void): void {
    this.#queue.push(Math.max(at, this.now), { kind: "call", fn });
  }

  /** Sends a block request from the downloader. */
  send(t: Transmit, blockSize: number): void {
    const owner = this.owner(t.owner);
    this.stats.requestsSent++;
    const packet: Packet = { kind: "request", owner, ranges: t.ranges, blockSize };
    const size = requestDatagramSize(t.ranges.length);
    if (!this.#transit(owner, owner.link.requestLoss, this.now, size, packet)) {
      this.stats.requestsLost++;
      for (const r of t.ranges) this.stats.blocksUnrequested += Math.ceil(r.length / blockSize);
    }
  }

  /** When the next datagram or scheduled call is due, or undefined when nothing is in flight. */
  nextDue(): number | undefined {
    return this.#queue.peekDue();
  }

  /** Moves the clock forward (never back). */
  advanceTo(t: number): void {
    if (t > this.now) this.now = t;
  }

  /**
   * Advances to the earliest event and handles it. Returns what the downloader receives, or
   * undefined when the event happened elsewhere (an owner got a request, a call ran).
   */
  step(): Delivery | undefined {
    const next = this.#queue.pop();
    if (!next) return undefined;
    this.advanceTo(next.due);
    const p = next.value;
    switch (p.kind) {
      case "call":
        p.fn(this.now);
        return undefined;
      case "request":
        this.#serve(p.owner, p.ranges, p.blockSize);
        return undefined;
      case "error":
        return { kind: "error", owner: p.owner.key, code: p.code };
      case "data": {
        let data = p.owner.content.read(p.offset, p.length);
        if (p.corrupt) {
          data = data.slice();
          data[data.length >> 1]! ^= 0x5a;
        }
        return { kind: "data", owner: p.owner.key, offset: p.offset, data };
      }
    }
  }

  #random(): number {
    return this.#prng.next();
  }

  /** Puts a datagram on the wire at `sentAt`; false when it is dropped. */
  #transit(owner: SimOwner, loss: number, sentAt: number, size: number, packet: Packet): boolean {
    const link = owner.link;
    if (size > link.mtu) {
      this.stats.mtuDrops++;
      return false;
    }
    if (loss > 0 && this.#random() < loss) return false;
    const copies = link.duplicate > 0 && this.#random() < link.duplicate ? 2 : 1;
    this.stats.duplicated += copies - 1;
    for (let i = 0; i < copies; i++) {
      let delay = link.latencyMs;
      if (link.jitterMs > 0) delay += this.#random() * link.jitterMs;
      if (link.reorder > 0 && this.#random() < link.reorder) {
        delay += this.#random() * link.reorderMs;
        this.stats.reordered++;
      }
      this.#queue.push(sentAt + delay, packet);
    }
    return true;
  }

  /** The owner answers a request like the real uploader: each range cut into `blockSize` blocks. */
  #serve(owner: SimOwner, ranges: ByteRange[], blockSize: number): void {
    if (this.now >= owner.vanishAt) return;
    owner.counters.requests++;
    if (owner.unknownContent) {
      this.#reply(owner, { kind: "error", owner, code: "unknown_content" });
      return;
    }
    const link = owner.link;
    for (const r of ranges) {
      owner.counters.requestedBytes += r.length;
      const end = r.offset + r.length;
      if (end > owner.content.size) {
        this.#reply(owner, { kind: "error", owner, code: "out_of_range" });
        continue;
      }
      for (let offset = r.offset; offset < end; offset += blockSize) {
        const length = Math.min(blockSize, end - offset);
        const size = BLOCK_DATA_HEADER_SIZE + length;
        const start = Math.max(this.now, owner.linkFree);
        if ((start - this.now) * link.bandwidth + size > link.queueBytes) {
          owner.counters.queueDrops++;
          continue;
        }
        const departs = link.bandwidth === Infinity ? start : start + size / link.bandwidth;
        owner.linkFree = departs;
        if (departs >= owner.vanishAt) continue;
        const c = owner.corrupt;
        const corrupt = c === undefined
          ? false
          : typeof c === "number"
          ? this.#random() < c
          : c(offset, length);
        owner.counters.blocksSent++;
        owner.counters.bytesSent += length;
        if (corrupt) owner.counters.corruptBlocks++;
        this.stats.blocksSent++;
        const packet: Packet = { kind: "data", owner, offset, length, corrupt };
        if (!this.#transit(owner, link.dataLoss, departs, size, packet)) this.stats.blocksLost++;
      }
    }
  }

  #reply(owner: SimOwner, packet: Packet): void {
    this.#transit(owner, owner.link.dataLoss, this.now, HEADER_SIZE + 4, packet);
  }
}

/** Options for {@link drive}. */
export interface DriveOptions {
  /** Owners added before `start()` (the S/N split). */
  owners: string[];
  /** Where verified pieces are written, at their offset. */
  output?: Uint8Array;
  /** Called for every verified piece (for files too large to hold). */
  onPiece?: (index: number, offset: number, data: Uint8Array, now: number) => void;
  /** Owners a tracker re-query returns when the engine emits `need_owners`. @default [] */
  reserve?: string[];
  /** How long the tracker re-query takes, ms. @default 50 */
  requeryMs?: number;
  /** Owners that join later: added at virtual time `at`. @default [] */
  joins?: { owner: string; at: number }[];
  /**
   * For an engine made with `verifyInWorker`: the piece hashes to check `verify` events against,
   * how long the "worker" takes, and whether the piece buffer is transferred to it (detached) and
   * handed back with the verdict, as `PieceWriter` does. Good pieces go to `output`/`onPiece`.
   */
  verify?: { hashes: Uint8Array; delayMs?: number; transfer?: boolean };
  /** Called for every block request the engine sends. */
  onRequest?: (t: Transmit, now: number) => void;
  /**
   * A round trip measured before the transfer (the PROBE's, as DownloadCore passes it), given to
   * `addOwner` for every owner. @default none (the engine's blind 250 ms first timeout)
   */
  rttHintMs?: number;
  /**
   * A busy host: the downloader is descheduled for the last `offMs` of every `periodMs` (its
   * clock jumps across the gap), and each datagram costs it `processMs`. Datagrams that reach it
   * meanwhile queue, as in a socket buffer, and are handled one after another when it runs
   * again, its requests and timers waiting too; the owners keep serving. @default none
   */
  stall?: { periodMs: number; offMs: number; processMs: number };
  /** Give up after this many loop iterations. @default 2_000_000 */
  maxSteps?: number;
  /** Give up at this virtual time, ms. @default 3_600_000 */
  maxTimeMs?: number;
}

/** How a drive ended and what it cost. */
export interface DriveReport {
  /**
   * `done`: the engine said so. `no_owners`: nothing left to do and no live owner (the driver's
   * "no honest owner is left" failure). `stuck`: live owners but nothing in flight and no timer
   * (an engine bug). `step_limit` / `time_limit`: the bounds were hit.
   */
  outcome: "done" | "no_owners" | "stuck" | "step_limit" | "time_limit";
  /** Virtual time at the end, ms. */
  timeMs: number;
  steps: number;
  /** Block request datagrams and the bytes they asked for. */
  requests: number;
  requestedBytes: number;
  pieces: number;
  badPieces: { index: number; owners: string[] }[];
  dropped: { owner: string; reason: string; at: number }[];
  needOwners: number;
  /** Virtual time from 95 % of the bytes verified to done (the endgame), ms. */
  tailMs: number;
  /** handleTimeout calls whose next deadline was not in the future (re-fired at once). */
  immediateTimeouts: number;
  engine: EngineStats;
  net: NetworkStats;
}

/**
 * Pumps `engine` against `net` until it is done, idle or out of bounds: jumps the clock to the
 * earliest of the next delivery and `engine.pollTimeout()`, feeds `handleBlock` / `handleError` /
 * `handleTimeout`, sends everything `pollTransmit` yields and handles every event. A timer that
 * keeps firing without the clock moving is a livelock and throws.
 */
export function drive(engine: DownloadEngine, net: SimNetwork, options: DriveOptions): DriveReport {
  const maxSteps = options.maxSteps ?? 2_000_000;
  const maxTime = options.maxTimeMs ?? 3_600_000;
  const blockSize = engine.layout.blockSize;
  const reserve = [...(options.reserve ?? [])];
  const report: DriveReport = {
    outcome: "stuck",
    timeMs: 0,
    steps: 0,
    requests: 0,
    requestedBytes: 0,
    pieces: 0,
    badPieces: [],
    dropped: [],
    needOwners: 0,
    immediateTimeouts: 0,
    tailMs: 0,
    engine: engine.stats,
    net: net.stats,
  };
  const written = new Uint8Array(engine.layout.pieceCount);
  let done = false;
  let at95: number | undefined;

  const flush = (): void => {
    if (at95 === undefined && engine.stats.verifiedBytes >= 0.95 * engine.layout.size) {
      at95 = net.now;
    }
    for (let t = engine.pollTransmit(net.now); t; t = engine.pollTransmit(net.now)) {
      report.requests++;
      for (const r of t.ranges) report.requestedBytes += r.length;
      options.onRequest?.(t, net.now);
      net.send(t, blockSize);
    }
    for (let ev = engine.pollEvent(); ev; ev = engine.pollEvent()) {
      switch (ev.kind) {
        case "verify":
          if (!verify) throw new Error("Engine emitted verify without verifyInWorker");
          onVerify(ev.index, ev.offset, ev.data);
          break;
        case "piece":
          if (verify) throw new Error("Engine emitted piece with verifyInWorker");
          if (written[ev.index]) throw new Error(`Engine emitted piece ${ev.index} twice`);
          written[ev.index] = 1;
          report.pieces++;
          options.output?.set(ev.data, ev.offset);
          options.onPiece?.(ev.index, ev.offset, ev.data, net.now);
          break;
        case "bad_piece":
          report.badPieces.push({ index: ev.index, owners: ev.owners });
          break;
        case "owner_dropped":
          report.dropped.push({ owner: ev.owner, reason: ev.reason, at: net.now });
          break;
        case "need_owners": {
          report.needOwners++;
          const found = reserve.splice(0);
          if (found.length > 0) {
            net.at(net.now + (options.requeryMs ?? 50), (now) => {
              for (const k of found) engine.addOwner(k, now, hint);
            });
          }
          break;
        }
        case "done":
          if (done) throw new Error("Engine emitted done twice");
          if (!engine.done) throw new Error("Engine emitted done before every piece");
          done = true;
          break;
      }
    }
  };

  const verify = options.verify;
  const onVerify = (index: number, offset: number, data: Uint8Array): void => {
    const ok = pieceHashMatches(data, verify!.hashes, index);
    if (ok) {
      options.output?.set(data, offset);
      options.onPiece?.(index, offset, data, net.now);
    }
    let back: Uint8Array | undefined;
    if (verify!.transfer) {
      const moved = structuredClone(data.buffer, { transfer: [data.buffer as ArrayBuffer] });
      back = new Uint8Array(moved);
    }
    net.at(net.now + (verify!.delayMs ?? 0), (now) => {
      if (ok) {
        if (written[index]) throw new Error(`Piece ${index} verified twice`);
        written[index] = 1;
        report.pieces++;
      }
      engine.handleVerified(index, ok, now, back);
    });
  };

  const hint = options.rttHintMs;
  for (const k of options.owners) engine.addOwner(k, net.now, hint);
  for (const j of options.joins ?? []) {
    net.at(j.at, (now) => engine.addOwner(j.owner, now, hint));
  }
  engine.start(net.now);
  flush();
  let stale = 0;
  const stall = options.stall;
  // With `stall`: datagrams that reached the downloader, not yet handled, and when it is next free
  const held: Delivery[] = [];
  let free = 0;
  /** The first time at or after `t` when the downloader runs. */
  const awake = (t: number): number => {
    const { periodMs, offMs } = stall!;
    const into = t % periodMs;
    return into < periodMs - offMs ? t : t - into + periodMs;
  };
  /** One step of the busy-host loop: undefined after a downloader action (flush), "continue" after a network step. */
  const stallStep = (): DriveReport["outcome"] | "continue" | undefined => {
    const tNet = net.nextDue();
    const ready = Math.max(free, net.now);
    const tHeld = held.length > 0 ? awake(ready) : undefined;
    const timer = engine.pollTimeout();
    const tTimer = timer === undefined ? undefined : awake(Math.max(timer, ready));
    const tMine = tHeld === undefined
      ? tTimer
      : tTimer === undefined
      ? tHeld
      : Math.min(tHeld, tTimer);
    if (tNet === undefined && tMine === undefined) {
      return engine.liveOwners.length > 0 ? "stuck" : "no_owners";
    }
    if (tNet !== undefined && (tMine === undefined || tNet < tMine)) {
      if (tNet > maxTime) return "time_limit";
      const d = net.step();
      if (d) held.push(d);
      return "continue";
    }
    if (tMine! > maxTime) return "time_limit";
    net.advanceTo(tMine!);
    if (tMine === tHeld) {
      const d = held.shift()!;
      if (d.kind === "data") engine.handleBlock(d.owner, d.offset, d.data, net.now);
      else engine.handleError(d.owner, d.code, net.now);
    } else {
      engine.handleTimeout(net.now);
    }
    free = net.now + stall!.processMs;
    return undefined;
  };
  while (!done) {
    if (++report.steps > maxSteps) {
      report.outcome = "step_limit";
      break;
    }
    if (stall) {
      const r = stallStep();
      if (r === "continue") continue;
      if (r !== undefined) {
        report.outcome = r;
        break;
      }
      flush();
      continue;
    }
    const tNet = net.nextDue();
    const tTimer = engine.pollTimeout();
    if (tNet === undefined && tTimer === undefined) {
      report.outcome = engine.liveOwners.length > 0 ? "stuck" : "no_owners";
      break;
    }
    const timerFirst = tTimer !== undefined && (tNet === undefined || tTimer < tNet);
    if (Math.max(net.now, timerFirst ? tTimer : tNet!) > maxTime) {
      report.outcome = "time_limit";
      break;
    }
    if (timerFirst) {
      net.advanceTo(tTimer);
      engine.handleTimeout(net.now);
      const again = engine.pollTimeout();
      if (again !== undefined && again <= net.now) {
        report.immediateTimeouts++;
        if (++stale > 100) {
          throw new Error(
            `Livelock: pollTimeout() returns ${again} at ${net.now} after handleTimeout()`,
          );
        }
      } else {
        stale = 0;
      }
    } else {
      const d = net.step();
      if (d?.kind === "data") engine.handleBlock(d.owner, d.offset, d.data, net.now);
      else if (d?.kind === "error") engine.handleError(d.owner, d.code, net.now);
    }
    flush();
  }
  if (done) report.outcome = "done";
  report.timeMs = net.now;
  report.tailMs = net.now - (at95 ?? net.now);
  return report;
}

/** One line of figures for a scenario: virtual time, goodput, retransmits, duplicates. */
export function summary(name: string, size: number, r: DriveReport): string {
  const mbps = r.timeMs > 0 ? size / r.timeMs / 1000 : Infinity;
  const e = r.engine;
  const n = r.net;
  return `${name}: ${r.outcome} in ${r.timeMs.toFixed(0)} ms virtual, ${mbps.toFixed(2)} MB/s; ` +
    `lost ${n.requestsLost}/${n.requestsSent} requests (${n.blocksUnrequested} blocks) and ` +
    `${n.blocksLost}/${n.blocksSent} blocks; ${e.retransmits} retransmits ` +
    `(${e.spuriousRetransmits} spurious), ${e.timeouts} timeouts, ` +
    `${e.duplicateBlocks} duplicate blocks (${n.duplicated} duplicated by the network), ` +
    `last 5 % in ${r.tailMs.toFixed(0)} ms`;
}
