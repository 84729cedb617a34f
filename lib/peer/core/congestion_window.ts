/** Options for {@link CongestionWindow}. */
export interface CongestionWindowOptions {
  /** Bytes per block (one datagram). */
  blockSize: number;
  /** Initial window, bytes. @default 4 blocks */
  initial?: number;
  /** Smallest window, bytes. @default 1 block */
  min?: number;
  /** Largest window, bytes. @default 256 KiB */
  max?: number;
  /**
   * Queueing delay the window aims for, ms; the target is the larger of this and a quarter of
   * the path's minimum RTT. @default 5
   */
  targetDelayMs?: number;
}

/** What the RTT estimator knows about delay when a block arrives (see `RttEstimator`). */
export interface DelaySample {
  /** Recent RTT above the minimum, ms. */
  queueMs: number;
  /** Smallest RTT seen, ms. */
  minRttMs: number;
  /** Delivery rate over the block's round trip, bytes per ms (BBR's rate sample). */
  rate?: number;
  /** When the sample was taken, ms (needed with `rate`). */
  now?: number;
}

/** Shortest round trip the delivery-rate cap assumes, ms. */
const CAP_MIN_RTT_MS = 1;
/** The delivery-rate maximum is taken over this many minimum RTTs … */
const RATE_WINDOW_RTTS = 10;
/** … and at least this long, ms. */
const RATE_WINDOW_MIN_MS = 100;

/**
 * A congestion window in bytes: AIMD (NewReno-like) steered by queueing delay, in the spirit of
 * LEDBAT (RFC 6817) and TCP Veno.
 *
 * - Slow start doubles the window per round trip until the queue reaches half the target delay,
 *   Above ssthresh it resumes at a quarter of the rate whenever the queue is under a quarter of
 *   the target (random losses set ssthresh too low).
 * - After that the window grows by up to one block per window while the queue is below the
 *   target and shrinks as fast when it is above (LEDBAT's `off_target` rule), so a slow owner's
 *   queue stays short and a fast owner's pipe stays full.
 * - A loss halves the window, once per recovery period, when it comes with a queue (a buffer
 *   overflowed). A loss on a path without a queue is random loss: it is counted, not punished,
 *   so 5 % or 20 % random loss does not pin the window at a few blocks (the Mathis bound).
 * - A retransmission timeout halves; consecutive timeouts collapse to the minimum.
 *
 * Without delay samples (`onAck(bytes)` alone) it is plain AIMD.
 */
export class CongestionWindow {
  cwnd: number;
  ssthresh = Infinity;
  /** Losses that came without a queue and did not shrink the window. */
  randomLosses = 0;
  readonly #block: number;
  readonly #min: number;
  readonly #max: number;
  readonly #targetMs: number;
  /** Send time of the request that ended the last recovery period: losses of earlier requests do not reduce again. */
  #recoveryStart = -Infinity;
  #last: DelaySample | undefined;
  /** Largest recent delivery rate (bytes/ms) and when it was seen. */
  #maxRate = 0;
  #maxRateAt = -Infinity;

  constructor(options: CongestionWindowOptions) {
    this.#block = options.blockSize;
    this.#min = options.min ?? options.blockSize;
    this.#max = Math.max(this.#min, options.max ?? 256 * 1024);
    this.#targetMs = options.targetDelayMs ?? 5;
    this.cwnd = Math.min(this.#max, Math.max(this.#min, options.initial ?? 4 * options.blockSize));
  }

  /** The queueing delay aimed for, ms. */
  get targetMs(): number {
    const base = this.#last?.minRttMs;
    return base === undefined ? this.#targetMs : Math.max(this.#targetMs, base / 4);
  }

  /** A block of `bytes` arrived; `delay` when it gave an RTT sample (else the last one counts). */
  onAck(bytes: number, delay?: DelaySample): void {
    if (delay) {
      // Copied, not kept: callers reuse one sample object per block (no garbage per datagram)
      const last = this.#last ??= { queueMs: 0, minRttMs: 0 };
      last.queueMs = delay.queueMs;
      last.minRttMs = delay.minRttMs;
      if (delay.rate !== undefined && delay.now !== undefined) {
        const window = Math.max(RATE_WINDOW_MIN_MS, RATE_WINDOW_RTTS * delay.minRttMs);
        if (delay.rate >= this.#maxRate || delay.now - this.#maxRateAt > window) {
          this.#maxRate = delay.rate;
          this.#maxRateAt = delay.now;
        }
      }
    }
    const target = this.targetMs;
    const queue = this.#last?.queueMs;
    // No queue at all: the pipe is not full whatever ssthresh says (random losses or timeouts
    // may have set it low), so grow exponentially, but gently (HyStart++'s conservative slow
    // start: a quarter of the rate) so a delay signal that lags by an RTT does not overshoot
    const empty = queue !== undefined && queue < target / 4;
    if (this.cwnd < this.ssthresh || empty) {
      if (queue === undefined || queue < target / 2) {
        this.cwnd += this.cwnd < this.ssthresh ? bytes : bytes / 4;
      } else {
        // The pipe is full: leave slow start, scaled back to the target queue (Vegas-like).
        const base = this.#last!.minRttMs;
        const scale = queue > target ? (base + target) / (base + queue) : 1;
        this.cwnd = Math.max(this.#min, this.cwnd * scale);
        this.ssthresh = this.cwnd;
      }
    } else {
      const off = queue === undefined ? 1 : Math.max(-1, Math.min(1, (target - queue) / target));
      this.cwnd += (off * this.#block * bytes) / this.cwnd;
      // Shrinking for delay keeps the window out of slow start
      if (off < 0 && this.cwnd < this.ssthresh) this.ssthresh = Math.max(this.#min, this.cwnd);
    }
    this.#clamp();
  }

  /**
   * A block requested at `sentAt` was lost (detected by later arrivals); `now` starts recovery.
   * @returns true if the window shrank
   */
  onLoss(sentAt: number, now: number): boolean {
    if (sentAt <= this.#recoveryStart) return false;
    const last = this.#last;
    if (last && last.queueMs < 2 * this.targetMs) {
      this.randomLosses++;
      return false;
    }
    this.#recoveryStart = now;
    this.ssthresh = Math.max(this.#min, this.cwnd / 2);
    this.cwnd = this.ssthresh;
    return true;
  }

  /**
   * A retransmission timeout fired. With `persistent` (the previous timeout got no answer
   * either) the window collapses to the minimum. Otherwise it is a loss like any other: halved
   * when there was a queue, kept when there was none (a random tail loss).
   */
  onTimeout(now: number, persistent = true): void {
    this.#recoveryStart = now;
    if (persistent) {
      this.ssthresh = Math.max(this.#min, this.cwnd / 2);
      this.cwnd = this.#min;
      return;
    }
    const last = this.#last;
    if (last && last.queueMs < 2 * this.targetMs) {
      this.randomLosses++;
      return;
    }
    this.ssthresh = Math.max(this.#min, this.cwnd / 2);
    this.cwnd = this.ssthresh;
  }

  /**
   * The most the window may hold: `max`, and twice the path's estimated bandwidth-delay product
   * (plus two blocks) once delivery rates are known — BBR's bound, which keeps a path whose
   * buffer is too shallow for the delay signal from being flooded with doomed requests.
   */
  get cap(): number {
    const last = this.#last;
    if (this.#maxRate === 0 || last === undefined) return this.#max;
    // A pipe shorter than the 1 ms timer granularity is treated as 1 ms long: on one host the
    // minimum RTT is a lucky sample of the peers' processing time, and a window of its BDP
    // (a block or two) leaves a lossy path to probe timeouts
    const base = Math.max(last.minRttMs, CAP_MIN_RTT_MS);
    const bdp = this.#maxRate * base;
    return Math.min(this.#max, Math.max(this.#min, 2 * bdp + 2 * this.#block));
  }

  #clamp(): void {
    const cap = this.cap;
    if (this.cwnd > cap) this.cwnd = cap;
    if (this.cwnd < this.#min) this.cwnd = this.#min;
  }
}
