/**
 * Messages the codec tests (codec_decode_test.ts, codec_encode_test.ts) start from: each test
 * patches their encodings or spreads them with one bad field. The layout comments give the byte
 * offsets the decode tests patch at.
 * @module
 */
import type { BlockRequestMessage, HaveMessage } from "../../lib/wire/mod.ts";

/** A content id (32 × 0x01). */
export const cid: Uint8Array = new Uint8Array(32).fill(1);

/**
 * A BLOCK_REQUEST of one range. Layout: cookie 8..15, contentId 16..47, blockSize 48..51,
 * count 52, range offset 53..60, length 61..64.
 */
export const blockRequest: BlockRequestMessage = {
  type: "block_request",
  txid: 1,
  cookie: 7n,
  contentId: cid,
  blockSize: 100,
  ranges: [{ offset: 0, length: 1 }],
};

/**
 * A HAVE of 16 pieces. Layout: pieceCount 40..43, firstPiece 44..47, bitfield length 48..49,
 * bits 50..
 */
export const have: HaveMessage = {
  type: "have",
  txid: 1,
  contentId: cid,
  pieceCount: 16,
  firstPiece: 0,
  bits: Uint8Array.of(0xff, 0xff),
};
