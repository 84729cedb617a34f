import { BLOCK_DATA_HEADER_SIZE } from "../../wire/limits.ts";

/** Largest block the engine uses by default: 32 KiB of data per datagram. */
export const DEFAULT_MAX_BLOCK = 32 * 1024;

/**
 * How a file is cut into pieces (hash units) and blocks (one datagram each). Blocks never
 * cross a piece boundary; every block of a piece but the last has `blockSize` bytes.
 */
export class BlockLayout {
  /** File size in bytes. */
  readonly size: number;
  /** Bytes per piece (the last may be shorter). */
  readonly pieceSize: number;
  /** Pieces in the file. */
  readonly pieceCount: number;
  /** Bytes per block (the last of a piece may be shorter). */
  readonly blockSize: number;
  /** Blocks in a full piece. */
  readonly blocksPerPiece: number;

  /**
   * Lays out a file.
   *
   * @param size file size in bytes
   * @param pieceSize bytes per piece
   * @param blockSize bytes per block (capped at the piece size)
   * @throws {RangeError} when the piece or block size is not positive
   */
  constructor(size: number, pieceSize: number, blockSize: number) {
    if (!(pieceSize > 0) || !(blockSize > 0)) {
      throw new RangeError(
        `Cannot lay out blocks: piece size ${pieceSize} and block size ${blockSize} must be positive`,
      );
    }
    this.size = size;
    this.pieceSize = pieceSize;
    this.pieceCount = Math.ceil(size / pieceSize);
    this.blockSize = Math.min(blockSize, pieceSize);
    this.blocksPerPiece = Math.ceil(pieceSize / this.blockSize);
  }

  /**
   * The block size to use for a path that carries `maxDatagram` bytes of UDP payload: blocks of
   * a piece are made even so the last one is not a runt.
   */
  static blockSizeFor(
    pieceSize: number,
    maxDatagram: number,
    maxBlock = DEFAULT_MAX_BLOCK,
  ): number {
    const cap = Math.max(1, Math.min(maxBlock, maxDatagram - BLOCK_DATA_HEADER_SIZE));
    const perPiece = Math.ceil(pieceSize / cap);
    return Math.ceil(pieceSize / perPiece);
  }

  /**
   * Byte offset of a piece in the file.
   *
   * @param piece the piece index
   * @returns the offset
   */
  pieceOffset(piece: number): number {
    return piece * this.pieceSize;
  }

  /**
   * Bytes of a piece (the last may be shorter).
   *
   * @param piece the piece index
   * @returns its length
   */
  pieceLength(piece: number): number {
    return Math.min(this.pieceSize, this.size - piece * this.pieceSize);
  }

  /**
   * Blocks of a piece.
   *
   * @param piece the piece index
   * @returns how many
   */
  blockCount(piece: number): number {
    return Math.ceil(this.pieceLength(piece) / this.blockSize);
  }

  /** Byte offset of a block inside its piece. */
  blockStart(block: number): number {
    return block * this.blockSize;
  }

  /**
   * Bytes of a block of a piece (the last may be shorter).
   *
   * @param piece the piece index
   * @param block the block index inside the piece
   * @returns its length
   */
  blockLength(piece: number, block: number): number {
    return Math.min(this.blockSize, this.pieceLength(piece) - block * this.blockSize);
  }

  /**
   * Locates the block that starts at file offset `offset` with `length` bytes, or returns -1
   * when no block starts there with exactly that length (stray or hostile data).
   * @returns the global block id `piece * blocksPerPiece + block`
   */
  locate(offset: number, length: number): number {
    if (!(offset >= 0) || offset >= this.size) return -1;
    const piece = Math.floor(offset / this.pieceSize);
    const within = offset - piece * this.pieceSize;
    const block = within / this.blockSize;
    if (!Number.isInteger(block)) return -1;
    if (this.blockLength(piece, block) !== length) return -1;
    return piece * this.blocksPerPiece + block;
  }
}
