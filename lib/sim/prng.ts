/**
 * Seeded pseudo-random numbers for simulations and reproducible tests: mulberry32, plus a seed mixer that
 * derives independent streams from one seed. Not for cryptography.
 * @module
 */

/** Mixes `seed` and a stream number into a new 32-bit seed (a murmur3-style finaliser). */
export function deriveSeed(seed: number, stream: number): number {
  let h = ((seed >>> 0) ^ Math.imul((stream >>> 0) + 1, 0x9e3779b9)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A mulberry32 generator: 32-bit state, period 2^32, fast and good enough for tests. */
export class Prng {
  #state: number;

  /** Starts a generator; equal seeds give equal sequences. */
  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new RangeError(`Cannot seed Prng: seed is ${seed}`);
    this.#state = seed >>> 0;
  }

  /** The next unsigned 32-bit integer. */
  nextUint32(): number {
    const a = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** An integer in [0, n) for 0 < n ≤ 2^32. */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }

  /**
   * Fills `bytes` with pseudo-random bytes, four at a time. The byte order of each 32-bit word is
   * little-endian, so the output is the same on every platform.
   */
  fill(bytes: Uint8Array): void {
    const words = bytes.length >>> 2;
    if (LITTLE_ENDIAN && bytes.byteOffset % 4 === 0) {
      const u32 = new Uint32Array(bytes.buffer, bytes.byteOffset, words);
      let s = this.#state;
      for (let i = 0; i < words; i++) {
        const a = (s = (s + 0x6d2b79f5) >>> 0);
        let t = Math.imul(a ^ (a >>> 15), a | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        u32[i] = t ^ (t >>> 14);
      }
      this.#state = s;
    } else {
      for (let i = 0; i < words; i++) {
        const v = this.nextUint32();
        const o = i * 4;
        bytes[o] = v;
        bytes[o + 1] = v >>> 8;
        bytes[o + 2] = v >>> 16;
        bytes[o + 3] = v >>> 24;
      }
    }
    const rest = bytes.length - words * 4;
    if (rest > 0) {
      const v = this.nextUint32();
      for (let i = 0; i < rest; i++) bytes[words * 4 + i] = v >>> (8 * i);
    }
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
