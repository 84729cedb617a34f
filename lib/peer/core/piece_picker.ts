/**
 * The piece picker of a download: which blocks of which pieces to ask an owner for next, and the
 * bookkeeping of what is requested where. Pure: no clock (every time is passed in), no I/O.
 *
 * The order of {@link PiecePicker.collect}, for one owner and a byte budget:
 * 1. blocks of the pieces it is fetching;
 * 2. orphaned pieces (their owner died, stalled, or they failed verification);
 * 3. new pieces: the next of its own range (the seed's S/N split into contiguous ranges, made by
 *    {@link PiecePicker.split}), then a free range (an owner gave its range back), then the
 *    second half of the largest range another owner still has (work stealing);
 * 4. unrequested blocks of pieces held by owners that are saturated or not answering;
 * 5. endgame, when nothing unstarted is left anywhere: blocks outstanding at one other owner that
 *    this owner would deliver clearly sooner.
 *
 * Swarming: an owner may have only some pieces (a peer that is downloading too, or a seed that
 * offers a few pieces at a time). {@link PiecePicker.setAvailability} gives such an owner a map
 * of what it has (an owner without one has every piece), and every step above only asks an owner
 * for pieces it has. While any owner has a map, step 3 is **rarest first**: the startable piece
 * the owner has that the fewest live owners with a map have, the first such piece from a random
 * starting point (random among equals); the S/N ranges are the plan only while every owner is
 * complete. A *scarce* owner (a seed offering pieces, see swarm_rules.ts) is asked only for
 * pieces that no other live owner with a map has: what the swarm has, peers fetch from each other;
 * its offer keeps the pieces already being fetched that it had before (a piece begun from the seed
 * is finished from it). A swarming download's S/N plan starts at a random piece (`randomStart`),
 * so downloads that start together do not all ask the seed for its first pieces.
 *
 * The scans for startable pieces are skipped for an owner that had none, until a map, a count or
 * an owner changes (an epoch): a crowd's owners with nothing new cost no scan per request.
 * @module
 */
import type { ByteRange } from "../../wire/messages.ts";
import { MAX_RANGES } from "../../wire/limits.ts";
import type { BlockLayout } from "./block_layout.ts";
import type { OwnerState } from "./owner_state.ts";

/** A piece being fetched: its buffer and, per block, whether it arrived and where it is asked. */
export class ActivePiece {
  /** Piece index. */
  readonly index: number;
  /** Bytes in the piece. */
  readonly length: number;
  /** Blocks in the piece. */
  readonly blockCount: number;
  /** Where the blocks are assembled (at least `length` bytes). */
  buffer: Uint8Array;
  /** Complete, handed to the driver for verification (`verifyInWorker`). */
  verifying = false;
  /** 1 per block that arrived. */
  readonly received: Uint8Array;
  /** Per block: how many owners it is outstanding at. */
  readonly requested: Uint8Array;
  /** 1 per block that was requested again after a loss. */
  readonly retransmitted: Uint8Array;
  /** Blocks that arrived. */
  receivedCount = 0;
  /** The owner fetching it; undefined while orphaned. */
  owner: string | undefined;
  /** Every block before this one is received or requested. */
  scanFrom = 0;
  /** Bytes each owner contributed (to blame or credit it once verified). */
  readonly sourceBytes = new Map<string, number>();
  /** Owners that sent a bad copy of it: others fetch it while any can. */
  readonly avoid = new Set<string>();
  /** After a failed verification: fetched from one owner only, so the next failure has one culprit. */
  exclusive = false;

  /**
   * A piece with nothing received or requested yet.
   *
   * @param index piece index
   * @param length bytes in the piece
   * @param blockCount blocks in the piece
   * @param buffer where the blocks are assembled
   */
  constructor(index: number, length: number, blockCount: number, buffer: Uint8Array) {
    this.index = index;
    this.length = length;
    this.blockCount = blockCount;
    this.buffer = buffer;
    this.received = new Uint8Array(blockCount);
    this.requested = new Uint8Array(blockCount);
    this.retransmitted = new Uint8Array(blockCount);
  }

  /** Forgets every block (a failed verification: fetch it all again). */
  reset(): void {
    this.received.fill(0);
    this.requested.fill(0);
    this.retransmitted.fill(0);
    this.receivedCount = 0;
    this.scanFrom = 0;
    this.sourceBytes.clear();
  }
}

/** Options for {@link PiecePicker}. */
export interface PiecePickerOptions {
  /** Pieces and blocks of the file. */
  layout: BlockLayout;
  /** 1 per verified piece (the engine's array, read live). */
  verified: Uint8Array;
  /** The download's owners by key (the engine's map, read live; the picker never adds one). */
  owners: ReadonlyMap<string, OwnerState>;
  /** Cap on pieces being fetched at once. */
  maxActivePieces: number;
  /** A buffer of at least a piece for a piece being started. */
  pieceBuffer: () => Uint8Array;
  /** Random numbers in [0, 1) (rarest first picks among equals with it). @default Math.random */
  random?: () => number;
  /**
   * {@link PiecePicker.split} starts the missing pieces at a random one (the pieces before it
   * become a free range), so downloads that start at once from one seed, before its first
   * BITFIELD reply, do not all fetch the same first pieces from it. @default false
   */
  randomStart?: boolean;
}

/**
 * See the module doc.
 *
 * @example Two owners split a file and ask for their first blocks
 * ```ts
 * import { BlockLayout } from "./block_layout.ts";
 * import { OwnerState } from "./owner_state.ts";
 * import { PiecePicker } from "./piece_picker.ts";
 * const layout = new BlockLayout(8 * 16384, 16384, 4096);
 * const opts = {
 *   blockSize: 4096, maxInFlight: 65536, minRtoMs: 15, lossThreshold: 3, targetDelayMs: 5,
 *   stallMs: 4000,
 * };
 * const owners = new Map([["a", new OwnerState("a", opts, 0)], ["b", new OwnerState("b", opts, 0)]]);
 * const picker = new PiecePicker({
 *   layout, verified: new Uint8Array(8), owners, maxActivePieces: 8,
 *   pieceBuffer: () => new Uint8Array(16384),
 * });
 * picker.split([...owners.values()]);
 * console.log(picker.collect(owners.get("b")!, 8192, 0)); // [{ offset: 65536, length: 8192 }]
 * ```
 */
export class PiecePicker {
  /** Pieces being fetched, by index. */
  readonly active = new Map<number, ActivePiece>();
  readonly #layout: BlockLayout;
  readonly #verified: Uint8Array;
  readonly #owners: ReadonlyMap<string, OwnerState>;
  readonly #freeRanges: [number, number][] = [];
  readonly #maxActive: number;
  readonly #pieceBuffer: () => Uint8Array;
  readonly #random: () => number;
  readonly #randomStart: boolean;
  /** Owners that have only some pieces: 1 per piece they have. The others have every piece. */
  readonly #has = new Map<string, Uint8Array>();
  /** Per piece: live owners with a map ({@link #has}) that have it. */
  readonly #count: Uint16Array;
  /** Owners asked only for pieces no other live owner with a map has (a super-seeding seed). */
  readonly #scarce = new Set<string>();
  /**
   * Bumped by every change that can make a piece startable for some owner (a map or a count
   * changes, an owner leaves or comes back); {@link #noneAt} remembers, per owner, the epoch at
   * which it had nothing to start, so the scans of a crowd's owners with nothing new are skipped
   * until something changes (pieces only leave the startable set otherwise).
   */
  #epoch = 0;
  /** Per owner key: the epoch at which `#rarest` found nothing, and at which `hasStartable` did. */
  readonly #noneAt = new Map<string, number>();
  readonly #noStartAt = new Map<string, number>();

  /**
   * A picker with nothing assigned yet: call {@link split} first.
   *
   * @param options layout, shared state and limits
   */
  constructor(options: PiecePickerOptions) {
    this.#layout = options.layout;
    this.#verified = options.verified;
    this.#owners = options.owners;
    this.#maxActive = options.maxActivePieces;
    this.#pieceBuffer = options.pieceBuffer;
    this.#random = options.random ?? Math.random;
    this.#randomStart = options.randomStart ?? false;
    this.#count = new Uint16Array(options.layout.pieceCount);
  }

  /** True while some owner has only some pieces (rarest first is the plan). */
  get swarming(): boolean {
    return this.#has.size > 0;
  }

  /**
   * Says which pieces an owner has: `has[p]` is 1 for each piece it has (a copy is kept), or
   * undefined when it has every piece. A `scarce` map (a seed's offer) keeps the pieces being
   * fetched that the owner had before: an offer lists only what to start next, and a piece begun
   * from the seed before its first offer (or cut off by a choke) would otherwise wait, half
   * fetched, for another owner to have it while the seed sends it to someone else.
   */
  setAvailability(o: OwnerState, has: Uint8Array | undefined, scarce = false): void {
    this.#epoch++;
    const old = this.#has.get(o.key);
    this.#uncount(o);
    if (scarce) this.#scarce.add(o.key);
    else this.#scarce.delete(o.key);
    if (has === undefined) {
      this.#has.delete(o.key);
      return;
    }
    const mine = new Uint8Array(this.#layout.pieceCount);
    mine.set(has.subarray(0, mine.length));
    if (scarce) {
      for (const p of this.active.keys()) if (old === undefined || old[p] === 1) mine[p] = 1;
    }
    this.#has.set(o.key, mine);
    if (o.alive) { for (let p = 0; p < mine.length; p++) this.#count[p]! += mine[p]!; }
  }

  /** An owner with a map verified one more piece (a HAVE). */
  addAvailability(o: OwnerState, piece: number): void {
    const h = this.#has.get(o.key);
    if (!h || piece < 0 || piece >= h.length || h[piece]) return;
    this.#epoch++;
    h[piece] = 1;
    if (o.alive) this.#count[piece]!++;
  }

  /**
   * Whether owner `o` has piece `p` and may be asked for it (a scarce owner only for pieces no
   * other live owner with a map has).
   */
  has(o: OwnerState, p: number): boolean {
    const h = this.#has.get(o.key);
    if (h === undefined) return true;
    return h[p] === 1 && (!this.#scarce.has(o.key) || this.#count[p]! <= 1);
  }

  /** Whether owner `o` has a piece that can be started now (neither verified nor active). */
  hasStartable(o: OwnerState): boolean {
    // The same test as `#startable(p) && has(o, p)`, cheapest checks first (a hot loop)
    if (this.#noStartAt.get(o.key) === this.#epoch) return false;
    const h = this.#has.get(o.key);
    const scarce = h !== undefined && this.#scarce.has(o.key);
    const verified = this.#verified, count = this.#count, active = this.active;
    for (let p = 0; p < this.#layout.pieceCount; p++) {
      if (verified[p] || (h !== undefined && h[p] !== 1) || (scarce && count[p]! > 1)) continue;
      if (!active.has(p)) return true;
    }
    this.#noStartAt.set(o.key, this.#epoch);
    return false;
  }

  /** Live owners (with a map) that have piece `p`: its rarity. */
  availability(p: number): number {
    return this.#count[p] ?? 0;
  }

  /** A dropped owner is back (a new {@link OwnerState}): its kept map counts again. */
  ownerBack(o: OwnerState): void {
    this.#epoch++;
    const h = this.#has.get(o.key);
    if (h && o.alive) { for (let p = 0; p < h.length; p++) this.#count[p]! += h[p]!; }
  }

  /** An owner left (dropped): its pieces no longer count; its map is kept for a return. */
  ownerGone(o: OwnerState): void {
    this.#epoch++;
    this.#uncount(o);
  }

  #uncount(o: OwnerState): void {
    const old = this.#has.get(o.key);
    if (!old || !o.alive) return;
    for (let p = 0; p < old.length; p++) this.#count[p]! -= old[p]!;
  }

  /**
   * Splits the missing pieces into contiguous ranges, one per owner (the seed's S/N plan); with
   * no owner, all of them become one free range.
   */
  split(owners: readonly OwnerState[]): void {
    let missing: number[] = [];
    for (let p = 0; p < this.#layout.pieceCount; p++) if (!this.#verified[p]) missing.push(p);
    if (this.#randomStart && missing.length > 1) {
      // Start at a random missing piece; the ones before it are free for any owner, last
      const r = Math.floor(this.#random() * missing.length);
      if (r > 0) this.#freeRanges.push([missing[0]!, missing[r - 1]! + 1]);
      missing = missing.slice(r);
    }
    if (owners.length === 0) {
      if (missing.length > 0) {
        this.#freeRanges.push([missing[0]!, missing[missing.length - 1]! + 1]);
      }
      return;
    }
    const n = owners.length;
    for (let i = 0; i < n; i++) {
      const a = Math.floor((i * missing.length) / n);
      const b = Math.floor(((i + 1) * missing.length) / n);
      const o = owners[i]!;
      if (a < b) {
        o.rangeNext = missing[a]!;
        o.rangeEnd = missing[b - 1]! + 1;
      }
    }
  }

  /**
   * Picks blocks for owner `o` worth up to `budget` bytes (at least one block when `budget` > 0),
   * records them as outstanding at `o`, and returns their byte ranges (adjacent blocks of one
   * piece merged, at most MAX_RANGES).
   */
  collect(o: OwnerState, budget: number, now: number): ByteRange[] {
    const ranges: ByteRange[] = [];
    let left = budget;
    const take = (ap: ActivePiece, duplicate: boolean): void => {
      for (
        let b = duplicate ? 0 : ap.scanFrom;
        b < ap.blockCount && left > 0 && ranges.length < MAX_RANGES;
        b++
      ) {
        if (ap.received[b]) continue;
        if (duplicate ? ap.requested[b] !== 1 : ap.requested[b] !== 0) continue;
        const id = ap.index * this.#layout.blocksPerPiece + b;
        if (o.outstanding.has(id)) continue;
        if (duplicate && !this.#sooner(o, id, now)) continue;
        const len = this.#layout.blockLength(ap.index, b);
        this.#request(o, ap, b, id, len, now, ranges);
        left -= len;
      }
      if (!duplicate) {
        let s = ap.scanFrom;
        while (s < ap.blockCount && (ap.received[s] || ap.requested[s])) s++;
        ap.scanFrom = s;
      }
    };
    // 1. blocks of pieces this owner is working on
    for (const p of o.pieces) {
      if (left <= 0 || ranges.length >= MAX_RANGES) return ranges;
      take(this.active.get(p)!, false);
    }
    const limited = this.#has.has(o.key);
    // 2. orphaned pieces (their owner died, or they failed verification)
    for (const ap of this.active.values()) {
      if (left <= 0 || ranges.length >= MAX_RANGES) return ranges;
      if (ap.owner !== undefined || (ap.avoid.has(o.key) && this.#someoneElseCanTake(ap))) continue;
      if (limited && !this.has(o, ap.index)) continue;
      this.#adopt(o, ap);
      take(ap, false);
    }
    // 3. new pieces: own range, free ranges, then half of the largest other range
    while (left > 0 && ranges.length < MAX_RANGES && this.active.size < this.#maxActive) {
      const p = this.#nextUnstarted(o);
      if (p < 0) break;
      const ap = this.#startPiece(p);
      this.#adopt(o, ap);
      take(ap, false);
    }
    if (left <= 0 || ranges.length >= MAX_RANGES) return ranges;
    // 4. unrequested blocks of pieces held by saturated owners
    for (const ap of this.active.values()) {
      if (left <= 0 || ranges.length >= MAX_RANGES) return ranges;
      if (ap.owner === o.key || ap.scanFrom >= ap.blockCount || ap.exclusive) continue;
      if (limited && !this.has(o, ap.index)) continue;
      const holder = ap.owner === undefined ? undefined : this.#owners.get(ap.owner);
      if (
        holder && holder.rtt.backoffFactor === 1 &&
        holder.cwnd.cwnd - holder.inFlight >= this.#layout.blockSize
      ) continue; // it has room, and is answering
      if (ap.avoid.has(o.key) && this.#someoneElseCanTake(ap)) continue;
      this.#adopt(o, ap);
      take(ap, false);
    }
    // 5. endgame: nothing unstarted anywhere; duplicate blocks outstanding at one other owner
    if (ranges.length === 0 && !this.#scarce.has(o.key) && this.#noUnstartedWork()) {
      for (const ap of this.active.values()) {
        if (left <= 0 || ranges.length >= MAX_RANGES) break;
        if (ap.exclusive || (limited && !this.has(o, ap.index))) continue;
        if (ap.avoid.has(o.key) && this.#someoneElseCanTake(ap)) continue;
        take(ap, true);
      }
    }
    return ranges;
  }

  /** One request for block `b` of `ap` will not be answered (or its answer is not used). */
  unrequest(ap: ActivePiece, b: number): void {
    if (ap.received[b] || ap.requested[b] === 0) return;
    ap.requested[b]!--;
    if (ap.requested[b] === 0 && b < ap.scanFrom) ap.scanFrom = b;
  }

  /** Piece `ap` verified: it is no longer fetched. */
  finish(ap: ActivePiece): void {
    this.active.delete(ap.index);
    if (ap.owner !== undefined) this.#owners.get(ap.owner)?.pieces.delete(ap.index);
  }

  /**
   * Piece `ap` failed verification: it is fetched again from scratch, from one owner only and,
   * while any other owner can, from none of `sources` (the owners that sent the bad copy).
   */
  refetch(ap: ActivePiece, sources: readonly string[]): void {
    if (ap.owner !== undefined) this.#owners.get(ap.owner)?.pieces.delete(ap.index);
    ap.owner = undefined;
    this.#forgetRequests(ap);
    for (const s of sources) ap.avoid.add(s);
    ap.reset();
    ap.exclusive = true;
  }

  /** Orphans the owner's pieces: the others adopt them before starting new ones. */
  releasePieces(o: OwnerState): void {
    for (const p of o.pieces) {
      const ap = this.active.get(p);
      if (ap) ap.owner = undefined;
    }
    o.pieces.clear();
  }

  /** Gives the owner's unstarted range back as a free range. */
  releaseRange(o: OwnerState): void {
    if (o.rangeNext < o.rangeEnd) this.#freeRanges.push([o.rangeNext, o.rangeEnd]);
    o.rangeNext = o.rangeEnd = 0;
  }

  #request(
    o: OwnerState,
    ap: ActivePiece,
    b: number,
    id: number,
    len: number,
    now: number,
    ranges: ByteRange[],
  ): void {
    // The stall clock runs only while requests are outstanding. An owner that answered since its
    // last timeout starts afresh; one that did not carries its silence over, or an owner whose
    // requests all time out (emptying its outstanding map) would never stall
    if (o.outstanding.size === 0) {
      const silence = o.rtt.backoffFactor === 1 ? 0 : o.silence;
      o.lastProgress = Math.max(o.lastProgress, now - silence);
    }
    const retransmitted = ap.retransmitted[b] === 1 || ap.requested[b]! > 0;
    ap.requested[b]!++;
    const out = o.acquire();
    out.seq = o.seq++;
    out.sentAt = now;
    out.piece = ap.index;
    out.block = b;
    out.length = len;
    out.retransmitted = retransmitted;
    out.acked = o.acked;
    out.ackedAt = o.lastAck === -Infinity ? now : o.lastAck;
    o.outstanding.set(id, out);
    o.inFlight += len;
    const offset = this.#layout.pieceOffset(ap.index) + this.#layout.blockStart(b);
    const last = ranges[ranges.length - 1];
    if (
      last && last.offset + last.length === offset &&
      Math.floor(last.offset / this.#layout.pieceSize) === ap.index
    ) {
      last.length += len;
    } else {
      ranges.push({ offset, length: len });
    }
  }

  #adopt(o: OwnerState, ap: ActivePiece): void {
    if (ap.owner === o.key) return;
    if (ap.owner !== undefined) this.#owners.get(ap.owner)?.pieces.delete(ap.index);
    ap.owner = o.key;
    o.pieces.add(ap.index);
    // A piece re-fetched from one owner only: the previous holder's requests will not be used
    if (ap.exclusive) this.#forgetRequests(ap, o);
  }

  /** Forgets the outstanding requests for blocks of `ap` at every owner but `except`. */
  #forgetRequests(ap: ActivePiece, except?: OwnerState): void {
    const first = ap.index * this.#layout.blocksPerPiece;
    for (const o of this.#owners.values()) {
      if (o === except || o.outstanding.size === 0) continue;
      for (let b = 0; b < ap.blockCount; b++) {
        if (o.forget(first + b) > 0) this.unrequest(ap, b);
      }
    }
  }

  /**
   * Endgame: is block `id`, outstanding at another owner, worth asking `o` for too? Only when `o`
   * would deliver it clearly sooner (by a quarter of its RTT) than the owner it waits on is
   * expected to (its request time plus that owner's SRTT). Duplicates cost an owner's bandwidth,
   * as there is no cancel: two equal owners never duplicate, a slow or queued-up one is bypassed,
   * and blocks lost on the way are left to loss detection, which re-requests them anyway.
   */
  #sooner(o: OwnerState, id: number, now: number): boolean {
    if (!o.rtt.hasSample) return false;
    for (const x of this.#owners.values()) {
      if (x === o) continue;
      const out = x.outstanding.get(id);
      if (!out) continue;
      const expected = out.sentAt + (x.rtt.hasSample ? x.rtt.srtt : x.rtt.rto);
      return now + 1.25 * o.rtt.srtt < expected;
    }
    return false;
  }

  #someoneElseCanTake(ap: ActivePiece): boolean {
    for (const o of this.#owners.values()) {
      if (o.usable && !ap.avoid.has(o.key) && this.has(o, ap.index)) return true;
    }
    return false;
  }

  #noUnstartedWork(): boolean {
    if (this.#has.size > 0) {
      // Swarming: no live owner has a piece that can be started (the cheap test first)
      for (const ap of this.active.values()) if (ap.scanFrom < ap.blockCount) return false;
      for (const o of this.#owners.values()) if (o.alive && this.hasStartable(o)) return false;
      return true;
    }
    if (this.#freeRanges.some(([a, b]) => this.#firstStartable(a, b) >= 0)) return false;
    for (const o of this.#owners.values()) {
      if (o.alive && this.#firstStartable(o.rangeNext, o.rangeEnd) >= 0) return false;
    }
    for (const ap of this.active.values()) if (ap.scanFrom < ap.blockCount) return false;
    return true;
  }

  /** Whether piece `p` can be started: neither verified nor being fetched. */
  #startable(p: number): boolean {
    return !this.#verified[p] && !this.active.has(p);
  }

  #firstStartable(a: number, b: number): number {
    for (let p = a; p < b; p++) if (this.#startable(p)) return p;
    return -1;
  }

  /**
   * Rarest first: among the startable pieces `o` has, one that the fewest owners with a map
   * have; the scan starts at a random piece, so equals are picked at random.
   */
  #rarest(o: OwnerState): number {
    const n = this.#layout.pieceCount;
    const h = this.#has.get(o.key);
    const cap = this.#scarce.has(o.key) ? 1 : Infinity;
    const start = Math.floor(this.#random() * n);
    if (this.#noneAt.get(o.key) === this.#epoch) return -1;
    let best = -1, bestCount = Infinity;
    const count = this.#count, verified = this.#verified, active = this.active;
    for (let i = 0; i < n; i++) {
      const p = start + i < n ? start + i : start + i - n;
      const c = count[p]!;
      if ((h !== undefined && !h[p]) || c > cap || c >= bestCount || verified[p]) continue;
      if (active.has(p)) continue;
      best = p;
      bestCount = c;
      if (c === 0) break; // nobody else has it: as rare as it gets
    }
    if (best < 0) this.#noneAt.set(o.key, this.#epoch);
    return best;
  }

  #nextUnstarted(o: OwnerState): number {
    if (this.#has.size > 0) return this.#rarest(o);
    const own = this.#firstStartable(o.rangeNext, o.rangeEnd);
    if (own >= 0) {
      o.rangeNext = own + 1;
      return own;
    }
    o.rangeNext = o.rangeEnd;
    while (this.#freeRanges.length > 0) {
      const [a, b] = this.#freeRanges[this.#freeRanges.length - 1]!;
      const p = this.#firstStartable(a, b);
      this.#freeRanges.pop();
      if (p < 0) continue;
      o.rangeNext = p + 1;
      o.rangeEnd = b;
      return p;
    }
    // steal the second half of the largest remaining range
    let victim: OwnerState | undefined;
    for (const v of this.#owners.values()) {
      if (v === o || !v.alive) continue;
      if (this.#firstStartable(v.rangeNext, v.rangeEnd) < 0) {
        v.rangeNext = v.rangeEnd;
        continue;
      }
      if (!victim || v.rangeEnd - v.rangeNext > victim.rangeEnd - victim.rangeNext) victim = v;
    }
    if (!victim) return -1;
    const mid = victim.rangeNext + Math.floor((victim.rangeEnd - victim.rangeNext) / 2);
    const from = this.#firstStartable(mid, victim.rangeEnd) >= 0 ? mid : victim.rangeNext;
    o.rangeNext = from;
    o.rangeEnd = victim.rangeEnd;
    victim.rangeEnd = from;
    const p = this.#firstStartable(o.rangeNext, o.rangeEnd);
    if (p < 0) return -1;
    o.rangeNext = p + 1;
    return p;
  }

  #startPiece(p: number): ActivePiece {
    const ap = new ActivePiece(
      p,
      this.#layout.pieceLength(p),
      this.#layout.blockCount(p),
      this.#pieceBuffer(),
    );
    this.active.set(p, ap);
    return ap;
  }
}
