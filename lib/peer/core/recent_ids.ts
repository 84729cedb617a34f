/**
 * A bounded "recently seen" set of numeric ids with O(1) add, refresh and eviction of the
 * oldest: what an owner remembers of the blocks whose requests ended (owner_state.ts). A `Set`
 * whose oldest entry is deleted per insertion costs more with every deletion: V8 leaves the
 * deleted slots at the front of its insertion-ordered table, and `values().next()` walks over
 * them (7 % of a downloader's time at 1452-byte blocks). Here a ring of insertion stamps says
 * which entry is oldest.
 * @module
 */

/** See the module doc. */
export class RecentIds {
  readonly #max: number;
  /** id → stamp of its latest add. */
  readonly #stamps = new Map<number, number>();
  /** ids by stamp modulo its length (twice `max`: room for refreshed entries' stale stamps). */
  readonly #ring: Float64Array;
  /** The next stamp. */
  #next = 0;
  /** The oldest stamp that may still be live. */
  #tail = 0;

  /**
   * @param max how many distinct ids it keeps at most
   * @throws {RangeError} for a `max` that is not a positive integer
   */
  constructor(max: number) {
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(`Cannot keep recent ids: max must be a positive integer, got ${max}`);
    }
    this.#max = max;
    this.#ring = new Float64Array(2 * max);
  }

  /** Ids held. */
  get size(): number {
    return this.#stamps.size;
  }

  /** Tells whether `id` is held. */
  has(id: number): boolean {
    return this.#stamps.has(id);
  }

  /** Adds `id` as the newest (refreshing it if held), dropping the oldest beyond `max`. */
  add(id: number): void {
    const ring = this.#ring;
    const len = ring.length;
    const stamp = this.#next++;
    this.#stamps.set(id, stamp);
    ring[stamp % len] = id;
    while (this.#stamps.size > this.#max || this.#next - this.#tail > len) {
      const t = this.#tail++;
      const old = ring[t % len]!;
      if (this.#stamps.get(old) === t) this.#stamps.delete(old);
    }
  }
}
