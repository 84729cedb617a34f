/**
 * What the download engine knows about one owner of a download: its requests in flight (in
 * request order), its RTT estimator and congestion window, the deadlines derived from them (RTO,
 * stall, RACK loss), its adaptive reordering tolerance, whether it is paused or dropped, and the
 * bytes it delivered. Pure: no clock (every time is passed in), no I/O.
 *
 * The piece picker's assignment to the owner (its range of unstarted pieces and the pieces it is
 * fetching) lives here too, so the engine's hot path reaches everything about an owner with one
 * lookup; {@link PiecePicker} is the only writer of those fields.
 * @module
 */
import { RecentIds } from "./recent_ids.ts";
import { CongestionWindow } from "./congestion_window.ts";
import { RttEstimator } from "./rtt_estimator.ts";

/** One block request in flight to an owner. */
export interface Outstanding {
  /** The owner's request sequence number (request order). */
  seq: number;
  /** When it was requested, ms. */
  sentAt: number;
  /** Piece index. */
  piece: number;
  /** Block index inside the piece. */
  block: number;
  /** Bytes requested. */
  length: number;
  /** The block was requested before (its answer is ambiguous: no RTT sample, Karn). */
  retransmitted: boolean;
  /** The owner's acked bytes when this was requested (delivery-rate samples). */
  acked: number;
  /** The time of the owner's latest answer when this was requested. */
  ackedAt: number;
}

/** Options for {@link OwnerState}. */
export interface OwnerStateOptions {
  /** Data bytes per block. */
  blockSize: number;
  /** Cap on this owner's congestion window, bytes. */
  maxInFlight: number;
  /** RTO floor, ms. */
  minRtoMs: number;
  /** Initial loss threshold (requests answered after a block before it counts as lost). */
  lossThreshold: number;
  /** Queueing delay the congestion window aims for, ms. */
  targetDelayMs: number;
  /** Silence after which the owner is dropped, ms; its RTOs stay at most an eighth of this. */
  stallMs: number;
  /** The congestion window's initial size, bytes. @default 4 blocks (CongestionWindow's) */
  initialWindow?: number;
}

/** Recently lost blocks remembered per owner, to recognise late (spuriously lost) arrivals. */
export const LOST_MEMORY = 1024;
/**
 * Smallest reordering window, ms: loss is checked on every arrival (with the driver's sub-ms
 * clock), so this is finer than the timer granularity; a path that reorders more widens it.
 */
export const REORDER_GRANULARITY_MS = 0.25;
/** Request records kept for reuse per owner. */
const MAX_FREE_RECORDS = 4096;
/** Blocks the loss-rate average spans. */
export const LOSS_RATE_BLOCKS = 64;
/** The largest loss rate the in-flight allowance makes up for (2.5 times the bytes at 60 %). */
export const MAX_COVERED_LOSS = 0.6;
/** Ended requests remembered per owner, to tell late or duplicated answers from unasked data. */
export const ASKED_MEMORY = 4096;
/** Cap on an owner's adaptive loss threshold. */
export const MAX_LOSS_THRESHOLD = 64;

/**
 * Per-owner transfer state; see the module doc. The engine mutates the counters directly on its
 * hot path; the rules that only concern one owner are methods here.
 *
 * @example An owner's deadlines
 * ```ts
 * import { OwnerState } from "./owner_state.ts";
 * const o = new OwnerState("a", {
 *   blockSize: 1024, maxInFlight: 65536, minRtoMs: 15, lossThreshold: 3, targetDelayMs: 5,
 *   stallMs: 4000,
 * }, 0);
 * console.log(o.stallDeadline(4000)); // 4000: stallMs after its last progress
 * ```
 */
export class OwnerState {
  /** The owner's key (its address, as the driver names it). */
  readonly key: string;
  /** RTT and RTO. */
  readonly rtt: RttEstimator;
  /** Congestion window. */
  readonly cwnd: CongestionWindow;
  /** Bytes requested and not yet answered or declared lost. */
  inFlight = 0;
  /** Requests in flight by block id, in request (seq) order. */
  readonly outstanding = new Map<number, Outstanding>();
  /** Next request sequence number. */
  seq = 0;
  /** Highest seq answered unambiguously (never re-requested), and that block's RTT: RACK's clock. */
  rackSeq: number = -1;
  /** RTT of the block at {@link rackSeq}, ms. */
  rackRtt = 0;
  /** Reordering tolerance: widened when many losses turn out spurious, narrowed when few do. */
  reorderMult = 1;
  /** Requests answered after a block before it is lost (adaptive). */
  lossThreshold: number;
  /** The configured loss threshold, the floor of {@link lossThreshold}. */
  readonly baseLossThreshold: number;
  /** Losses declared recently (halved every 64). */
  declared = 0;
  /** Declared losses that turned out spurious recently (halved with {@link declared}). */
  spurious = 0;
  /** When the reordering tolerance was last widened, ms. */
  lastWiden: number = -Infinity;
  /**
   * Blocks declared lost, oldest first, at most LOST_MEMORY: id → when the request declared
   * lost was sent, ms (to tell its late answer from the answer to a re-request).
   */
  readonly lost = new Map<number, number>();
  /**
   * Ids of blocks asked of this owner whose request ended (answered, or taken back by
   * {@link forget}: another owner delivered first, or the piece went to one owner only), oldest
   * first, at most ASKED_MEMORY: a duplicate or late answer to them was still asked for.
   */
  readonly recent: RecentIds = new RecentIds(ASKED_MEMORY);
  /** Blocks it sent that were never asked of it (issue 11: counted against it, then banned). */
  unasked = 0;
  /** The picker's assignment: next unstarted piece of the owner's range. */
  rangeNext = 0;
  /** The picker's assignment: end (exclusive) of the owner's range. */
  rangeEnd = 0;
  /** The picker's assignment: pieces this owner is fetching. */
  readonly pieces = new Set<number>();
  /** Pieces it alone sent that failed verification. */
  strikes = 0;
  /** When it last sent a block, ms (the stall clock). */
  lastProgress: number;
  /** How long it had been silent when its last timeout left it with nothing outstanding, ms. */
  silence = 0;
  /** When a requested block last arrived: the RTO counts from here or the oldest request. */
  lastAck: number = -Infinity;
  /** When its latest probe timeout fired: the next one counts from there at the earliest. */
  lastPto: number = -Infinity;
  /** Bytes of requested blocks that arrived (for delivery-rate samples). */
  acked = 0;
  /** Bytes of verified pieces it sent. */
  delivered = 0;
  /** Bytes it sent that matched a block of the file. */
  received = 0;
  /** Blocks declared lost, in all (for traces). */
  lostBlocks = 0;
  /** Blocks declared lost that arrived after all, in all (for traces). */
  spuriousBlocks = 0;
  /** Probe timeouts, in all (for traces). */
  timeouts = 0;
  /** Share of its recent requested blocks that were lost (moving average over ~64 blocks). */
  lossRate = 0;
  /** False once dropped. */
  alive = true;
  /** Asked for nothing until resumed (its address cookie is being renewed). */
  paused = false;
  readonly #free: Outstanding[] = [];

  /**
   * A new owner, silent so far.
   *
   * @param key the owner's key
   * @param options windows, timers and loss detection
   * @param now the current time, ms
   */
  constructor(key: string, options: OwnerStateOptions, now: number) {
    this.key = key;
    // About 8 probes fit in a stall period, before and after the first RTT sample
    this.rtt = new RttEstimator({
      minRtoMs: options.minRtoMs,
      initialRtoMs: Math.min(250, options.stallMs / 8),
      maxBackoffRtoMs: options.stallMs / 8,
    });
    this.cwnd = new CongestionWindow({
      blockSize: options.blockSize,
      max: options.maxInFlight,
      targetDelayMs: options.targetDelayMs,
      ...(options.initialWindow === undefined ? {} : { initial: options.initialWindow }),
    });
    this.lossThreshold = this.baseLossThreshold = options.lossThreshold;
    this.lastProgress = now;
  }

  /** How much later than the latest answered block's RTT a block may arrive before it is lost. */
  get reorderWindow(): number {
    const base = Number.isFinite(this.rtt.minRtt) ? this.rtt.minRtt : this.rtt.srtt;
    return Math.min(
      Math.max(this.rtt.srtt, REORDER_GRANULARITY_MS),
      this.reorderMult * Math.max(base / 4, REORDER_GRANULARITY_MS),
    );
  }

  /**
   * How much more than the window may be requested: blocks that will be lost occupy no receive
   * buffer, so on a path losing a share p of blocks the window's worth of arrivals needs
   * 1 / (1 − p) of it in flight (p capped at {@link MAX_COVERED_LOSS}). Without this a 5-block
   * window at 36 % block loss (20 % each way) is often all lost at once, and only a probe
   * timeout notices.
   */
  get lossAllowance(): number {
    return 1 / (1 - Math.min(MAX_COVERED_LOSS, this.lossRate));
  }

  /** A requested block arrived: the loss-rate average moves towards 0. */
  noteArrived(): void {
    this.lossRate -= this.lossRate / LOSS_RATE_BLOCKS;
  }

  /** The oldest request still outstanding (the answer expected next), or undefined. */
  firstOutstanding(): Outstanding | undefined {
    for (const out of this.outstanding.values()) return out;
    return undefined;
  }

  /** True when the owner can be asked for blocks (alive and not paused). */
  get usable(): boolean {
    return this.alive && !this.paused;
  }

  /**
   * When the retransmission timer fires: an RTO after the oldest request, the latest answer or
   * the latest probe timeout, whichever is later (RFC 6298 5.3 restarts the timer on every acknowledgement), so it only
   * fires when the owner stopped answering; losses amid answers are RACK's job.
   */
  rtoDeadline(first: Outstanding): number {
    return Math.max(first.sentAt, this.lastAck, this.lastPto) + this.rtt.rto;
  }

  /**
   * When a silent owner is dropped: `stallMs` after its last answer, or 8 RTOs on a path so slow
   * that fewer than 8 probes would fit in `stallMs`.
   */
  stallDeadline(stallMs: number): number {
    return this.lastProgress + Math.max(stallMs, 8 * this.rtt.baseRto);
  }

  /** When an outstanding block requested before the latest answered one counts as lost (RACK). */
  lossDeadline(out: Outstanding): number {
    return out.sentAt + this.rackRtt + this.reorderWindow;
  }

  /**
   * Takes request `id` out of flight (answered, lost or cancelled).
   *
   * @returns the bytes it had in flight, 0 when it was not outstanding
   */
  forget(id: number): number {
    const out = this.outstanding.get(id);
    if (!out) return 0;
    this.outstanding.delete(id);
    this.inFlight -= out.length;
    const length = out.length;
    this.remember(id);
    this.release(out);
    return length;
  }

  /**
   * An {@link Outstanding} record to fill in, reused from {@link release}d ones: requests live
   * about a round trip, long enough for the garbage collector to promote them, so at 1452-byte
   * blocks fresh records per block grew the old generation with the file.
   */
  acquire(): Outstanding {
    return this.#free.pop() ?? {
      seq: 0,
      sentAt: 0,
      piece: 0,
      block: 0,
      length: 0,
      retransmitted: false,
      acked: 0,
      ackedAt: 0,
    };
  }

  /** Hands back a record no longer in {@link outstanding} (its fields stay readable until reused). */
  release(out: Outstanding): void {
    if (this.#free.length < MAX_FREE_RECORDS) this.#free.push(out);
  }

  /** Remembers that block `id` was asked of this owner after its request ended. */
  remember(id: number): void {
    this.recent.add(id);
  }

  /**
   * Tells whether block `id` was asked of this owner: outstanding, declared lost, or its request
   * ended recently (a duplicate or late answer may still be on the way).
   */
  asked(id: number): boolean {
    return this.outstanding.has(id) || this.lost.has(id) || this.recent.has(id);
  }

  /**
   * Remembers block `id`, requested at `sentAt`, as declared lost (to recognise it if it turns
   * up) and, every 64 losses,
   * narrows the reordering tolerance again when few of them were spurious.
   */
  noteLost(id: number, sentAt: number): void {
    this.lostBlocks++;
    this.lossRate += (1 - this.lossRate) / LOSS_RATE_BLOCKS;
    this.lost.delete(id);
    this.lost.set(id, sentAt);
    if (this.lost.size > LOST_MEMORY) {
      // Forgotten as lost, still asked: a late answer is not unasked data
      const oldest = this.lost.keys().next().value!;
      this.lost.delete(oldest);
      this.remember(oldest);
    }
    if (++this.declared >= 64) {
      if (this.spurious * 20 < this.declared) {
        this.reorderMult = Math.max(1, this.reorderMult - 1);
        this.lossThreshold = Math.max(this.baseLossThreshold, this.lossThreshold / 2);
      }
      this.declared /= 2;
      this.spurious /= 2;
    }
  }

  /**
   * A block declared lost arrived after all. When that is a large share of the losses (a
   * reordering path), tolerate more reordering from this owner, at most once per RTT; when the
   * losses are real (a lossy path), waiting longer would only stall the window, and the odd
   * duplicate is cheaper.
   */
  noteSpurious(now: number): void {
    this.spurious++;
    this.spuriousBlocks++;
    if (
      this.declared < 8 || this.spurious * 4 < this.declared ||
      now < this.lastWiden + this.rtt.srtt
    ) return;
    this.lastWiden = now;
    this.reorderMult = Math.min(this.reorderMult + 1, 16);
    this.lossThreshold = Math.min(this.lossThreshold * 2, MAX_LOSS_THRESHOLD);
  }
}
