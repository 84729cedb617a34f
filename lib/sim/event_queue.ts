/**
 * A binary min-heap of timed events for the simulated network: the earliest `due` first, equal
 * times in scheduling order, so a run is reproducible. O(log n) push and pop.
 * @module
 */

interface Entry<T> {
  due: number;
  seq: number;
  value: T;
}

function before<T>(a: Entry<T>, b: Entry<T>): boolean {
  return a.due < b.due || (a.due === b.due && a.seq < b.seq);
}

/** Events ordered by time, then by insertion. */
export class EventQueue<T> {
  readonly #heap: Entry<T>[] = [];
  #seq = 0;

  get size(): number {
    return this.#heap.length;
  }

  /** When the earliest event is due, or undefined when empty. */
  peekDue(): number | undefined {
    return this.#heap[0]?.due;
  }

  push(due: number, value: T): void {
    const a = this.#heap;
    const item = { due, seq: this.#seq++, value };
    let i = a.length;
    a.push(item);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(item, a[p]!)) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = item;
  }

  /** Removes the earliest event. */
  pop(): { due: number; value: T } | undefined {
    const a = this.#heap;
    const top = a[0];
    const last = a.pop();
    if (top === undefined || last === undefined) return undefined;
    if (a.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= a.length) break;
        const r = l + 1;
        const m = r < a.length && before(a[r]!, a[l]!) ? r : l;
        if (!before(a[m]!, last)) break;
        a[i] = a[m]!;
        i = m;
      }
      a[i] = last;
    }
    return { due: top.due, value: top.value };
  }
}
