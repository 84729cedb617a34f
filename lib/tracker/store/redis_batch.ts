/**
 * Group commit for the Redis store: the operations asked for while a round trip is under way
 * wait, and leave together as ONE command when it returns (one `EVALSHA` of the script's
 * `batch` entry, N operations in, N answers out), so a loaded tracker pays one write, one read
 * and one command's client overhead per batch instead of per request. With nothing in flight an
 * operation leaves at the end of the current microtask turn (operations of one turn go
 * together), so a lightly loaded tracker waits for nothing.
 *
 * - Bounded: at most `maxBatch` operations and about `maxBytes` of arguments per batch; at most
 *   `maxQueued` waiting (past it an operation is refused at once: the tracker drops the
 *   request and the peer retries).
 * - Ordered: batches leave in the order their operations were asked for, and the script runs a
 *   batch's operations in that order, so one peer's requests apply in the order received.
 * - Failure: a batch that fails (connection lost, …) rejects each of its operations with the
 *   error; an answer that is an error (a script error in one operation) rejects that one only.
 *
 * No socket here: `send` is given (redis_store.ts sends the batch as one `EVALSHA`). Figures:
 * docs/TRACKER.md, _Tracker-level benchmark_.
 * @module
 */

/** One argument of an operation, as sent to Redis. */
export type BatchArg = string | number;

/** Options for {@link RedisBatcher}. */
export interface RedisBatcherOptions {
  /**
   * Sends one batch (each operation's arguments, in order) and resolves with one answer per
   * operation, in order (an `Error` for an operation that failed).
   */
  send: (ops: BatchArg[][]) => Promise<unknown[]>;
  /** At most this many operations in one batch. @default 64 */
  maxBatch?: number;
  /** A batch stops growing past about this many bytes of arguments. @default 65536 */
  maxBytes?: number;
  /** Batches in flight at once. @default 1 */
  maxInFlight?: number;
  /** Operations waiting at most; past it one is refused with `overloaded`. @default 4096 */
  maxQueued?: number;
  /** Makes the error an operation is refused with when the queue is full. */
  overloaded?: (queued: number) => Error;
}

interface Waiting {
  args: BatchArg[];
  bytes: number;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

/** Counters of a {@link RedisBatcher} (for benchmarks and tests). */
export interface BatchCounters {
  /** Batches sent. */
  batches: number;
  /** Operations sent. */
  operations: number;
  /** Operations refused because the queue was full. */
  refused: number;
  /** The largest batch sent. */
  largest: number;
}

/** Collects operations into batches of one round trip each. */
export class RedisBatcher {
  readonly #send: (ops: BatchArg[][]) => Promise<unknown[]>;
  readonly #maxBatch: number;
  readonly #maxBytes: number;
  readonly #maxInFlight: number;
  readonly #maxQueued: number;
  readonly #overloaded: (queued: number) => Error;
  #queue: Waiting[] = [];
  #head = 0;
  #inFlight = 0;
  #scheduled = false;
  /** What was sent so far. */
  readonly counters: BatchCounters = { batches: 0, operations: 0, refused: 0, largest: 0 };

  /**
   * @param options how to send a batch, and the bounds
   */
  constructor(options: RedisBatcherOptions) {
    this.#send = options.send;
    this.#maxBatch = Math.max(1, options.maxBatch ?? 64);
    this.#maxBytes = Math.max(1, options.maxBytes ?? 65_536);
    this.#maxInFlight = Math.max(1, options.maxInFlight ?? 1);
    this.#maxQueued = Math.max(1, options.maxQueued ?? 4096);
    this.#overloaded = options.overloaded ??
      ((n) => new Error(`Redis batch queue is full: ${n} operations waiting`));
  }

  /** Operations waiting for a batch. */
  get queued(): number {
    return this.#queue.length - this.#head;
  }

  /** Batches sent and not answered yet. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Queues one operation.
   *
   * @param args its arguments (the script's operation name first)
   * @returns its answer, when its batch has been answered
   */
  call(args: BatchArg[]): Promise<unknown> {
    if (this.queued >= this.#maxQueued) {
      this.counters.refused++;
      return Promise.reject(this.#overloaded(this.queued));
    }
    let bytes = 8;
    for (const a of args) bytes += typeof a === "string" ? a.length + 8 : 24;
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    this.#queue.push({ args, bytes, resolve, reject });
    if (!this.#scheduled && this.#inFlight < this.#maxInFlight) {
      this.#scheduled = true;
      queueMicrotask(() => {
        this.#scheduled = false;
        this.#flush();
      });
    }
    return promise;
  }

  /** Sends batches while there is room in flight and operations wait. */
  #flush(): void {
    while (this.#inFlight < this.#maxInFlight && this.queued > 0) {
      const batch: Waiting[] = [];
      const ops: BatchArg[][] = [];
      let bytes = 0;
      while (this.queued > 0 && batch.length < this.#maxBatch) {
        const w = this.#queue[this.#head]!;
        if (batch.length > 0 && bytes + w.bytes > this.#maxBytes) break;
        this.#head++;
        batch.push(w);
        ops.push(w.args);
        bytes += w.bytes;
      }
      if (this.#head === this.#queue.length) {
        this.#queue = [];
        this.#head = 0;
      } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
      this.#inFlight++;
      this.counters.batches++;
      this.counters.operations += batch.length;
      if (batch.length > this.counters.largest) this.counters.largest = batch.length;
      // The next batch leaves before this one's answers are handed out: Redis works on it
      // while the tracker finishes the requests just answered.
      this.#send(ops).then(
        (answers) => {
          this.#inFlight--;
          this.#flush();
          this.#settle(batch, answers);
        },
        (e) => {
          this.#inFlight--;
          this.#flush();
          for (const w of batch) w.reject(e);
        },
      );
    }
  }

  #settle(batch: Waiting[], answers: unknown[]): void {
    for (let i = 0; i < batch.length; i++) {
      const a = answers[i];
      if (a instanceof Error) batch[i]!.reject(a);
      else if (i >= answers.length) {
        batch[i]!.reject(new Error(`Redis batch answered ${answers.length} of ${batch.length}`));
      } else batch[i]!.resolve(a);
    }
  }
}
