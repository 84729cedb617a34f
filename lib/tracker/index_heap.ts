/**
 * A binary min-heap whose items know their own position, so any item can be removed or
 * re-sorted in O(log n).
 * @module
 */

/** What an item must carry to sit in an {@link IndexHeap}. */
export interface HeapItem {
  /** Position in the heap, -1 when not in one. */
  heapIndex: number;
}

/** A min-heap ordered by `less`, with O(log n) removal of any item. */
export class IndexHeap<T extends HeapItem> {
  readonly #items: T[] = [];
  readonly #less: (a: T, b: T) => boolean;

  /** @param less strict ordering: true when `a` must come out before `b` */
  constructor(less: (a: T, b: T) => boolean) {
    this.#less = less;
  }

  /** Items in the heap. */
  get size(): number {
    return this.#items.length;
  }

  /** The smallest item. */
  peek(): T | undefined {
    return this.#items[0];
  }

  /**
   * Adds an item that is not in a heap.
   *
   * @param item the item
   */
  push(item: T): void {
    item.heapIndex = this.#items.length;
    this.#items.push(item);
    this.#up(item.heapIndex);
  }

  /**
   * Removes and returns the smallest item.
   *
   * @returns the item, or undefined when empty
   */
  pop(): T | undefined {
    const top = this.#items[0];
    if (top !== undefined) this.remove(top);
    return top;
  }

  /**
   * Removes an item (no-op when it is not in this heap).
   *
   * @param item the item
   */
  remove(item: T): void {
    const i = item.heapIndex;
    const items = this.#items;
    if (i < 0 || items[i] !== item) return;
    const last = items.pop()!;
    item.heapIndex = -1;
    if (last === item) return;
    items[i] = last;
    last.heapIndex = i;
    this.#down(i);
    this.#up(last.heapIndex);
  }

  /**
   * Restores the order after the item's key changed.
   *
   * @param item the item
   */
  update(item: T): void {
    if (item.heapIndex < 0) return;
    this.#up(item.heapIndex);
    this.#down(item.heapIndex);
  }

  /**
   * The item at a position of the heap's array (any order; for random sampling).
   *
   * @param i an index in 0..size-1
   * @returns the item, or undefined out of range
   */
  at(i: number): T | undefined {
    return this.#items[i];
  }

  /** Items in heap order (not sorted); for tests and diagnostics. */
  toArray(): T[] {
    return this.#items.slice();
  }

  #up(i: number): void {
    const items = this.#items;
    const item = items[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = items[p]!;
      if (!this.#less(item, parent)) break;
      items[i] = parent;
      parent.heapIndex = i;
      i = p;
    }
    items[i] = item;
    item.heapIndex = i;
  }

  #down(i: number): void {
    const items = this.#items;
    const n = items.length;
    const item = items[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.#less(items[r]!, items[l]!) ? r : l;
      const child = items[c]!;
      if (!this.#less(child, item)) break;
      items[i] = child;
      child.heapIndex = i;
      i = c;
    }
    items[i] = item;
    item.heapIndex = i;
  }
}
