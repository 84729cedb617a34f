/**
 * The tracker client's table of requests in flight, pure: each request gets a fresh nonzero
 * transaction id (unique among those in flight), is sent, and is sent again with exponential
 * backoff and ±10 % jitter ({@link RetryPolicy}) until a reply takes it out of the table or its
 * last wait ends. The {@link TrackerSession} decides what a request is and what a reply or a
 * time-out means; this module only keeps the clock of each request.
 * @module
 */

/** How a tracker request is retransmitted. */
export interface RetryPolicy {
  /** Wait before the first retransmission, in ms. @default 250 */
  initialMs: number;
  /** Each wait is the previous one times this. @default 2 */
  factor: number;
  /** Longest single wait, in ms. @default 4000 */
  maxDelayMs: number;
  /** Sends in total (the first plus retransmissions). @default 5 */
  attempts: number;
  /** Give up once this many ms have passed since the first send, whatever the attempts left. @default Infinity */
  totalMs: number;
}

/** The default {@link RetryPolicy}: 250, 500, 1000, 2000 ms between 5 sends; 7.75 s in all. */
export const DEFAULT_RETRY: Readonly<RetryPolicy> = Object.freeze({
  initialMs: 250,
  factor: 2,
  maxDelayMs: 4000,
  attempts: 5,
  totalMs: Infinity,
});

/** A request's retransmission state; the table's user extends it with what the request is. */
export interface Retrying {
  /** How this request is retransmitted. */
  readonly policy: RetryPolicy;
  /** Its transaction id while in the table; 0 once out of it. */
  txid: number;
  /** The datagram sent at every attempt. */
  bytes: Uint8Array;
  /** When it was first sent, ms. */
  started: number;
  /** When it was last (re)sent, ms. */
  sentAt: number;
  /** Sends so far. */
  attempts: number;
  /** Attempts beyond the policy's, bought by a first wait shorter than its `initialMs`. */
  extraAttempts: number;
  /** The next wait before jitter, ms. */
  delay: number;
  /** When it is sent again or times out, ms. */
  deadline: number;
  /** The current wait is the last: at the deadline the request times out. */
  last: boolean;
  /** Copies of the datagram put on the wire at each send. */
  copies: number;
}

import { Fifo } from "../../_util/fifo.ts";

const EMPTY = new Uint8Array(0);

/**
 * A fresh retransmission state, not in any table yet.
 *
 * @param policy how the request is retransmitted
 * @returns the state, to spread into a request object
 */
export function retrying(policy: RetryPolicy): Retrying {
  return {
    policy,
    txid: 0,
    bytes: EMPTY,
    started: 0,
    sentAt: 0,
    attempts: 0,
    extraAttempts: 0,
    delay: 0,
    deadline: Infinity,
    last: false,
    copies: 1,
  };
}

/**
 * Requests in flight by transaction id, their datagrams to send, and their deadlines.
 *
 * @example A request sent 3 times, then timed out
 * ```ts
 * import assert from "node:assert/strict";
 * import { RequestRetry, retrying } from "./request_retry.ts";
 *
 * const table = new RequestRetry({ random: () => 0.5 });
 * const policy = { initialMs: 100, factor: 2, maxDelayMs: 1000, attempts: 3, totalMs: Infinity };
 * const req = retrying(policy);
 * table.send(req, table.nextTxid(), new Uint8Array([1]), 0);
 * assert.deepEqual(table.pollTransmit(), new Uint8Array([1]));
 * assert.equal(table.pollTimeout(), 100);
 * const expired: number[] = [];
 * const onExpired = (r: { attempts: number }) => expired.push(r.attempts);
 * table.handleTimeout(100, onExpired); // the second send; waits 100, then 200, then 400
 * table.handleTimeout(300, onExpired); // the third and last
 * assert.equal(table.pollTimeout(), 700);
 * table.handleTimeout(700, onExpired);
 * assert.deepEqual(expired, [3]);
 * assert.equal(table.retransmits, 2);
 * assert.equal(table.pollTimeout(), Infinity);
 * ```
 */
export class RequestRetry<R extends Retrying = Retrying> {
  readonly #random: () => number;
  readonly #pending = new Map<number, R>();
  readonly #transmits = new Fifo<Uint8Array>();
  #nextTxid: number;
  #retransmits = 0;
  /** Smoothed round trip of unambiguous answers (Karn), ms; undefined before one. */
  #srtt: number | undefined;

  /**
   * Creates an empty table; draws the first transaction id from `random`.
   *
   * @param options random numbers in [0, 1): the first transaction id, then backoff jitter
   */
  constructor(options: { random: () => number }) {
    this.#random = options.random;
    this.#nextTxid = (Math.floor(this.#random() * 0xfffffff0) + 1) >>> 0;
  }

  /** Requests retransmitted so far. */
  get retransmits(): number {
    return this.#retransmits;
  }

  /** The smoothed round trip of answers to requests sent once, ms (undefined before one). */
  get srtt(): number | undefined {
    return this.#srtt;
  }

  /** Requests in flight, in the order they were sent. */
  values(): IterableIterator<R> {
    return this.#pending.values();
  }

  /**
   * The next transaction id: nonzero and not in flight.
   *
   * @returns the id, for the request's message
   */
  nextTxid(): number {
    let txid = this.#nextTxid;
    while (txid === 0 || this.#pending.has(txid)) txid = (txid + 1) >>> 0;
    this.#nextTxid = (txid + 1) >>> 0;
    return txid;
  }

  /**
   * Puts a request in flight under `txid` and queues its first send.
   *
   * @param req the request (sent again with a new txid, it starts over)
   * @param txid from {@link nextTxid}
   * @param bytes the datagram, carrying `txid`
   * @param now the time, ms
   * @param options `timed`: once a round trip is known, the first retransmission waits a few of
   *   them (at least `minFirstMs`, at most the policy's `initialMs`), not a blind `initialMs`;
   *   the shorter waits buy extra attempts, so the request is given up no sooner than before;
   *   `copies`: every send of it goes out this many times (while no round trip is known to time
   *   a resend by, one lost datagram then costs no blind wait)
   */
  send(
    req: R,
    txid: number,
    bytes: Uint8Array,
    now: number,
    options: { timed?: boolean; minFirstMs?: number; copies?: number } = {},
  ): void {
    req.txid = txid;
    req.bytes = bytes;
    req.started = now;
    req.attempts = 0;
    const p = req.policy;
    req.delay = options.timed && this.#srtt !== undefined
      ? Math.min(p.initialMs, Math.max(options.minFirstMs ?? 0, 4 * this.#srtt))
      : p.initialMs;
    req.extraAttempts = 0;
    for (let d = req.delay; d < p.initialMs; d *= Math.max(2, p.factor)) req.extraAttempts++;
    req.copies = Math.max(1, Math.floor(options.copies ?? 1));
    this.#pending.set(txid, req);
    this.#transmit(req, now);
  }

  /**
   * Takes the request a reply answers out of the table.
   *
   * @param txid the reply's transaction id
   * @param now the time, ms: an answer to a request sent once times the round trip
   * @returns the request, or undefined for a late, duplicate or unknown reply
   */
  take(txid: number, now?: number): R | undefined {
    const req = this.#pending.get(txid);
    if (req === undefined) return undefined;
    this.#pending.delete(txid);
    if (now !== undefined) {
      if (req.attempts === 1) {
        const r = Math.max(0, now - req.started);
        this.#srtt = this.#srtt === undefined ? r : 0.875 * this.#srtt + 0.125 * r;
      } else if (this.#srtt === undefined) {
        this.#srtt = Math.max(0, now - req.sentAt); // ambiguous, but the best bound there is
      }
    }
    req.txid = 0;
    return req;
  }

  /**
   * Drops a request: it is neither sent again nor timed out.
   *
   * @param req the request
   */
  delete(req: R): void {
    this.#pending.delete(req.txid);
  }

  /** Drops every request. */
  clear(): void {
    this.#pending.clear();
  }

  /** Drops the datagrams queued and not yet taken by {@link pollTransmit} (their target is gone). */
  dropTransmits(): void {
    while (this.#transmits.shift() !== undefined);
  }

  /**
   * Sends again what is due and takes out what timed out. `expired` may change the table (send,
   * delete): requests it adds are visited in this same pass, as they would be by a `Map` loop.
   *
   * @param now the time, ms
   * @param expired called with each request whose last wait ended (already out of the table)
   */
  handleTimeout(now: number, expired: (req: R) => void): void {
    for (const req of this.#pending.values()) {
      if (req.deadline > now) continue;
      if (!req.last) {
        this.#transmit(req, now);
        continue;
      }
      this.#pending.delete(req.txid);
      req.txid = 0;
      expired(req);
    }
  }

  /**
   * The next datagram to send.
   *
   * @returns the bytes, or undefined when nothing is due
   */
  pollTransmit(): Uint8Array | undefined {
    return this.#transmits.shift();
  }

  /**
   * The earliest deadline in the table.
   *
   * @returns the time in ms; Infinity when nothing is in flight
   */
  pollTimeout(): number {
    let at = Infinity;
    for (const req of this.#pending.values()) if (req.deadline < at) at = req.deadline;
    return at;
  }

  #transmit(req: R, now: number): void {
    req.attempts++;
    req.sentAt = now;
    if (req.attempts > 1) this.#retransmits++;
    for (let c = req.copies; c > 0; c--) this.#transmits.push(req.bytes);
    const p = req.policy;
    const elapsed = now - req.started;
    // ±10 % jitter so many peers that lost the tracker at once do not retry in lockstep.
    const wait = Math.min(req.delay, p.maxDelayMs) * (0.9 + 0.2 * this.#random());
    req.last = req.attempts >= p.attempts + req.extraAttempts || elapsed + wait >= p.totalMs;
    req.deadline = now + (req.last ? Math.max(0, Math.min(wait, p.totalMs - elapsed)) : wait);
    req.delay = Math.min(req.delay * p.factor, p.maxDelayMs);
  }
}
