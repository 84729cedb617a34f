/**
 * The one piece-verification rule: a piece is good when its SHA-256 equals the manifest's hash
 * for it. The engine (inline verification), the piece-writer Worker, `verifyPiece` of
 * manifest.ts and the part file's re-verification all call {@link pieceHashMatches}.
 * @module
 */
import { createHash } from "node:crypto";

/** Bytes of one piece hash (SHA-256). */
export const PIECE_HASH_BYTES = 32;

/**
 * Tells whether the SHA-256 of `data` is piece `index`'s hash in `pieceHashes` (the manifest's
 * concatenated hashes). The length is not checked here: the caller knows the piece's length.
 *
 * @param data the piece's bytes
 * @param pieceHashes 32 bytes per piece, concatenated
 * @param index the piece index
 * @returns true when the hashes match; false also when `index` has no hash
 *
 * @example
 * ```ts
 * import { createHash } from "node:crypto";
 * import { pieceHashMatches } from "./piece_hash.ts";
 * const piece = new Uint8Array(16384).fill(1);
 * const hashes = new Uint8Array(createHash("sha256").update(piece).digest());
 * console.log(pieceHashMatches(piece, hashes, 0)); // true
 * ```
 */
export function pieceHashMatches(
  data: Uint8Array,
  pieceHashes: Uint8Array,
  index: number,
): boolean {
  const at = index * PIECE_HASH_BYTES;
  if (!(at >= 0) || at + PIECE_HASH_BYTES > pieceHashes.byteLength) return false;
  const digest = createHash("sha256").update(data).digest();
  for (let i = 0; i < PIECE_HASH_BYTES; i++) {
    if (digest[i] !== pieceHashes[at + i]) return false;
  }
  return true;
}
