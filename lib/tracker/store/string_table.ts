/**
 * {@link StringTable}: strings → row numbers in one `Int32Array` of open-addressed slots, for
 * keys looked up off the hot path (the memory store's address and prefix keys, at REGISTER): a
 * `Map` entry costs ~46 bytes, a slot here 4 bytes at a load of at most one half (8–16 bytes
 * per key). The strings themselves stay in the caller's row column, which the table reads to
 * compare keys. Linear probing with backward-shift deletion (no tombstones); the slot array
 * doubles past half full and halves under an eighth, so it shrinks when keys go.
 * @module
 */

const MIN_SLOTS = 64;

/**
 * A 32-bit hash of a string's UTF-16 code units (FNV-1a, then a final mix).
 *
 * @param s the string
 * @param seed mixed in first (a port, say)
 * @returns an unsigned 32-bit hash
 */
export function hashString(s: string, seed = 0): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
}

/** Interned strings → rows, reading each row's string from the caller's column. */
export class StringTable {
  /** Row + 1 per slot; 0 is empty. */
  #slots = new Int32Array(MIN_SLOTS);
  #size = 0;
  readonly #keyOf: readonly (string | undefined)[];

  /** @param keyOf the string of each row (the caller keeps it while the row is in the table) */
  constructor(keyOf: readonly (string | undefined)[]) {
    this.#keyOf = keyOf;
  }

  /** Keys held. */
  get size(): number {
    return this.#size;
  }

  /** Bytes of the slot array. */
  get bytes(): number {
    return this.#slots.byteLength;
  }

  /**
   * The row of a key.
   *
   * @param key the string
   * @returns its row, or -1
   */
  get(key: string): number {
    const slots = this.#slots, mask = slots.length - 1;
    for (let i = hashString(key) & mask;; i = (i + 1) & mask) {
      const r = slots[i]! - 1;
      if (r < 0) return -1;
      if (this.#keyOf[r] === key) return r;
    }
  }

  /**
   * Adds a key that is not in the table (its string already in the caller's column at `row`).
   *
   * @param key the string
   * @param row its row
   */
  add(key: string, row: number): void {
    if (2 * (this.#size + 1) > this.#slots.length) this.#resize(this.#slots.length * 2);
    this.#place(hashString(key), row);
    this.#size++;
  }

  /**
   * Removes a key (call before the caller drops its string).
   *
   * @param key the string
   */
  delete(key: string): void {
    const slots = this.#slots, mask = slots.length - 1;
    let i = hashString(key) & mask;
    for (;; i = (i + 1) & mask) {
      const r = slots[i]! - 1;
      if (r < 0) return;
      if (this.#keyOf[r] === key) break;
    }
    // Backward shift: move later entries of the run into the hole when their home allows.
    for (let j = (i + 1) & mask;; j = (j + 1) & mask) {
      const r = slots[j]! - 1;
      if (r < 0) break;
      const home = hashString(this.#keyOf[r]!) & mask;
      // The entry at j may move to i unless its home lies cyclically in (i, j].
      if (i <= j ? home <= i || home > j : home <= i && home > j) {
        slots[i] = r + 1;
        i = j;
      }
    }
    slots[i] = 0;
    this.#size--;
    if (this.#slots.length > MIN_SLOTS && 8 * this.#size < this.#slots.length) {
      this.#resize(this.#slots.length / 2);
    }
  }

  #place(hash: number, row: number): void {
    const slots = this.#slots, mask = slots.length - 1;
    let i = hash & mask;
    while (slots[i] !== 0) i = (i + 1) & mask;
    slots[i] = row + 1;
  }

  #resize(n: number): void {
    const old = this.#slots;
    this.#slots = new Int32Array(n);
    for (const v of old) if (v !== 0) this.#place(hashString(this.#keyOf[v - 1]!), v - 1);
  }
}
