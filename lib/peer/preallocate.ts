/**
 * Allocates a download's `.part` file on disk up front (`fallocate`, through libc over FFI, the
 * same grant as the socket fast path: socket_buffer.ts). A file the download only sized with
 * `ftruncate` is sparse: on ext4 every page its pieces are written into then goes through delayed
 * allocation (a block reservation and an extent lookup per page, in the writing process), which
 * cost ~0.07 of the ~0.2 CPU seconds per GiB of the page-cache write. With the blocks allocated
 * the write only copies. Holes only: data already in the file (a resume) is kept. Without the
 * grant, on a file system that cannot (EOPNOTSUPP) or off Linux, nothing happens and the writes
 * are as before. Figures: docs/TRANSFER.md, _Downloader CPU, fourth round_ (earlier figures
 * were measured with it off).
 * @module
 */
import { openLibc } from "../net/socket_buffer.ts";

/** O_WRONLY | O_NOFOLLOW | O_CLOEXEC on Linux x86_64 (and most architectures). */
const OPEN_FLAGS = 0o1 | 0o400000 | 0o2000000;
/** The same on aarch64, where O_NOFOLLOW is 0o100000. */
const OPEN_FLAGS_ARM = 0o1 | 0o100000 | 0o2000000;

/**
 * Allocates the blocks of the first `size` bytes of the file at `path` that are not allocated yet
 * (its data and size are unchanged; the file must exist). Never throws.
 *
 * @param path the file (not followed if it is a symbolic link)
 * @param size bytes to allocate from the start
 * @returns true when the blocks are allocated; false without the libc grant, or when the file
 *   system or the call refused
 */
export function preallocate(path: string, size: number): boolean {
  if (!(size > 0)) return false;
  const c = openLibc();
  if (c === null) return false;
  const flags = Deno.build.arch === "aarch64" ? OPEN_FLAGS_ARM : OPEN_FLAGS;
  const fd = c.open(new TextEncoder().encode(path + "\0"), flags);
  if (fd < 0) return false;
  try {
    return c.fallocate(fd, 0, 0n, BigInt(size)) === 0;
  } finally {
    c.close(fd);
  }
}
