/**
 * A trace of how a transfer's loss recovery and windows behave: per owner, at most every
 * `intervalMs`, a sample of its window, bytes in flight, RTT, queueing delay and loss counters,
 * plus a record for every probe timeout and dropped owner. The download engine feeds it; a
 * driver writes the records as JSON lines (`peer.ts get … --trace FILE`), so a run at 20 % loss
 * can be read afterwards: did the window hold, did the losses come from the path or the queue,
 * how often did a timer have to fire. Pure: records go to a callback.
 * @module
 */
import type { OwnerState } from "./owner_state.ts";

/** One owner's state at time `t`. */
export interface OwnerTraceSample {
  /** The record's kind. */
  kind: "owner";
  /** ms since the transfer started. */
  t: number;
  /** The owner's key (node id). */
  owner: string;
  /** Congestion window, bytes. */
  cwnd: number;
  /** Slow-start threshold, bytes (null: still in slow start). */
  ssthresh: number | null;
  /** Bytes requested and not yet answered or declared lost. */
  inFlight: number;
  /** Smoothed RTT, ms. */
  srttMs: number;
  /** Smallest RTT seen, ms. */
  minRttMs: number;
  /** Queueing delay: the recent RTT above the minimum, ms. */
  queueMs: number;
  /** The probe timeout now (with backoff), ms. */
  ptoMs: number;
  /** Bytes it sent that matched a block. */
  receivedBytes: number;
  /** Blocks declared lost so far (by later arrivals or by a probe timeout). */
  lostBlocks: number;
  /** Of those, how many turned up after all. */
  spuriousBlocks: number;
  /** Probe timeouts so far. */
  timeouts: number;
  /** Losses that came without a queue and left the window alone. */
  randomLosses: number;
  /** Blocks a later arrival must overtake by before one counts as lost (adaptive). */
  lossThreshold: number;
}

/** A probe timeout fired for an owner. */
export interface PtoTraceRecord {
  /** The record's kind. */
  kind: "pto";
  /** ms since the transfer started. */
  t: number;
  /** The owner's key (node id). */
  owner: string;
  /** Blocks it declared lost. */
  lostBlocks: number;
  /** The PTO that fired, ms. */
  ptoMs: number;
  /** The owner answered none of several PTOs in a row: window collapsed, work given back. */
  persistent: boolean;
}

/** An owner was dropped. */
export interface DropTraceRecord {
  /** The record's kind. */
  kind: "drop";
  /** ms since the transfer started. */
  t: number;
  /** The owner's key (node id). */
  owner: string;
  /** Why, as logged. */
  reason: string;
}

/** What a transfer trace emits. */
export type TransferTraceRecord = OwnerTraceSample | PtoTraceRecord | DropTraceRecord;

/**
 * Turns engine state into trace records (see the module doc).
 *
 * @example
 * ```ts
 * import { TransferTrace } from "./transfer_trace.ts";
 * const records: unknown[] = [];
 * const trace = new TransferTrace((r) => records.push(r), 10);
 * trace.start(100);
 * trace.drop("a", "went silent", 150);
 * console.log(records); // [{ kind: "drop", t: 50, owner: "a", reason: "went silent" }]
 * ```
 */
export class TransferTrace {
  readonly #sink: (record: TransferTraceRecord) => void;
  readonly #intervalMs: number;
  readonly #sampledAt = new Map<string, number>();
  #t0: number | undefined;

  /**
   * @param sink receives every record
   * @param intervalMs least time between two samples of one owner, ms
   */
  constructor(sink: (record: TransferTraceRecord) => void, intervalMs = 10) {
    this.#sink = sink;
    this.#intervalMs = intervalMs;
  }

  /** The transfer started at `now` (the zero of every `t`). */
  start(now: number): void {
    this.#t0 ??= now;
  }

  /** Samples `o` if its last sample is `intervalMs` old (or `force`). */
  sample(o: OwnerState, now: number, force = false): void {
    const last = this.#sampledAt.get(o.key) ?? -Infinity;
    if (!force && now - last < this.#intervalMs) return;
    this.#sampledAt.set(o.key, now);
    const ss = o.cwnd.ssthresh;
    this.#sink({
      kind: "owner",
      t: this.#t(now),
      owner: o.key,
      cwnd: Math.round(o.cwnd.cwnd),
      ssthresh: Number.isFinite(ss) ? Math.round(ss) : null,
      inFlight: o.inFlight,
      srttMs: round3(o.rtt.srtt),
      minRttMs: Number.isFinite(o.rtt.minRtt) ? round3(o.rtt.minRtt) : 0,
      queueMs: round3(o.rtt.queueDelay),
      ptoMs: round3(o.rtt.rto),
      receivedBytes: o.received,
      lostBlocks: o.lostBlocks,
      spuriousBlocks: o.spuriousBlocks,
      timeouts: o.timeouts,
      randomLosses: o.cwnd.randomLosses,
      lossThreshold: o.lossThreshold,
    });
  }

  /** A probe timeout fired for `o` and declared `lost` blocks lost. */
  pto(o: OwnerState, lost: number, ptoMs: number, persistent: boolean, now: number): void {
    this.#sink({
      kind: "pto",
      t: this.#t(now),
      owner: o.key,
      lostBlocks: lost,
      ptoMs: round3(ptoMs),
      persistent,
    });
  }

  /** Owner `owner` was dropped. */
  drop(owner: string, reason: string, now: number): void {
    this.#sink({ kind: "drop", t: this.#t(now), owner, reason });
  }

  #t(now: number): number {
    return round3(now - (this.#t0 ?? now));
  }
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
