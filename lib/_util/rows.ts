/**
 * A table of typed-array columns with rows addressed by index, for the compact memory store
 * (lib/tracker/store/memory_store.ts) and the tracker's per-source limiters.
 * @module
 */

/** The smallest table. */
const MIN_ROWS = 64;

/** A typed-array column. */
export type Column = Int32Array | Float64Array | Uint16Array | Uint8Array | Uint32Array;

/**
 * A table of typed-array columns. Rows are taken lowest index first (a min-heap of freed rows),
 * so the live rows stay packed at the bottom: the table doubles when full and halves when the
 * rows in use fall under a quarter of it, which gives memory back when peers leave.
 */
export class Rows<C extends Record<string, Column>> {
  /** The columns (replaced when the table grows or shrinks: read it after `alloc`). */
  cols: C;
  /** Strings per row (node ids, keys, names), trimmed with the columns. */
  readonly strs: (string | undefined)[][];
  #cap: number;
  #used = 0;
  #isFree: Uint8Array;
  readonly #free: number[] = [];
  /** Rows in use. */
  live = 0;

  /**
   * An empty table.
   *
   * @param make builds the columns for a capacity
   * @param strings how many string columns ({@link Rows.strs})
   * @param cap the first capacity
   */
  constructor(make: (cap: number) => C, strings = 0, cap = MIN_ROWS) {
    this.cols = make(cap);
    this.strs = Array.from({ length: strings }, () => []);
    this.#cap = cap;
    this.#isFree = new Uint8Array(cap);
  }

  /**
   * Takes a row, the lowest free one.
   *
   * @returns its index
   */
  alloc(): number {
    this.live++;
    const heap = this.#free;
    while (heap.length > 0) {
      const i = popMin(heap);
      if (i < this.#used && this.#isFree[i] === 1) {
        this.#isFree[i] = 0;
        return i;
      }
    }
    if (this.#used === this.#cap) this.#resize(this.#cap * 2);
    return this.#used++;
  }

  /**
   * Frees a row (its strings are dropped) and shrinks the table when under a quarter used.
   *
   * @param i its index
   */
  release(i: number): void {
    this.live--;
    for (const s of this.strs) s[i] = undefined;
    this.#isFree[i] = 1;
    pushMin(this.#free, i);
    while (this.#used > 0 && this.#isFree[this.#used - 1] === 1) this.#isFree[--this.#used] = 0;
    if (this.#cap > MIN_ROWS && this.#used < this.#cap / 4) {
      let cap = this.#cap / 2;
      while (cap > MIN_ROWS && this.#used < cap / 4) cap /= 2;
      this.#resize(cap);
      // Drop freed rows past the end from the heap.
      const kept = this.#free.filter((j) => j < this.#used && this.#isFree[j] === 1);
      this.#free.length = 0;
      for (const j of kept) pushMin(this.#free, j);
    }
  }

  /** Bytes of the columns (capacity, not rows in use). */
  get bytes(): number {
    let n = this.#isFree.byteLength + this.#free.length * 8;
    for (const c of Object.values(this.cols)) n += c.byteLength;
    return n;
  }

  #resize(cap: number): void {
    const next: Record<string, Column> = {};
    for (const [k, c] of Object.entries(this.cols)) {
      const n = new (c.constructor as new (n: number) => Column)(cap);
      n.set(c.length <= cap ? c : c.subarray(0, cap));
      next[k] = n;
    }
    const free = new Uint8Array(cap);
    free.set(this.#isFree.length <= cap ? this.#isFree : this.#isFree.subarray(0, cap));
    this.#isFree = free;
    this.cols = next as C;
    this.#cap = cap;
    for (const s of this.strs) if (s.length > cap) s.length = cap;
  }
}

function pushMin(h: number[], v: number): void {
  let i = h.length;
  h.push(v);
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (h[p]! <= v) break;
    h[i] = h[p]!;
    i = p;
  }
  h[i] = v;
}

function popMin(h: number[]): number {
  const top = h[0]!;
  const last = h.pop()!;
  if (h.length === 0) return top;
  let i = 0;
  const n = h.length;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= n) break;
    const c = l + 1 < n && h[l + 1]! < h[l]! ? l + 1 : l;
    if (h[c]! >= last) break;
    h[i] = h[c]!;
    i = c;
  }
  h[i] = last;
  return top;
}
