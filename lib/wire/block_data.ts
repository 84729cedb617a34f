/**
 * The BLOCK_DATA header without a decode: the hot frame of a download (up to 32 KiB of file data
 * behind a 16-byte header: magic u16, version u8, type u8, txid u32, offset u64). An uploader
 * writes the header in front of file bytes read straight into its datagram buffer; a downloader
 * routes a datagram by its txid and reads its offset, with no allocation per datagram (the
 * receive buffer is reused, so nothing here keeps a view of it).
 * `decodeMessage()` (codec.ts) decodes the same frame into a `BlockDataMessage`.
 * @module
 */
import { BLOCK_DATA_HEADER_SIZE, MAGIC, VERSION } from "./limits.ts";
import { MessageType } from "./messages.ts";

/**
 * Writes the 16-byte BLOCK_DATA header at the start of `view` (or at byte `at` of it) so an
 * uploader can read file bytes straight into the rest of the buffer (from
 * {@link BLOCK_DATA_HEADER_SIZE}) without a copy.
 *
 * @param view a view of the datagram buffer, at least `at` + 16 bytes long
 * @param txid the downloader's transfer id, u32
 * @param offset file offset of the data that follows the header
 * @param at where the header starts in `view` (several datagrams back to back for GSO)
 * @returns {@link BLOCK_DATA_HEADER_SIZE}
 * @throws {RangeError} `txid` is not a u32 or `offset` is not an integer in 0..2^53-1
 *
 * @example A header, then the data behind it
 * ```ts
 * import assert from "node:assert/strict";
 * import { blockDataTxid, readBlockDataOffset, writeBlockDataHeader } from "./block_data.ts";
 *
 * const datagram = new Uint8Array(16 + 4);
 * writeBlockDataHeader(new DataView(datagram.buffer), 7, 2 ** 33);
 * datagram.set([1, 2, 3, 4], 16);
 * assert.equal(blockDataTxid(datagram), 7);
 * assert.equal(readBlockDataOffset(datagram), 2 ** 33);
 * ```
 */
export function writeBlockDataHeader(
  view: DataView,
  txid: number,
  offset: number,
  at = 0,
): number {
  // DataView.setUint32 would silently wrap these; a wrapped txid or offset corrupts the transfer.
  if (!Number.isInteger(txid) || txid < 0 || txid > 0xffffffff) {
    throw new RangeError(
      `Cannot encode block_data: txid must be an integer in 0..4294967295, got ${txid}`,
    );
  }
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new RangeError(
      `Cannot encode block_data: offset must be an integer in 0..${Number.MAX_SAFE_INTEGER}, got ${offset}`,
    );
  }
  view.setUint16(at, MAGIC);
  view.setUint8(at + 2, VERSION);
  view.setUint8(at + 3, MessageType.block_data);
  view.setUint32(at + 4, txid);
  view.setUint32(at + 8, Math.floor(offset / 0x100000000));
  view.setUint32(at + 12, offset >>> 0);
  return BLOCK_DATA_HEADER_SIZE;
}

/**
 * The transfer id of a BLOCK_DATA datagram, or -1 for anything else: a header check without
 * decoding, for the receive path that routes blocks to their download.
 *
 * @param bytes a datagram
 * @returns its txid, or -1 when it is not a well-formed BLOCK_DATA header
 */
export function blockDataTxid(bytes: Uint8Array): number {
  if (
    bytes.byteLength < BLOCK_DATA_HEADER_SIZE || bytes[3] !== MessageType.block_data ||
    bytes[2] !== VERSION || ((bytes[0]! << 8) | bytes[1]!) !== MAGIC
  ) {
    return -1;
  }
  return u32(bytes, 4);
}

/**
 * The file offset of a BLOCK_DATA datagram's data (which starts at
 * {@link BLOCK_DATA_HEADER_SIZE}). Check the header with {@link blockDataTxid} first.
 *
 * @param bytes a datagram whose {@link blockDataTxid} is not -1
 * @returns the offset u64, exact up to 2^53 - 1 (an uploader never sends more: a larger value
 *   reads inexactly and lands outside every file, where the download engine drops it)
 */
export function readBlockDataOffset(bytes: Uint8Array): number {
  return u32(bytes, 8) * 0x100000000 + u32(bytes, 12);
}

/** The big-endian u32 at `at` (no DataView: nothing is allocated per datagram). */
function u32(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>>
    0;
}
