/**
 * The owners of one file, kept in ranking order so a NEED costs O(N log M), not O(M).
 *
 * Ranking (docs/TRACKER.md): owners whose current upload rate is at least 1 byte/s come
 * first, highest rate first; they live in an array sorted by their time-invariant rate key
 * (see upload_rate.ts). The others ("idle": rate below 1 byte/s, reported as 0) all tie on
 * rate; they live in a min-heap ordered by when they were last handed out in a NEED reply,
 * then by a random tie-break drawn when they start sharing the file. Ties between rated owners
 * with the very same key are broken the same way. Handing an owner out moves it behind its
 * equals, so equal owners take turns (round robin, random among never-assigned ones). A share
 * of every reply can be owners drawn at random from all the others, so that no ranking, bought
 * or earned, can keep an owner out of every reply.
 * @module
 */
import { type HeapItem, IndexHeap } from "./index_heap.ts";

/** One (peer, file) ownership as the index sees it. */
export interface RankedOwner<P> extends HeapItem {
  /** The owning peer (used to leave the asker out). */
  readonly peer: P;
  /** The peer's rate key; change it only while the owner is out of the index. */
  rateKey: number;
  /** Hand-out sequence number of the last time this owner was handed out; -Infinity when never. */
  lastAssigned: number;
  /** Random tie-break in [0, 1), redrawn whenever the owner is handed out. */
  tie: number;
  /** True while in the rated array, false while in the idle heap. */
  rated: boolean;
}

function sameRankBefore<P>(a: RankedOwner<P>, b: RankedOwner<P>): boolean {
  // Strict "a is handed out before b" among owners of equal rate.
  if (a.lastAssigned !== b.lastAssigned) return a.lastAssigned < b.lastAssigned;
  return a.tie < b.tie;
}

/** -1 when `a` ranks before `b`, 1 when after, 0 when equal in every field. */
function compare<P>(a: RankedOwner<P>, b: RankedOwner<P>): number {
  if (a.rateKey !== b.rateKey) return a.rateKey > b.rateKey ? -1 : 1;
  if (a.lastAssigned !== b.lastAssigned) return a.lastAssigned < b.lastAssigned ? -1 : 1;
  if (a.tie !== b.tie) return a.tie < b.tie ? -1 : 1;
  return 0;
}

/** Whether `o` stays out of a reply: the asker, a skipped peer, or one `accept` refuses. */
function leftOut<P, T extends RankedOwner<P>>(
  o: T,
  exclude: P,
  skip: ReadonlySet<P> | undefined,
  accept: ((o: T) => boolean) | undefined,
): boolean {
  return o.peer === exclude || (skip !== undefined && skip.has(o.peer)) ||
    (accept !== undefined && !accept(o));
}

/** The ranked owners of one file. */
export class OwnerIndex<P, T extends RankedOwner<P> = RankedOwner<P>> {
  /** Rated owners, best first. */
  readonly #rated: T[] = [];
  readonly #idle = new IndexHeap<T>(sameRankBefore);
  readonly #picked: T[] = [];
  readonly #skipped: T[] = [];
  #handouts = 0;

  /** Owners in the index. */
  get size(): number {
    return this.#rated.length + this.#idle.size;
  }

  /**
   * Adds an owner.
   *
   * @param o the owner (not in an index)
   * @param floorKey keys below this count as idle (see `unitRateKey`)
   */
  insert(o: T, floorKey: number): void {
    if (o.rateKey >= floorKey) {
      o.rated = true;
      o.heapIndex = -1;
      this.#rated.splice(this.#lowerBound(o), 0, o);
    } else {
      o.rated = false;
      this.#idle.push(o);
    }
  }

  /**
   * Removes an owner (no-op when absent).
   *
   * @param o the owner
   */
  remove(o: T): void {
    if (!o.rated) {
      this.#idle.remove(o);
      return;
    }
    const rated = this.#rated;
    for (let i = this.#lowerBound(o); i < rated.length; i++) {
      const x = rated[i]!;
      if (x === o) {
        rated.splice(i, 1);
        o.rated = false;
        return;
      }
      if (compare(x, o) !== 0) break;
    }
    // Not found where it should be (a field changed while indexed): fall back to a scan.
    const i = rated.indexOf(o);
    if (i >= 0) rated.splice(i, 1);
    o.rated = false;
  }

  /**
   * Picks up to `k` owners, best first, leaving out `exclude`, and records them as handed
   * out (each hand-out takes the next sequence number, so equal owners rotate exactly).
   *
   * @param k how many owners at most
   * @param exclude the asking peer
   * @param floorKey keys below this count as idle
   * @param random a source of numbers in [0, 1)
   * @param out receives the owners, best first (cleared first)
   * @param skip more peers to leave out (owners the asker found dead or failing)
   * @param mix when there are more eligible owners than `k`, this many of the `k` places go to
   *   owners drawn uniformly at random from the rest (after the ranked ones)
   * @param accept when given, only owners it accepts are picked (others keep their place)
   * @returns the number of owners picked
   */
  select(
    k: number,
    exclude: P,
    floorKey: number,
    random: () => number,
    out: T[],
    skip?: ReadonlySet<P>,
    mix = 0,
    accept?: (o: T) => boolean,
  ): number {
    out.length = 0;
    // Eligible owners, counted low when `skip` names peers that do not own this file: then
    // nothing is mixed in, which is only less random.
    const eligible = this.size - 1 - (skip?.size ?? 0);
    const total = k;
    if (eligible > k) k -= Math.min(mix, k);
    const rated = this.#rated;
    // Owners whose rate decayed below 1 byte/s form the tail of the sorted array: demote them.
    while (rated.length > 0 && rated[rated.length - 1]!.rateKey < floorKey) {
      const o = rated.pop()!;
      o.rated = false;
      this.#idle.push(o);
    }
    for (let i = 0; i < rated.length && out.length < k; i++) {
      const o = rated[i]!;
      if (!leftOut(o, exclude, skip, accept)) out.push(o);
    }
    const fromRated = out.length;
    const picked = this.#picked;
    picked.length = 0;
    const skipped = this.#skipped;
    skipped.length = 0;
    while (out.length < k) {
      const o = this.#idle.pop();
      if (o === undefined) break;
      if (leftOut(o, exclude, skip, accept)) {
        skipped.push(o);
        continue;
      }
      out.push(o);
      picked.push(o);
    }
    for (const o of skipped) this.#idle.push(o);
    skipped.length = 0;
    // Record the hand-outs: the picked idle owners go behind their equals.
    for (const o of picked) {
      o.lastAssigned = ++this.#handouts;
      o.tie = random();
      this.#idle.push(o);
    }
    picked.length = 0;
    for (let j = 0; j < fromRated; j++) {
      const o = out[j]!;
      const i = this.#indexOf(o);
      const prev = rated[i - 1], next = rated[i + 1];
      const alone = (prev === undefined || prev.rateKey !== o.rateKey) &&
        (next === undefined || next.rateKey !== o.rateKey);
      if (alone) {
        o.lastAssigned = ++this.#handouts;
        o.tie = random();
      } else {
        rated.splice(i, 1);
        o.lastAssigned = ++this.#handouts;
        o.tie = random();
        rated.splice(this.#lowerBound(o), 0, o);
      }
    }
    if (out.length < total) this.#mixIn(total, exclude, skip, accept, random, out);
    return out.length;
  }

  /** Appends owners drawn at random (not yet in `out`, not left out) until `out` has `k`. */
  #mixIn(
    k: number,
    exclude: P,
    skip: ReadonlySet<P> | undefined,
    accept: ((o: T) => boolean) | undefined,
    random: () => number,
    out: T[],
  ) {
    const rated = this.#rated;
    const all = rated.length + this.#idle.size;
    for (let tries = 0; out.length < k && tries < 4 * k; tries++) {
      const i = Math.floor(random() * all);
      const o = i < rated.length ? rated[i]! : this.#idle.at(i - rated.length)!;
      if (leftOut(o, exclude, skip, accept) || out.includes(o)) continue;
      out.push(o);
    }
  }

  /** All owners in ranking order (for tests and diagnostics; allocates). */
  ranking(): T[] {
    const idle = this.#idle.toArray().sort((a, b) => (sameRankBefore(a, b) ? -1 : 1));
    return [...this.#rated, ...idle];
  }

  #indexOf(o: T): number {
    const rated = this.#rated;
    for (let i = this.#lowerBound(o); i < rated.length; i++) {
      if (rated[i] === o) return i;
    }
    return rated.indexOf(o);
  }

  /** First position whose owner does not rank before `o`. */
  #lowerBound(o: T): number {
    const rated = this.#rated;
    let lo = 0, hi = rated.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compare(rated[mid]!, o) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
