/**
 * Request/response over UDP: transaction ids, retransmission with exponential backoff, and a
 * bounded total wait. Transport-agnostic: the caller supplies `send` and feeds replies in with
 * {@link RequestTable.resolve}.
 * @module
 */

/** How a request is retransmitted. */
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

/** Rejection of a request that got no reply within its policy. */
export class RequestTimeoutError extends Error {
  /** Sends made. */
  readonly attempts: number;
  /** Time from the first send to giving up, in ms. */
  readonly elapsedMs: number;

  /**
   * @param attempts sends made
   * @param elapsedMs time waited
   */
  constructor(attempts: number, elapsedMs: number) {
    super(`No reply after ${attempts} attempt(s) over ${(elapsedMs / 1000).toFixed(1)} s`);
    this.name = "RequestTimeoutError";
    this.attempts = attempts;
    this.elapsedMs = elapsedMs;
  }
}

/** Rejection of requests cancelled by {@link RequestTable.cancelAll}. */
export class RequestCancelledError extends Error {
  /** @param message why */
  constructor(message = "Request cancelled") {
    super(message);
    this.name = "RequestCancelledError";
  }
}

interface Pending<T> {
  readonly txid: number;
  readonly bytes: Uint8Array;
  readonly to: Deno.NetAddr;
  readonly policy: RetryPolicy;
  readonly started: number;
  attempts: number;
  delay: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  resolve(value: T): void;
  reject(error: unknown): void;
}

/** Options for {@link RequestTable}. */
export interface RequestTableOptions {
  /** Sends a datagram (fire and forget). */
  send: (bytes: Uint8Array, to: Deno.NetAddr) => void;
  /** Default policy; per-request overrides merge into it. */
  policy?: Partial<RetryPolicy>;
  /** Random numbers in [0, 1) for the first txid and backoff jitter. @default Math.random */
  random?: () => number;
  /** Clock in ms. @default performance.now */
  now?: () => number;
}

/** Outstanding requests by transaction id, each with its own retransmission timer. */
export class RequestTable<T> {
  readonly #send: (bytes: Uint8Array, to: Deno.NetAddr) => void;
  readonly #policy: RetryPolicy;
  readonly #random: () => number;
  readonly #now: () => number;
  readonly #pending = new Map<number, Pending<T>>();
  #nextTxid: number;
  /** Retransmissions sent. */
  retransmits = 0;

  /** @param options send function, default policy, randomness and clock */
  constructor(options: RequestTableOptions) {
    this.#send = options.send;
    this.#policy = { ...DEFAULT_RETRY, ...options.policy };
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? (() => performance.now());
    this.#nextTxid = (Math.floor(this.#random() * 0xfffffff0) + 1) >>> 0;
  }

  /** Requests waiting for a reply. */
  get size(): number {
    return this.#pending.size;
  }

  /**
   * Tells whether `txid` is outstanding.
   *
   * @param txid the transaction id
   * @returns true while waiting for its reply
   */
  has(txid: number): boolean {
    return this.#pending.has(txid);
  }

  /**
   * Sends a request and retransmits it until {@link RequestTable.resolve} is called with its
   * txid or the policy runs out.
   *
   * @param encode builds the datagram for a txid (called once; the bytes are resent as is)
   * @param to the destination
   * @param policy overrides of the default policy
   * @returns the reply value
   * @throws {RequestTimeoutError} when the policy runs out
   * @throws {RequestCancelledError} when cancelled
   */
  request(
    encode: (txid: number) => Uint8Array,
    to: Deno.NetAddr,
    policy?: Partial<RetryPolicy>,
  ): Promise<T> {
    const txid = this.#allocateTxid();
    const bytes = encode(txid);
    const p = { ...this.#policy, ...policy };
    return new Promise<T>((resolve, reject) => {
      const pending: Pending<T> = {
        txid,
        bytes,
        to,
        policy: p,
        started: this.#now(),
        attempts: 0,
        delay: p.initialMs,
        timer: undefined,
        resolve,
        reject,
      };
      this.#pending.set(txid, pending);
      this.#transmit(pending);
    });
  }

  /**
   * Completes a request.
   *
   * @param txid the reply's transaction id
   * @param value the reply
   * @returns false when no request with that txid is outstanding (late or stray reply)
   */
  resolve(txid: number, value: T): boolean {
    const p = this.#take(txid);
    if (p === undefined) return false;
    p.resolve(value);
    return true;
  }

  /**
   * Fails a request.
   *
   * @param txid the transaction id
   * @param error the rejection
   * @returns false when no request with that txid is outstanding
   */
  reject(txid: number, error: unknown): boolean {
    const p = this.#take(txid);
    if (p === undefined) return false;
    p.reject(error);
    return true;
  }

  /**
   * Fails every outstanding request and stops all timers.
   *
   * @param error the rejection
   */
  cancelAll(error: unknown = new RequestCancelledError()): void {
    for (const txid of [...this.#pending.keys()]) this.reject(txid, error);
  }

  #take(txid: number): Pending<T> | undefined {
    const p = this.#pending.get(txid);
    if (p === undefined) return undefined;
    this.#pending.delete(txid);
    if (p.timer !== undefined) clearTimeout(p.timer);
    p.timer = undefined;
    return p;
  }

  #transmit(p: Pending<T>): void {
    p.attempts++;
    if (p.attempts > 1) this.retransmits++;
    this.#send(p.bytes, p.to);
    const elapsed = this.#now() - p.started;
    // ±10 % jitter so many clients that lost the tracker at once do not retry in lockstep.
    const wait = Math.min(p.delay, p.policy.maxDelayMs) * (0.9 + 0.2 * this.#random());
    const last = p.attempts >= p.policy.attempts || elapsed + wait >= p.policy.totalMs;
    const delay = last ? Math.max(0, Math.min(wait, p.policy.totalMs - elapsed)) : wait;
    p.delay = Math.min(p.delay * p.policy.factor, p.policy.maxDelayMs);
    p.timer = setTimeout(() => {
      p.timer = undefined;
      if (this.#pending.get(p.txid) !== p) return;
      if (last) {
        this.#pending.delete(p.txid);
        p.reject(new RequestTimeoutError(p.attempts, this.#now() - p.started));
      } else {
        this.#transmit(p);
      }
    }, delay);
  }

  #allocateTxid(): number {
    for (;;) {
      const t = this.#nextTxid;
      this.#nextTxid = (this.#nextTxid + 1) >>> 0;
      if (t !== 0 && !this.#pending.has(t)) return t;
    }
  }
}
