/**
 * A bounded "recently seen" set of numeric ids with O(1) add, refresh and eviction of the
 * oldest: what an owner remembers of the blocks whose requests ended (owner_state.ts). A `Set`
 * whose oldest entry is deleted per insertion costs more with every deletion: V8 leaves the
 * deleted slots at the front of its insertion-ordered table, and `values().next()` walks over
 * them (7 % of a downloader's time at 1452-byte blocks). Here a ring of insertion stamps says
 * which entry is oldest, and the id → stamp table is an open-addressing hash table in typed
 * arrays ({@link IdStamps}), allocated once: a `Map` of 4096 entries under one insertion and one
 * deletion per block rebuilt its ~200 KiB table every few thousand blocks, in V8's large-object
 * space, where only a full collection frees it (~30 MB of them between two at 1452-byte blocks:
 * docs/TRANSFER.md, _Downloader CPU and `--mtu 1500`_).
 * @module
 */

/** See the module doc. */
export class RecentIds {
  readonly #max: number;
  /** id → stamp of its latest add. */
  readonly #stamps: IdStamps;
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
    this.#stamps = new IdStamps(max + 1); // an add comes before the trim
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

/**
 * A map of at most `max` numeric ids to stamps, by linear probing in typed arrays sized once
 * (at most half full), with deletion by backward shift, so no tombstones and no rebuilds.
 */
export class IdStamps {
  readonly #keys: Float64Array;
  readonly #values: Float64Array;
  readonly #mask: number;
  #size = 0;

  /** @param max how many ids it holds at most */
  constructor(max: number) {
    let cap = 16;
    while (cap < 2 * max) cap *= 2;
    this.#keys = new Float64Array(cap).fill(NaN);
    this.#values = new Float64Array(cap);
    this.#mask = cap - 1;
  }

  /** Ids held. */
  get size(): number {
    return this.#size;
  }

  #home(id: number): number {
    // Any function of the id will do: keys are compared whole
    return Math.imul((id | 0) ^ ((id / 4294967296) | 0), 0x9e3779b1) >>> 0 & this.#mask;
  }

  /** The slot holding `id`, or -1. */
  #find(id: number): number {
    const keys = this.#keys, mask = this.#mask;
    for (let i = this.#home(id);; i = (i + 1) & mask) {
      const k = keys[i]!;
      if (k === id) return i;
      if (k !== k) return -1; // NaN: empty
    }
  }

  /** Tells whether `id` is held. */
  has(id: number): boolean {
    return this.#find(id) >= 0;
  }

  /** `id`'s stamp, or undefined. */
  get(id: number): number | undefined {
    const i = this.#find(id);
    return i < 0 ? undefined : this.#values[i];
  }

  /** Sets `id`'s stamp (adding it: the caller keeps the size within `max`). */
  set(id: number, stamp: number): void {
    const keys = this.#keys, mask = this.#mask;
    let i = this.#home(id);
    for (;; i = (i + 1) & mask) {
      const k = keys[i]!;
      if (k === id) break;
      if (k !== k) {
        if (this.#size >= (mask + 1) / 2) {
          throw new RangeError("Cannot add an id: the table is full");
        }
        keys[i] = id;
        this.#size++;
        break;
      }
    }
    this.#values[i] = stamp;
  }

  /** Removes `id` if held. */
  delete(id: number): void {
    let hole = this.#find(id);
    if (hole < 0) return;
    const keys = this.#keys, values = this.#values, mask = this.#mask;
    this.#size--;
    // Backward shift: pull later entries of the run into the hole unless they sit between their
    // home slot and the hole's position already
    for (let j = (hole + 1) & mask;; j = (j + 1) & mask) {
      const k = keys[j]!;
      if (k !== k) break;
      const home = this.#home(k);
      const stays = hole <= j ? hole < home && home <= j : hole < home || home <= j;
      if (stays) continue;
      keys[hole] = k;
      values[hole] = values[j]!;
      hole = j;
    }
    keys[hole] = NaN;
  }
}
