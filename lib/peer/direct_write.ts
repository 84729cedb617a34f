/**
 * Writes whole pieces of a `.part` file with `O_DIRECT` (libc over FFI, the same grant as the
 * socket fast path: socket_buffer.ts), off the event loop. A buffered `pwrite` copies each piece
 * into the page cache and ext4 then does its per-4-KiB-page work twice: once in the write, once
 * in the writeback that the periodic and final `fdatasync` build in the downloader's own threads.
 * A direct write hands the pages to the disk as they are (the piece is first copied into one of a
 * few page-aligned buffers, which `O_DIRECT` needs: the engine's piece buffer is reused as soon as
 * the write is started), and the `fdatasync`s are left with the extent conversions and the disk's
 * cache flush. Figures: docs/TRANSFER.md, _Downloader CPU, fifth round_.
 *
 * Each write runs on a blocking thread (a `nonblocking` FFI `pwrite`), at most
 * {@link DirectWriterOptions.maxInFlight} at a time; the caller records a piece only once its
 * write has finished ({@link PartFile.writePieceAsync}). What cannot go this way is said by
 * {@link DirectWriter.write} returning undefined: a piece whose offset or length is not a multiple
 * of the disk's block (the file's last piece), every buffer in flight (a disk slower than the
 * network), or a file system that refused a direct write before. Without the grant, off Linux, or
 * where the file system refuses `O_DIRECT` (tmpfs: EINVAL), {@link DirectWriter.open} returns
 * undefined and every write is buffered, as before.
 * @module
 */
import { type Libc, openLibc } from "../net/socket_buffer.ts";

/** Offsets, lengths and buffer addresses of direct writes are multiples of this. */
export const DIRECT_ALIGN = 4096;

/** O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_DIRECT on Linux x86_64 (and most architectures). */
const OPEN_FLAGS = 0o1 | 0o400000 | 0o2000000 | 0o40000;
/** The same on aarch64, where O_NOFOLLOW is 0o100000 and O_DIRECT 0o200000. */
const OPEN_FLAGS_ARM = 0o1 | 0o100000 | 0o2000000 | 0o200000;
/** struct stat: 144 bytes on x86_64, 128 on aarch64; st_dev and st_ino are its first two u64. */
const STAT_BYTES = 144;

/** Options for {@link DirectWriter.open}. */
export interface DirectWriterOptions {
  /**
   * Writes in flight at most (each holds one aligned buffer of the largest piece written).
   * @default 8
   */
  maxInFlight?: number;
}

/** A file's device and inode, as `fstat` gives them. */
export interface DirectFileIdentity {
  /** Device number. */
  dev: number;
  /** Inode number. */
  ino: number;
}

/** See the module doc. */
export class DirectWriter {
  readonly #c: Libc;
  #fd: number;
  readonly #maxInFlight: number;
  readonly #free: Uint8Array[] = [];
  readonly #inFlight = new Set<Promise<unknown>>();
  #refused = false;
  /** Writes done directly so far (for tests and logs). */
  written = 0;

  private constructor(c: Libc, fd: number, maxInFlight: number) {
    this.#c = c;
    this.#fd = fd;
    this.#maxInFlight = maxInFlight;
  }

  /**
   * Opens `path` for direct writes. Never throws.
   *
   * @param path the file (not followed if it is a symbolic link)
   * @param identity the file the caller has open: a path that is another file now is refused
   * @returns the writer, or undefined without the libc grant, off Linux, or when the file system
   *   refuses `O_DIRECT`
   */
  static open(
    path: string,
    identity: DirectFileIdentity,
    options: DirectWriterOptions = {},
  ): DirectWriter | undefined {
    const c = openLibc();
    if (c === null || Deno.build.os !== "linux") return undefined;
    if (Deno.build.arch !== "x86_64" && Deno.build.arch !== "aarch64") return undefined;
    const flags = Deno.build.arch === "aarch64" ? OPEN_FLAGS_ARM : OPEN_FLAGS;
    const fd = c.open(new TextEncoder().encode(path + "\0"), flags);
    if (fd < 0) return undefined;
    const st = new Uint8Array(STAT_BYTES);
    const view = new DataView(st.buffer);
    if (
      c.fstat(fd, st) !== 0 || Number(view.getBigUint64(0, true)) !== identity.dev ||
      Number(view.getBigUint64(8, true)) !== identity.ino
    ) {
      c.close(fd);
      return undefined;
    }
    return new DirectWriter(c, fd, Math.max(1, options.maxInFlight ?? 8));
  }

  /** Direct writes in flight. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** True once the file system refused a direct write: every later write is buffered. */
  get refused(): boolean {
    return this.#refused;
  }

  /**
   * Starts writing a copy of `data` at `offset` (`data` may be reused on return).
   *
   * @returns undefined when this write cannot be direct (see the module doc: the caller writes
   *   it buffered); else a promise of undefined once the bytes are written, or of the copy when
   *   the direct write failed (the caller writes those bytes buffered, which reports the error
   *   if there is one; later writes are then refused here)
   */
  write(offset: number, data: Uint8Array): Promise<Uint8Array | undefined> | undefined {
    const len = data.byteLength;
    if (
      this.#fd < 0 || this.#refused || len === 0 || len % DIRECT_ALIGN !== 0 ||
      offset % DIRECT_ALIGN !== 0 || this.#inFlight.size >= this.#maxInFlight
    ) return undefined;
    let buf = this.#free.pop();
    if (buf === undefined || buf.byteLength < len) buf = this.#aligned(len);
    const copy = buf.subarray(0, len);
    copy.set(data);
    const run = this.#c.pwrite(this.#fd, copy, len, BigInt(offset)).then(
      (n) => Number(n) === len,
      () => false,
    ).then((ok) => {
      this.#inFlight.delete(run);
      if (ok) {
        this.written++;
        this.#free.push(buf);
        return undefined;
      }
      this.#refused = true;
      return copy;
    });
    this.#inFlight.add(run);
    return run;
  }

  /** Resolves when no write is in flight. */
  async drain(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /** Waits for the writes in flight, then closes the descriptor. Idempotent. */
  async close(): Promise<void> {
    await this.drain();
    if (this.#fd < 0) return;
    this.#c.close(this.#fd);
    this.#fd = -1;
    this.#free.length = 0;
  }

  /** A view of `len` bytes at a {@link DIRECT_ALIGN}-aligned address (a buffer's bytes never move). */
  #aligned(len: number): Uint8Array {
    const raw = new Uint8Array(len + DIRECT_ALIGN);
    const at = Number(this.#c.memmove(raw, raw, 0) % BigInt(DIRECT_ALIGN));
    const skip = at === 0 ? 0 : DIRECT_ALIGN - at;
    return raw.subarray(skip, skip + len);
  }
}
