/**
 * Manifests: a file's size, piece size and the SHA-256 of every piece. The content id of a file
 * is the SHA-256 of its encoded manifest. Byte layout: docs/STORAGE.md.
 * @module
 */
import { createHash } from "node:crypto";
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { MAX_MANIFEST_BYTES, MAX_U64_NUMBER } from "../wire/limits.ts";
import { WireError } from "../wire/wire_error.ts";
import { toHex } from "../wire/hex.ts";
import { diskError, TransferError } from "./transfer_error.ts";
import { PIECE_HASH_BYTES, pieceHashMatches } from "./core/piece_hash.ts";

/** A file's manifest. */
export interface Manifest {
  /** File size in bytes, 0..2^53-1. */
  size: number;
  /** Bytes per piece (the last piece may be shorter): a power of two, 16 KiB..16 MiB. */
  pieceSize: number;
  /** SHA-256 of each piece, concatenated: 32 × pieceCount bytes. */
  pieceHashes: Uint8Array;
}

/** ASCII "USM1": the first four bytes of an encoded manifest. */
export const MANIFEST_MAGIC = 0x55534d31;
/** Bytes before the piece hashes: magic u32, size u64, pieceSize u32, count u32. */
export const MANIFEST_HEADER_SIZE = 20;
/** Smallest piece size (16 KiB). */
export const MIN_PIECE_SIZE = 16 * 1024;
/** Largest piece size (16 MiB). */
export const MAX_PIECE_SIZE = 16 * 1024 * 1024;
/** Default piece size (256 KiB) of large files (see {@link defaultPieceSizeFor}). */
export const DEFAULT_PIECE_SIZE = 256 * 1024;
/** Smallest piece size {@link defaultPieceSizeFor} chooses (64 KiB). */
export const SMALL_FILE_PIECE_SIZE = 64 * 1024;
/** Pieces {@link defaultPieceSizeFor} aims at for a file between 64 MiB and 256 MiB. */
export const DEFAULT_PIECE_TARGET = 1024;
/** Most pieces one manifest can list so that it stays within `MAX_MANIFEST_BYTES`. */
export const MAX_PIECES: number = Math.floor(
  (MAX_MANIFEST_BYTES - MANIFEST_HEADER_SIZE) / PIECE_HASH_BYTES,
);

/** Tells whether `n` is a valid piece size: a power of two in 16 KiB..16 MiB. */
export function isValidPieceSize(n: number): boolean {
  return Number.isInteger(n) && n >= MIN_PIECE_SIZE && n <= MAX_PIECE_SIZE && (n & (n - 1)) === 0;
}

/**
 * The smallest valid piece size, at least `preferred`, whose manifest for a file of `size` bytes
 * fits {@link MAX_PIECES}.
 *
 * @throws {RangeError} when no valid piece size fits (files over 32 TiB)
 */
export function minPieceSizeFor(size: number, preferred = MIN_PIECE_SIZE): number {
  let p = Math.max(MIN_PIECE_SIZE, preferred);
  while (p <= MAX_PIECE_SIZE && Math.ceil(size / p) > MAX_PIECES) p *= 2;
  if (p > MAX_PIECE_SIZE) {
    throw new RangeError(`Cannot choose a piece size: ${size} bytes is too large for a manifest`);
  }
  return p;
}

/**
 * The piece size a file of `size` bytes is shared with when none is given: about
 * {@link DEFAULT_PIECE_TARGET} pieces, between {@link SMALL_FILE_PIECE_SIZE} (files up to 64 MiB)
 * and {@link DEFAULT_PIECE_SIZE} (files over 128 MiB; larger still when the manifest needs it,
 * {@link minPieceSizeFor}). In a swarm a piece is forwarded only once verified, and an uploader's
 * upload is shared by its slots, so a smaller piece reaches the next downloader sooner: 64 KiB
 * pieces distributed a 64 MiB file to 100 downloaders 0.8 s sooner than 256 KiB ones in the
 * simulator (docs/TRANSFER.md, _Swarm figures_). Large files keep 256 KiB pieces (fewer pieces
 * to hash, track and announce). A function of the size alone, so every peer sharing the same
 * file with the default gets the same content id.
 *
 * @param size the file size in bytes
 * @returns a valid piece size
 * @throws {RangeError} when no valid piece size fits (files over 32 TiB)
 */
export function defaultPieceSizeFor(size: number): number {
  let p = SMALL_FILE_PIECE_SIZE;
  while (p < DEFAULT_PIECE_SIZE && Math.ceil(size / p) > DEFAULT_PIECE_TARGET) p *= 2;
  return minPieceSizeFor(size, p);
}

/** Number of pieces. */
export function pieceCount(m: Manifest): number {
  return m.pieceHashes.byteLength / PIECE_HASH_BYTES;
}

/**
 * Length in bytes of piece `i` (the last piece may be shorter).
 *
 * @throws {RangeError} when `i` is not a piece index
 */
export function pieceLength(m: Manifest, i: number): number {
  checkIndex(m, i);
  return Math.min(m.pieceSize, m.size - i * m.pieceSize);
}

/** Byte offset of piece `i` in the file. */
export function pieceOffset(m: Manifest, i: number): number {
  checkIndex(m, i);
  return i * m.pieceSize;
}

/**
 * Tells whether `bytes` are exactly piece `i`: the right length and the right SHA-256
 * (`pieceHashMatches`, the one hash check every verifier calls).
 * One synchronous `node:crypto` hash (about 1 GB/s for 256 KiB pieces).
 *
 * @throws {RangeError} when `i` is not a piece index
 */
export function verifyPiece(m: Manifest, i: number, bytes: Uint8Array): boolean {
  return bytes.byteLength === pieceLength(m, i) && pieceHashMatches(bytes, m.pieceHashes, i);
}

/**
 * Encodes a manifest (layout in docs/STORAGE.md).
 *
 * @param m the manifest
 * @returns the encoded bytes; their SHA-256 is the content id
 * @throws {RangeError} when a field is invalid or the hash count does not match the size
 */
export function encodeManifest(m: Manifest): Uint8Array {
  if (!Number.isInteger(m.size) || m.size < 0 || m.size > MAX_U64_NUMBER) {
    throw new RangeError(
      `Cannot encode manifest: size must be an integer in 0..2^53-1, got ${m.size}`,
    );
  }
  if (!isValidPieceSize(m.pieceSize)) {
    throw new RangeError(
      `Cannot encode manifest: piece size must be a power of two in ${MIN_PIECE_SIZE}..${MAX_PIECE_SIZE}, got ${m.pieceSize}`,
    );
  }
  const count = Math.ceil(m.size / m.pieceSize);
  if (m.pieceHashes.byteLength !== count * PIECE_HASH_BYTES) {
    throw new RangeError(
      `Cannot encode manifest: ${m.pieceHashes.byteLength} hash bytes, expected ${
        count * PIECE_HASH_BYTES
      } for ${count} pieces`,
    );
  }
  if (count > MAX_PIECES) {
    throw new RangeError(
      `Cannot encode manifest: ${count} pieces, at most ${MAX_PIECES}; use a piece size of at least ${
        minPieceSizeFor(m.size, m.pieceSize)
      }`,
    );
  }
  const out = new Uint8Array(MANIFEST_HEADER_SIZE + m.pieceHashes.byteLength);
  const v = new DataView(out.buffer);
  v.setUint32(0, MANIFEST_MAGIC);
  v.setUint32(4, Math.floor(m.size / 0x100000000));
  v.setUint32(8, m.size >>> 0);
  v.setUint32(12, m.pieceSize);
  v.setUint32(16, count);
  out.set(m.pieceHashes, MANIFEST_HEADER_SIZE);
  return out;
}

/**
 * Decodes an encoded manifest. Total: returns a consistent manifest or throws
 * {@link WireError}; never allocates by an untrusted length. The hashes are copied, so `bytes`
 * may be reused afterwards.
 *
 * @param bytes the encoded manifest (verify its SHA-256 against the content id first)
 * @returns the manifest
 * @throws {WireError} for anything malformed
 */
export function decodeManifest(bytes: Uint8Array): Manifest {
  const fail = (reason: WireError["reason"], offset: number, why: string): never => {
    throw new WireError(reason, offset, `Cannot decode manifest: ${why}`);
  };
  if (bytes.byteLength > MAX_MANIFEST_BYTES) {
    fail("too_large", 0, `${bytes.byteLength} bytes exceeds ${MAX_MANIFEST_BYTES}`);
  }
  if (bytes.byteLength < MANIFEST_HEADER_SIZE) {
    fail(
      "truncated",
      bytes.byteLength,
      `${bytes.byteLength} bytes, expected at least ${MANIFEST_HEADER_SIZE}`,
    );
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = v.getUint32(0);
  if (magic !== MANIFEST_MAGIC) {
    fail(
      "bad_magic",
      0,
      `magic is 0x${magic.toString(16)}, expected 0x${MANIFEST_MAGIC.toString(16)}`,
    );
  }
  const hi = v.getUint32(4);
  if (hi > 0x1fffff) fail("bad_value", 4, "size is larger than 2^53-1");
  const size = hi * 0x100000000 + v.getUint32(8);
  const pieceSize = v.getUint32(12);
  if (!isValidPieceSize(pieceSize)) {
    fail(
      "bad_value",
      12,
      `piece size is ${pieceSize}, expected a power of two in ${MIN_PIECE_SIZE}..${MAX_PIECE_SIZE}`,
    );
  }
  const count = v.getUint32(16);
  const want = Math.ceil(size / pieceSize);
  if (count !== want) {
    fail("bad_value", 16, `piece count is ${count}, expected ${want} for ${size} bytes`);
  }
  const end = MANIFEST_HEADER_SIZE + count * PIECE_HASH_BYTES;
  if (bytes.byteLength < end) {
    fail(
      "truncated",
      bytes.byteLength,
      `${bytes.byteLength} bytes, expected ${end} for ${count} pieces`,
    );
  }
  if (bytes.byteLength > end) {
    fail("trailing_bytes", end, `${bytes.byteLength - end} bytes after the last piece hash`);
  }
  return { size, pieceSize, pieceHashes: bytes.slice(MANIFEST_HEADER_SIZE, end) };
}

/**
 * The content id of an encoded manifest: its SHA-256 (32 bytes).
 *
 * @param encoded the encoded manifest, as {@link encodeManifest} returns it
 * @returns the 32-byte content id
 */
export function contentIdOf(encoded: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(encoded).digest());
}

/** Hex of bytes and back: one implementation, in lib/wire/hex.ts. */

/** What identifies one version of a file on disk (from `fstat`). */
export interface FileIdentity {
  /** Size in bytes. */
  size: number;
  /** Modification time, ms since the epoch (Deno reports whole milliseconds). */
  mtimeMs: number;
  /** Status change time, ms since the epoch (Deno reports whole seconds). */
  ctimeMs: number;
  /** Inode number. */
  ino: number;
  /** Device id. */
  dev: number;
}

/** Options for {@link buildManifest}. */
export interface BuildManifestOptions {
  /**
   * Bytes per piece: a power of two, 16 KiB..16 MiB.
   * @default defaultPieceSizeFor(the file's size): 64 KiB up to 64 MiB, 256 KiB over 128 MiB
   */
  pieceSize?: number;
  /** Called about every 50 ms and once at the end with the bytes hashed so far. */
  onProgress?: (hashedBytes: number, totalBytes: number) => void;
  /** Cancels hashing; the promise rejects with a `TransferError` (`aborted`). */
  signal?: AbortSignal;
}

/** A manifest with its encoding and content id. */
export interface BuiltManifest {
  /** The manifest. */
  manifest: Manifest;
  /** The encoded manifest (what MANIFEST_DATA carries). */
  encoded: Uint8Array;
  /** SHA-256 of `encoded`. */
  contentId: Uint8Array;
  /** `contentId` as lowercase hex. */
  contentIdHex: string;
  /** The file's identity when it was hashed (unchanged from start to end). */
  file: FileIdentity;
}

/** Read granularity when hashing: whole pieces, about 1 MiB per `readSync`. */
const READ_CHUNK = 1024 * 1024;
/** Hash for at most this long before letting the event loop run. */
const SLICE_MS = 50;

/**
 * Hashes a file into its manifest. The file is streamed through one reused buffer (one piece,
 * or about 1 MiB of whole pieces) with positional `readSync` and synchronous `node:crypto`
 * SHA-256; it is never held in memory. Every ~50 ms the event loop gets a turn, so a peer keeps
 * serving while it hashes. The file's size and timestamps are checked again at the end.
 *
 * @param path the file
 * @param options piece size, progress, cancellation
 * @returns the manifest, its encoding, its content id and the file identity it describes
 * @throws {TransferError} `not_found` (missing or not a regular file), `disk` (unreadable),
 *   `changed` (modified while hashing), `aborted`
 * @throws {RangeError} for an invalid piece size, or one too small for the file
 *
 * @example Hashing a file into its manifest
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildManifest, contentIdOf, decodeManifest } from "@udpswarm/udpswarm";
 *
 * const path = await Deno.makeTempFile();
 * await Deno.writeFile(path, new Uint8Array(100_000));
 * const built = await buildManifest(path, { pieceSize: 65536 });
 * assert.equal(built.manifest.size, 100_000);
 * assert.equal(built.manifest.pieceHashes.byteLength, 2 * 32); // 2 pieces, SHA-256 each
 * assert.equal(built.contentIdHex.length, 64);
 * // What a downloader checks: the manifest it received hashes to the content id
 * assert.deepEqual(contentIdOf(built.encoded), built.contentId);
 * assert.equal(decodeManifest(built.encoded).pieceSize, 65536);
 * await Deno.remove(path);
 * ```
 */
export async function buildManifest(
  path: string,
  options: BuildManifestOptions = {},
): Promise<BuiltManifest> {
  if (options.pieceSize !== undefined && !isValidPieceSize(options.pieceSize)) {
    throw new RangeError(
      `Cannot build manifest: piece size must be a power of two in ${MIN_PIECE_SIZE}..${MAX_PIECE_SIZE}, got ${options.pieceSize}`,
    );
  }
  const { signal, onProgress } = options;
  throwIfAborted(signal, path);
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    throw diskError(`Cannot share ${path}`, e);
  }
  try {
    const before = identityOf(fd, path);
    const size = before.size;
    const pieceSize = options.pieceSize ?? defaultPieceSizeFor(size);
    const count = Math.ceil(size / pieceSize);
    if (count > MAX_PIECES) {
      throw new RangeError(
        `Cannot build manifest for ${path}: ${size} bytes needs ${count} pieces of ${pieceSize} bytes, at most ${MAX_PIECES} fit; use a piece size of at least ${
          minPieceSizeFor(size, pieceSize)
        }`,
      );
    }
    const hashes = new Uint8Array(count * PIECE_HASH_BYTES);
    const chunk = Math.min(
      Math.max(pieceSize, Math.floor(READ_CHUNK / pieceSize) * pieceSize),
      Math.max(size, 1),
    );
    const buf = new Uint8Array(chunk);
    let pos = 0;
    let piece = 0;
    let sliceStart = performance.now();
    while (pos < size) {
      const want = Math.min(chunk, size - pos);
      readFully(fd, buf, want, pos, path);
      for (let at = 0; at < want; at += pieceSize) {
        const len = Math.min(pieceSize, want - at);
        const digest = createHash("sha256").update(buf.subarray(at, at + len)).digest();
        hashes.set(digest, piece * PIECE_HASH_BYTES);
        piece++;
      }
      pos += want;
      if (pos < size && performance.now() - sliceStart >= SLICE_MS) {
        onProgress?.(pos, size);
        await new Promise((resolve) => setTimeout(resolve, 0));
        throwIfAborted(signal, path);
        sliceStart = performance.now();
      }
    }
    const after = identityOf(fd, path);
    if (
      after.size !== before.size || after.mtimeMs !== before.mtimeMs ||
      after.ctimeMs !== before.ctimeMs
    ) {
      throw new TransferError(
        "changed",
        `Cannot share ${path}: the file changed while it was hashed (size ${before.size} → ${after.size}); share it again once nothing writes to it`,
      );
    }
    onProgress?.(size, size);
    const manifest: Manifest = { size, pieceSize, pieceHashes: hashes };
    const encoded = encodeManifest(manifest);
    const contentId = contentIdOf(encoded);
    return { manifest, encoded, contentId, contentIdHex: toHex(contentId), file: before };
  } finally {
    closeSync(fd);
  }
}

function identityOf(fd: number, path: string): FileIdentity {
  let s;
  try {
    s = fstatSync(fd);
  } catch (e) {
    throw diskError(`Cannot share ${path}`, e);
  }
  if (!s.isFile()) {
    throw new TransferError("not_found", `Cannot share ${path}: it is not a regular file`);
  }
  return { size: s.size, mtimeMs: s.mtimeMs, ctimeMs: s.ctimeMs, ino: s.ino, dev: s.dev };
}

/** Reads exactly `len` bytes at `pos` into `buf`, or throws `changed` if the file got shorter. */
function readFully(fd: number, buf: Uint8Array, len: number, pos: number, path: string): void {
  let got = 0;
  while (got < len) {
    let n: number;
    try {
      n = readSync(fd, buf, got, len - got, pos + got);
    } catch (e) {
      throw diskError(`Cannot read ${path} at offset ${pos + got}`, e);
    }
    if (n === 0) {
      throw new TransferError(
        "changed",
        `Cannot share ${path}: the file ended at ${
          pos + got
        } bytes while it was hashed; share it again once nothing writes to it`,
      );
    }
    got += n;
  }
}

function throwIfAborted(signal: AbortSignal | undefined, path: string): void {
  if (signal?.aborted) {
    throw new TransferError("aborted", `Cannot share ${path}: hashing was cancelled`, {
      cause: signal.reason,
    });
  }
}

function checkIndex(m: Manifest, i: number): void {
  const n = m.pieceHashes.byteLength / PIECE_HASH_BYTES;
  if (!Number.isInteger(i) || i < 0 || i >= n) {
    throw new RangeError(`Cannot access piece ${i}: the manifest has ${n} pieces`);
  }
}
