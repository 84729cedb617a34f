/**
 * Path MTU probing (the DPLPMTUD idea of RFC 8899, simplified): send padded PROBE datagrams of
 * candidate sizes, take the largest that comes back acknowledged (the ack is padded to the same
 * size, so both directions carry it). 1200 bytes is always assumed to work. Pure: no sockets,
 * no clock.
 * @module
 */
import { SAFE_DATAGRAM } from "../../wire/limits.ts";

/** Candidate UDP payload sizes, largest first: 32 KiB blocks, 16 KiB, jumbo, Ethernet v4/v6. */
export const PROBE_SIZES = [32784, 16400, 8952, 1472, 1452] as const;

/** Options for {@link MtuProbe}. */
export interface MtuProbeOptions {
  /** Largest payload to try (from `--mtu`). @default 32784 */
  max?: number;
  /** Time to wait for acks in the first round, ms; each later round waits twice as long. @default 150 */
  roundMs?: number;
  /** Rounds of probes before settling. @default 2 */
  rounds?: number;
  /**
   * Once a smaller size is acknowledged, the round ends this many of its round trips later (at
   * least `minRoundMs`) rather than at `roundMs`, and later rounds are timed the same way, up to
   * `rttRounds` of them: a lost probe of the largest size costs a few round trips. @default 2
   */
  rttFactor?: number;
  /** Shortest round, ms. @default 2 */
  minRoundMs?: number;
  /** Rounds allowed once round trips are measured. @default 4 */
  rttRounds?: number;
  /** Copies of the largest candidate sent per round. @default 1 */
  copies?: number;
}

/** See the module doc. */
export class MtuProbe {
  readonly #candidates: number[];
  readonly #roundMs: number;
  readonly #rounds: number;
  #round = 0;
  #deadline = -1;
  #roundAt = 0;
  #rtt: number | undefined;
  readonly #rttFactor: number;
  readonly #minRoundMs: number;
  readonly #rttRounds: number;
  readonly #copies: number;
  #best = SAFE_DATAGRAM;
  #pending: number[] = [];
  #done = false;
  #refused = false;

  constructor(options: MtuProbeOptions = {}) {
    const max = options.max ?? PROBE_SIZES[0];
    this.#candidates = [...new Set([max, ...PROBE_SIZES])].filter((s) =>
      s <= max && s > SAFE_DATAGRAM
    )
      .sort((a, b) => b - a);
    this.#roundMs = options.roundMs ?? 150;
    this.#rounds = options.rounds ?? 2;
    this.#rttFactor = options.rttFactor ?? 2;
    this.#minRoundMs = options.minRoundMs ?? 2;
    this.#rttRounds = Math.max(this.#rounds, options.rttRounds ?? 4);
    this.#copies = Math.max(1, Math.floor(options.copies ?? 1));
    if (this.#candidates.length === 0) this.#done = true;
  }

  /** Largest size acknowledged so far (1200 before any ack). */
  get result(): number {
    return this.#best;
  }

  /** True once probing is over. */
  get done(): boolean {
    return this.#done;
  }

  /** Sizes to send now (each as one PROBE padded to that size). Starts a round if none is running. */
  pollTransmit(now: number): number[] {
    if (this.#done || this.#deadline >= 0) return [];
    this.#round++;
    // Later rounds wait longer: a busy owner answers late, and settling for 1452 bytes when the
    // path carries 32 KiB makes the transfer several times slower (docs/TRANSFER.md).
    this.#roundAt = now;
    this.#deadline = now + this.#roundLength();
    this.#pending = this.#candidates.filter((s) => s > this.#best);
    const copies = this.#pending[0] === this.#candidates[0] ? this.#copies - 1 : 0;
    return copies > 0
      ? [...Array(copies).fill(this.#pending[0]!), ...this.#pending]
      : this.#pending;
  }

  #roundLength(): number {
    const blind = this.#roundMs * 2 ** (this.#round - 1);
    if (this.#rtt === undefined) return blind;
    return Math.min(
      blind,
      Math.max(this.#minRoundMs, this.#rttFactor * this.#rtt) * 2 ** (this.#round - 1),
    );
  }

  /** A PROBE_ACK of `size` bytes arrived. */
  handleAck(size: number, now: number): void {
    if (this.#done || !this.#candidates.includes(size)) return;
    if (size > this.#best) this.#best = size;
    if (size === this.#candidates[0] || this.#refused) this.#done = true;
    else if (this.#deadline >= 0) {
      // A smaller size came back: the largest would have by a round trip or so later
      this.#rtt ??= Math.max(0, now - this.#roundAt);
      this.#deadline = Math.min(this.#deadline, this.#roundAt + this.#roundLength());
    }
  }

  /**
   * The owner refuses large probes for now (a seed that many downloaders probe at once): the
   * round ends with the sizes acknowledged so far, at once if one is, else at the next ack or the
   * round's deadline, and no other round follows.
   *
   * @param now the time, ms
   */
  handleRefused(now: number): void {
    if (this.#done) return;
    this.#refused = true;
    if (this.#best > SAFE_DATAGRAM) this.#done = true;
    else if (this.#deadline >= 0) {
      this.#deadline = Math.min(this.#deadline, now + this.#roundLength());
    }
  }

  /** When to call {@link handleTimeout}, or undefined. */
  pollTimeout(): number | undefined {
    return this.#done || this.#deadline < 0 ? undefined : this.#deadline;
  }

  /** The round's deadline passed: settle, or allow another round. */
  handleTimeout(now: number): void {
    if (this.#done || this.#deadline < 0 || now < this.#deadline) return;
    this.#deadline = -1;
    const rounds = this.#rtt === undefined ? this.#rounds : this.#rttRounds;
    if (this.#round >= rounds || this.#best === this.#candidates[0] || this.#refused) {
      this.#done = true;
    }
  }
}
