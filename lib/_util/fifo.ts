/**
 * A first-in first-out queue with O(1) `shift` (an array and a read index, emptied when
 * drained), for the cores' `poll*` outputs.
 * @module
 */

/**
 * A FIFO queue.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Fifo } from "./fifo.ts";
 *
 * const q = new Fifo<number>();
 * q.push(1);
 * q.push(2);
 * assert.equal(q.shift(), 1);
 * assert.equal(q.length, 1);
 * assert.equal(q.shift(), 2);
 * assert.equal(q.shift(), undefined);
 * ```
 */
export class Fifo<T> {
  readonly #items: T[] = [];
  #head = 0;

  /** Items queued. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /**
   * Queues an item at the end.
   *
   * @param item the item
   */
  push(item: T): void {
    this.#items.push(item);
  }

  /**
   * Takes the first item.
   *
   * @returns it, or undefined when the queue is empty
   */
  shift(): T | undefined {
    const items = this.#items;
    if (this.#head >= items.length) return undefined;
    const item = items[this.#head++]!;
    if (this.#head === items.length) {
      items.length = 0;
      this.#head = 0;
    }
    return item;
  }
}
