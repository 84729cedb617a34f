/**
 * A fixed-size set of small integers (piece indices), stored MSB-first like the HAVE message's
 * bitfield: bit `i` is `bytes[i >> 3] & (0x80 >> (i & 7))`.
 * @module
 */

/**
 * A fixed-size bit set with a maintained population count.
 *
 * @example Tracking verified pieces
 * ```ts
 * import { Bitset } from "./bitset.ts";
 * const have = new Bitset(10);
 * have.set(3);
 * console.log(have.has(3), have.count, have.nextClear(0)); // true 1 0
 * ```
 */
export class Bitset {
  /** Number of bits. */
  readonly size: number;
  readonly #bytes: Uint8Array;
  #count = 0;

  /**
   * Creates an empty bit set.
   *
   * @param size number of bits, 0..2^31-1
   * @throws {RangeError} when `size` is not a non-negative integer
   */
  constructor(size: number) {
    if (!Number.isInteger(size) || size < 0 || size > 0x7fffffff) {
      throw new RangeError(
        `Cannot create bitset: size must be an integer in 0..2^31-1, got ${size}`,
      );
    }
    this.size = size;
    this.#bytes = new Uint8Array(Math.ceil(size / 8));
  }

  /**
   * Builds a bit set from MSB-first bytes. Bits past `size` in the last byte must be zero.
   *
   * @param bytes exactly `ceil(size / 8)` bytes
   * @param size number of bits
   * @returns a new bit set (the bytes are copied)
   * @throws {RangeError} when the length is wrong or padding bits are set
   */
  static fromBytes(bytes: Uint8Array, size: number): Bitset {
    const b = new Bitset(size);
    if (bytes.byteLength !== b.#bytes.byteLength) {
      throw new RangeError(
        `Cannot load bitset: ${bytes.byteLength} bytes, expected ${b.#bytes.byteLength} for ${size} bits`,
      );
    }
    const tail = size & 7;
    if (tail !== 0 && (bytes[bytes.byteLength - 1]! & (0xff >> tail)) !== 0) {
      throw new RangeError("Cannot load bitset: padding bits past the size are set");
    }
    b.#bytes.set(bytes);
    let n = 0;
    for (let i = 0; i < bytes.byteLength; i++) n += popcount8(bytes[i]!);
    b.#count = n;
    return b;
  }

  /** Number of set bits. */
  get count(): number {
    return this.#count;
  }

  /** True when every bit is set (also for an empty set). */
  get full(): boolean {
    return this.#count === this.size;
  }

  /** Tells whether bit `i` is set; false for any `i` outside 0..size-1. */
  has(i: number): boolean {
    if (!(i >= 0 && i < this.size)) return false;
    return (this.#bytes[i >>> 3]! & (0x80 >>> (i & 7))) !== 0;
  }

  /**
   * Sets bit `i`.
   *
   * @returns true when the bit was newly set
   * @throws {RangeError} when `i` is outside 0..size-1
   */
  set(i: number): boolean {
    this.#check(i);
    const mask = 0x80 >>> (i & 7);
    const at = i >>> 3;
    const v = this.#bytes[at]!;
    if (v & mask) return false;
    this.#bytes[at] = v | mask;
    this.#count++;
    return true;
  }

  /**
   * Clears bit `i`.
   *
   * @returns true when the bit was set before
   * @throws {RangeError} when `i` is outside 0..size-1
   */
  delete(i: number): boolean {
    this.#check(i);
    const mask = 0x80 >>> (i & 7);
    const at = i >>> 3;
    const v = this.#bytes[at]!;
    if (!(v & mask)) return false;
    this.#bytes[at] = v & ~mask;
    this.#count--;
    return true;
  }

  /** Clears every bit. */
  clear(): void {
    this.#bytes.fill(0);
    this.#count = 0;
  }

  /** The first set bit at or after `from`, or -1. */
  nextSet(from = 0): number {
    return this.#scan(from, true);
  }

  /** The first clear bit at or after `from`, or -1. */
  nextClear(from = 0): number {
    return this.#scan(from, false);
  }

  /** A copy of the MSB-first bytes (`ceil(size / 8)` of them). */
  toBytes(): Uint8Array {
    return this.#bytes.slice();
  }

  /** Copies the MSB-first bytes into `out` at `offset`; returns the number of bytes written. */
  copyInto(out: Uint8Array, offset = 0): number {
    out.set(this.#bytes, offset);
    return this.#bytes.byteLength;
  }

  /** Byte length of the MSB-first encoding. */
  get byteLength(): number {
    return this.#bytes.byteLength;
  }

  /** Iterates the set bits in increasing order. */
  *[Symbol.iterator](): IterableIterator<number> {
    for (let i = this.nextSet(0); i >= 0; i = this.nextSet(i + 1)) yield i;
  }

  #scan(from: number, want: boolean): number {
    let i = Math.max(0, Math.floor(from));
    const skip = want ? 0x00 : 0xff;
    while (i < this.size) {
      const byte = this.#bytes[i >>> 3]!;
      if ((i & 7) === 0 && byte === skip) {
        i += 8;
        continue;
      }
      if (((byte & (0x80 >>> (i & 7))) !== 0) === want) return i;
      i++;
    }
    return -1;
  }

  #check(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.size) {
      throw new RangeError(`Cannot access bit ${i}: bitset has ${this.size} bits`);
    }
  }
}

function popcount8(v: number): number {
  v = v - ((v >>> 1) & 0x55);
  v = (v & 0x33) + ((v >>> 2) & 0x33);
  return (v + (v >>> 4)) & 0x0f;
}
