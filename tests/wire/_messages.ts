/**
 * Messages the codec tests (codec_decode_test.ts, codec_encode_test.ts) start from: each test
 * patches their encodings or spreads them with one bad field. The layout comments give the byte
 * offsets the decode tests patch at.
 * @module
 */
import type {
  BlockRequestMessage,
  HaveMessage,
  ManifestRequestMessage,
  NeedMessage,
  OwnerEntry,
  OwnersMessage,
} from "../../lib/wire/mod.ts";

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

/** The one owner of {@link owners}. */
export const owner: OwnerEntry = {
  nodeId: "o",
  address: { family: 4, host: "1.2.3.4", port: 1 },
  rate: 1,
};

/**
 * OWNERS of one owner. Layout: contentId 8..39, size 40..47, alternatives 48..49, name 50..51,
 * count 52, owner nodeId 53..54, family 55.
 */
export const owners: OwnersMessage = {
  type: "owners",
  txid: 1,
  contentId: cid,
  size: 1,
  alternatives: 0,
  name: "x",
  owners: [owner],
};

/** A MANIFEST_REQUEST from the start. Layout: maxDatagram 52..55. */
export const manifestRequest: ManifestRequestMessage = {
  type: "manifest_request",
  txid: 1,
  cookie: 1n,
  contentId: cid,
  offset: 0,
  maxDatagram: 64,
};

/** A NEED by name. Layout: nodeId 16..18, maxOwners 19, want kind 20, name 21.. */
export const need: NeedMessage = {
  type: "need",
  txid: 1,
  cookie: 1n,
  nodeId: "ab",
  maxOwners: 4,
  want: { kind: "name", name: "x" },
};
