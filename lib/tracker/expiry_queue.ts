/**
 * The eviction structure. Every peer has the same time to live (`T × (1 + grace)` after it
 * was last heard), so ordering peers by when they were last heard also orders them by
 * deadline: an intrusive doubly linked list where a heartbeat moves the peer to the tail
 * (O(1)) and the expired peers are exactly a prefix at the head (O(1) per eviction). It is a
 * timer wheel with one slot, or a min-heap whose keys arrive in order; it never scans.
 * @module
 */

/** What an item must carry to sit in an {@link ExpiryQueue}. */
export interface ExpiryNode<T> {
  /** When the item was last heard (ms). */
  lastSeen: number;
  /** @internal list links */
  expPrev: T | undefined;
  /** @internal list links */
  expNext: T | undefined;
  /** @internal true while in a queue */
  queued: boolean;
}

/** Items ordered by `lastSeen`, oldest first. */
export class ExpiryQueue<T extends ExpiryNode<T>> {
  #head: T | undefined;
  #tail: T | undefined;
  #size = 0;

  /** Items in the queue. */
  get size(): number {
    return this.#size;
  }

  /** The item heard least recently. */
  peek(): T | undefined {
    return this.#head;
  }

  /**
   * Marks `item` as heard at `now` and moves it to the tail. `now` never goes backwards
   * within the queue: an earlier time is raised to the tail's, so the order stays sorted.
   *
   * @param item the item
   * @param now the current time in ms
   */
  touch(item: T, now: number): void {
    const tail = this.#tail;
    item.lastSeen = tail !== undefined && tail !== item && tail.lastSeen > now
      ? tail.lastSeen
      : now;
    if (tail === item) return;
    if (item.queued) this.#unlink(item);
    item.expPrev = this.#tail;
    item.expNext = undefined;
    if (this.#tail) this.#tail.expNext = item;
    else this.#head = item;
    this.#tail = item;
    item.queued = true;
    this.#size++;
  }

  /**
   * Removes `item` (no-op when it is not queued).
   *
   * @param item the item
   */
  remove(item: T): void {
    if (item.queued) this.#unlink(item);
  }

  /**
   * Removes and returns the oldest item if it was last heard at or before `cutoff`.
   *
   * @param cutoff the latest `lastSeen` that counts as expired
   * @returns the expired item, or undefined
   */
  popExpired(cutoff: number): T | undefined {
    const head = this.#head;
    if (head === undefined || head.lastSeen > cutoff) return undefined;
    this.#unlink(head);
    return head;
  }

  #unlink(item: T): void {
    if (item.expPrev) item.expPrev.expNext = item.expNext;
    else this.#head = item.expNext;
    if (item.expNext) item.expNext.expPrev = item.expPrev;
    else this.#tail = item.expPrev;
    item.expPrev = item.expNext = undefined;
    item.queued = false;
    this.#size--;
  }
}
