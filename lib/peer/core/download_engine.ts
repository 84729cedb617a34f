/**
 * The download engine: a pure state machine (no sockets, no timers, no disk, no clock) that
 * decides which blocks to request from which owner, detects loss, adapts windows, verifies
 * pieces and reacts to dead or lying owners.
 *
 * Drive it with `handleBlock` / `handleError` / `handleTimeout` / `addOwner` / `removeOwner`
 * (and `pauseOwner` / `resumeOwner` while the driver renews an owner's address cookie) and drain
 * it with `pollTransmit` (block requests to send), `pollEvent` (verified pieces to
 * write, bad pieces, dropped owners, "need more owners", "done") and `pollTimeout` (when to call
 * `handleTimeout` next).
 *
 * Its parts: {@link PiecePicker} (piece_picker.ts) chooses the blocks each owner is asked for
 * (the S/N split, orphans, work stealing, endgame); {@link OwnerState} (owner_state.ts) holds each
 * owner's requests in flight, RTT, congestion window and deadlines; `pieceHashMatches`
 * (piece_hash.ts) checks a complete piece. The engine routes events between them, keeps the
 * global limits (bytes in flight, piece buffers), and decides what loss, silence and bad data do.
 * At about 790 lines it is over the usual 600: a third is the documented options and events of
 * its public API, and the handlers below share the loss, drop and verification rules that a
 * further split would spread over two files.
 *
 * Per owner, loss recovery and windows work like this (tests/peer/sim/ exercises each rule;
 * docs/TRANSFER.md, _Reliability_, says why):
 * - Loss by evidence: a block is lost when a block requested after it arrived and it is overdue
 *   by that block's RTT plus a reordering window (RACK, RFC 8985), or `lossThreshold` places
 *   behind it, and is asked for again at once. Answers to re-requests a min RTT after them count
 *   too (RFC 8985 §6.2), unless the late first answer is likelier (its round trip is nearer the
 *   smoothed RTT, or half the owner's recent losses were spurious). Lost requests are found the
 *   same way. Spurious losses widen the tolerance when they are a large share of an owner's
 *   losses.
 * - A probe timeout (SRTT + 4·RTTVAR, ≥ 1 ms, seeded by the PROBE's RTT) fires only when an
 *   owner answered nothing: it asks for new blocks as probes (RFC 9002 §6.2.4), and only at the
 *   tail declares the silent blocks lost; backoff ends at any answer; 5 PTOs in a row without
 *   one collapse the window and give the owner's work back.
 * - The congestion window (CongestionWindow) is steered by queueing delay; losses without a
 *   queue are random and do not shrink it; bytes in flight are held to the receive budget, raised
 *   for the owner's loss rate; a delivery-rate cap bounds shallow buffers.
 * - A silent owner is dropped after `stallMs`; the endgame duplicates a block only where another
 *   owner would deliver it sooner.
 * - An optional trace (transfer_trace.ts) records windows, delays, losses and probe timeouts.
 * @module
 */
import type { ByteRange } from "../../wire/messages.ts";
import { BlockLayout } from "./block_layout.ts";
import type { BudgetShare } from "./download_budget.ts";
import type { DelaySample } from "./congestion_window.ts";
import { MAX_COVERED_LOSS, type Outstanding, OwnerState } from "./owner_state.ts";
import { pieceHashMatches } from "./piece_hash.ts";
import { type ActivePiece, PiecePicker } from "./piece_picker.ts";
import { TransferTrace, type TransferTraceRecord } from "./transfer_trace.ts";

/** Probe timeouts in a row without an answer after which an owner's path counts as congested or dead. */
export const PERSISTENT_PTOS = 5;

/** An owner's recent block loss rate below which its requests ask for whole quarter windows. */
const CLEAN_LOSS_RATE = 0.01;
/**
 * An owner's recent block loss rate below which `minBatchBlocks` applies: a path losing more asks
 * an eighth of a window at a time, a lost request costing little.
 */
const BATCH_LOSS_RATE = 0.03;
/** Blocks of new work a probe timeout asks for beyond the window. */
export const PROBE_BLOCKS = 2;

/** What the engine needs of a manifest. */
export interface EngineManifest {
  /** File size in bytes. */
  size: number;
  /** Bytes per piece (the last may be shorter). */
  pieceSize: number;
  /** 32 bytes of SHA-256 per piece. */
  pieceHashes: Uint8Array;
}

/** Options for {@link DownloadEngine}. */
export interface DownloadEngineOptions {
  /** The file's layout and piece hashes. */
  manifest: EngineManifest;
  /** Data bytes per block (one datagram); see {@link BlockLayout.blockSizeFor}. */
  blockSize: number;
  /** Pieces already verified on disk (resume). */
  verifiedPieces?: Iterable<number>;
  /** Cap on bytes in flight over all owners (the receiver's socket buffer is ~208 KiB). @default 196608 */
  maxInFlight?: number;
  /**
   * Cap on bytes in flight from one owner (when each owner answers to its own socket, this is one
   * socket's buffer while `maxInFlight` is the sum). @default maxInFlight
   */
  maxOwnerInFlight?: number;
  /** Cap on piece buffers held in memory. @default 64 */
  maxActivePieces?: number;
  /**
   * An owner with requests outstanding and no data for this long is dropped, ms. Its timeouts
   * (initial and backed off) are kept to at most an eighth of this, so it is probed about 8 times
   * first: at 20 % loss each way an honest owner is dropped with odds of about 3 in 10 000.
   * @default 5000
   */
  stallMs?: number;
  /** Bad pieces (single source) after which an owner is dropped. @default 2 */
  maxStrikes?: number;
  /**
   * Blocks an owner may send that it was not asked for (not outstanding at it, not declared lost
   * there, not taken back from it recently) before it is dropped and banned, like an owner that
   * sends bad pieces. Such blocks are never put into a piece: one owner cannot spoil pieces
   * fetched from the others. Honest owners send none (a late answer to a request taken back is
   * remembered as asked). @default 64
   */
  maxUnaskedBlocks?: number;
  /**
   * A block is lost once a block requested this many places later from the same owner arrived
   * (or, whatever the count, once it is overdue by the RACK reordering window). Doubled for an
   * owner, up to 64, while a quarter or more of its losses turn out spurious. @default 3
   */
  lossThreshold?: number;
  /** Emit `need_owners` while fewer live owners than this remain. @default 1 */
  wantOwners?: number;
  /**
   * Floor of the probe timeout (smoothed RTT + 4 × RTT variance), ms: the timer granularity of
   * RFC 9002 §6.2. @default 1
   */
  minRtoMs?: number;
  /** Queueing delay each owner's congestion window aims for, ms (see CongestionWindow). @default 5 */
  targetDelayMs?: number;
  /**
   * Hand complete pieces to the driver (`verify` events, answered by `handleVerified`) instead
   * of hashing them inline, so hashing and writing run on a Worker (the driver's `PieceWriter`;
   * the peer option of the same name). The driver writes good pieces itself: no `piece` events
   * are emitted in this mode. @default false
   */
  verifyInWorker?: boolean;
  /**
   * Allocates a piece buffer (the engine pools them). A driver that verifies on another thread
   * can hand out views of SharedArrayBuffers, so pieces are shared rather than transferred.
   * @default (size) => new Uint8Array(size)
   */
  newPieceBuffer?: (size: number) => Uint8Array;
  /** Random numbers in [0, 1) for the piece picker's rarest first. @default Math.random */
  random?: () => number;
  /** The piece picker's `randomStart` (a swarming download). @default false */
  randomStart?: boolean;
  /**
   * Blocks a request asks for at least (at most half the owner's window), on a path past slow
   * start that loses under 3 % (a lossless start and a lossy path are as before): in a swarm every
   * owner's window is small, so a request per block would spend a tenth of the downloader's own
   * upload, which other downloaders need, on BLOCK_REQUESTs (measured in the simulator: 4.4 % of
   * the downloaders' upload at 1,452-byte blocks; 1.8 % with 4). @default 1
   */
  minBatchBlocks?: number;
  /**
   * Tells whether nothing queues between an owner and this download's socket but that socket's
   * own buffer (an owner on this host's loopback, whose sends go straight into the receive buffer
   * the windows are sized to). While no owner is partial, such an owner's path whose window left
   * slow start on queueing delay alone (no loss) still counts as clean, so its requests ask for
   * all the room once a quarter window is free; an owner behind an uplink queue would send that
   * as one burst into it, so every other path past slow start asks an eighth of its window at a
   * time, as a lossy one does. On loopback the eighths were ~5k requests per GiB from one owner
   * and ~6-7k from three, each waking an owner (docs/TRANSFER.md, _Downloader CPU, sixth
   * round_). Asked once per owner, when it is added. @default false for every owner
   */
  noUplinkQueue?: (owner: string) => boolean;
  /**
   * Each owner's initial congestion window, blocks. A swarming download starts smaller: nine
   * requesters hold an uploader's slots at once, and nine windows of 4 blocks of 32 KiB overflow
   * its 256 KiB queue before any delay signal comes back. @default 4
   */
  initialWindowBlocks?: number;
  /**
   * Receives a trace of each owner's window, delay and losses (sampled at most every
   * `traceIntervalMs` per owner) and of every probe timeout and dropped owner; see
   * transfer_trace.ts. @default none
   */
  trace?: ((record: TransferTraceRecord) => void) | undefined;
  /** Least time between two trace samples of one owner, ms. @default 10 */
  traceIntervalMs?: number;
  /**
   * This download's share of the peer's download rate cap (download_budget.ts): requests are
   * sent only for bytes it allows, so owners never send more than the cap. @default no cap
   */
  budget?: BudgetShare | undefined;
}

/** Something the driver must act on. */
export type EngineEvent =
  /** A verified piece: write `data` at `offset`. `data` is valid until the next engine call. */
  | { kind: "piece"; index: number; offset: number; data: Uint8Array }
  /**
   * With `verifyInWorker`: a complete piece to hash (and write if good); answer with
   * `handleVerified`. `data` is a view from offset 0 of the piece buffer, untouched by the engine
   * until then; the driver may transfer that buffer and hand it back with the verdict.
   */
  | { kind: "verify"; index: number; offset: number; data: Uint8Array }
  /** A piece failed verification and will be fetched again. */
  | { kind: "bad_piece"; index: number; owners: string[] }
  /** An owner was dropped from this download. */
  | { kind: "owner_dropped"; owner: string; reason: string }
  /** Fewer live owners than wanted remain: ask the tracker again. */
  | { kind: "need_owners"; live: number }
  /** Every piece is verified. */
  | { kind: "done" };

/** A block request for the driver to encode and send. */
export interface Transmit {
  /** The owner to send the BLOCK_REQUEST to. */
  owner: string;
  /** The byte ranges it asks for. */
  ranges: ByteRange[];
}

/** Counters a driver can show. */
export interface EngineStats {
  /** Bytes of pieces verified (resumed ones included). */
  verifiedBytes: number;
  /** Block payload bytes received, duplicates included. */
  receivedBytes: number;
  /** Blocks received that were already held. */
  duplicateBlocks: number;
  /** Blocks from an owner that is not (or no longer) in use. */
  strayBlocks: number;
  /** Blocks a live owner sent that were not asked of it (or match no block); never used. */
  unaskedBlocks: number;
  /** Payload bytes of {@link unaskedBlocks}. */
  unaskedBytes: number;
  /** Blocks asked for again. */
  retransmits: number;
  /** Bytes of the blocks counted in `retransmits` (each asked for again). */
  retransmittedBytes: number;
  /** Blocks declared lost that arrived after all (reordering, not loss). */
  spuriousRetransmits: number;
  /** Pieces that failed verification. */
  badPieces: number;
  /** Requests that timed out. */
  timeouts: number;
}

/**
 * The download engine (see the module doc for its rules): `handle*(…, now)` calls in,
 * `pollTransmit(now)` / `pollEvent()` / `pollTimeout()` out.
 *
 * @example Fetch a one-piece file from one owner on a virtual clock
 * ```ts
 * import assert from "node:assert/strict";
 * import { createHash } from "node:crypto";
 * import { DownloadEngine } from "./download_engine.ts";
 *
 * // 3000 bytes in one piece, fetched in blocks of 1000 bytes.
 * const file = new Uint8Array(3000).map((_, i) => i % 251);
 * const pieceHashes = new Uint8Array(createHash("sha256").update(file).digest());
 * const engine = new DownloadEngine({
 *   manifest: { size: file.length, pieceSize: file.length, pieceHashes },
 *   blockSize: 1000,
 * });
 * let now = 0;
 * engine.addOwner("owner-a", now);
 * engine.start(now);
 * for (let t = engine.pollTransmit(now); t; t = engine.pollTransmit(now)) {
 *   // A driver encodes a BLOCK_REQUEST for t.ranges and sends it to t.owner; here the owner
 *   // answers at once, one block per datagram.
 *   now += 1;
 *   for (const { offset, length } of t.ranges) {
 *     for (let at = offset; at < offset + length; at += 1000) {
 *       engine.handleBlock(t.owner, at, file.subarray(at, at + 1000), now);
 *     }
 *   }
 * }
 * const kinds = [];
 * for (let e = engine.pollEvent(); e; e = engine.pollEvent()) kinds.push(e.kind);
 * assert.deepEqual(kinds, ["piece", "done"]); // write the piece, then the download is complete
 * ```
 */
export class DownloadEngine {
  /** Pieces and blocks of the file. */
  readonly layout: BlockLayout;
  readonly #hashes: Uint8Array;
  /** 1 for every verified piece; shareable with an uploader to serve partial downloads. */
  readonly verified: Uint8Array;
  #verifiedCount = 0;
  readonly #owners = new Map<string, OwnerState>();
  /** `#owners` as an array, rebuilt when an owner is added (pollTransmit runs per datagram). */
  #ownerList: OwnerState[] = [];
  readonly #banned = new Set<string>();

  /** Owners dropped for good (bad data or silence). */
  get bannedCount(): number {
    return this.#banned.size;
  }
  readonly #picker: PiecePicker;
  /** The picker's pieces being fetched (one hop less on the per-block path). */
  readonly #active: ReadonlyMap<number, ActivePiece>;
  readonly #events: EngineEvent[] = [];
  readonly #pool: Uint8Array[] = [];
  #release: Uint8Array[] = [];
  #rr = 0;
  readonly #trace: TransferTrace | undefined;
  /** Reused delay samples (one allocation per engine, not per block). */
  readonly #rated: Required<DelaySample> = { queueMs: 0, minRttMs: 0, rate: 0, now: 0 };
  readonly #unrated: DelaySample = { queueMs: 0, minRttMs: 0 };
  /** Requests a probe timeout made (see #probeTimeout), sent before any other. */
  #probes: Transmit[] = [];
  #started = false;
  #doneEmitted = false;
  readonly #budget: BudgetShare | undefined;
  /** When the rate cap lets the requests it held back go (see pollTransmit). */
  #budgetWake: number | undefined;
  readonly #maxInFlight: number;
  readonly #maxOwnerInFlight: number;
  readonly #minBatchBlocks: number;
  readonly #noUplinkQueue: ((owner: string) => boolean) | undefined;
  /** Owners for which {@link DownloadEngineOptions.noUplinkQueue} held when they were added. */
  readonly #unqueued = new Set<string>();
  readonly #initialWindowBlocks: number;
  readonly #maxActive: number;
  readonly #stallMs: number;
  readonly #maxStrikes: number;
  readonly #maxUnasked: number;
  readonly #lossThreshold: number;
  readonly #wantOwners: number;
  readonly #minRtoMs: number;
  readonly #verifyInWorker: boolean;
  readonly #newPieceBuffer: (size: number) => Uint8Array;
  readonly #targetDelayMs: number;
  /** Counters of this download. */
  readonly stats: EngineStats = {
    verifiedBytes: 0,
    receivedBytes: 0,
    duplicateBlocks: 0,
    strayBlocks: 0,
    unaskedBlocks: 0,
    unaskedBytes: 0,
    retransmits: 0,
    retransmittedBytes: 0,
    spuriousRetransmits: 0,
    badPieces: 0,
    timeouts: 0,
  };
  /** Verified bytes present before this run (resume). */
  readonly resumedBytes: number;

  /**
   * Creates an engine with no owners yet.
   *
   * @param options the manifest, block size, budgets and pieces already verified
   */
  constructor(options: DownloadEngineOptions) {
    const m = options.manifest;
    this.layout = new BlockLayout(m.size, m.pieceSize, options.blockSize);
    if (m.pieceHashes.byteLength !== this.layout.pieceCount * 32) {
      throw new RangeError(
        `Cannot start download: manifest has ${
          m.pieceHashes.byteLength / 32
        } hashes for ${this.layout.pieceCount} pieces`,
      );
    }
    this.#hashes = m.pieceHashes;
    this.verified = new Uint8Array(this.layout.pieceCount);
    this.#maxInFlight = options.maxInFlight ?? 192 * 1024;
    this.#maxOwnerInFlight = Math.min(
      this.#maxInFlight,
      options.maxOwnerInFlight ?? this.#maxInFlight,
    );
    this.#maxActive = Math.max(1, options.maxActivePieces ?? 64);
    this.#minBatchBlocks = Math.max(1, options.minBatchBlocks ?? 1);
    this.#noUplinkQueue = options.noUplinkQueue;
    this.#initialWindowBlocks = Math.max(1, options.initialWindowBlocks ?? 4);
    this.#stallMs = options.stallMs ?? 5000;
    this.#maxStrikes = options.maxStrikes ?? 2;
    this.#maxUnasked = options.maxUnaskedBlocks ?? 64;
    this.#lossThreshold = options.lossThreshold ?? 3;
    this.#wantOwners = options.wantOwners ?? 1;
    this.#minRtoMs = options.minRtoMs ?? 1;
    this.#verifyInWorker = options.verifyInWorker ?? false;
    this.#newPieceBuffer = options.newPieceBuffer ?? ((size) => new Uint8Array(size));
    this.#targetDelayMs = options.targetDelayMs ?? 5;
    this.#budget = options.budget;
    this.#trace = options.trace
      ? new TransferTrace(options.trace, options.traceIntervalMs ?? 10)
      : undefined;
    this.#picker = new PiecePicker({
      layout: this.layout,
      verified: this.verified,
      owners: this.#owners,
      maxActivePieces: this.#maxActive,
      pieceBuffer: () => this.#pool.pop() ?? this.#newPieceBuffer(this.layout.pieceSize),
      ...(options.random ? { random: options.random } : {}),
      ...(options.randomStart ? { randomStart: true } : {}),
    });
    this.#active = this.#picker.active;
    let resumed = 0;
    for (const p of options.verifiedPieces ?? []) {
      if (p >= 0 && p < this.layout.pieceCount && !this.verified[p]) {
        this.verified[p] = 1;
        this.#verifiedCount++;
        resumed += this.layout.pieceLength(p);
      }
    }
    this.resumedBytes = resumed;
    this.stats.verifiedBytes = resumed;
  }

  /** True when every piece is verified. */
  get done(): boolean {
    return this.#verifiedCount === this.layout.pieceCount;
  }

  /** Number of verified pieces. */
  get verifiedCount(): number {
    return this.#verifiedCount;
  }

  /** Keys of owners still in use. */
  get liveOwners(): string[] {
    return [...this.#owners.values()].filter((o) => o.alive).map((o) => o.key);
  }

  /** Number of owners still in use (no allocation: safe to call per datagram). */
  get liveOwnerCount(): number {
    let n = 0;
    for (const o of this.#owners.values()) if (o.alive) n++;
    return n;
  }

  /** Verified bytes delivered per owner (including dropped ones). */
  get deliveredByOwner(): Map<string, number> {
    const out = new Map<string, number>();
    for (const o of this.#owners.values()) out.set(o.key, o.delivered);
    return out;
  }

  /** True if this owner was dropped for bad data or refusing the content, and will not be re-added. */
  isBanned(owner: string): boolean {
    return this.#banned.has(owner);
  }

  /**
   * Adds an owner. Before {@link start}, owners share the S/N split; later ones steal work.
   * `rttMs`, a round trip measured before (its PROBE's), times its first requests instead of
   * the 250 ms initial timeout.
   */
  addOwner(key: string, now: number, rttMs?: number): boolean {
    this.#releaseBuffers();
    if (this.#banned.has(key)) return false;
    const existing = this.#owners.get(key);
    if (existing?.alive) return false;
    const o = new OwnerState(key, {
      blockSize: this.layout.blockSize,
      // The window may grow past the receive budget: pollTransmit holds bytes in flight to the
      // budget, raised by the owner's loss allowance (lost blocks take no buffer)
      maxInFlight: this.#maxOwnerInFlight / (1 - MAX_COVERED_LOSS),
      minRtoMs: this.#minRtoMs,
      lossThreshold: this.#lossThreshold,
      targetDelayMs: this.#targetDelayMs,
      stallMs: this.#stallMs,
      initialWindow: this.#initialWindowBlocks * this.layout.blockSize,
    }, now);
    if (existing) o.delivered = existing.delivered;
    if (rttMs !== undefined) o.rtt.seed(rttMs);
    if (this.#noUplinkQueue?.(key)) this.#unqueued.add(key);
    else this.#unqueued.delete(key);
    this.#owners.delete(key);
    this.#owners.set(key, o);
    if (existing) this.#picker.ownerBack(o);
    this.#ownerList = [...this.#owners.values()];
    return true;
  }

  /**
   * Says which pieces an owner has (swarming): `has[p]` is 1 per piece, or undefined when it has
   * all of them (the default). A `scarce` owner (a seed's offer) is asked only for pieces no
   * other owner has. Ignored for an owner not added.
   */
  setAvailability(key: string, has: Uint8Array | undefined, scarce = false): void {
    const o = this.#owners.get(key);
    if (o) this.#picker.setAvailability(o, has, scarce);
  }

  /** An owner that has only some pieces verified one more (a HAVE). */
  addAvailability(key: string, piece: number): void {
    const o = this.#owners.get(key);
    if (o) this.#picker.addAvailability(o, piece);
  }

  /** Whether an owner has a piece that can be started now (it has work beyond its pieces). */
  hasStartable(key: string): boolean {
    const o = this.#owners.get(key);
    return o !== undefined && this.#picker.hasStartable(o);
  }

  /** Pieces being fetched from an owner (0 for an unknown one). */
  activePiecesAt(key: string): number {
    return this.#owners.get(key)?.pieces.size ?? 0;
  }

  /** True while some owner has only some pieces (the picker goes rarest first). */
  get swarming(): boolean {
    return this.#picker.swarming;
  }

  /** Splits the missing pieces into contiguous ranges, one per owner (the seed's S/N plan). */
  start(now: number): void {
    this.#releaseBuffers();
    if (this.#started) return;
    this.#started = true;
    this.#trace?.start(now);
    this.#picker.split([...this.#owners.values()].filter((o) => o.alive));
    this.#checkDone();
  }

  /** The owner's assigned range of not-yet-started pieces, for logs. */
  ownerRange(key: string): [number, number] | undefined {
    const o = this.#owners.get(key);
    return o ? [o.rangeNext, o.rangeEnd] : undefined;
  }

  /**
   * Stops asking an owner for blocks until {@link resumeOwner}, without dropping it: what it has
   * outstanding counts as lost (it was refused), its range and pieces go to the others, and it
   * stays a live owner. For an owner whose address cookie expired while a new one is fetched.
   */
  pauseOwner(key: string, now: number): void {
    this.#releaseBuffers();
    const o = this.#owners.get(key);
    if (!o || !o.alive || o.paused) return;
    o.paused = true;
    this.#loseAll(o, now);
    this.#picker.releaseRange(o);
    this.#picker.releasePieces(o);
  }

  /** Lets a paused owner be asked for blocks again; it steals work like a newly added owner. */
  resumeOwner(key: string, _now: number): void {
    const o = this.#owners.get(key);
    if (o) o.paused = false;
  }

  /** True while an owner is paused (see {@link pauseOwner}). */
  isPaused(key: string): boolean {
    return this.#owners.get(key)?.paused ?? false;
  }

  /** Removes an owner (it left the swarm); its work goes to the others. */
  removeOwner(key: string, reason: string, now: number): void {
    this.#releaseBuffers();
    const o = this.#owners.get(key);
    if (o?.alive) this.#drop(o, reason, now);
  }

  /**
   * A block arrived from `owner`. `data` is copied; the caller may reuse its buffer.
   * Only a block asked of that very owner is used (see `maxUnaskedBlocks`); anything else,
   * including data that matches no block of this file, is counted against the owner and ignored.
   */
  handleBlock(owner: string, offset: number, data: Uint8Array, now: number): void {
    this.#releaseBuffers();
    const o = this.#owners.get(owner);
    if (!o || !o.alive) {
      this.stats.strayBlocks++;
      return;
    }
    const len = data.byteLength;
    const id = this.layout.locate(offset, len);
    if (id < 0 || !o.asked(id)) return this.#unasked(o, len, now);
    // Asked of this owner, but only a request still open (outstanding, or declared lost and so
    // not yet answered) may fill a piece; an answer to a request that ended is a duplicate
    const open = o.outstanding.has(id) || o.lost.has(id);
    this.stats.receivedBytes += len;
    o.received += len;
    o.lastProgress = now;
    const bpp = this.layout.blocksPerPiece;
    const piece = Math.floor(id / bpp);
    const block = id - piece * bpp;
    const out = o.outstanding.get(id);
    // Whether this answers the request declared lost rather than the re-request now outstanding
    let late = false;
    const lostSentAt = o.lost.get(id);
    if (lostSentAt !== undefined) {
      o.lost.delete(id);
      o.remember(id);
      // Declared lost, yet here it is: the first request's answer, unless a re-request to this
      // owner could have been answered already
      late = !out || this.#answersLost(o, now - lostSentAt, now - out.sentAt);
      if (o.rtt.hasSample && (!out || late || now - out.sentAt < o.rtt.minRtt / 2)) {
        this.stats.spuriousRetransmits++;
        o.noteSpurious(now);
      }
    }
    if (out) {
      // The owner answers: the next timeout starts from a fresh RTO (QUIC resets its PTO backoff
      // on any acknowledgement; Karn's rule still keeps ambiguous answers out of the RTT)
      const lastAck = o.lastAck;
      o.lastAck = now;
      o.acked += len;
      o.rtt.resetBackoff();
      o.outstanding.delete(id);
      o.inFlight -= out.length;
      o.noteArrived();
      o.remember(id);
      if (out.retransmitted) {
        // Ambiguous (Karn): no RTT sample. Without any sample yet, the time since the latest
        // request is the best there is (a lower bound); otherwise a lossy start keeps the 250 ms
        // initial RTO for seconds
        const since = now - out.sentAt;
        if (!o.rtt.hasSample) o.rtt.sample(since);
        o.cwnd.onAck(len);
        // An answer a minimum RTT or more after the latest request is taken to answer it (RFC
        // 8985 §6.2: faster, it answers an earlier one): it moves RACK's clock, so on a lossy path
        // the answers to re-requested blocks (often most of them) still reveal losses
        // Not while half this owner's losses turn out spurious: there a late original is
        // the likelier answer, and taken for the re-request's it would declare every request
        // in flight before that lost (whose late answers would do the same)
        const trusted = o.declared < 8 || o.spurious * 2 < o.declared;
        if (since >= o.rtt.minRtt && !late && trusted && out.seq > o.rackSeq) {
          o.rackSeq = out.seq;
          o.rackRtt = since;
          this.#detectLoss(o, now);
        }
      } else {
        const rtt = now - out.sentAt;
        o.rtt.sample(rtt);
        // Delivery rate over this request's round trip, as BBR samples it
        const interval = now - out.ackedAt;
        const sample = interval > 0 && lastAck !== -Infinity ? this.#rated : this.#unrated;
        sample.queueMs = o.rtt.queueDelay;
        sample.minRttMs = o.rtt.minRtt;
        if (sample === this.#rated) {
          this.#rated.rate = (o.acked - out.acked) / interval;
          this.#rated.now = now;
        }
        o.cwnd.onAck(len, sample);
        if (out.seq > o.rackSeq) {
          o.rackSeq = out.seq;
          o.rackRtt = rtt;
        }
        this.#detectLoss(o, now);
      }
      o.release(out); // only whether there was one matters below
      this.#trace?.sample(o, now);
    }
    const ap = this.#active.get(piece);
    if (!open || !ap || ap.received[block] || (ap.exclusive && ap.owner !== owner)) {
      // Already have it, or a late block for a piece now re-fetched from one other owner only
      if (out && ap) this.#picker.unrequest(ap, block);
      this.stats.duplicateBlocks++;
      return;
    }
    const at = block * this.layout.blockSize;
    // Already in place when the driver read it straight into the slot expectedSlot() named
    if (data.buffer !== ap.buffer.buffer || data.byteOffset !== ap.buffer.byteOffset + at) {
      ap.buffer.set(data, at);
    }
    ap.received[block] = 1;
    ap.receivedCount++;
    ap.sourceBytes.set(owner, (ap.sourceBytes.get(owner) ?? 0) + len);
    if (ap.requested[block]! > (out ? 1 : 0)) this.#cancelElsewhere(id, owner);
    ap.requested[block] = 0;
    if (ap.receivedCount === ap.blockCount) this.#finishPiece(ap, now);
  }

  /**
   * Where the block `owner` most likely sends next belongs: the slot of its oldest outstanding
   * request (owners answer in request order) in its piece buffer, while that block has not
   * arrived. A driver may read the next datagram's payload straight into it and pass that view
   * to {@link handleBlock}, which then copies nothing; the slot holds nothing needed until the
   * block arrives, so a datagram that turns out to be another block only costs the copy to
   * where that one belongs. None in the buffer of a piece event not yet polled (it may have gone
   * to a new piece before the driver wrote it); the driver must also have written every piece
   * event it polled (DownloadCore offers no slot while any of its events waits).
   *
   * @param owner the owner whose next block is expected
   * @returns a view of the slot (the block's length), or undefined when none is expected
   */
  expectedSlot(owner: string): Uint8Array | undefined {
    const o = this.#owners.get(owner);
    if (o === undefined || !o.alive) return undefined;
    const out = o.firstOutstanding();
    if (out === undefined) return undefined;
    const ap = this.#active.get(out.piece);
    if (ap === undefined || ap.received[out.block] || ap.verifying) return undefined;
    // A piece event not yet polled may hold a view of this buffer (given to a new piece since)
    for (const e of this.#events) {
      if ((e.kind === "piece" || e.kind === "verify") && e.data.buffer === ap.buffer.buffer) {
        return undefined;
      }
    }
    const at = out.block * this.layout.blockSize;
    return ap.buffer.subarray(at, at + out.length);
  }

  /** The owner answered with an ERROR (`unknown_content`, `busy`, …; codes from ErrorCode). */
  handleError(owner: string, code: "unknown_content" | "out_of_range" | "busy", now: number): void {
    this.#releaseBuffers();
    const o = this.#owners.get(owner);
    if (!o || !o.alive) return;
    // A partial owner may lack a piece we thought it had (a HAVE that raced): not a lie
    if (code === "busy" || (code === "out_of_range" && this.#picker.swarming)) {
      this.#loseAll(o, now);
      o.cwnd.onTimeout(now);
      o.rtt.backoff();
      return;
    }
    this.#banned.add(owner);
    this.#drop(
      o,
      code === "unknown_content" ? "does not share this content" : "disagrees on the file size",
      now,
    );
  }

  /** Timers fired: re-request what timed out, drop stalled owners. */
  handleTimeout(now: number): void {
    this.#releaseBuffers();
    if (this.#budgetWake !== undefined && this.#budgetWake <= now) this.#budgetWake = undefined;
    for (const o of this.#owners.values()) {
      if (!o.alive || o.outstanding.size === 0) continue;
      // Same expression as in pollTimeout(), so a deadline it reports is always met here
      if (o.stallDeadline(this.#stallMs) <= now) {
        this.#drop(o, `sent nothing for ${Math.round(now - o.lastProgress)} ms`, now);
        continue;
      }
      this.#detectLoss(o, now);
      const first = o.outstanding.values().next().value;
      if (first && o.rtoDeadline(first) <= now) {
        this.#probeTimeout(o, first, now);
      }
    }
  }

  /**
   * A probe timeout: nothing from `o` for a PTO while requests are outstanding. As in RFC 9002
   * §6.2.4 the first answer is a probe, not a verdict: up to PROBE_BLOCKS blocks of new work are
   * asked for beyond the window, and their answers let RACK declare the silent requests lost (a
   * late owner then costs no duplicates). With no new work left (the tail), everything sent a
   * PTO ago or earlier is declared lost and asked for again. Only an owner that answered none of
   * PERSISTENT_PTOS timeouts in a row (persistent congestion, §7.6, or a dead owner) collapses
   * its window and gives its unstarted range and pieces back, rather than holding them until the
   * others run out of work or it is dropped.
   */
  #probeTimeout(o: OwnerState, first: Outstanding, now: number): void {
    const firstSent = first.sentAt;
    const pto = o.rtt.rto;
    const lostBefore = o.lostBlocks;
    const persistent = o.rtt.backoffFactor >= 2 ** (PERSISTENT_PTOS - 1);
    this.stats.timeouts++;
    o.timeouts++;
    o.lastPto = now;
    o.rtt.backoff();
    // One block per probe request: a lost request then costs one probe, not all of them
    let probes = 0;
    for (let i = 0; i < PROBE_BLOCKS && !persistent && !o.paused; i++) {
      const ranges = this.#picker.collect(o, 1, now);
      if (ranges.length === 0) break;
      this.#probes.push({ owner: o.key, ranges });
      probes++;
    }
    if (probes === 0) {
      for (const [id, out] of o.outstanding) {
        if (out.sentAt + pto > now) break;
        this.#lose(o, id, out);
      }
      if (o.outstanding.size === 0) o.silence = now - o.lastProgress;
      // The tail: its blocks are asked for again at once, each in two datagrams, so a lossy
      // path does not stall the last blocks for a string of doubling timeouts (a second copy
      // of a block or two is cheap next to that)
      for (let i = 0; i < PROBE_BLOCKS && !persistent && !o.paused; i++) {
        const ranges = this.#picker.collect(o, 1, now);
        if (ranges.length === 0) break;
        this.#probes.push({ owner: o.key, ranges }, { owner: o.key, ranges });
      }
    }
    this.#trace?.pto(o, o.lostBlocks - lostBefore, pto, persistent, now);
    if (persistent) {
      o.cwnd.onTimeout(now, true);
      this.#picker.releaseRange(o);
      this.#picker.releasePieces(o);
    } else if (probes === 0) {
      o.cwnd.onLoss(firstSent, now);
    }
    this.#trace?.sample(o, now, true);
  }

  /** When {@link handleTimeout} should run next, or undefined when nothing is pending. */
  pollTimeout(): number | undefined {
    let t = this.#budgetWake;
    for (const o of this.#owners.values()) {
      if (!o.alive || o.outstanding.size === 0) continue;
      const first = o.outstanding.values().next().value as Outstanding;
      let d = Math.min(o.rtoDeadline(first), o.stallDeadline(this.#stallMs));
      if (first.seq < o.rackSeq) d = Math.min(d, o.lossDeadline(first));
      if (t === undefined || d < t) t = d;
    }
    return t;
  }

  /** The next event, or undefined. */
  pollEvent(): EngineEvent | undefined {
    this.#releaseBuffers();
    return this.#events.shift();
  }

  /** The next block request to send, or undefined when every window is full or no work is left. */
  pollTransmit(now: number): Transmit | undefined {
    this.#releaseBuffers();
    if (!this.#started || this.done) return undefined;
    const probe = this.#probes.shift();
    if (probe && this.#owners.get(probe.owner)?.usable) {
      this.#budget?.spend(rangeBytes(probe.ranges));
      return probe;
    }
    const budget = this.#budget;
    this.#budgetWake = undefined;
    // Bytes the rate cap allows now, and the least request it held back
    const allowed = budget ? budget.available(now) : Infinity;
    let held = Infinity;
    const owners = this.#ownerList;
    const n = owners.length;
    // Bytes in flight over all owners (dropped ones have none)
    let total = 0;
    for (let i = 0; i < n; i++) total += owners[i]!.inFlight;
    for (let i = 0; i < n; i++) {
      const o = owners[(this.#rr + i) % n]!;
      if (!o.alive || o.paused) continue;
      const allow = o.lossAllowance;
      const win = Math.min(o.cwnd.cwnd, this.#maxOwnerInFlight * allow);
      const room = Math.min(win - o.inFlight, this.#maxInFlight * allow - total);
      // Ask in batches: each request costs a send on both sides. On a clean path, small blocks
      // (1452-byte datagrams) are asked for a quarter window at a time; once the path has lost
      // anything, an eighth (at least a block), so a lost request costs little.
      // Clean: hardly any recent loss (a stray spurious one, as a busy host's scheduling makes,
      // does not turn a lossless transfer into one of small requests), and still in slow start,
      // unless only a socket buffer queues (noUplinkQueue) and no owner is partial
      const clean = o.lossRate < CLEAN_LOSS_RATE &&
        (o.cwnd.ssthresh === Infinity ||
          (this.#unqueued.has(o.key) && !this.#picker.swarming));
      // A swarm's small windows, once past slow start and losing little (a shared queue's drops,
      // not a lossy path's): at least minBatchBlocks per request (at most half the window)
      const least = !clean && o.lossRate < BATCH_LOSS_RATE
        ? this.#minBatchBlocks * this.layout.blockSize
        : this.layout.blockSize;
      let batch = Math.max(Math.min(least, win / 2), win / (clean ? 4 : 8));
      if (allowed !== Infinity) batch = Math.min(batch, budget!.burst);
      if (o.inFlight > 0 && room < batch) continue;
      if (o.inFlight === 0 && room <= 0 && total > 0) continue;
      // On a lossy path no request asks for more than a batch: a window in one request is a
      // window lost with it, and only a probe timeout would notice
      let ask = Math.max(clean ? room : Math.min(room, batch), o.inFlight === 0 ? 1 : 0);
      if (ask > allowed) {
        // The rate cap: ask for what it allows if that is a batch (or a block to start with)
        const least = o.inFlight === 0 ? Math.min(batch, this.layout.blockSize) : batch;
        if (allowed < least) {
          held = Math.min(held, least);
          continue;
        }
        ask = allowed;
      }
      const ranges = this.#picker.collect(o, ask, now);
      if (ranges.length > 0) {
        this.#rr = (this.#rr + i + 1) % n;
        budget?.spend(rangeBytes(ranges));
        return { owner: o.key, ranges };
      }
    }
    if (held !== Infinity) this.#budgetWake = budget!.blocked(held, now);
    return undefined;
  }

  // ---- internals ----

  #releaseBuffers(): void {
    if (this.#release.length === 0) return;
    for (const b of this.#release) {
      // A buffer the driver transferred away (and did not hand back) is detached: skip it
      if (b.byteLength === this.layout.pieceSize && this.#pool.length < this.#maxActive) {
        this.#pool.push(b);
      }
    }
    this.#release = [];
  }

  /**
   * Declares lost what was requested before the latest unambiguous answer and is overdue, by
   * count (the owner's loss threshold) or by time (RACK, RFC 8985: its RTT plus a reordering
   * window). Outstanding requests are in seq order, and both tests get easier for older ones.
   */
  #detectLoss(o: OwnerState, now: number): void {
    for (const [id, out] of o.outstanding) {
      if (out.seq >= o.rackSeq) break;
      if (o.rackSeq - out.seq <= o.lossThreshold && now < o.lossDeadline(out)) break;
      const sentAt = out.sentAt;
      this.#lose(o, id, out);
      o.cwnd.onLoss(sentAt, now);
    }
  }

  /**
   * Tells whether a block both declared lost and asked for again from `o` is the late answer to
   * the request declared lost (`lostRtt` ago) rather than the answer to the re-request (`since`
   * ago): the one whose round trip is nearer the path's smoothed RTT. The minimum RTT alone
   * (RFC 8985 §6.2) does not tell them apart when it is a lucky sample far below the RTT of the
   * moment, as on a busy host, where a process descheduled for a timeslice receives a burst:
   * reordered originals arriving then look like answers to re-requests, move RACK's clock to the
   * newest re-request and declare everything in flight lost, whose late originals do the same.
   */
  #answersLost(o: OwnerState, lostRtt: number, since: number): boolean {
    if (!o.rtt.hasSample) return false;
    const srtt = o.rtt.srtt;
    return Math.abs(lostRtt - srtt) < Math.abs(since - srtt);
  }

  #lose(o: OwnerState, id: number, out: Outstanding): void {
    o.outstanding.delete(id);
    o.inFlight -= out.length;
    this.stats.retransmits++;
    this.stats.retransmittedBytes += out.length;
    o.noteLost(id, out.sentAt);
    const ap = this.#active.get(out.piece);
    const block = out.block;
    o.release(out);
    if (!ap || ap.received[block]) return;
    ap.retransmitted[block] = 1;
    this.#picker.unrequest(ap, block);
  }

  #loseAll(o: OwnerState, _now: number): void {
    for (const [id, out] of o.outstanding) this.#lose(o, id, out);
  }

  #cancelElsewhere(id: number, except: string): void {
    for (const other of this.#owners.values()) {
      if (other.key === except) continue;
      other.forget(id);
    }
  }

  #finishPiece(ap: ActivePiece, now: number): void {
    const data = ap.buffer.subarray(0, ap.length);
    if (this.#verifyInWorker) {
      ap.verifying = true;
      this.#events.push({
        kind: "verify",
        index: ap.index,
        offset: this.layout.pieceOffset(ap.index),
        data,
      });
      return;
    }
    this.#settlePiece(ap, pieceHashMatches(data, this.#hashes, ap.index), now);
  }

  /**
   * With `verifyInWorker`: the driver checked piece `index` (and, if it was good, wrote it).
   * `buffer` hands back the piece buffer when the driver transferred it (to a Worker).
   */
  handleVerified(index: number, ok: boolean, now: number, buffer?: Uint8Array): void {
    this.#releaseBuffers();
    const ap = this.#active.get(index);
    if (!ap || !ap.verifying) return;
    ap.verifying = false;
    if (buffer && buffer.byteLength === this.layout.pieceSize) ap.buffer = buffer;
    // Transferred and not handed back: a bad piece needs a buffer to be fetched into again
    else if (ap.buffer.byteLength === 0) ap.buffer = this.#newPieceBuffer(this.layout.pieceSize);
    this.#settlePiece(ap, ok, now);
  }

  #settlePiece(ap: ActivePiece, ok: boolean, now: number): void {
    const data = ap.buffer.subarray(0, ap.length);
    const sources = [...ap.sourceBytes.keys()];
    if (ok) {
      this.#picker.finish(ap);
      this.verified[ap.index] = 1;
      this.#verifiedCount++;
      this.stats.verifiedBytes += ap.length;
      for (const [k, bytes] of ap.sourceBytes) {
        const owner = this.#owners.get(k);
        if (owner) owner.delivered += bytes;
      }
      // With verifyInWorker the driver hashed and wrote it already
      if (!this.#verifyInWorker) {
        this.#events.push({
          kind: "piece",
          index: ap.index,
          offset: this.layout.pieceOffset(ap.index),
          data,
        });
      }
      this.#release.push(ap.buffer);
      this.#checkDone();
      return;
    }
    this.stats.badPieces++;
    this.#picker.refetch(ap, sources);
    this.#events.push({ kind: "bad_piece", index: ap.index, owners: sources });
    if (sources.length === 1) {
      const o = this.#owners.get(sources[0]!);
      if (o && o.alive && ++o.strikes >= this.#maxStrikes) {
        this.#banned.add(o.key);
        this.#drop(o, `sent ${o.strikes} pieces that failed verification`, now);
      }
    }
  }

  /** A block `o` was not asked for: ignored, counted, and past the limit the owner is banned. */
  #unasked(o: OwnerState, len: number, now: number): void {
    this.stats.unaskedBlocks++;
    this.stats.unaskedBytes += len;
    if (++o.unasked > this.#maxUnasked) {
      this.#banned.add(o.key);
      this.#drop(o, `sent ${o.unasked} blocks it was not asked for`, now);
    }
  }

  #drop(o: OwnerState, reason: string, now: number): void {
    this.#picker.ownerGone(o);
    o.alive = false;
    this.#trace?.drop(o.key, reason, now);
    for (const [id, out] of o.outstanding) {
      o.outstanding.delete(id);
      const ap = this.#active.get(out.piece);
      if (ap) this.#picker.unrequest(ap, out.block);
      o.release(out);
    }
    o.inFlight = 0;
    this.#picker.releasePieces(o);
    this.#picker.releaseRange(o);
    this.#events.push({ kind: "owner_dropped", owner: o.key, reason });
    const live = this.liveOwners.length;
    if (live < this.#wantOwners && !this.done) this.#events.push({ kind: "need_owners", live });
  }

  #checkDone(): void {
    if (this.done && !this.#doneEmitted) {
      this.#doneEmitted = true;
      this.#events.push({ kind: "done" });
    }
  }
}

/** Bytes a request's ranges ask for (no allocation). */
function rangeBytes(ranges: readonly ByteRange[]): number {
  let n = 0;
  for (let i = 0; i < ranges.length; i++) n += ranges[i]!.length;
  return n;
}
