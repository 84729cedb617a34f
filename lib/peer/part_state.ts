/**
 * The resume state file of a download (`<base>.part.state`): which pieces of which content are
 * verified on disk. Pure encoding and decoding; part_file.ts reads and writes the file.
 *
 * Layout (big-endian; also in docs/STORAGE.md): magic "USP1" u32, content id (32 bytes), file
 * size u64 (as two u32), piece size u32, piece count u32, the verified-piece bitset
 * (⌈count / 8⌉ bytes, piece 0 in the high bit of the first byte), then the SHA-256 of all that.
 * @module
 */
import { createHash } from "node:crypto";
import { toHex } from "../wire/hex.ts";
import type { Bitset } from "./core/bitset.ts";

/** ASCII "USP1": the first four bytes of a state file. */
export const PART_STATE_MAGIC = 0x55535031;
/** Bytes before the bitset: magic, content id, size, piece size, piece count. */
export const PART_STATE_HEADER_SIZE = 52;
const CHECKSUM_BYTES = 32;

/** What a state file says. */
export interface PartState {
  /** Lowercase hex content id. */
  contentIdHex: string;
  /** File size in bytes. */
  size: number;
  /** Bytes per piece. */
  pieceSize: number;
  /** Number of pieces. */
  pieceCount: number;
  /** The verified-piece bitset's bytes (a copy). */
  bits: Uint8Array;
}

/** Options for {@link encodePartState}. */
export interface EncodePartStateOptions {
  /** The 32-byte content id. */
  contentId: Uint8Array;
  /** File size in bytes. */
  size: number;
  /** Bytes per piece. */
  pieceSize: number;
  /** Verified pieces (its size is the piece count). */
  verified: Bitset;
}

/**
 * The largest state file for `pieceCount` pieces, with room to spare: what a reader needs to
 * accept before decoding.
 */
export function maxPartStateBytes(pieceCount: number): number {
  return PART_STATE_HEADER_SIZE + pieceCount + 64;
}

/**
 * Encodes a state file.
 *
 * @param state content id, size, piece size and verified pieces
 * @returns the file's bytes, checksum included
 *
 * @example Round trip
 * ```ts
 * import { Bitset } from "./core/bitset.ts";
 * import { decodePartState, encodePartState } from "./part_state.ts";
 * const verified = new Bitset(3);
 * verified.set(1);
 * const bytes = encodePartState({
 *   contentId: new Uint8Array(32), size: 40_000, pieceSize: 16384, verified,
 * });
 * console.log(decodePartState(bytes)?.pieceCount); // 3
 * ```
 */
export function encodePartState(state: EncodePartStateOptions): Uint8Array {
  const bits = state.verified.byteLength;
  const out = new Uint8Array(PART_STATE_HEADER_SIZE + bits + CHECKSUM_BYTES);
  const v = new DataView(out.buffer);
  v.setUint32(0, PART_STATE_MAGIC);
  out.set(state.contentId, 4);
  v.setUint32(36, Math.floor(state.size / 0x100000000));
  v.setUint32(40, state.size >>> 0);
  v.setUint32(44, state.pieceSize);
  v.setUint32(48, state.verified.size);
  state.verified.copyInto(out, PART_STATE_HEADER_SIZE);
  out.set(checksum(out, PART_STATE_HEADER_SIZE + bits), PART_STATE_HEADER_SIZE + bits);
  return out;
}

/**
 * Decodes a state file.
 *
 * @param b the file's bytes
 * @returns what it says, or undefined when it is corrupt (bad magic, length or checksum)
 */
export function decodePartState(b: Uint8Array): PartState | undefined {
  if (b.byteLength < PART_STATE_HEADER_SIZE + CHECKSUM_BYTES) return undefined;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (v.getUint32(0) !== PART_STATE_MAGIC) return undefined;
  const count = v.getUint32(48);
  const bits = Math.ceil(count / 8);
  const end = PART_STATE_HEADER_SIZE + bits;
  if (b.byteLength !== end + CHECKSUM_BYTES) return undefined;
  const sum = checksum(b, end);
  for (let i = 0; i < CHECKSUM_BYTES; i++) if (sum[i] !== b[end + i]) return undefined;
  return {
    contentIdHex: toHex(b.subarray(4, 36)),
    size: v.getUint32(36) * 0x100000000 + v.getUint32(40),
    pieceSize: v.getUint32(44),
    pieceCount: count,
    bits: b.slice(PART_STATE_HEADER_SIZE, end),
  };
}

function checksum(b: Uint8Array, end: number): Uint8Array {
  return createHash("sha256").update(b.subarray(0, end)).digest();
}
