/**
 * Getting and renewing owners' address cookies. An owner serves manifest and block requests only
 * when they carry its cookie for the downloader's IP address, and it hands the cookie out in the
 * PROBE_ACK that answers a PROBE (docs/PROTOCOL.md, _Anti-amplification_). This core decides
 * whom to PROBE and when: every new owner, and an owner whose cookie it refused (ERROR
 * bad_cookie: its key rotated, or it restarted). PROBEs are retried with a doubling timeout,
 * blind (250 ms) until some owner answered and then a few measured round trips, so a lost PROBE
 * costs milliseconds, not hundreds of them; a round's first PROBE may go out in duplicate. An
 * owner that answers none for the blind schedule's duration (4.75 s) counts as unreachable.
 * Pure: no sockets, no clock.
 *
 * Drive it with `add` / `renew` / `forget` / `handleAck` / `handleTimeout`, drain it with
 * `pollTransmit` (owners to send a PROBE of `size` bytes to), `pollEvent` and `pollTimeout`.
 * @module
 */
import { PROBE_ACK_MIN_SIZE, SAFE_DATAGRAM } from "../../wire/limits.ts";

/** Options for {@link CookieProbe}. */
export interface CookieProbeOptions {
  /** PROBE size in bytes (the ACK is as large), at least 20. @default 1200 */
  size?: number;
  /** Time to wait for the first ACK, ms; doubled for each retry, up to `maxTimeoutMs`. @default 250 */
  timeoutMs?: number;
  /** Longest wait for one ACK, ms. @default 1000 */
  maxTimeoutMs?: number;
  /**
   * PROBEs sent to an owner before it counts as unreachable: with the defaults it is given
   * 4.75 s, and at 20 % loss each way all 6 are lost with odds of 0.2 %. @default 6
   */
  attempts?: number;
  /**
   * A refusal this soon after a new cookie arrived is taken to answer a request sent with the old
   * one, and ignored, ms: the refusals of the requests in flight when the key rotated straggle
   * in around the PROBE_ACK (on other sockets). Keep it well under the owner's cookie lifetime
   * (at least one key epoch, 2 minutes by default). @default 250
   */
  renewHoldoffMs?: number;
  /**
   * Copies of each owner's first PROBE in a round, sent back to back: at 20 % loss each way one
   * PROBE's round trip fails 36 % of the time, two copies' 13 %. @default 1
   */
  copies?: number;
  /**
   * Once some owner has answered, a PROBE's timeout is this many of the measured round trips
   * (then doubled per retry), at least `minTimeoutMs`, instead of `timeoutMs`. @default 3
   */
  rttFactor?: number;
  /** Shortest PROBE timeout, ms (the timer granularity, with slack). @default 2 */
  minTimeoutMs?: number;
}

/** Something the driver acts on. */
export type CookieProbeEvent =
  /** The owner's cookie arrived: requests to it can go out (again). */
  | { kind: "ready"; owner: string; renewed: boolean }
  /** The owner answered none of `attempts` PROBEs. */
  | { kind: "unreachable"; owner: string; renewal: boolean; attempts: number };

interface OwnerCookie {
  /** The latest cookie, 0n until one arrived. */
  cookie: bigint;
  /** When it arrived. */
  cookieAt: number;
  /** PROBEs sent in the current round (0: not probing). */
  sends: number;
  /** When the latest PROBE times out; -1 when one is due now. */
  deadline: number;
  /** When the latest PROBE was sent. */
  sentAt: number;
  /** When the round's first PROBE was sent. */
  roundAt: number;
  /** The round trip of its latest answered PROBE, ms (undefined before one). */
  rtt: number | undefined;
  /** The round renews a cookie that was refused (rather than fetching a first one). */
  renewal: boolean;
}

/**
 * See the module doc.
 *
 * @example Two owners: one answers, one never does
 * ```ts
 * import assert from "node:assert/strict";
 * import { CookieProbe } from "./cookie_probe.ts";
 *
 * const probe = new CookieProbe({ timeoutMs: 100, attempts: 2 });
 * probe.add("alice", 0);
 * probe.add("bob", 0);
 * assert.deepEqual(probe.pollTransmit(0), ["alice", "bob"]); // one PROBE each
 * probe.handleAck("alice", 0xc0ffeen, 5);
 * assert.equal(probe.cookie("alice"), 0xc0ffeen);
 * assert.deepEqual(probe.pollEvent(), { kind: "ready", owner: "alice", renewed: false });
 * probe.handleTimeout(100);
 * assert.deepEqual(probe.pollTransmit(100), ["bob"]); // the retry
 * probe.handleTimeout(300);
 * assert.equal(probe.pollEvent()?.kind, "unreachable");
 * ```
 */
export class CookieProbe {
  /** PROBE size in bytes. */
  readonly size: number;
  readonly #timeoutMs: number;
  readonly #maxTimeoutMs: number;
  readonly #attempts: number;
  readonly #holdoffMs: number;
  readonly #copies: number;
  readonly #rttFactor: number;
  readonly #minTimeoutMs: number;
  /** How long a round lasts before its owner is unreachable (the schedule without an RTT). */
  readonly #giveUpMs: number;
  /** The latest PROBE round trip measured with any owner, ms. */
  #rtt: number | undefined;
  readonly #owners = new Map<string, OwnerCookie>();
  /** Owners being probed. */
  readonly #probing = new Set<string>();
  readonly #events: CookieProbeEvent[] = [];

  /**
   * @param options PROBE size, timeouts and attempts
   * @throws {RangeError} for a size under 20 bytes or a non-positive timeout or attempt count
   */
  constructor(options: CookieProbeOptions = {}) {
    this.size = options.size ?? SAFE_DATAGRAM;
    this.#timeoutMs = options.timeoutMs ?? 250;
    this.#maxTimeoutMs = options.maxTimeoutMs ?? 1000;
    this.#attempts = options.attempts ?? 6;
    this.#holdoffMs = options.renewHoldoffMs ?? 250;
    this.#copies = Math.max(1, Math.floor(options.copies ?? 1));
    this.#rttFactor = options.rttFactor ?? 3;
    this.#minTimeoutMs = options.minTimeoutMs ?? 2;
    let giveUp = 0;
    for (let k = 0; k < this.#attempts; k++) {
      giveUp += Math.min(this.#timeoutMs * 2 ** k, this.#maxTimeoutMs);
    }
    this.#giveUpMs = giveUp;
    if (!(this.size >= PROBE_ACK_MIN_SIZE)) {
      throw new RangeError(`Cannot probe for cookies: size is ${this.size}, at least 20`);
    }
    if (!(this.#timeoutMs > 0) || !(this.#attempts >= 1)) {
      throw new RangeError(
        `Cannot probe for cookies: timeoutMs ${this.#timeoutMs} and attempts ${this.#attempts} must be positive`,
      );
    }
  }

  /** Owners being probed now. */
  get probing(): number {
    return this.#probing.size;
  }

  /** Owners with a cookie (including those whose cookie is being renewed). */
  get ready(): number {
    let n = 0;
    for (const o of this.#owners.values()) if (o.cookie !== 0n) n++;
    return n;
  }

  /** Owners probed for a first cookie whose first PROBE has not timed out yet. */
  get waiting(): number {
    let n = 0;
    for (const key of this.#probing) {
      const o = this.#owners.get(key)!;
      if (!o.renewal && o.cookie === 0n && o.sends <= 1) n++;
    }
    return n;
  }

  /** True when there is something to send, an event to take or a timeout to watch. */
  get busy(): boolean {
    return this.#probing.size > 0 || this.#events.length > 0;
  }

  /** The owner's latest cookie, or undefined before its first ACK. */
  cookie(owner: string): bigint | undefined {
    const c = this.#owners.get(owner)?.cookie;
    return c === undefined || c === 0n ? undefined : c;
  }

  /**
   * The round trip of the owner's latest answered PROBE, ms (the time since the latest PROBE
   * sent to it, so a late answer to an earlier one reads short), or undefined.
   */
  rtt(owner: string): number | undefined {
    return this.#owners.get(owner)?.rtt;
  }

  /** True when the owner's cookie is known. */
  has(owner: string): boolean {
    return (this.#owners.get(owner)?.cookie ?? 0n) !== 0n;
  }

  /**
   * Starts probing an owner without a cookie (new, or unreachable earlier); an owner with a
   * cookie, or already being probed, is left alone.
   */
  add(owner: string, _now: number): void {
    let o = this.#owners.get(owner);
    if (o === undefined) {
      o = {
        cookie: 0n,
        cookieAt: -Infinity,
        sends: 0,
        deadline: -1,
        sentAt: -Infinity,
        roundAt: -Infinity,
        rtt: undefined,
        renewal: false,
      };
      this.#owners.set(owner, o);
    }
    if (o.cookie !== 0n || this.#probing.has(owner)) return;
    this.#start(owner, o, false);
  }

  /**
   * The owner refused its cookie (ERROR bad_cookie): probe it for a new one. The old cookie stays
   * in use until the new one arrives.
   *
   * @returns true when a new round of PROBEs started; false when one is running already, the
   *   owner is unknown, or its cookie arrived less than `renewHoldoffMs` ago
   */
  renew(owner: string, now: number): boolean {
    const o = this.#owners.get(owner);
    if (o === undefined || this.#probing.has(owner)) return false;
    if (o.cookie !== 0n && now - o.cookieAt < this.#holdoffMs) return false;
    this.#start(owner, o, o.cookie !== 0n);
    return true;
  }

  /**
   * A round trip measured elsewhere (the tracker's answer to NEED), used as the measured one
   * until an owner answers: PROBEs lost before any owner answered are then resent after a few
   * of those round trips, not after the blind `timeoutMs`. Pending timeouts shorten at once.
   */
  hintRtt(rttMs: number, _now: number): void {
    if (this.#rtt !== undefined || !(rttMs >= 0)) return;
    this.#rtt = rttMs;
    for (const key of this.#probing) {
      const p = this.#owners.get(key)!;
      if (p.deadline >= 0) p.deadline = Math.min(p.deadline, p.sentAt + this.#timeout(p.sends));
    }
  }

  /** Forgets an owner and its cookie (it moved to another address). */
  forget(owner: string): void {
    this.#owners.delete(owner);
    this.#probing.delete(owner);
  }

  /** A PROBE_ACK from `owner` carried `cookie` (0n: the owner hands out none, ignored). */
  handleAck(owner: string, cookie: bigint, now: number): void {
    const o = this.#owners.get(owner);
    if (o === undefined || cookie === 0n) return;
    if (cookie !== o.cookie) {
      o.cookie = cookie;
      o.cookieAt = now;
    }
    if (!this.#probing.delete(owner)) return;
    if (o.sends > 0) {
      const first = this.#rtt === undefined;
      o.rtt = this.#rtt = Math.max(0, now - o.sentAt);
      // The first round trip measured: the others' PROBEs need not wait the blind timeout
      if (first) {
        for (const key of this.#probing) {
          const p = this.#owners.get(key)!;
          if (p.deadline >= 0) p.deadline = Math.min(p.deadline, p.sentAt + this.#timeout(1));
        }
      }
    }
    o.sends = 0;
    this.#events.push({ kind: "ready", owner, renewed: o.renewal });
  }

  /**
   * Owners to send one PROBE of {@link size} bytes to now (an owner listed twice gets two: the
   * `copies` of a round's first PROBE).
   */
  pollTransmit(now: number): string[] {
    const out: string[] = [];
    for (const key of this.#probing) {
      const o = this.#owners.get(key)!;
      if (o.deadline >= 0) continue;
      o.sends++;
      o.sentAt = now;
      if (o.sends === 1) o.roundAt = now;
      o.deadline = now + this.#timeout(o.sends);
      for (let c = o.sends === 1 ? this.#copies : 1; c > 0; c--) out.push(key);
    }
    return out;
  }

  /** The timeout of an owner's `n`-th PROBE in a round, ms. */
  #timeout(n: number): number {
    const base = this.#rtt === undefined
      ? this.#timeoutMs
      : Math.min(this.#timeoutMs, Math.max(this.#minTimeoutMs, this.#rttFactor * this.#rtt));
    return Math.min(base * 2 ** (n - 1), this.#maxTimeoutMs);
  }

  /** The next event, or undefined. */
  pollEvent(): CookieProbeEvent | undefined {
    return this.#events.shift();
  }

  /** When to call {@link handleTimeout}, or undefined. */
  pollTimeout(): number | undefined {
    let t: number | undefined;
    for (const key of this.#probing) {
      const d = this.#owners.get(key)!.deadline;
      if (d >= 0 && (t === undefined || d < t)) t = d;
    }
    return t;
  }

  /** PROBEs that timed out are sent again, or their owner counts as unreachable. */
  handleTimeout(now: number): void {
    for (const key of this.#probing) {
      const o = this.#owners.get(key)!;
      if (o.deadline < 0 || o.deadline > now) continue;
      // Short timeouts (from a measured round trip) send more PROBEs in the same time: an owner
      // counts as unreachable after `attempts` PROBEs and the blind schedule's whole duration
      if (o.sends < this.#attempts || now - o.roundAt < this.#giveUpMs) {
        o.deadline = -1;
        continue;
      }
      this.#probing.delete(key);
      this.#events.push({
        kind: "unreachable",
        owner: key,
        renewal: o.renewal,
        attempts: o.sends,
      });
      o.sends = 0;
      o.cookie = 0n; // refused or never given: a later add() probes again
    }
  }

  #start(owner: string, o: OwnerCookie, renewal: boolean): void {
    o.sends = 0;
    o.roundAt = -Infinity;
    o.deadline = -1;
    o.renewal = renewal;
    this.#probing.add(owner);
  }
}
