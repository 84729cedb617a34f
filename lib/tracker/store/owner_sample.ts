/**
 * Random draws among a content's owners in O(1), for the memory store's NEED: without them a
 * draw walked the content's owner list to a random place, so a NEED for a file with M owners
 * cost O(M) (0.6–1 ms at 10,000 owners, 2–3 ms at 50,000: a flash crowd on one popular file
 * would have held the tracker to about a thousand NEEDs a second).
 *
 * Each large content (at least {@link SAMPLE_FROM} owners) keeps two dense arrays of its
 * ownership rows: all owners, and the complete ones. A row's place in each is kept in a column
 * of the ownership table (given as a getter: the table's columns are replaced when it grows),
 * so adding and removing are O(1) (swap with the last). Small contents keep none: walking at
 * most {@link SAMPLE_FROM} owners is as cheap, and costs no memory.
 * @module
 */

/** A content gets its arrays when it reaches this many owners. */
export const SAMPLE_FROM = 64;
/** …and loses them when it falls under this many (hysteresis: no rebuild per join and leave). */
export const SAMPLE_UNTIL = 32;

/** Dense arrays of rows per key, with each row's place kept in a caller's column. */
export class DenseSets {
  readonly #sets = new Map<number, number[]>();
  readonly #place: () => Int32Array;

  /**
   * No sets yet.
   *
   * @param place the column that holds each row's index in its set (read anew each call)
   */
  constructor(place: () => Int32Array) {
    this.#place = place;
  }

  /**
   * The set of `key`, if it has one.
   *
   * @param key the key (a content row)
   * @returns its rows, in no order (do not modify)
   */
  get(key: number): readonly number[] | undefined {
    return this.#sets.get(key);
  }

  /**
   * Gives `key` a set holding `rows`.
   *
   * @param key the key
   * @param rows its rows (taken over)
   */
  create(key: number, rows: number[]): void {
    const place = this.#place();
    for (let i = 0; i < rows.length; i++) place[rows[i]!] = i;
    this.#sets.set(key, rows);
  }

  /**
   * Adds `row` to the set of `key`, if `key` has one.
   *
   * @param key the key
   * @param row the row (not in the set yet)
   */
  add(key: number, row: number): void {
    const set = this.#sets.get(key);
    if (set === undefined) return;
    this.#place()[row] = set.length;
    set.push(row);
  }

  /**
   * Removes `row` from the set of `key`, if `key` has one (the last row takes its place).
   *
   * @param key the key
   * @param row a row of the set
   */
  remove(key: number, row: number): void {
    const set = this.#sets.get(key);
    if (set === undefined) return;
    const place = this.#place();
    const i = place[row]!;
    const last = set.pop()!;
    if (last !== row) {
      set[i] = last;
      place[last] = i;
    }
  }

  /**
   * Drops the set of `key`.
   *
   * @param key the key
   */
  delete(key: number): void {
    this.#sets.delete(key);
  }

  /** How many keys have a set. */
  get size(): number {
    return this.#sets.size;
  }
}
