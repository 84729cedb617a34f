/**
 * A download's on-disk state: the data file `<base>.part`, a small `<base>.part.state` of
 * verified pieces (its format: part_state.ts), and the manifest `<base>.part.manifest`, where
 * `<base>` is the file name plus the first 16 hex digits of the content id. Layouts and the
 * durability rules: docs/STORAGE.md; the file-system steps they rely on: _durable_fs.ts.
 *
 * Over 600 lines: opening and resuming must check every path against links (lstat before, fstat
 * after, the same device and inode) and re-hash what the state claims, and each step's error
 * names the file and the fix; they share the one open-file state this class holds.
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { closeSync, constants, fstatSync, ftruncateSync, writeSync } from "node:fs";
import { join } from "node:path";
import { Bitset } from "./core/bitset.ts";
import { contentIdOf, type Manifest, pieceCount, pieceLength } from "./manifest.ts";
import { fromHex, toHex } from "../wire/hex.ts";
import { decodePartState, encodePartState, maxPartStateBytes } from "./part_state.ts";
import { safeName } from "./safe_name.ts";
import {
  datasync,
  freeBytes,
  isSameFile,
  linkRefused,
  moveInto,
  openNoFollow,
  pathExists,
  readFullyAt,
  readIfExists,
  syncDir,
  writeAtomically,
  writeState,
} from "./_durable_fs.ts";
import { diskError, errnoOf, TransferError } from "./transfer_error.ts";
import { preallocate } from "./preallocate.ts";
import { DirectWriter } from "./direct_write.ts";
import type { FileIdentity } from "../net/file_send.ts";

/** Options for {@link PartFile.open}. */
export interface PartFileOptions {
  /** Replace an existing file with the final name on {@link PartFile.complete}. @default false */
  overwrite?: boolean;
  /** The encoded manifest, stored beside the `.part` so a resume needs no owner to send it. */
  encodedManifest?: Uint8Array;
  /**
   * The state file is rewritten at most this often while pieces arrive (always on close and
   * complete); 0 writes it only on {@link PartFile.flush}, close and complete. @default 500
   */
  flushIntervalMs?: number;
  /**
   * Without a usable state, hash every piece of an existing `.part` on open and keep those that
   * match (pieces the state claims are always hashed again, whatever this says). @default false
   */
  reverify?: boolean;
  /** Progress of the hashing on open: bytes checked so far, of the bytes to check. */
  onVerifyProgress?: (checkedBytes: number, totalBytes: number) => void;
  /**
   * Bytes to leave free beyond the file; open refuses a download the disk cannot hold.
   * @default twice the state and manifest files (their temporary copies) plus 64 KiB
   */
  reserveBytes?: number;
  /**
   * With FFI access to libc, let whole pieces be written with `O_DIRECT` from aligned buffers
   * ({@link PartFile.writePieceDirect}, direct_write.ts); without the grant, or where the file
   * system refuses, there is no direct writer and writes stay buffered. @default false
   */
  directWrites?: boolean;
}

/** The file names a download uses, all in one directory. */
export interface PartPaths {
  /** `<dir>/<base>.part`: the data. */
  part: string;
  /** `<dir>/<base>.part.state`: verified pieces. */
  state: string;
  /** `<dir>/<base>.part.manifest`: the encoded manifest. */
  manifest: string;
}

const CID_PREFIX_HEX = 16;
/** The longest suffix added to a base name: `.part.manifest.tmp`. */
const LONGEST_SUFFIX = ".part.manifest.tmp".length;
const MAX_BASE_BYTES = 255 - LONGEST_SUFFIX;
const encoder = new TextEncoder();

/** Part files open in this process, so two downloads never write one `.part`. */
const openParts = new Set<string>();

/**
 * The paths of the part files of `name` with content id `contentIdHex` in `dir`. The content id
 * prefix keeps two different files with the same name apart; a name too long for the suffixes is
 * shortened at a character boundary.
 *
 * @throws {TransferError} `bad_name` for an unsafe name or a malformed content id
 */
export function partPaths(dir: string, name: string, contentIdHex: string): PartPaths {
  safeName(name);
  if (!/^[0-9a-fA-F]{64}$/.test(contentIdHex)) {
    throw new TransferError(
      "bad_name",
      `Cannot name a part file: content id "${contentIdHex}" is not 64 hex digits`,
    );
  }
  const suffix = `.${contentIdHex.slice(0, CID_PREFIX_HEX).toLowerCase()}`;
  let stem = name;
  while (encoder.encode(stem + suffix).byteLength > MAX_BASE_BYTES) {
    stem = Array.from(stem).slice(0, -1).join("");
  }
  const base = join(dir, stem + suffix);
  return { part: `${base}.part`, state: `${base}.part.state`, manifest: `${base}.part.manifest` };
}

/**
 * A download in progress on disk. Pieces are written with positional `writeSync` at their
 * offsets (or, with `directWrites`, with `O_DIRECT`: {@link PartFile.writePieceDirect}); the set
 * of verified pieces lives in memory ({@link verifiedPieces}) and is saved to the state file in
 * batches. A piece is recorded in the state file only after an `fdatasync` of the data that ran
 * after the piece was written, so after a crash or power loss the state never claims a piece that
 * is not on disk; at most the last `flushIntervalMs` of pieces are fetched again.
 *
 * @example Write, close, resume, complete
 * ```ts
 * import { PartFile } from "./part_file.ts";
 * import { buildManifest } from "./manifest.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeFile(`${dir}/src`, new Uint8Array(40_000).fill(7));
 * const { manifest, contentIdHex } = await buildManifest(`${dir}/src`, { pieceSize: 16384 });
 * const out = await Deno.makeTempDir();
 * const part = await PartFile.open(out, "copy.bin", contentIdHex, manifest);
 * part.writePiece(0, new Uint8Array(16384).fill(7));
 * await part.close(); // the state file now lists piece 0
 * const again = await PartFile.open(out, "copy.bin", contentIdHex, manifest);
 * console.log([...again.verifiedPieces]); // [0]
 * again.writePiece(1, new Uint8Array(16384).fill(7));
 * again.writePiece(2, new Uint8Array(40_000 - 32768).fill(7));
 * console.log(await again.complete()); // `${out}/copy.bin`
 * await Deno.remove(dir, { recursive: true });
 * await Deno.remove(out, { recursive: true });
 * ```
 */
export class PartFile implements AsyncDisposable {
  /** The file name the download completes to. */
  readonly name: string;
  /** The directory of the part files and the final file. */
  readonly dir: string;
  /** Lowercase hex content id. */
  readonly contentIdHex: string;
  /** The verified manifest of the download. */
  readonly manifest: Manifest;
  /** The part files' paths. */
  readonly paths: PartPaths;
  /** Verified pieces (on disk, though possibly not yet fsynced). Live: updated by writes. */
  readonly verifiedPieces: Bitset;
  /** Bytes of verified pieces found on disk when opened (each hashed again on open). */
  readonly resumedBytes: number;
  /** What the hashing on open found: pieces the state claimed and those that failed. */
  readonly resumeCheck: ResumeCheck;
  /** Device and inode of the open `.part` (whoever opens it again checks it is this file). */
  readonly identity: FileIdentity;
  /**
   * Free bytes on the file system when the download was checked against it on open, or
   * undefined when free space could not be told (no `statfs`, or no `--allow-sys=statfs`
   * grant): then a disk too small shows up only as a failed write.
   */
  freeBytesAtOpen: number | undefined;
  /** State-file writes so far (for tests and logs). */
  stateWrites = 0;

  readonly #contentId: Uint8Array;
  readonly #overwrite: boolean;
  readonly #flushIntervalMs: number;
  #fd: number;
  #closed = false;
  #dirty = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #flushing: Promise<void> | undefined;
  #verifiedBytes = 0;
  #direct: DirectWriter | undefined;

  private constructor(
    dir: string,
    name: string,
    contentIdHex: string,
    manifest: Manifest,
    paths: PartPaths,
    fd: number,
    verified: Bitset,
    options: PartFileOptions,
    resumeCheck: ResumeCheck,
  ) {
    this.dir = dir;
    this.name = name;
    this.contentIdHex = contentIdHex;
    this.#contentId = fromHex(contentIdHex)!;
    this.manifest = manifest;
    this.paths = paths;
    this.#fd = fd;
    const st = fstatSync(fd);
    this.identity = { dev: st.dev, ino: st.ino };
    this.resumeCheck = resumeCheck;
    this.verifiedPieces = verified;
    this.#overwrite = options.overwrite ?? false;
    this.#flushIntervalMs = options.flushIntervalMs ?? 500;
    let bytes = 0;
    for (const i of verified) bytes += pieceLength(manifest, i);
    this.resumedBytes = bytes;
    this.#verifiedBytes = bytes;
    openParts.add(paths.part);
  }

  /**
   * Opens (or creates) the part files of a download and resumes its verified pieces.
   *
   * A state file is a hint, never a proof: it is used only when its checksum is right and it
   * names the same content id, size and piece size (a state of another content is never mixed
   * in: its part name differs, and a state that still disagrees is refused), and every piece it
   * claims is read and hashed again before it counts (asynchronously, giving the event loop a
   * turn every ~50 ms, with `onVerifyProgress`); a piece that does not match is fetched again.
   * So flipped bytes, zeroed regions or a forged state never end in a "verified" file.
   *
   * Nothing is followed: a `.part`, state or manifest path that is a symbolic link (or not a
   * regular file) is refused with `TransferError("disk")`. Before the `.part` is created the
   * free space is checked: a file the disk cannot hold (beyond what an existing `.part` already
   * occupies) is refused with `TransferError("disk")`, so no sparse file larger than the space
   * left is made. The `.part` is then set to the file's size (sparse); pieces the state claims
   * beyond a shorter `.part` are forgotten.
   *
   * @param dir directory of the download (must exist)
   * @param name final file name; checked with `safeName`
   * @param contentIdHex the verified content id of `manifest`
   * @param manifest the verified manifest
   * @param options overwrite, stored manifest, flush interval, re-verification
   * @returns the open part file
   * @throws {TransferError} `bad_name`; `exists` when the final file exists and `overwrite` is
   *   off, or the part is already open, or the state belongs to another content; `not_found`
   *   when `dir` is missing; `disk` when the directory is not writable, the disk cannot hold the
   *   file, or a part path is a link
   */
  static async open(
    dir: string,
    name: string,
    contentIdHex: string,
    manifest: Manifest,
    options: PartFileOptions = {},
  ): Promise<PartFile> {
    const safe = safeName(name);
    const cid = contentIdHex.toLowerCase();
    const paths = partPaths(dir, safe, cid);
    if (openParts.has(paths.part)) {
      throw new TransferError(
        "exists",
        `Cannot download ${safe}: ${paths.part} is already in use by another download of this content`,
      );
    }
    openParts.add(paths.part); // reserved now: two concurrent opens must not both pass the check
    try {
      return await PartFile.#openReserved(dir, safe, cid, manifest, paths, options);
    } catch (e) {
      openParts.delete(paths.part);
      throw e;
    }
  }

  static async #openReserved(
    dir: string,
    safe: string,
    cid: string,
    manifest: Manifest,
    paths: PartPaths,
    options: PartFileOptions,
  ): Promise<PartFile> {
    if (!options.overwrite && (await pathExists(join(dir, safe)))) {
      throw new TransferError(
        "exists",
        `Cannot save ${safe}: ${join(dir, safe)} exists; pass overwrite to replace it`,
      );
    }
    if (options.encodedManifest) {
      if (toHex(contentIdOf(options.encodedManifest)) !== cid) {
        throw new TransferError(
          "bad_manifest",
          `Cannot download ${safe}: the encoded manifest does not hash to content id ${cid}`,
        );
      }
    }
    const count = pieceCount(manifest);
    let verified = new Bitset(count);
    let stateLoaded = false;
    const stateBytes = await readIfExists(paths.state, maxPartStateBytes(count));
    if (stateBytes) {
      const state = decodePartState(stateBytes);
      if (state && state.contentIdHex !== cid) {
        throw new TransferError(
          "exists",
          `Cannot download ${safe}: ${paths.state} belongs to content ${state.contentIdHex}; move or delete it`,
        );
      }
      if (
        state && state.size === manifest.size && state.pieceSize === manifest.pieceSize &&
        state.pieceCount === count
      ) {
        try {
          verified = Bitset.fromBytes(state.bits, count);
          stateLoaded = true;
        } catch {
          // padding bits set: treat like a corrupt state
        }
      }
    }

    const free = await checkFreeSpace(
      dir,
      safe,
      paths.part,
      manifest.size,
      options.reserveBytes ?? reserveFor(manifest),
    );
    let fd: number;
    try {
      // Created if missing, never truncated, never through a link
      fd = openNoFollow(paths.part, constants.O_RDWR | constants.O_CREAT);
    } catch (e) {
      throw diskError(
        `Cannot create ${paths.part}`,
        e,
        "check that the directory exists and is writable",
      );
    }
    let check: ResumeCheck;
    try {
      const have = fstatSync(fd).size;
      for (const i of [...verified]) {
        if (i * manifest.pieceSize + pieceLength(manifest, i) > have) verified.delete(i);
      }
      if (have !== manifest.size) ftruncateSync(fd, manifest.size);
      preallocate(paths.part, manifest.size);
      const everything = options.reverify === true && !(stateLoaded && verified.count > 0);
      check = await rehash(fd, manifest, verified, everything, options.onVerifyProgress);
      if (options.encodedManifest && !(await PartFile.loadManifest(dir, safe, cid))) {
        await writeAtomically(paths.manifest, options.encodedManifest);
      }
    } catch (e) {
      closeSync(fd);
      throw diskError(`Cannot prepare ${paths.part}`, e, "check free space and permissions");
    }
    const part = new PartFile(dir, safe, cid, manifest, paths, fd, verified, options, check);
    part.freeBytesAtOpen = free;
    if (options.directWrites) part.#direct = DirectWriter.open(paths.part, part.identity);
    if (!stateLoaded) {
      // A state file from the start: on a full disk a flush can still rewrite it in place.
      try {
        await writeAtomically(paths.state, part.#encodeState());
      } catch (e) {
        part.#closeFd();
        throw diskError(`Cannot prepare ${paths.part}`, e, "check free space and permissions");
      }
    }
    return part;
  }

  /**
   * Reads the stored manifest of an interrupted download, if it is there and hashes to the
   * content id.
   *
   * @returns the encoded manifest, or undefined
   */
  static async loadManifest(
    dir: string,
    name: string,
    contentIdHex: string,
  ): Promise<Uint8Array | undefined> {
    const paths = partPaths(dir, name, contentIdHex);
    const bytes = await readIfExists(paths.manifest, 64 * 1024 * 1024 + 1);
    if (!bytes) return undefined;
    return toHex(contentIdOf(bytes)) === contentIdHex.toLowerCase() ? bytes : undefined;
  }

  /** Bytes of verified pieces (resumed ones included). */
  get verifiedBytes(): number {
    return this.#verifiedBytes;
  }

  /** True when every piece is verified. */
  get isComplete(): boolean {
    return this.verifiedPieces.full;
  }

  /** True after {@link close} or {@link complete}. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Writes a verified piece at its offset and records it. The caller has checked `data` against
   * the manifest (the engine does; `verifyPiece` in manifest.ts); only the length is checked
   * here, so a piece is never hashed twice. Synchronous: `data` may be reused on return.
   *
   * @throws {RangeError} for a wrong index or length
   * @throws {TransferError} `disk` when the write fails (disk full, I/O error); the `.part` and
   *   the pieces recorded so far are kept for a resume
   */
  writePiece(index: number, data: Uint8Array): void {
    const len = pieceLength(this.manifest, index);
    if (data.byteLength !== len) {
      throw new RangeError(
        `Cannot write piece ${index} of ${this.name}: ${data.byteLength} bytes, expected ${len}`,
      );
    }
    this.writeAt(index * this.manifest.pieceSize, data);
    this.markVerified(index);
  }

  /**
   * With a direct writer (`directWrites`, the libc grant, a file system that takes `O_DIRECT`):
   * allocates piece buffers that {@link writePieceDirect} can write from; else undefined.
   */
  get newPieceBuffer(): ((size: number) => Uint8Array) | undefined {
    const direct = this.#direct;
    return direct && !direct.failed ? (size) => direct.alignedBuffer(size) : undefined;
  }

  /** Pieces written with `O_DIRECT` so far, and the `pwritev` calls that wrote them. */
  get directWrites(): { pieces: number; writes: number } {
    return { pieces: this.#direct?.pieces ?? 0, writes: this.#direct?.writes ?? 0 };
  }

  /**
   * Starts writing a verified piece with `O_DIRECT` on a blocking thread, from `data` itself
   * (a buffer of {@link newPieceBuffer}), which must stay untouched until the promise settles.
   * Nothing is recorded: call {@link markVerified} once it resolves (a piece whose write has not
   * finished is never claimed by the state). {@link close} waits for the writes in flight.
   *
   * @returns undefined when this piece cannot be written that way (no direct writer, the last
   *   piece's odd length, a buffer not from {@link newPieceBuffer}, every write in flight): use
   *   {@link writeAt}; else a promise that resolves once the bytes are in the file (written
   *   buffered if the direct write failed) and rejects with `TransferError("disk")` when they
   *   could not be written at all
   * @throws {RangeError} for a wrong index or length
   */
  writePieceDirect(index: number, data: Uint8Array): Promise<void> | undefined {
    this.#open();
    const len = pieceLength(this.manifest, index);
    if (data.byteLength !== len) {
      throw new RangeError(
        `Cannot write piece ${index} of ${this.name}: ${data.byteLength} bytes, expected ${len}`,
      );
    }
    const offset = index * this.manifest.pieceSize;
    return this.#direct?.write(offset, data)?.then((written) => {
      if (!written) this.writeAt(offset, data);
    });
  }

  /**
   * Writes bytes at a file offset without recording anything (for drivers that write blocks as
   * they arrive and verify the piece later with {@link readPiece}).
   *
   * @throws {RangeError} when the bytes do not fit inside the file
   * @throws {TransferError} `disk` when the write fails
   */
  writeAt(offset: number, data: Uint8Array): void {
    this.#open();
    if (!(offset >= 0) || offset + data.byteLength > this.manifest.size) {
      throw new RangeError(
        `Cannot write ${data.byteLength} bytes at ${offset} of ${this.name}: the file has ${this.manifest.size} bytes`,
      );
    }
    let done = 0;
    try {
      while (done < data.byteLength) {
        done += writeSync(this.#fd, data, done, data.byteLength - done, offset + done);
      }
    } catch (e) {
      throw diskError(
        `Cannot write ${this.paths.part} at offset ${offset + done}`,
        e,
        `free space or fix permissions, then download again: ${this.verifiedPieces.count} verified pieces are kept for a resume`,
      );
    }
  }

  /**
   * Records piece `index` as verified (its bytes must already be in the file).
   *
   * @returns true when it was not recorded before
   */
  markVerified(index: number): boolean {
    this.#open();
    if (!this.verifiedPieces.set(index)) return false;
    this.#verifiedBytes += pieceLength(this.manifest, index);
    this.#dirty = true;
    if (this.#flushIntervalMs > 0 && this.#timer === undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.flush().catch(() => {
          // The next flush, close or complete reports the error.
          this.#dirty = true;
        });
      }, this.#flushIntervalMs);
    }
    return true;
  }

  /**
   * Reads piece `index` from the `.part` (verified or not).
   *
   * @param into a buffer of at least the piece length, reused by the caller
   * @returns a view of `into` (or of a new buffer) with the piece's bytes
   */
  readPiece(index: number, into?: Uint8Array): Uint8Array {
    this.#open();
    const len = pieceLength(this.manifest, index);
    const buf = into ? into.subarray(0, len) : new Uint8Array(len);
    if (buf.byteLength < len) {
      throw new RangeError(
        `Cannot read piece ${index}: buffer has ${into!.byteLength} bytes, need ${len}`,
      );
    }
    readFullyAt(this.#fd, buf, index * this.manifest.pieceSize, this.paths.part);
    return buf;
  }

  /**
   * Saves the verified pieces now: `fdatasync` of the data (off the event loop), then the state
   * file through a temporary file and a rename. Concurrent calls share one run.
   *
   * @throws {TransferError} `disk` when syncing or writing the state fails
   */
  async flush(): Promise<void> {
    while (this.#flushing) await this.#flushing.catch(() => {});
    if (!this.#dirty || this.#fd < 0) return;
    const run = this.#flushOnce();
    this.#flushing = run;
    try {
      await run;
    } finally {
      this.#flushing = undefined;
    }
  }

  async #flushOnce(): Promise<void> {
    this.#dirty = false;
    const snapshot = this.#encodeState();
    try {
      await datasync(this.#fd);
      await writeState(this.paths.state, snapshot);
      this.stateWrites++;
    } catch (e) {
      this.#dirty = true;
      throw diskError(
        `Cannot save the state of ${this.paths.part}`,
        e,
        "free space or fix permissions",
      );
    }
  }

  /**
   * Finishes the download: checks every piece is verified, syncs the data, moves `.part` to the
   * final name without replacing an existing file (unless `overwrite`), removes the state and
   * manifest files, and syncs the directory.
   *
   * @param finalName the final file name (checked with `safeName`) @default the opened name
   * @returns the final path
   * @throws {RangeError} when pieces are missing
   * @throws {TransferError} `exists` when the final file appeared meanwhile (the `.part` and its
   *   state are kept, so downloading again completes at once); `disk` on I/O errors
   */
  async complete(finalName: string = this.name): Promise<string> {
    this.#open();
    await this.#direct?.drain();
    const safe = safeName(finalName);
    if (!this.verifiedPieces.full) {
      const missing = this.verifiedPieces.size - this.verifiedPieces.count;
      throw new RangeError(
        `Cannot complete ${safe}: ${missing} of ${this.verifiedPieces.size} pieces are not verified`,
      );
    }
    const target = join(this.dir, safe);
    this.#cancelTimer();
    this.#dirty = true;
    await this.flush(); // data synced, and a complete state in case the rename fails
    // The name must still be the file written (not a link or another file put in its place):
    // the final name is made from the name, and must be this file inside the directory
    if (!isSameFile(this.#fd, this.paths.part)) {
      this.#closeFd();
      throw linkRefused(this.paths.part, "no longer the file this download wrote");
    }
    this.#closeFd();
    try {
      await moveInto(this.paths.part, target, this.#overwrite);
    } catch (e) {
      if (errnoOf(e) === "EEXIST") {
        throw new TransferError(
          "exists",
          `Cannot save ${safe}: ${target} exists; pass overwrite to replace it (the verified data stays in ${this.paths.part})`,
          { cause: e },
        );
      }
      throw diskError(`Cannot rename ${this.paths.part} to ${target}`, e);
    }
    if (!(await sameIdentity(target, this.identity))) {
      // Swapped between the check and the move: take the name back, never leave it pointing
      // at something this download did not verify
      await Deno.remove(target).catch(() => {});
      throw linkRefused(this.paths.part, "replaced while it was moved to its final name");
    }
    await Deno.remove(this.paths.state).catch(() => {});
    await Deno.remove(this.paths.manifest).catch(() => {});
    syncDir(this.dir);
    return target;
  }

  /** Saves the state and closes the `.part` (kept for a resume). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#direct?.drain();
    this.#cancelTimer();
    try {
      await this.flush();
    } finally {
      this.#closeFd();
    }
  }

  /** Same as {@link close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #encodeState(): Uint8Array {
    return encodePartState({
      contentId: this.#contentId,
      size: this.manifest.size,
      pieceSize: this.manifest.pieceSize,
      verified: this.verifiedPieces,
    });
  }

  #open(): void {
    if (this.#closed) throw new Error(`Cannot use the part file of ${this.name}: it is closed`);
  }

  #cancelTimer(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  #closeFd(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#cancelTimer();
    openParts.delete(this.paths.part);
    void this.#direct?.close(); // nothing in flight: close and complete drained it
    try {
      closeSync(this.#fd);
    } catch {
      // already closed
    }
    this.#fd = -1;
  }
}

/** What the hashing of resumed pieces found. */
export interface ResumeCheck {
  /** Pieces checked (claimed by the state, or every piece with `reverify` and no state). */
  checked: number;
  /** Pieces that did not match their hash and are fetched again. */
  failed: number;
  /** Bytes hashed. */
  bytes: number;
}

/**
 * Hashes the pieces `verified` claims (or, with `everything`, every piece) and keeps only those
 * that match. Reads one piece at a time into one buffer; yields to the event loop every ~50 ms so
 * a peer keeps serving while a large resume is checked.
 */
async function rehash(
  fd: number,
  m: Manifest,
  verified: Bitset,
  everything: boolean,
  onProgress: ((checked: number, total: number) => void) | undefined,
): Promise<ResumeCheck> {
  const count = pieceCount(m);
  const candidates: number[] = everything ? Array.from({ length: count }, (_, i) => i) : [
    ...verified,
  ];
  let total = 0;
  for (const i of candidates) total += pieceLength(m, i);
  const result: ResumeCheck = { checked: candidates.length, failed: 0, bytes: 0 };
  if (candidates.length === 0) return result;
  const buf = new Uint8Array(Math.min(m.pieceSize, Math.max(m.size, 1)));
  let turn = performance.now();
  for (const i of candidates) {
    const len = pieceLength(m, i);
    const piece = buf.subarray(0, len);
    readFullyAt(fd, piece, i * m.pieceSize, "the part file");
    const digest = createHash("sha256").update(piece).digest();
    if (Buffer.compare(digest, m.pieceHashes.subarray(i * 32, i * 32 + 32)) === 0) {
      verified.set(i);
    } else {
      if (verified.has(i)) result.failed++;
      verified.delete(i);
    }
    result.bytes += len;
    onProgress?.(result.bytes, total);
    if (performance.now() - turn >= 50) {
      await new Promise((r) => setTimeout(r, 0));
      turn = performance.now();
    }
  }
  return result;
}

/**
 * Refuses a download the file system cannot hold: the file's size, less what an existing `.part`
 * already occupies, plus `reserve`, must fit the space left. Where free space cannot be told
 * (no `statfs`), nothing is refused here and a full disk shows up as a write error later.
 */
async function checkFreeSpace(
  dir: string,
  name: string,
  part: string,
  size: number,
  reserve: number,
): Promise<number | undefined> {
  const free = freeBytes(dir);
  if (free === undefined) return undefined;
  let held = 0;
  try {
    const st = await Deno.lstat(part);
    if (st.isSymlink) throw linkRefused(part);
    if (st.isFile) held = Math.min(size, (st.blocks ?? 0) * 512);
  } catch (e) {
    if (e instanceof TransferError) throw e;
    // missing: nothing held yet
  }
  const need = size - held + reserve;
  if (need <= free) return free;
  throw new TransferError(
    "disk",
    `Cannot download ${name}: it needs ${
      formatBytes(size - held)
    } more on disk (the file has ${size} bytes) and ${dir} has ${
      formatBytes(free)
    } free; free space or choose another --out`,
  );
}

/** Room for the state and manifest files and their temporary copies, plus 64 KiB. */
function reserveFor(m: Manifest): number {
  const count = pieceCount(m);
  return 2 * (20 + 32 * count) + 2 * maxPartStateBytes(count) + 64 * 1024;
}

/** `1.5 GiB`-style sizes for messages. */
function formatBytes(n: number): string {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let v = n, u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} bytes` : `${v.toFixed(1)} ${units[u]}`;
}

/** True when `path` (not followed) is a regular file with this device and inode. */
async function sameIdentity(path: string, id: FileIdentity): Promise<boolean> {
  try {
    const st = await Deno.lstat(path);
    return st.isFile && st.dev === id.dev && st.ino === id.ino;
  } catch {
    return false;
  }
}
