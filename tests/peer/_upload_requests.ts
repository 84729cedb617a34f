/**
 * What the uploader tests send and read: BLOCK_REQUEST and MANIFEST_REQUEST messages (without a
 * cookie; each test adds the one it means), and the ERRORs and blocks among decoded replies.
 * @module
 */
import type {
  BlockRequestMessage,
  ByteRange,
  ManifestRequestMessage,
  Message,
} from "../../lib/wire/messages.ts";

/** A request the uploader answers with data. */
export type UploadRequest = ManifestRequestMessage | BlockRequestMessage;

/** A BLOCK_REQUEST for `ranges` of a content, txid 7 unless told, and no cookie. */
export function blockRequest(
  content: { contentId: Uint8Array },
  ranges: ByteRange[],
  blockSize = 4096,
  txid = 7,
): BlockRequestMessage {
  const contentId = content.contentId;
  return { type: "block_request", txid, cookie: 0n, contentId, blockSize, ranges };
}

/** A MANIFEST_REQUEST for the slice at `offset` in 1200-byte datagrams, txid 3, no cookie. */
export function manifestRequest(
  content: { contentId: Uint8Array },
  offset = 0,
): ManifestRequestMessage {
  const contentId = content.contentId;
  return { type: "manifest_request", txid: 3, cookie: 0n, contentId, offset, maxDatagram: 1200 };
}

/** The size of a request on the wire (what an ERROR to an unproven source may not exceed). */
export function requestSize(msg: UploadRequest): number {
  return msg.type === "manifest_request" ? 56 : 53 + 12 * msg.ranges.length;
}

/** The ERRORs among decoded replies. */
export function errorsOf(out: { msg: Message }[]): { code: number; text: string }[] {
  return out.flatMap((
    o,
  ) => (o.msg.type === "error" ? [{ code: o.msg.code, text: o.msg.text }] : []));
}

/** The BLOCK_DATA among decoded replies. */
export function blocksOf(
  out: { msg: Message }[],
): { offset: number; data: Uint8Array; txid: number }[] {
  return out.flatMap((o) =>
    o.msg.type === "block_data"
      ? [{ offset: o.msg.offset, data: o.msg.data, txid: o.msg.txid }]
      : []
  );
}
