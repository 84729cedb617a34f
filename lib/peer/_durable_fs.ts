/**
 * The file-system steps of part_file.ts, each with the durability rule it keeps: positional
 * reads that never come up short, `fdatasync`, writes through a temporary file and a rename (with
 * an in-place fallback for a full disk), a move that never replaces a file by accident, and a
 * directory sync.
 *
 * None of them follows a symbolic link: the download directory may be writable by other local
 * users, and a `.part`, state, manifest or temporary file planted there as a link must not make
 * a download write (or read its resume state) outside the directory. Opens use `O_NOFOLLOW`
 * (refused with `TransferError("disk")` naming the link), files are created with `O_EXCL`, and
 * an open file is checked to be a regular file. Internal to lib/peer/.
 * @module
 */
import {
  closeSync,
  constants,
  fdatasync,
  fstatSync,
  fsyncSync,
  lstatSync,
  openSync,
  readSync,
  statfsSync,
  writeSync,
} from "node:fs";
import { diskError, errnoOf, TransferError } from "./transfer_error.ts";

/** `O_NOFOLLOW`, or 0 where the platform has none (Windows: links need privileges there). */
const NOFOLLOW = constants.O_NOFOLLOW ?? 0;

/** The refusal for a path that is a symbolic link (or another non-regular file). */
export function linkRefused(path: string, what = "a symbolic link"): TransferError {
  return new TransferError(
    "disk",
    `Cannot use ${path}: it is ${what}, and udpswarm never follows links or writes through them in the output directory; remove it and download again`,
  );
}

/**
 * Opens a regular file without following a link at `path`.
 *
 * `O_NOFOLLOW` alone is not enough under Deno: with a scoped `--allow-read`/`--allow-write` Deno
 * resolves the path before it opens it (measured with Deno 2.9.6: a link to an existing file is
 * opened through), so the file is identified instead: `lstat` before the open must show a regular
 * file, and the open file (`fstat`) must have the same device and inode as `lstat` before and after
 * the open. A missing file is created with `O_CREAT | O_EXCL`, which refuses anything at the name,
 * a link included, however the path is resolved.
 *
 * @param path the file
 * @param flags `constants.O_*` flags; with `O_CREAT` a missing file is created (never truncated)
 * @param mode permission bits when the file is created
 * @returns the file descriptor
 * @throws {TransferError} `disk` when `path` is a link or not a regular file, or was replaced
 *   while it was opened; what `openSync` throws otherwise (the caller wraps it)
 */
export function openNoFollow(path: string, flags: number, mode = 0o644): number {
  const create = (flags & constants.O_CREAT) !== 0;
  const base = flags & ~constants.O_CREAT & ~constants.O_EXCL & ~constants.O_TRUNC;
  for (let attempt = 0; attempt < 2; attempt++) {
    let before;
    try {
      before = lstatSync(path);
    } catch (e) {
      if (!create || errnoOf(e) !== "ENOENT") throw e;
      try {
        return openSync(path, base | constants.O_CREAT | constants.O_EXCL | NOFOLLOW, mode);
      } catch (e2) {
        if (errnoOf(e2) === "EEXIST") continue; // something appeared: look at it again
        throw e2;
      }
    }
    if (before.isSymbolicLink()) throw linkRefused(path);
    if (!before.isFile()) throw linkRefused(path, "not a regular file");
    let fd: number;
    try {
      fd = openSync(path, base | NOFOLLOW, mode);
    } catch (e) {
      if (errnoOf(e) === "ELOOP") throw linkRefused(path);
      throw e;
    }
    let same = false;
    try {
      const open = fstatSync(fd);
      same = open.isFile() && open.dev === before.dev && open.ino === before.ino &&
        isSameFile(fd, path);
    } finally {
      if (!same) closeSync(fd);
    }
    if (!same) throw linkRefused(path, "replaced by another file or a link while it was opened");
    return fd;
  }
  throw linkRefused(path, "replaced again and again while it was opened");
}

/**
 * Tells whether `path` (not followed) is the file open as `fd`: same device and inode. False
 * when `path` is missing, a link, or another file.
 */
export function isSameFile(fd: number, path: string): boolean {
  try {
    const open = fstatSync(fd);
    const there = lstatSync(path);
    return there.isFile() && there.dev === open.dev && there.ino === open.ino;
  } catch {
    return false;
  }
}

/**
 * Bytes that an unprivileged user may still write on the file system of `dir` (`statfs`
 * `f_bavail × f_bsize`), or undefined where it cannot be told.
 */
export function freeBytes(dir: string): number | undefined {
  try {
    const s = statfsSync(dir);
    const free = Number(s.bavail) * Number(s.bsize);
    return Number.isFinite(free) ? free : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads `buf.byteLength` bytes at `pos`; past the end of a shorter file the rest is zeros, which
 * no piece hash matches.
 */
export function readFullyAt(fd: number, buf: Uint8Array, pos: number, what: string): void {
  let got = 0;
  while (got < buf.byteLength) {
    let n: number;
    try {
      n = readSync(fd, buf, got, buf.byteLength - got, pos + got);
    } catch (e) {
      throw diskError(`Cannot read ${what} at offset ${pos + got}`, e);
    }
    if (n === 0) {
      buf.fill(0, got); // past the end of a shorter file: zeros, which no piece hash matches
      return;
    }
    got += n;
  }
}

/** `fdatasync` off the event loop. */
export function datasync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fdatasync(fd, (e) => (e ? reject(e) : resolve())));
}

/**
 * Writes `bytes` to `path` through `path.tmp` and a rename, so readers see old or new. The
 * temporary file is created anew (`O_EXCL`: whatever was at its name, a link included, is
 * removed first, and a link planted in between makes the write fail rather than go through it);
 * the rename replaces a link at `path` itself, never its target.
 */
export async function writeAtomically(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp`;
  await Deno.remove(tmp).catch(() => {});
  await Deno.writeFile(tmp, bytes, { createNew: true });
  await Deno.rename(tmp, path);
}

/**
 * Writes a state file through {@link writeAtomically}. When that fails for lack of space (the
 * temporary file needs a new block), overwrites the existing state file of the same size in place,
 * which needs none: on a full disk the verified pieces are still recorded. A torn in-place write
 * fails the state's checksum and is ignored on resume, like a torn temporary file.
 */
export async function writeState(path: string, bytes: Uint8Array): Promise<void> {
  try {
    await writeAtomically(path, bytes);
    return;
  } catch (e) {
    const errno = errnoOf(e);
    if (errno !== "ENOSPC" && errno !== "EDQUOT") throw e;
    await Deno.remove(`${path}.tmp`).catch(() => {});
    let fd: number;
    try {
      fd = openNoFollow(path, constants.O_RDWR);
    } catch {
      throw e;
    }
    try {
      if (fstatSync(fd).size !== bytes.byteLength) throw e;
      for (let off = 0; off < bytes.byteLength;) {
        off += writeSync(fd, bytes, off, bytes.byteLength - off, off);
      }
    } finally {
      closeSync(fd);
    }
  }
}

/**
 * Moves `from` to `to`. Without `overwrite` an existing `to` is never replaced: a hard link
 * fails atomically with EEXIST; where links are unsupported, an existence check then a rename.
 */
export async function moveInto(from: string, to: string, overwrite: boolean): Promise<void> {
  if (overwrite) {
    await Deno.rename(from, to);
    return;
  }
  try {
    await Deno.link(from, to);
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) {
      throw Object.assign(new Error(`${to} exists`), { code: "EEXIST", cause: e });
    }
    if (await pathExists(to)) {
      throw Object.assign(new Error(`${to} exists`), { code: "EEXIST", cause: e });
    }
    await Deno.rename(from, to); // file system without hard links
    return;
  }
  await Deno.remove(from);
}

/** Syncs a directory (after a rename), where the platform can. */
export function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Not every platform can fsync a directory; the rename is still atomic.
  }
}

/** Whether anything (a link included) is at `path`. */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw diskError(`Cannot check ${path}`, e);
  }
}

/**
 * The bytes of the regular file at `path`, or undefined when it is missing, unreadable or over
 * `maxBytes`.
 *
 * @throws {TransferError} `disk` when `path` is a symbolic link or not a regular file (refused,
 *   never followed)
 */
export function readIfExists(path: string, maxBytes: number): Promise<Uint8Array | undefined> {
  let fd: number;
  try {
    fd = openNoFollow(path, constants.O_RDONLY);
  } catch (e) {
    if (e instanceof TransferError) return Promise.reject(e);
    return Promise.resolve(undefined); // missing or unreadable: nothing to resume
  }
  try {
    const size = fstatSync(fd).size;
    if (size > maxBytes) return Promise.resolve(undefined);
    const buf = new Uint8Array(size);
    let got = 0;
    while (got < size) {
      const n = readSync(fd, buf, got, size - got, got);
      if (n === 0) break;
      got += n;
    }
    return Promise.resolve(buf.subarray(0, got));
  } catch {
    return Promise.resolve(undefined);
  } finally {
    closeSync(fd);
  }
}
