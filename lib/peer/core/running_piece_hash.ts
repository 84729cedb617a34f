/**
 * SHA-256 of a piece taken while its blocks arrive, so each block is hashed right after it was
 * copied into the piece buffer (still in the CPU's cache) instead of the whole piece once it is
 * complete (by then partly evicted by the socket buffers and the other pieces). Blocks are hashed
 * in order: a block that arrives before an earlier one waits in the buffer until the gap is
 * filled. The verdict is the same rule as {@link pieceHashMatches} (piece_hash.ts); why and what it
 * measured: docs/TRANSFER.md, _Downloader CPU (issue 17, third round)_.
 * @module
 */
import { createHash, type Hash } from "node:crypto";
import { digestMatches } from "./piece_hash.ts";

/** What {@link RunningPieceHashes} needs of a piece being fetched (an `ActivePiece`). */
export interface HashablePiece {
  /** Piece index. */
  readonly index: number;
  /** Bytes in the piece. */
  readonly length: number;
  /** Where the blocks are assembled. */
  readonly buffer: Uint8Array;
  /** 1 per block that arrived. */
  readonly received: Uint8Array;
}

interface Running {
  hash: Hash;
  /** The first block not hashed yet. */
  next: number;
}

/** The running hashes of the pieces being fetched; see the module doc. */
export class RunningPieceHashes {
  readonly #blockSize: number;
  readonly #running = new Map<HashablePiece, Running>();

  /** @param blockSize bytes per block (the last block of a piece may be shorter) */
  constructor(blockSize: number) {
    this.#blockSize = blockSize;
  }

  /** Pieces with a hash under way. */
  get size(): number {
    return this.#running.size;
  }

  /**
   * Block `block` of `ap` is in its buffer (and marked received): hashes it and the received
   * blocks after it, if every block before it is hashed.
   */
  blockArrived(ap: HashablePiece, block: number): void {
    let r = this.#running.get(ap);
    if (r === undefined) {
      if (block !== 0) return;
      r = { hash: createHash("sha256"), next: 0 };
      this.#running.set(ap, r);
    } else if (block !== r.next) return;
    this.#advance(ap, r);
  }

  /**
   * Finishes the hash of the complete piece `ap` (hashing what is left) and forgets it.
   *
   * @param ap a piece whose blocks have all arrived
   * @param pieceHashes the manifest's hashes, 32 bytes per piece
   * @returns whether the piece matches its hash
   */
  matches(ap: HashablePiece, pieceHashes: Uint8Array): boolean {
    let r = this.#running.get(ap);
    this.#running.delete(ap);
    if (r === undefined) r = { hash: createHash("sha256"), next: 0 };
    this.#advance(ap, r);
    if (r.next * this.#blockSize < ap.length) return false; // not complete: cannot match
    return digestMatches(r.hash.digest(), pieceHashes, ap.index);
  }

  /** Drops the hash under way for `ap` (its blocks are fetched again, or it was given up). */
  forget(ap: HashablePiece): void {
    this.#running.delete(ap);
  }

  #advance(ap: HashablePiece, r: Running): void {
    const size = this.#blockSize, received = ap.received;
    let b = r.next;
    const start = b;
    while (b < received.length && received[b] === 1) b++;
    if (b === start) return;
    r.hash.update(ap.buffer.subarray(start * size, Math.min(ap.length, b * size)));
    r.next = b;
  }
}
