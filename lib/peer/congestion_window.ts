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
}

/**
 * An AIMD congestion window in bytes (NewReno-like): slow start to ssthresh, then one block per
 * window; halve once per round trip on loss; collapse to the minimum on a timeout.
 */
export class CongestionWindow {
  cwnd: number;
  ssthresh = Infinity;
  readonly #block: number;
  readonly #min: number;
  readonly #max: number;
  /** Send time of the request that ended the last recovery period: losses of earlier requests do not reduce again. */
  #recoveryStart = -Infinity;

  constructor(options: CongestionWindowOptions) {
    this.#block = options.blockSize;
    this.#min = options.min ?? options.blockSize;
    this.#max = Math.max(this.#min, options.max ?? 256 * 1024);
    this.cwnd = Math.min(this.#max, Math.max(this.#min, options.initial ?? 4 * options.blockSize));
  }

  /** A block of `bytes` arrived. */
  onAck(bytes: number): void {
    if (this.cwnd < this.ssthresh) this.cwnd += bytes;
    else this.cwnd += (this.#block * bytes) / this.cwnd;
    if (this.cwnd > this.#max) this.cwnd = this.#max;
  }

  /** A block sent at `sentAt` was lost (detected by later arrivals); `now` starts recovery. */
  onLoss(sentAt: number, now: number): void {
    if (sentAt <= this.#recoveryStart) return;
    this.#recoveryStart = now;
    this.ssthresh = Math.max(this.#min, this.cwnd / 2);
    this.cwnd = this.ssthresh;
  }

  /** A retransmission timeout fired. */
  onTimeout(now: number): void {
    this.#recoveryStart = now;
    this.ssthresh = Math.max(this.#min, this.cwnd / 2);
    this.cwnd = this.#min;
  }
}
