/**
 * The file-system steps of part_file.ts, each with the durability rule it keeps: positional
 * reads that never come up short, `fdatasync`, writes through a temporary file and a rename (with
 * an in-place fallback for a full disk), a move that never replaces a file by accident, and a
 * directory sync. Internal to lib/peer/.
 * @module
 */
import { closeSync, fdatasync, fstatSync, fsyncSync, openSync, readSync, writeSync } from "node:fs";
import { diskError, errnoOf } from "./transfer_error.ts";

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

/** Writes `bytes` to `path` through `path.tmp` and a rename, so readers see old or new. */
export async function writeAtomically(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp`;
  await Deno.writeFile(tmp, bytes);
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
      fd = openSync(path, "r+");
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

/** The bytes of the regular file at `path`, or undefined when it is missing or over `maxBytes`. */
export async function readIfExists(
  path: string,
  maxBytes: number,
): Promise<Uint8Array | undefined> {
  try {
    const st = await Deno.stat(path);
    if (!st.isFile || st.size > maxBytes) return undefined;
    return await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    return undefined;
  }
}
