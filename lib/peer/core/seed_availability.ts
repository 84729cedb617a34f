/**
 * A super-seeding seed's estimate of how many downloaders hold each piece, sans-I/O. Every
 * BITFIELD request a downloader sends the seed carries the pieces it has verified, so the seed
 * learns the swarm's availability from the requests it answers anyway, with no message of its
 * own; a piece it offered a requester, or that the requester started fetching from it, counts
 * for that requester at once (it is on its way there) for up to {@link PENDING_MS} until a
 * request of the requester shows it, so an offer never goes to a second requester while the first
 * one is still fetching it and other pieces have no copy at all (and a requester that left or
 * stalls stops counting).
 *
 * swarm_rules.ts offers the pieces with the fewest holders first (then those offered or served
 * least): each piece leaves the seed once before any leaves twice, and once every piece is out,
 * the seed's upload goes to the pieces the swarm has fewest of, not to whatever a requester lacks.
 *
 * Memory: one bit per piece per requester, for at most {@link MAX_TRACKED_BYTES} in all (the
 * requesters heard from longest ago are forgotten first).
 * @module
 */

/** Most bytes of per-requester maps kept per content. */
export const MAX_TRACKED_BYTES = 4 * 1024 * 1024;
/** A piece on its way to a requester counts as held by it for this long at most, ms. */
export const PENDING_MS = 4000;
/** Most pieces on their way remembered per requester. */
const MAX_PENDING = 32;

/** See the module doc. */
export class SeedAvailability {
  /** Pieces of the content. */
  readonly pieceCount: number;
  /** Requester key → its pieces (1 bit per piece, MSB first), in the order last heard from. */
  readonly #maps = new Map<string, Uint8Array>();
  /** Requester key → pieces on their way to it → since when. */
  readonly #pending = new Map<string, Map<number, number>>();
  /** Per piece: requesters whose map has it. */
  readonly #count: Uint16Array;
  readonly #maxMaps: number;

  /** @param pieceCount pieces of the content */
  constructor(pieceCount: number) {
    this.pieceCount = pieceCount;
    this.#count = new Uint16Array(pieceCount);
    this.#maxMaps = Math.max(16, Math.floor(MAX_TRACKED_BYTES / Math.max(1, pieceCount >> 3)));
  }

  /** Requesters whose map has piece `p`. */
  holders(p: number): number {
    return this.#count[p] ?? 0;
  }

  /** Whether the requester has piece `p` or it is on its way there. */
  has(key: string, p: number): boolean {
    const map = this.#maps.get(key);
    return map !== undefined && (map[p >> 3]! & (0x80 >> (p & 7))) !== 0;
  }

  /**
   * A requester's BITFIELD request: its map for the slice the request covers becomes the
   * request's bits, plus the pieces on their way to it for under {@link PENDING_MS}.
   *
   * @param key the requester
   * @param firstPiece the request's first piece
   * @param bits the request's bits (MSB first)
   * @param now the time, ms
   */
  noteBits(key: string, firstPiece: number, bits: Uint8Array, now: number): void {
    const map = this.#map(key);
    const pending = this.#pending.get(key);
    const end = Math.min(this.pieceCount, firstPiece + bits.byteLength * 8);
    for (let p = firstPiece; p < end; p++) {
      const i = p - firstPiece;
      let on = (bits[i >> 3]! & (0x80 >> (i & 7))) !== 0;
      const since = pending?.get(p);
      if (since !== undefined) {
        if (on || now - since >= PENDING_MS) pending!.delete(p);
        else on = true;
      }
      this.#set(map, p, on);
    }
  }

  /**
   * Piece `p` is on its way to the requester (offered to it, or a request of it started).
   *
   * @param key the requester
   * @param p the piece
   * @param now the time, ms
   */
  add(key: string, p: number, now: number): void {
    if (p < 0 || p >= this.pieceCount) return;
    const map = this.#map(key);
    if ((map[p >> 3]! & (0x80 >> (p & 7))) !== 0) return;
    this.#set(map, p, true);
    let pending = this.#pending.get(key);
    if (pending === undefined) this.#pending.set(key, pending = new Map());
    if (pending.size >= MAX_PENDING) pending.delete(pending.keys().next().value!);
    pending.set(p, now);
  }

  #map(key: string): Uint8Array {
    let map = this.#maps.get(key);
    if (map !== undefined) {
      this.#maps.delete(key); // most recent last
      this.#maps.set(key, map);
      return map;
    }
    if (this.#maps.size >= this.#maxMaps) {
      const [oldKey, old] = this.#maps.entries().next().value!;
      for (let p = 0; p < this.pieceCount; p++) this.#set(old, p, false);
      this.#maps.delete(oldKey);
      this.#pending.delete(oldKey);
    }
    map = new Uint8Array((this.pieceCount + 7) >> 3);
    this.#maps.set(key, map);
    return map;
  }

  #set(map: Uint8Array, p: number, on: boolean): void {
    const mask = 0x80 >> (p & 7);
    const was = (map[p >> 3]! & mask) !== 0;
    if (was === on) return;
    if (on) {
      map[p >> 3]! |= mask;
      if (this.#count[p]! < 0xffff) this.#count[p]!++;
    } else {
      map[p >> 3]! &= ~mask;
      if (this.#count[p]! > 0) this.#count[p]!--;
    }
  }
}
