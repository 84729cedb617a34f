/**
 * The uploader's swarm rules for one shared content, sans-I/O: what a BITFIELD reply says, who
 * gets HAVEs, and super-seeding (the seed's upload is never wasted).
 *
 * - **Availability.** A partial download answers with the pieces it has verified; a complete file
 *   with every piece, unless it super-seeds.
 * - **Super-seeding** (the idea of BEP 16 and libtorrent's initial seeding, made for a
 *   receiver-driven protocol). While two or more requesters download at once (each asked for this
 *   content's availability within the window and sent it a request of any kind within
 *   {@link ASKER_IDLE_MS}, and none said it has every piece), a complete file's reply is an *offer*: up to
 *   `pieceCount / requesters` (1..{@link MAX_OFFER}) pieces the requester lacks, those offered or
 *   served least so far, from a random starting point. A downloader fetches what it was offered
 *   (from whoever has it, rarest first) and asks again when none is left to start, so each piece
 *   leaves the seed about once before any leaves twice; what the swarm already has, downloaders
 *   fetch from each other. A piece counts as served when a block request starts at its first
 *   byte (a downloader that saw every piece fetched it). A downloader that finished says so with a
 *   BITFIELD request that has every bit set (swarm_view.ts, `farewells`): it stops counting at
 *   once; one that left without a word stops counting {@link ASKER_IDLE_MS} after its last
 *   request. (Counting a finished downloader for the whole window made the next lone downloader
 *   fetch 2 offered pieces per round of offers: a 8 MiB file from 3 seeds took ~9 s, not 0.1.)
 *   A requester that started an offered piece is *owed* the rest ({@link SwarmRules.owes}): it
 *   keeps its upload slot until the seed has sent the piece, so a piece is never left part-sent at
 *   a choked downloader while the seed offers it to others again.
 *   The uploader may refuse an offer to a requester (`mayOffer`: in a crowd, only upload slot
 *   holders get one, see `UploadSlots.offer`): the reply is then an empty offer, and the requester
 *   asks again.
 *   A resent request (the same bits within {@link RESEND_MS}: its reply was still in the seed's
 *   queue) gets the pieces offered the first time, not new ones (measured in the simulator: each
 *   resend had been a new offer, 943 of 1,245 offered pieces were never started by their
 *   recipient at N = 32, and re-offered to others at the end).
 * - **HAVE subscribers.** A requester of a partial download's availability (its address and
 *   transfer id) gets a HAVE for each piece verified afterwards, while it keeps asking for
 *   availability or blocks within {@link SUBSCRIBER_TTL_MS}; at most {@link MAX_SUBSCRIBERS} per
 *   content (the oldest go). One HAVE per piece per subscriber bounds the rate by the download's
 *   own.
 * @module
 */
import type { BitfieldMessage, ByteRange } from "../../wire/messages.ts";

/**
 * Most pieces one offer holds. Small, so a downloader fetches its seed pieces one or two at a
 * time and they reach the swarm early (measured in the simulator: 16 left pieces at the seed
 * until the end of a 64 MiB run at N = 32; 1 makes N = 32 worse, from too many re-offers).
 */
export const MAX_OFFER = 2;
/** A subscriber that asked nothing for this long gets no more HAVEs, ms. */
export const SUBSCRIBER_TTL_MS = 30_000;
/** Most HAVE subscribers per content. */
export const MAX_SUBSCRIBERS = 64;
/**
 * A requester that sent nothing (no BITFIELD and no block request) for this long no longer counts
 * as downloading for super-seeding, ms. A downloader still fetching asks a seed at least about
 * every second (a new offer once its offer is started, complete owners every `REFRESH_MS` of
 * swarm_view.ts, block requests, choked ones again after `CHOKE_RETRY_MS`).
 */
export const ASKER_IDLE_MS = 2000;
/**
 * A BITFIELD request with the same bits as the requester's last, this soon after it, is a resend
 * (its reply was still in the seed's queue): it gets the same offer, not new pieces, ms.
 */
export const RESEND_MS = 400;
/** Most offered pieces remembered per requester for {@link SwarmRules.owes}. */
const MAX_OPEN = 16;
/** Most requesters remembered per content for the super-seeding count. */
const MAX_ASKERS = 4096;

/** Options for {@link SwarmRules}. */
export interface SwarmRulesOptions {
  pieceCount: number;
  /** Offer pieces while several requesters download (a complete file only). */
  superSeed: boolean;
  /** Requesters count as downloading at once for this long after their BITFIELD, ms. */
  windowMs: number;
  /** Random numbers in [0, 1). */
  random: () => number;
  /** The file's size, bytes (the last piece's length for {@link SwarmRules.owes}). @default unknown */
  size?: number;
  /** Bytes per piece. @default unknown */
  pieceSize?: number;
}

/** A HAVE to send. */
export interface HaveTo {
  to: Deno.NetAddr;
  txid: number;
  firstPiece: number;
  bits: Uint8Array;
}

interface Subscriber {
  to: Deno.NetAddr;
  txid: number;
  at: number;
}

/** See the module doc. */
export class SwarmRules {
  /** Pieces of the content. */
  readonly pieceCount: number;
  readonly #o: SwarmRulesOptions;
  /** Per piece: times offered or served (super-seeding). */
  readonly #given: Uint16Array;
  /** Requester (host|port) → when it last asked for availability, and last sent anything. */
  readonly #askers = new Map<string, { askedAt: number; seenAt: number }>();
  readonly #subscribers = new Map<string, Subscriber>();
  /**
   * Offered pieces a requester started and has not been sent in full: requester → piece → bytes
   * still to send, and when it last asked for any of them.
   */
  readonly #open = new Map<string, { pieces: Map<number, number>; at: number }>();
  /** Requester → its last offer: the request's bits (a hash), when, and the pieces offered. */
  readonly #lastOffer = new Map<string, { sig: number; at: number; pieces: number[] }>();

  /** @param options pieces, super-seeding, its window, randomness */
  constructor(options: SwarmRulesOptions) {
    this.#o = options;
    this.pieceCount = options.pieceCount;
    this.#given = new Uint16Array(options.superSeed ? options.pieceCount : 0);
  }

  /**
   * The bits of a BITFIELD reply (as many bytes as the request's) and whether they are an offer.
   *
   * @param msg the request (its bits: what the requester has)
   * @param have the pieces a partial download has, or undefined for a complete file
   * @param from the requester
   * @param now the time, ms
   * @param mayOffer whether the requester may be offered pieces now, given how many requesters
   *   asked within the window (see `UploadSlots.offer`); when not, the offer is empty
   * @returns the reply's bits and offer flag
   */
  answer(
    msg: BitfieldMessage,
    have: { has(index: number): boolean } | undefined,
    from: Deno.NetAddr,
    now: number,
    mayOffer?: (askers: number) => boolean,
  ): { bits: Uint8Array; offer: boolean } {
    const key = `${from.hostname}|${from.port}`;
    const bits = new Uint8Array(msg.bits.byteLength);
    const first = msg.firstPiece;
    const count = Math.min(bits.byteLength * 8, this.pieceCount - first);
    if (have !== undefined) {
      this.#subscribe(key, from, msg.txid, now);
      for (let i = 0; i < count; i++) if (have.has(first + i)) bits[i >> 3]! |= 0x80 >> (i & 7);
      return { bits, offer: false };
    }
    // A request for the whole file with every bit set: the requester finished (a farewell)
    const done = first === 0 && count === this.pieceCount && hasAll(msg.bits, count);
    const askers = this.#noteAsker(key, now, done);
    if (!this.#o.superSeed || done || askers < 2) {
      for (let i = 0; i < count; i++) bits[i >> 3]! |= 0x80 >> (i & 7);
      return { bits, offer: false };
    }
    // A requester that cannot fetch now (no upload slot) is offered nothing yet: it asks again
    if (mayOffer !== undefined && !mayOffer(askers)) return { bits, offer: true };
    const lacks = (i: number) => (msg.bits[i >> 3]! & (0x80 >> (i & 7))) === 0;
    // A resend of the last request (its reply waits in the queue): the same pieces again
    const sig = bitsHash(msg.bits, first);
    const last = this.#lastOffer.get(key);
    if (last !== undefined && last.sig === sig && now - last.at <= RESEND_MS) {
      for (const p of last.pieces) {
        const i = p - first;
        if (i >= 0 && i < count && lacks(i)) bits[i >> 3]! |= 0x80 >> (i & 7);
      }
      return { bits, offer: true };
    }
    // Offer the pieces given least so far that the requester lacks, from a random start
    const quota = Math.max(1, Math.min(MAX_OFFER, Math.floor(this.pieceCount / askers)));
    const given = this.#given;
    const offeredNow: number[] = [];
    let min = Infinity;
    for (let i = 0; i < count; i++) {
      if (lacks(i) && given[first + i]! < min) min = given[first + i]!;
    }
    let offered = 0;
    const start = Math.floor(this.#o.random() * Math.max(1, count));
    for (let level = min; offered < quota && level < 0xffff; level++) {
      let higher = false; // a lacking piece given more often than `level` is left
      for (let j = 0; j < count && offered < quota; j++) {
        const i = start + j < count ? start + j : start + j - count;
        if (!lacks(i) || (bits[i >> 3]! & (0x80 >> (i & 7))) !== 0) continue;
        const g = given[first + i]!;
        if (g > level) {
          higher = true;
          continue;
        }
        bits[i >> 3]! |= 0x80 >> (i & 7);
        given[first + i] = g + 1;
        offered++;
        offeredNow.push(first + i);
        this.#noteOffered(key, first + i, now);
      }
      if (!higher) break;
    }
    if (this.#lastOffer.size >= MAX_ASKERS) this.#lastOffer.clear();
    this.#lastOffer.set(key, { sig, at: now, pieces: offeredNow });
    return { bits, offer: true };
  }

  /**
   * A block request was admitted: its subscriber stays fresh, and pieces it starts count as
   * served.
   *
   * @param ranges the request's ranges
   * @param pieceSize the content's piece size
   * @param from the requester
   * @param now the time, ms
   */
  noteRequest(ranges: readonly ByteRange[], pieceSize: number, from: Deno.NetAddr, now: number) {
    const sub = this.#subscribers.get(`${from.hostname}|${from.port}`);
    if (sub) sub.at = now;
    const given = this.#given;
    if (given.length === 0) return;
    const open = this.#open.get(`${from.hostname}|${from.port}`);
    if (open !== undefined) {
      open.at = now;
      for (const r of ranges) {
        // Within one piece (a request's ranges never cross a piece boundary unaligned)
        const p = Math.floor(r.offset / pieceSize);
        const left = open.pieces.get(p);
        if (left === undefined) continue;
        if (left - r.length > 0) open.pieces.set(p, left - r.length);
        else open.pieces.delete(p);
      }
    }
    for (const r of ranges) {
      if (r.offset % pieceSize !== 0) continue;
      const p = r.offset / pieceSize;
      if (p < given.length && given[p]! < 0xffff) given[p]!++;
    }
  }

  /**
   * Whether the seed owes `from` the rest of a piece it offered it (some of it was asked for, not
   * all of it sent yet), while `from` asked for it within {@link ASKER_IDLE_MS}: such a requester
   * keeps its upload slot until the piece is done (`UploadSlots.admit`'s `owed`). A piece the
   * seed offered once and then cut off waits, part-sent, at a choked downloader while it is
   * offered to others again (measured: most of the seed's extra copies at N = 100).
   *
   * @param from the requester
   * @param now the time, ms
   * @returns true while a piece offered to it is part-sent
   */
  owes(from: Deno.NetAddr, now: number): boolean {
    const key = `${from.hostname}|${from.port}`;
    const open = this.#open.get(key);
    if (open === undefined) return false;
    if (now - open.at > ASKER_IDLE_MS) {
      this.#open.delete(key);
      return false;
    }
    for (const [p, left] of open.pieces) if (left < this.#pieceLength(p)) return true;
    return false;
  }

  #noteOffered(key: string, piece: number, now: number): void {
    let open = this.#open.get(key);
    if (open === undefined) {
      if (this.#open.size >= MAX_ASKERS) this.#open.clear();
      open = { pieces: new Map(), at: now };
      this.#open.set(key, open);
    }
    if (open.pieces.size >= MAX_OPEN) {
      // Forget the oldest offer it never started (it fetched that piece elsewhere)
      for (const [p, left] of open.pieces) {
        if (left === this.#pieceLength(p)) {
          open.pieces.delete(p);
          break;
        }
      }
      if (open.pieces.size >= MAX_OPEN) return;
    }
    open.pieces.set(piece, this.#pieceLength(piece));
  }

  /** Bytes of piece `p`, or Infinity when the layout is not known. */
  #pieceLength(p: number): number {
    const ps = this.#o.pieceSize, size = this.#o.size;
    if (ps === undefined || size === undefined) return Infinity;
    return Math.min(ps, size - p * ps);
  }

  /**
   * A block request came from `from` (admitted or not, e.g. choked): a requester that asked for
   * availability is still downloading.
   *
   * @param from the requester
   * @param now the time, ms
   */
  noteActive(from: Deno.NetAddr, now: number): void {
    const a = this.#askers.get(`${from.hostname}|${from.port}`);
    if (a) a.seenAt = now;
  }

  /**
   * The HAVEs for a newly verified piece, one per live subscriber.
   *
   * @param piece the piece
   * @param now the time, ms
   * @returns where to send which HAVE
   */
  haves(piece: number, now: number): HaveTo[] {
    const out: HaveTo[] = [];
    const firstPiece = piece - (piece % 8);
    for (const [key, s] of this.#subscribers) {
      if (now - s.at > SUBSCRIBER_TTL_MS) {
        this.#subscribers.delete(key);
        continue;
      }
      out.push({ to: s.to, txid: s.txid, firstPiece, bits: Uint8Array.of(0x80 >> (piece % 8)) });
    }
    return out;
  }

  #subscribe(key: string, to: Deno.NetAddr, txid: number, now: number): void {
    const subs = this.#subscribers;
    subs.delete(key);
    if (subs.size >= MAX_SUBSCRIBERS) {
      const oldest = subs.keys().next().value;
      if (oldest !== undefined) subs.delete(oldest);
    }
    subs.set(key, { to, txid, at: now });
  }

  /**
   * Records a requester (or forgets it: `done`, it has every piece); returns how many download
   * at once (this one included unless done).
   */
  #noteAsker(key: string, now: number, done: boolean): number {
    const askers = this.#askers;
    askers.delete(key);
    if (!done) askers.set(key, { askedAt: now, seenAt: now });
    let n = 0;
    for (const [k, a] of askers) {
      if (now - a.askedAt > this.#o.windowMs || askers.size > MAX_ASKERS) askers.delete(k);
      else if (now - a.seenAt <= ASKER_IDLE_MS) n++;
    }
    return n;
  }
}

/** A 32-bit FNV-1a hash of a BITFIELD request's bits and first piece (resends match). */
function bitsHash(bits: Uint8Array, first: number): number {
  let h = (0x811c9dc5 ^ first) >>> 0;
  for (let i = 0; i < bits.byteLength; i++) h = Math.imul(h ^ bits[i]!, 0x01000193) >>> 0;
  return h;
}

/** True when the first `count` bits of an MSB-first bitfield are all set (a BITFIELD request's: the requester has every piece). */
function hasAll(bits: Uint8Array, count: number): boolean {
  if (count <= 0) return false;
  for (let i = 0; i < count; i++) if ((bits[i >> 3]! & (0x80 >> (i & 7))) === 0) return false;
  return true;
}
