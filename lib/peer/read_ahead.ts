/**
 * The uploader's read-ahead for small blocks: the blocks of one requested range are consecutive
 * in the file, so at path-MTU sizes (1436 bytes) one `readSync` to the end of the range (at most
 * 64 KiB) serves ~45 of them, and each is then one copy into its datagram. It never reads bytes
 * nobody asked for: a request at `--mtu 1500` is often ~10 blocks, and whole 64 KiB reads were
 * 4.6 times the bytes sent (docs/TRANSFER.md, _Owner side_).
 * @module
 */
import { readSync } from "node:fs";

/** One buffer of file bytes, refilled on a miss. */
export class ReadAhead {
  #fd = -1;
  #start = 0;
  #end = 0;
  readonly #bytes: Uint8Array;

  /**
   * An empty read-ahead.
   *
   * @param capacity the largest read @default 65536
   */
  constructor(capacity = 65536) {
    this.#bytes = new Uint8Array(capacity);
  }

  /** Forgets what it holds (the file may have changed since the last request). */
  reset(): void {
    this.#fd = -1;
  }

  /**
   * Copies file bytes [off, off + len) of `fd` into `into` at `at`, reading from `off` to
   * `rangeEnd` (at most the capacity) first when it does not hold them.
   *
   * @param fd the file
   * @param off the first byte
   * @param len how many bytes
   * @param rangeEnd the end of the requested range the block belongs to
   * @param into the datagram being built
   * @param at where the bytes go in it
   * @returns false when the file has fewer bytes there (a short read)
   */
  copy(
    fd: number,
    off: number,
    len: number,
    rangeEnd: number,
    into: Uint8Array,
    at: number,
  ): boolean {
    if (this.#fd !== fd || off < this.#start || off + len > this.#end) {
      let n: number;
      const want = Math.min(this.#bytes.byteLength, Math.max(len, rangeEnd - off));
      try {
        n = readSync(fd, this.#bytes, 0, want, off);
      } catch {
        n = -1;
      }
      this.#fd = n < 0 ? -1 : fd;
      this.#start = off;
      this.#end = off + Math.max(n, 0);
      if (n < len) return false;
    }
    into.set(this.#bytes.subarray(off - this.#start, off - this.#start + len), at);
    return true;
  }
}
