/**
 * Writes whole pieces of a `.part` file with `O_DIRECT` straight from their piece buffers (libc
 * over FFI, the same grant as the socket fast path: socket_buffer.ts), off the event loop. A
 * buffered `pwrite` copies each piece into the page cache, and ext4 then does its per-4-KiB-page
 * work twice: in the write, and in the writeback that the periodic and final `fdatasync` build in
 * the downloader's own threads. A direct write hands the piece buffer's pages to the disk as they
 * are: no copy, no dirty pages, and the `fdatasync`s are left with the extent conversions and the
 * disk's cache flush. Figures: docs/TRANSFER.md, _Downloader CPU, fifth round_.
 *
 * The buffers must be {@link DIRECT_ALIGN}-aligned ({@link DirectWriter.alignedBuffer}, which the
 * download engine allocates its piece buffers with) and must stay untouched until their write
 * settles: the engine keeps a piece's buffer while its verdict is pending (`verify` events),
 * and the verdict is given when the write has finished. Adjacent pieces are gathered into one
 * `pwritev` of up to {@link DirectWriterOptions.maxRunPieces} (each write is a disk request, a
 * wake-up of a blocking thread and, in a virtual machine, a notification of the host), at most
 * {@link DirectWriterOptions.maxInFlight} at a time. What cannot go this way is said by
 * {@link DirectWriter.write} returning undefined: a piece whose offset, length or address is not
 * aligned (the file's last piece), every run in flight (a disk slower than the network), or a
 * file system that failed a direct write before. Without the grant, off Linux, or where the file
 * system refuses `O_DIRECT` (tmpfs: EINVAL), {@link DirectWriter.open} returns undefined and
 * every write stays buffered, as before.
 * @module
 */
import { isDescriptorOfFile, type Libc, openLp64Libc } from "../net/socket_buffer.ts";
import type { FileIdentity } from "../net/file_send.ts";
import { addressOf } from "../net/batch_udp.ts";

/** Offsets, lengths and buffer addresses of direct writes are multiples of this. */
export const DIRECT_ALIGN = 4096;

/** O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_DIRECT on Linux x86_64. */
const OPEN_FLAGS = 0o1 | 0o400000 | 0o2000000 | 0o40000;
/** The same on aarch64, where O_NOFOLLOW is 0o100000 and O_DIRECT 0o200000. */
const OPEN_FLAGS_ARM = 0o1 | 0o100000 | 0o2000000 | 0o200000;
/** struct iovec on LP64: address and length, 8 bytes each. */
const IOVEC_BYTES = 16;
/** Pieces in one `pwritev` at most (IOV_MAX is 1024). */
const MAX_IOVECS = 64;

/** Options for {@link DirectWriter.open}. */
export interface DirectWriterOptions {
  /** Adjacent pieces gathered into one `pwritev` before it is started. @default 8 */
  maxRunPieces?: number;
  /**
   * Runs being written at a time; while this many are, a full run keeps growing instead of
   * waiting (up to `maxHeldPieces`). @default 4
   */
  maxInFlight?: number;
  /**
   * Pieces held (gathered or being written) at most; beyond, {@link DirectWriter.write} refuses
   * and the piece is written buffered (each held piece keeps an engine piece buffer). @default 16
   */
  maxHeldPieces?: number;
  /** A run that stops growing is written after this many ms. @default 5 */
  lingerMs?: number;
}

/** Adjacent pieces gathered for one `pwritev`. */
interface Run {
  offset: number;
  length: number;
  views: Uint8Array[];
  addresses: bigint[];
  done: PromiseWithResolvers<boolean>;
}

/** See the module doc. */
export class DirectWriter {
  readonly #c: Libc;
  #fd: number;
  readonly #maxRun: number;
  readonly #maxInFlight: number;
  readonly #lingerMs: number;
  readonly #maxHeld: number;
  #held = 0;
  readonly #inFlight = new Set<Promise<void>>();
  #run: Run | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #failed = false;
  /** Pieces written directly so far (for tests and logs). */
  pieces = 0;
  /** `pwritev` calls so far (for tests and logs). */
  writes = 0;

  private constructor(c: Libc, fd: number, options: DirectWriterOptions) {
    this.#c = c;
    this.#fd = fd;
    this.#maxRun = Math.max(1, Math.min(MAX_IOVECS, options.maxRunPieces ?? 8));
    this.#maxInFlight = Math.max(1, options.maxInFlight ?? 4);
    this.#lingerMs = options.lingerMs ?? 5;
    this.#maxHeld = Math.max(1, options.maxHeldPieces ?? 16);
  }

  /**
   * Opens `path` for direct writes. Never throws.
   *
   * @param path the file (not followed if it is a symbolic link)
   * @param identity the file the caller has open: a path that is another file now is refused
   * @returns the writer, or undefined without the libc grant, off Linux (LP64), or when the file
   *   system refuses `O_DIRECT`
   */
  static open(
    path: string,
    identity: FileIdentity,
    options: DirectWriterOptions = {},
  ): DirectWriter | undefined {
    const c = Deno.build.os === "linux" ? openLp64Libc() : null;
    if (c === null) return undefined;
    const flags = Deno.build.arch === "aarch64" ? OPEN_FLAGS_ARM : OPEN_FLAGS;
    const fd = c.open(new TextEncoder().encode(path + "\0"), flags);
    if (fd < 0) return undefined;
    if (!isDescriptorOfFile(c, fd, identity)) {
      c.close(fd);
      return undefined;
    }
    return new DirectWriter(c, fd, options);
  }

  /** True once a direct write failed: every later write is refused (buffered by the caller). */
  get failed(): boolean {
    return this.#failed;
  }

  /**
   * A buffer of `size` bytes at a {@link DIRECT_ALIGN}-aligned address (a view into a slightly
   * larger one: an ArrayBuffer's bytes never move).
   */
  alignedBuffer(size: number): Uint8Array {
    const raw = new Uint8Array(size + DIRECT_ALIGN);
    const at = Number(addressOf(this.#c, raw) % BigInt(DIRECT_ALIGN));
    const skip = at === 0 ? 0 : DIRECT_ALIGN - at;
    return raw.subarray(skip, skip + size);
  }

  /**
   * Adds `data` to the run being gathered (a new run when `offset` does not follow it or it is
   * full); the run is written when it is full, when a piece elsewhere starts another, after
   * `lingerMs`, or on {@link drain}. `data` must stay untouched until the promise settles.
   *
   * @returns undefined when `data` cannot be written directly (see the module doc: write it
   *   buffered); else a promise of true once its bytes are written, or false when the direct
   *   write failed (write them buffered, which reports the error if there is one)
   */
  write(offset: number, data: Uint8Array): Promise<boolean> | undefined {
    const len = data.byteLength;
    if (
      this.#fd < 0 || this.#failed || len === 0 || len % DIRECT_ALIGN !== 0 ||
      offset % DIRECT_ALIGN !== 0
    ) return undefined;
    const address = addressOf(this.#c, data);
    if (address % BigInt(DIRECT_ALIGN) !== 0n) return undefined;
    if (this.#held >= this.#maxHeld) return undefined;
    let run = this.#run;
    if (run && (run.offset + run.length !== offset || run.views.length >= MAX_IOVECS)) {
      this.#submit();
      run = undefined;
    }
    if (run === undefined) {
      run = this.#run = {
        offset,
        length: 0,
        views: [],
        addresses: [],
        done: Promise.withResolvers<boolean>(),
      };
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#submit();
      }, this.#lingerMs);
    }
    run.views.push(data);
    run.addresses.push(address);
    run.length += len;
    this.#held++;
    const done = run.done.promise;
    if (run.views.length >= this.#maxRun && this.#inFlight.size < this.#maxInFlight) this.#submit();
    return done;
  }

  /** Writes the run being gathered, and resolves when no write is in flight. */
  async drain(): Promise<void> {
    this.#submit();
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /** Writes what is gathered, waits for the writes in flight, closes the descriptor. Idempotent. */
  async close(): Promise<void> {
    await this.drain();
    if (this.#fd < 0) return;
    this.#c.close(this.#fd);
    this.#fd = -1;
  }

  /** Starts the `pwritev` of the run being gathered. */
  #submit(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const run = this.#run;
    if (run === undefined) return;
    this.#run = undefined;
    this.writes++;
    const iov = new Uint8Array(IOVEC_BYTES * run.views.length);
    const dv = new DataView(iov.buffer);
    for (let i = 0; i < run.views.length; i++) {
      dv.setBigUint64(i * IOVEC_BYTES, run.addresses[i]!, true);
      dv.setBigUint64(i * IOVEC_BYTES + 8, BigInt(run.views[i]!.byteLength), true);
    }
    const write: Promise<void> = this.#c.pwritev(
      this.#fd,
      iov,
      run.views.length,
      BigInt(run.offset),
    )
      .then((n) => Number(n) === run.length, () => false)
      .then((ok) => {
        // `iov` and `run.views` were held until here: the kernel read through them
        this.#inFlight.delete(write);
        this.#held -= run.views.length;
        if (ok) this.pieces += run.views.length;
        else this.#failed = true;
        run.done.resolve(ok && iov.byteLength > 0);
        // A run that grew while every write was in flight goes now
        if ((this.#run?.views.length ?? 0) >= this.#maxRun) this.#submit();
      });
    this.#inFlight.add(write);
  }
}
