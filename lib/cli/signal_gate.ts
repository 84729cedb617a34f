/**
 * Turns the SIGINT/SIGTERM deliveries of one Ctrl-C into one stop request. A terminal's Ctrl-C
 * reaches a `deno task` child twice (once through the terminal's process group, once forwarded
 * by `deno task`), so deliveries within a short window count as one; a signal after the
 * window means "exit now". Pure: the clock is injected.
 * @module
 */

/** Options for {@link SignalGate}. */
export interface SignalGateOptions {
  /** Deliveries closer than this to the first count as the same one, in ms. @default 1000 */
  windowMs?: number;
  /** Clock in ms. @default performance.now */
  now?: () => number;
}

/** What to do with one delivered signal. */
export type SignalVerdict = "stop" | "repeat" | "exit now";

/** Decides what each delivered signal means: the first stops, repeats are ignored, later ones exit. */
export class SignalGate {
  readonly #windowMs: number;
  readonly #now: () => number;
  #first: number | undefined;

  /** Creates a gate that has seen no signal yet. */
  constructor(options: SignalGateOptions = {}) {
    this.#windowMs = options.windowMs ?? 1000;
    this.#now = options.now ?? (() => performance.now());
  }

  /**
   * Classifies one delivery.
   *
   * @returns `stop` for the first, `repeat` within the window, `exit now` after it.
   */
  deliver(): SignalVerdict {
    const t = this.#now();
    if (this.#first === undefined) {
      this.#first = t;
      return "stop";
    }
    return t - this.#first < this.#windowMs ? "repeat" : "exit now";
  }
}
