/**
 * Fetches an encoded manifest (possibly many datagrams long) from owners and checks it against
 * the content id. Pure: no sockets, no clock; the driver hashes nothing itself.
 * @module
 */
import { createHash } from "node:crypto";
import { MANIFEST_DATA_HEADER_SIZE, MAX_MANIFEST_BYTES } from "../../wire/limits.ts";

/** Options for {@link ManifestFetch}. */
export interface ManifestFetchOptions {
  contentId: Uint8Array;
  /** Largest datagram to ask for. */
  maxDatagram: number;
  /** Cap on the manifest size (derive it from the advertised file size). @default MAX_MANIFEST_BYTES */
  maxBytes?: number;
  /** Requests in flight. @default 8 */
  window?: number;
  /** Per-request timeout before backoff, ms. @default 200 */
  timeoutMs?: number;
  /**
   * Timeouts in a row after which the current owner is given up, if it also sent nothing for
   * as long as that many blind timeouts take (3 s with the defaults). @default 4
   */
  maxTimeouts?: number;
  /**
   * A round trip to the owners measured before (a PROBE's), ms: requests then time out after
   * `rttFactor` round trips (at least `minTimeoutMs`) instead of `timeoutMs`; every answer
   * refines it. @default unknown
   */
  rttMs?: number;
  /** Round trips a request may take before it is sent again. @default 3 */
  rttFactor?: number;
  /** Shortest request timeout, ms. @default 2 */
  minTimeoutMs?: number;
}

/** How long an owner answering busy (and nothing else) counts as alive, ms. */
export const BUSY_PATIENCE_MS = 10_000;

/** A manifest request for the driver to send. */
export interface ManifestTransmit {
  owner: string;
  offset: number;
  maxDatagram: number;
}

/** The largest encoded manifest plausible for a file of `size` bytes with ≥ 16 KiB pieces. */
export function manifestBound(size: number): number {
  return Math.min(MAX_MANIFEST_BYTES, 64 + 32 * Math.ceil(size / 16384));
}

/** See the module doc. */
export class ManifestFetch {
  readonly #contentId: Uint8Array;
  readonly #chunk: number;
  readonly #maxDatagram: number;
  readonly #maxBytes: number;
  readonly #window: number;
  readonly #timeoutMs: number;
  readonly #maxTimeouts: number;
  readonly #owners: string[] = [];
  readonly #failed = new Set<string>();
  #current = -1;
  #total = -1;
  #buffer: Uint8Array | undefined;
  #have: Uint8Array | undefined;
  #haveCount = 0;
  #outstanding = new Map<number, number>();
  #timeouts = 0;
  #backoff = 1;
  #rtt: number | undefined;
  readonly #rttFactor: number;
  readonly #minTimeoutMs: number;
  readonly #giveUpMs: number;
  #progressAt = -Infinity;
  /** When the current owner first answered busy. */
  #busySince: number | undefined;
  #result: Uint8Array | undefined;
  /** Owners that sent something inconsistent or a manifest that did not match the content id. */
  readonly badOwners: string[] = [];

  constructor(options: ManifestFetchOptions) {
    this.#contentId = options.contentId;
    this.#maxDatagram = options.maxDatagram;
    this.#chunk = options.maxDatagram - MANIFEST_DATA_HEADER_SIZE;
    this.#maxBytes = Math.min(options.maxBytes ?? MAX_MANIFEST_BYTES, MAX_MANIFEST_BYTES);
    this.#window = options.window ?? 8;
    this.#timeoutMs = options.timeoutMs ?? 200;
    this.#maxTimeouts = options.maxTimeouts ?? 4;
    this.#rtt = options.rttMs;
    this.#rttFactor = options.rttFactor ?? 3;
    this.#minTimeoutMs = options.minTimeoutMs ?? 2;
    let giveUp = 0;
    for (let k = 0; k < this.#maxTimeouts; k++) giveUp += this.#timeoutMs * Math.min(2 ** k, 8);
    this.#giveUpMs = giveUp;
  }

  /** A request's timeout now (before backoff), ms. */
  #timeout(): number {
    if (this.#rtt === undefined) return this.#timeoutMs;
    return Math.min(this.#timeoutMs, Math.max(this.#minTimeoutMs, this.#rttFactor * this.#rtt));
  }

  /** The verified encoded manifest, once complete. */
  get result(): Uint8Array | undefined {
    return this.#result;
  }

  /** True when every owner has been tried and failed. */
  get failed(): boolean {
    return this.#result === undefined && this.#owners.length > 0 &&
      this.#owners.every((o) => this.#failed.has(o));
  }

  /** The owner currently asked. */
  get currentOwner(): string | undefined {
    return this.#owners[this.#current];
  }

  addOwner(owner: string): void {
    if (!this.#owners.includes(owner)) this.#owners.push(owner);
    if (this.#current < 0) this.#current = 0;
  }

  /** Requests to send now. */
  pollTransmit(now: number): ManifestTransmit[] {
    const owner = this.currentOwner;
    if (this.#progressAt === -Infinity) this.#progressAt = now;
    if (this.#result || owner === undefined || this.#failed.has(owner)) return [];
    const out: ManifestTransmit[] = [];
    if (this.#total < 0) {
      if (this.#outstanding.size === 0) {
        this.#outstanding.set(0, now);
        out.push({ owner, offset: 0, maxDatagram: this.#maxDatagram });
      }
      return out;
    }
    for (
      let off = 0;
      off < this.#total && this.#outstanding.size < this.#window;
      off += this.#chunk
    ) {
      const idx = off / this.#chunk;
      if (this.#have![idx] || this.#outstanding.has(off)) continue;
      this.#outstanding.set(off, now);
      out.push({ owner, offset: off, maxDatagram: this.#maxDatagram });
    }
    return out;
  }

  /** A MANIFEST_DATA slice arrived from `owner`. */
  handleData(owner: string, total: number, offset: number, data: Uint8Array, now: number): void {
    if (this.#result || owner !== this.currentOwner) return;
    if (total > this.#maxBytes || total < 1) return this.#blame(owner);
    if (this.#total < 0) {
      this.#total = total;
      this.#buffer = new Uint8Array(total);
      this.#have = new Uint8Array(Math.ceil(total / this.#chunk));
    } else if (total !== this.#total) {
      return this.#blame(owner);
    }
    if (offset % this.#chunk !== 0) return;
    const expected = Math.min(this.#chunk, total - offset);
    if (data.byteLength !== expected) return;
    const sent = this.#outstanding.get(offset);
    if (sent !== undefined && this.#backoff === 1) {
      const r = Math.max(0, now - sent);
      this.#rtt = this.#rtt === undefined ? r : 0.875 * this.#rtt + 0.125 * r;
    }
    this.#progressAt = now;
    this.#outstanding.delete(offset);
    this.#timeouts = 0;
    this.#backoff = 1;
    const idx = offset / this.#chunk;
    if (this.#have![idx]) return;
    this.#have![idx] = 1;
    this.#haveCount++;
    this.#buffer!.set(data, offset);
    if (this.#haveCount === this.#have!.length) {
      const digest = createHash("sha256").update(this.#buffer!).digest();
      if (digest.every((b, i) => b === this.#contentId[i])) this.#result = this.#buffer;
      else this.#blame(owner);
    }
  }

  /**
   * The owner answered ERROR busy (its rate limit, or a seed in a crowd sending manifests to
   * others first): it is alive, so it is not given up; the fetch moves on to the next owner not
   * given up, if there is another (its slices so far are dropped: a manifest is checked whole
   * against one owner's answers), else asks it again when the request times out.
   */
  handleBusy(owner: string, now: number): void {
    if (this.#result || owner !== this.currentOwner) return;
    // Alive, for a while: one that answers only busy is given up as a silent one would be
    this.#busySince ??= now;
    if (now - this.#busySince < BUSY_PATIENCE_MS) this.#progressAt = now;
    const n = this.#owners.length;
    for (let k = 1; k < n; k++) {
      const i = (this.#current + k) % n;
      if (this.#failed.has(this.#owners[i]!)) continue;
      this.#restart();
      this.#current = i;
      return;
    }
  }

  /** The owner answered ERROR: it does not have this content. */
  handleError(owner: string): void {
    if (owner === this.currentOwner) this.#nextOwner(owner);
    else this.#failed.add(owner);
  }

  pollTimeout(): number | undefined {
    if (this.#result || this.#outstanding.size === 0) return undefined;
    let t = Infinity;
    for (const sent of this.#outstanding.values()) {
      t = Math.min(t, sent + this.#timeout() * this.#backoff);
    }
    return t;
  }

  handleTimeout(now: number): void {
    let fired = false;
    for (const [off, sent] of this.#outstanding) {
      if (sent + this.#timeout() * this.#backoff <= now) {
        this.#outstanding.delete(off);
        fired = true;
      }
    }
    if (!fired) return;
    this.#backoff = Math.min(this.#backoff * 2, 8);
    if (
      ++this.#timeouts >= this.#maxTimeouts && now - this.#progressAt >= this.#giveUpMs &&
      this.currentOwner !== undefined
    ) {
      this.#nextOwner(this.currentOwner);
    }
  }

  #blame(owner: string): void {
    this.badOwners.push(owner);
    this.#nextOwner(owner);
  }

  #nextOwner(owner: string): void {
    this.#failed.add(owner);
    this.#restart();
    const next = this.#owners.findIndex((o) => !this.#failed.has(o));
    this.#current = next < 0 ? this.#owners.length : next;
  }

  /** Forgets the slices and requests of the owner asked so far. */
  #restart(): void {
    this.#total = -1;
    this.#buffer = this.#have = undefined;
    this.#haveCount = 0;
    this.#outstanding.clear();
    this.#timeouts = 0;
    this.#backoff = 1;
    this.#progressAt = -Infinity;
    this.#busySince = undefined;
  }
}
