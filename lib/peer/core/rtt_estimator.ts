/** Options for {@link RttEstimator}. */
export interface RttEstimatorOptions {
  /** RTO before the first sample, ms. @default 250 */
  initialRtoMs?: number;
  /** Lower bound on the RTO, ms. @default 15 */
  minRtoMs?: number;
  /** Upper bound on the RTO, ms. @default 4000 */
  maxRtoMs?: number;
  /**
   * Upper bound on what backoff adds: a backed-off RTO stops growing here (but never drops below
   * the un-backed-off one), so a peer that may be alive keeps being probed. @default Infinity
   */
  maxBackoffRtoMs?: number;
}

/** Samples in the queueing-delay filter: jitter of single samples is not mistaken for a queue. */
const FILTER = 8;

/**
 * Smoothed RTT and retransmission timeout as in RFC 6298 (SRTT, RTTVAR, RTO = SRTT + 4·RTTVAR),
 * with exponential backoff on consecutive timeouts. Also tracks the smallest RTT seen and the
 * queueing delay above it (the minimum of the last few samples minus that), LEDBAT's way of
 * filtering jitter, for a delay-aware congestion window.
 */
export class RttEstimator {
  srtt = 0;
  rttvar = 0;
  /** Latest sample, ms. */
  latest = 0;
  /** Smallest sample, ms (Infinity before the first). */
  minRtt = Infinity;
  readonly #recent: number[] = [];
  #next = 0;
  #hasSample = false;
  #seeded = false;
  #backoff = 1;
  readonly #initial: number;
  readonly #min: number;
  readonly #max: number;
  readonly #maxBackoff: number;

  constructor(options: RttEstimatorOptions = {}) {
    this.#initial = options.initialRtoMs ?? 250;
    this.#min = options.minRtoMs ?? 15;
    this.#max = options.maxRtoMs ?? 4000;
    this.#maxBackoff = options.maxBackoffRtoMs ?? Infinity;
  }

  /** True once at least one sample was taken. */
  get hasSample(): boolean {
    return this.#hasSample;
  }

  /**
   * Starts from an RTT measured elsewhere (a PROBE's round trip to the same peer) until the
   * first real sample: SRTT = `rttMs`, RTTVAR = half of it, as a first sample would set them,
   * but the minimum RTT and the queueing-delay filter stay empty, and {@link hasSample} false.
   */
  seed(rttMs: number): void {
    if (this.#hasSample || !(rttMs >= 0)) return;
    this.srtt = rttMs;
    this.rttvar = rttMs / 2;
    this.#seeded = true;
  }

  /** Adds a sample (ms) from a block that was requested exactly once (Karn's rule). */
  sample(rttMs: number): void {
    const r = Math.max(0, rttMs);
    this.latest = r;
    if (r < this.minRtt) this.minRtt = r;
    this.#recent[this.#next] = r;
    this.#next = (this.#next + 1) % FILTER;
    if (!this.#hasSample) {
      this.srtt = r;
      this.rttvar = r / 2;
      this.#hasSample = true;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
    this.#backoff = 1;
  }

  /** How far the recent RTT (minimum of the last 8 samples) sits above {@link minRtt}, ms. */
  get queueDelay(): number {
    if (!this.#hasSample) return 0;
    return Math.min(...this.#recent) - this.minRtt;
  }

  /** Doubles the RTO after a timeout (bounded). */
  backoff(): void {
    this.#backoff = Math.min(this.#backoff * 2, 64);
  }

  /** Ends the backoff without a sample: the peer answered, if ambiguously. */
  resetBackoff(): void {
    this.#backoff = 1;
  }

  /** Number of consecutive backoffs (1 = none). */
  get backoffFactor(): number {
    return this.#backoff;
  }

  /** The RTO without backoff, ms. */
  get baseRto(): number {
    return Math.min(this.#max, this.#unclamped());
  }

  /** The RTO with backoff, ms. */
  get rto(): number {
    const base = this.#unclamped();
    const backedOff = Math.max(base, Math.min(base * this.#backoff, this.#maxBackoff));
    return Math.min(this.#max, backedOff);
  }

  /** SRTT + 4·RTTVAR (that term at least 1 ms, the timer granularity), or the initial RTO. */
  #unclamped(): number {
    const known = this.#hasSample || this.#seeded;
    return Math.max(this.#min, known ? this.srtt + Math.max(4 * this.rttvar, 1) : this.#initial);
  }
}
