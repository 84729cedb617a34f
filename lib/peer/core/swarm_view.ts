/**
 * A download's view of what each owner has (swarming), sans-I/O: when to send an owner a
 * BITFIELD request, and what its BITFIELD replies and HAVEs mean for the {@link DownloadEngine}.
 *
 * - An owner the tracker listed as complete (share byte 255 or none) is used at once with every
 *   piece, so start-up never waits for a BITFIELD reply; its reply still replaces that (a seed
 *   that answers with an offer then has only the offered pieces). An owner listed as partial has
 *   nothing until its reply or a HAVE says what it has; one that never answers is taken as the
 *   tracker listed it.
 * - Every owner is asked once its address cookie is known: a BITFIELD request carries this
 *   download's own verified pieces (so it is as large as the reply) and the owner's cookie. It is
 *   sent again without a reply after twice the owner's measured round trip (its PROBE's; at
 *   least {@link MIN_ASK_RETRY_MS}), doubled with each try and at most {@link ASK_RETRY_MS}
 *   (also the wait when no round trip is known), so a lost request or reply costs milliseconds at start-up, not a blind
 *   wait. An owner that has not answered {@link ASK_TRIES} tries over
 *   `ASK_TRIES × ASK_RETRY_MS` is treated as the tracker listed it.
 * - A reply's bits replace what the owner has, unless they are an *offer* (a seed that sends
 *   each piece to the swarm about once offers a few pieces at a time): an offer adds to them, the
 *   owner is *scarce* for the picker (asked only for pieces nobody else has), and
 *   the owner is asked again once none of its pieces can be started and at most one is still
 *   being fetched from it (so the seed is not asked for more than it can send meanwhile), at
 *   most every {@link OFFER_GAP_MS}. A reply with every bit set and no offer makes the owner complete.
 * - While the engine is swarming, owners that said they are complete are asked again every
 *   {@link REFRESH_MS} (a seed starts offering once several peers download); a lone download
 *   never asks again.
 * - A HAVE adds one or more pieces.
 * - A finished download sends each seed it asked one more request, with every bit set
 *   ({@link SwarmView.farewells}): the seed no longer counts it as downloading.
 *
 * Files of more than 8,192 pieces take one request per slice of 8,192.
 * @module
 */
import { encodeMessage } from "../../wire/codec.ts";
import { MAX_HAVE_BYTES } from "../../wire/limits.ts";
import type { BitfieldMessage, HaveMessage } from "../../wire/messages.ts";
import type { DownloadEngine } from "./download_engine.ts";

/** A BITFIELD request without a reply is sent again after this long, ms. */
export const ASK_RETRY_MS = 400;
/** The least wait before a BITFIELD request is sent again, ms. */
export const MIN_ASK_RETRY_MS = 2;
/** Tries of a BITFIELD request before the owner is taken as the tracker listed it. */
export const ASK_TRIES = 4;
/** An owner whose offer is used up is asked again at most this often, ms. */
export const OFFER_GAP_MS = 100;
/** While swarming, complete owners are asked again this often, ms. */
export const REFRESH_MS = 1000;
/** How often owners are checked for a used-up offer, ms. */
export const CHECK_MS = 50;

const SLICE_PIECES = MAX_HAVE_BYTES * 8;

interface OwnerView {
  /** The tracker listed it as partial. */
  partial: boolean;
  /** What it has, 1 per piece, once any reply or HAVE came. */
  bits: Uint8Array | undefined;
  /** Its last reply was an offer. */
  offer: boolean;
  /** It said it has every piece. */
  complete: boolean;
  /** When the request in flight was sent (undefined: none), and how many tries. */
  askedAt: number | undefined;
  tries: number;
  /** When the first of those tries was sent. */
  firstAskAt: number;
  /** The wait before the request in flight is sent again, ms. */
  retryMs: number;
  /** Slices still to answer. */
  waiting: number;
  /** When it may be asked again. */
  nextAsk: number;
}

/** A BITFIELD request to send to an owner. */
export interface SwarmAsk {
  owner: string;
  bytes: Uint8Array;
}

/** Options for {@link SwarmView}. */
export interface SwarmViewOptions {
  contentId: Uint8Array;
  pieceCount: number;
  /** The download's transfer id (every request carries it; replies and HAVEs echo it). */
  txid: number;
}

/** See the module doc. */
export class SwarmView {
  readonly #o: SwarmViewOptions;
  readonly #owners = new Map<string, OwnerView>();
  /** Owners listed by the tracker as partial, before they are added. */
  readonly #listedPartial = new Set<string>();
  #nextCheck = 0;

  /** @param options the content and the download's transfer id */
  constructor(options: SwarmViewOptions) {
    this.#o = options;
  }

  /**
   * The tracker listed an owner with its share (255 or undefined: complete).
   *
   * @param owner its node id
   * @param have its share byte
   */
  noteListed(owner: string, have: number | undefined): void {
    if (have !== undefined && have < 255) this.#listedPartial.add(owner);
    else this.#listedPartial.delete(owner);
  }

  /**
   * Whether the tracker (or a SHARER) listed `owner` as a partial owner: a download, which can
   * use a SHARER from this one.
   *
   * @param owner its node id
   * @returns true when listed partial
   */
  listedPartial(owner: string): boolean {
    return this.#listedPartial.has(owner);
  }

  /**
   * An owner joined the engine: a complete one has every piece, a partial one nothing yet; it
   * is asked at once.
   *
   * @param owner its node id
   * @param engine the download's engine
   * @param now the time, ms
   */
  ownerAdded(owner: string, engine: DownloadEngine, now: number): void {
    let v = this.#owners.get(owner);
    if (!v) {
      v = {
        partial: this.#listedPartial.has(owner),
        bits: undefined,
        offer: false,
        complete: false,
        askedAt: undefined,
        tries: 0,
        firstAskAt: now,
        retryMs: ASK_RETRY_MS,
        waiting: 0,
        nextAsk: now,
      };
      this.#owners.set(owner, v);
    }
    v.askedAt = undefined;
    v.tries = 0;
    v.nextAsk = now;
    if (v.complete) engine.setAvailability(owner, undefined);
    else if (v.bits) engine.setAvailability(owner, v.bits, v.offer);
    // Listed complete: usable at once, every piece (its reply may still make it an offer)
    else if (!v.partial) engine.setAvailability(owner, undefined);
    // Partial: nothing until it says what it has
    else engine.setAvailability(owner, new Uint8Array(this.#o.pieceCount));
    this.#nextCheck = now;
  }

  /**
   * A BITFIELD reply from an owner.
   *
   * @param owner its node id
   * @param msg the decoded reply
   * @param engine the download's engine
   * @param now the time, ms
   */
  handleBitfield(owner: string, msg: BitfieldMessage, engine: DownloadEngine, now: number): void {
    const v = this.#owners.get(owner);
    if (!v || !msg.reply || !this.#ours(msg)) return;
    const n = this.#o.pieceCount;
    const bits = msg.offer && v.bits && !v.complete ? v.bits : new Uint8Array(n);
    unpack(msg.bits, msg.firstPiece, n, bits);
    v.waiting = Math.max(0, v.waiting - 1);
    if (v.waiting === 0) v.askedAt = undefined;
    v.offer = msg.offer;
    v.complete = !msg.offer && v.waiting === 0 && bits.every((b) => b === 1);
    v.bits = bits;
    v.nextAsk = now + (v.offer ? OFFER_GAP_MS : REFRESH_MS);
    engine.setAvailability(owner, v.complete ? undefined : bits, v.offer);
  }

  /**
   * A HAVE from an owner: it verified more pieces.
   *
   * @param owner its node id
   * @param msg the decoded HAVE
   * @param engine the download's engine
   */
  handleHave(owner: string, msg: HaveMessage, engine: DownloadEngine): void {
    const v = this.#owners.get(owner);
    if (!v || v.complete || !this.#ours(msg)) return;
    const n = this.#o.pieceCount;
    v.bits ??= new Uint8Array(n);
    for (let i = 0; i < msg.bits.byteLength * 8; i++) {
      const p = msg.firstPiece + i;
      if (p >= n) break;
      if ((msg.bits[i >> 3]! & (0x80 >> (i & 7))) !== 0 && !v.bits[p]) {
        v.bits[p] = 1;
        engine.addAvailability(owner, p);
      }
    }
  }

  /**
   * The BITFIELD requests due now, each with this download's own verified pieces.
   *
   * @param now the time, ms
   * @param engine the download's engine
   * @param cookie the owner's address cookie (undefined: not known, do not ask)
   * @param rtt the owner's measured round trip, ms (undefined: not known)
   * @returns the requests to send
   */
  pollAsks(
    now: number,
    engine: DownloadEngine,
    cookie: (owner: string) => bigint | undefined,
    rtt?: (owner: string) => number | undefined,
  ): SwarmAsk[] {
    if (now < this.#nextCheck) return [];
    let next = now + CHECK_MS;
    const out: SwarmAsk[] = [];
    const live = engine.liveOwners;
    for (const owner of live) {
      const v = this.#owners.get(owner);
      if (!v || now < v.nextAsk) continue;
      if (v.askedAt !== undefined) {
        // One sum for the test and the deadline: no float gap where it is neither due nor later
        const due = v.askedAt + v.retryMs;
        if (now < due) {
          next = Math.min(next, due);
          continue;
        }
        if (v.tries >= ASK_TRIES && now - v.firstAskAt >= ASK_TRIES * ASK_RETRY_MS) {
          // An owner that does not speak BITFIELD (an older peer): as the tracker listed it
          v.askedAt = undefined;
          v.nextAsk = Infinity;
          if (!v.partial && !v.bits) {
            v.complete = true;
            engine.setAvailability(owner, undefined);
          }
          continue;
        }
      } else if (v.bits !== undefined || v.complete) {
        // Answered before: offers are renewed once used up; complete owners while swarming
        const busy = v.offer
          ? engine.activePiecesAt(owner) > 1 || engine.hasStartable(owner)
          : !engine.swarming || v.partial;
        if (busy) {
          v.nextAsk = now + (v.offer ? OFFER_GAP_MS : REFRESH_MS);
          continue;
        }
        v.tries = 0;
      }
      const c = cookie(owner);
      if (c === undefined) continue;
      if (v.askedAt === undefined) v.firstAskAt = now;
      v.askedAt = now;
      v.tries++;
      const r = rtt?.(owner);
      // Twice the round trip, doubled with each try (backoff), capped at ASK_RETRY_MS
      v.retryMs = r === undefined
        ? ASK_RETRY_MS
        : Math.min(ASK_RETRY_MS, Math.max(MIN_ASK_RETRY_MS, 2 * r) * 2 ** (v.tries - 1));
      next = Math.min(next, now + v.retryMs);
      v.waiting = 0;
      for (let first = 0; first < this.#o.pieceCount; first += SLICE_PIECES) {
        out.push({ owner, bytes: this.#request(first, engine.verified, c) });
        v.waiting++;
      }
    }
    this.#nextCheck = next;
    return out;
  }

  /**
   * The download finished: one BITFIELD request with every bit set to each seed it asked (one
   * that answered complete or with an offer, or was listed complete), so the seed stops counting
   * it as a downloader for super-seeding at once (swarm_rules.ts) rather than after its idle
   * time. Files of more than one slice send none (a request holds one slice, not "every piece").
   *
   * @param engine the download's engine (every piece verified)
   * @param cookie the owner's address cookie (undefined: not known, nothing to send)
   * @returns the requests to send, one per seed
   */
  farewells(engine: DownloadEngine, cookie: (owner: string) => bigint | undefined): SwarmAsk[] {
    const out: SwarmAsk[] = [];
    if (this.#o.pieceCount > SLICE_PIECES) return out;
    for (const [owner, v] of this.#owners) {
      const asked = v.askedAt !== undefined || v.bits !== undefined || v.complete;
      const seed = v.complete || v.offer || (!v.partial && v.bits === undefined);
      const c = cookie(owner);
      if (!asked || !seed || c === undefined) continue;
      out.push({ owner, bytes: this.#request(0, engine.verified, c) });
    }
    return out;
  }

  /** When {@link pollAsks} has work, or undefined. */
  pollTimeout(): number | undefined {
    return this.#owners.size === 0 ? undefined : this.#nextCheck;
  }

  #ours(msg: { contentId: Uint8Array; pieceCount: number }): boolean {
    if (msg.pieceCount !== this.#o.pieceCount) return false;
    const a = msg.contentId, b = this.#o.contentId;
    for (let i = 0; i < b.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  #request(first: number, verified: Uint8Array, cookie: bigint): Uint8Array {
    const n = Math.min(SLICE_PIECES, this.#o.pieceCount - first);
    return encodeMessage({
      type: "bitfield",
      txid: this.#o.txid,
      cookie,
      contentId: this.#o.contentId,
      reply: false,
      offer: false,
      pieceCount: this.#o.pieceCount,
      firstPiece: first,
      bits: packBits(verified, first, n),
    });
  }
}

/**
 * Packs `count` pieces of a one-byte-per-piece array from `first` into an MSB-first bitfield.
 *
 * @param pieces 1 per piece present
 * @param first the first piece
 * @param count pieces to pack
 * @returns ceil(count / 8) bytes
 */
export function packBits(pieces: Uint8Array, first: number, count: number): Uint8Array {
  const out = new Uint8Array(Math.ceil(count / 8));
  for (let i = 0; i < count; i++) if (pieces[first + i]) out[i >> 3]! |= 0x80 >> (i & 7);
  return out;
}

/** Sets `into[firstPiece + i]` to bit i of `bits` for every piece below `pieceCount`. */
function unpack(bits: Uint8Array, firstPiece: number, pieceCount: number, into: Uint8Array): void {
  for (let i = 0; i < bits.byteLength * 8; i++) {
    const p = firstPiece + i;
    if (p >= pieceCount) break;
    if ((bits[i >> 3]! & (0x80 >> (i & 7))) !== 0) into[p] = 1;
  }
}
