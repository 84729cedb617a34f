/**
 * The peer and tracker wire codec: `encodeMessage` / `decodeMessage` for every message type of
 * docs/PROTOCOL.md (the tracker's hot messages also have an allocation-free path in
 * fast_path.ts, and the BLOCK_DATA header in block_data.ts). Decoding is total: every read is
 * length-checked first, nothing is allocated from an untrusted length, and anything malformed is
 * a `WireError` with a reason and an offset.
 *
 * Over 600 lines: one encoder and one decoder branch per message type (21 of them) in one
 * exhaustive `switch` each, so that adding a type is checked by the compiler in both directions.
 * @module
 */
import { readAddress, writeAddress } from "./address.ts";
import {
  BLOCK_DATA_HEADER_SIZE,
  CONTENT_ID_BYTES,
  HEADER_SIZE,
  MAGIC,
  MAX_DATAGRAM,
  MAX_ERROR_TEXT_BYTES,
  MAX_HAVE_BYTES,
  MAX_LIST_ENTRIES,
  MAX_MANIFEST_BYTES,
  MAX_NAME_BYTES,
  MAX_NEED_EXCLUDE,
  MAX_NODE_ID_BYTES,
  MAX_OWNERS,
  MAX_PATTERN_BYTES,
  MAX_RANGES,
  MAX_REPORT_ENTRIES,
  PROBE_ACK_MIN_SIZE,
  PROBE_MIN_SIZE,
  REGISTER_MIN_SIZE,
  VERSION,
} from "./limits.ts";
import {
  type ListingEntry,
  type ListMatch,
  type Message,
  MessageType,
  type MessageTypeName,
  type OwnerEntry,
} from "./messages.ts";
import { Reader } from "./_reader.ts";
import { Writer } from "./_writer.ts";
import { WireError } from "./wire_error.ts";

const NODE_ID_PATTERN = /^[A-Za-z0-9._-]+$/;
/** Bit 7 of a NEED's want kind: an exclude list follows. */
const NEED_EXCLUDES = 0x80;

const typeNames: (MessageTypeName | undefined)[] = [];
for (const [name, code] of Object.entries(MessageType)) {
  typeNames[code] = name as MessageTypeName;
}

const scratch = new Uint8Array(MAX_DATAGRAM);

/** LIST match kinds on the wire, and back. */
const LIST_MATCH_CODES: Record<ListMatch, number> = { substring: 1, glob: 2, exact: 3 };
const LIST_MATCHES: (ListMatch | undefined)[] = [undefined, "substring", "glob", "exact"];

/**
 * Tells whether `id` is a valid node id (1..24 bytes of `[A-Za-z0-9._-]`).
 *
 * @param id the candidate node id
 * @returns true when the codec accepts it
 */
export function isValidNodeId(id: string): boolean {
  return id.length >= 1 && id.length <= MAX_NODE_ID_BYTES && NODE_ID_PATTERN.test(id);
}

/**
 * Encodes a message into `out` (returning the used prefix) or, without `out`, into a new
 * exactly-sized buffer.
 *
 * @param msg the message
 * @param out optional reusable output buffer; the result is a view of it, valid until `out`
 *   is reused
 * @returns the encoded datagram
 * @throws {RangeError | TypeError} a field is out of range or of the wrong shape
 * @throws {WireError} `too_large` when it does not fit `out`
 *
 * @example Encoding a NEED and reading it back
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeMessage, encodeMessage } from "@udpswarm/udpswarm";
 *
 * const datagram = encodeMessage({
 *   type: "need",
 *   txid: 7,
 *   cookie: 0x1234n,
 *   nodeId: "alice",
 *   want: { kind: "name", name: "song.mp3" },
 *   maxOwners: 4,
 * });
 * assert.equal(datagram.byteLength, 33); // 20 bytes + node id + name
 * const msg = decodeMessage(datagram);
 * assert.equal(msg.type, "need");
 * assert.equal(msg.txid, 7);
 * ```
 *
 * @example Reusing one buffer for every datagram
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeMessage, MAX_DATAGRAM } from "@udpswarm/udpswarm";
 *
 * const buf = new Uint8Array(MAX_DATAGRAM);
 * const ack = encodeMessage({ type: "ack", txid: 1 }, buf); // a view of buf: send before reuse
 * assert.equal(ack.buffer, buf.buffer);
 * assert.equal(ack.byteLength, 8);
 * ```
 */
export function encodeMessage(msg: Message, out?: Uint8Array): Uint8Array {
  if (!Object.hasOwn(MessageType, msg.type)) {
    throw new TypeError(`Cannot encode message: unknown type "${msg.type}"`);
  }
  const w = new Writer(out ?? scratch, msg.type);
  w.u16(MAGIC, "magic");
  w.u8(VERSION, "version");
  w.u8(MessageType[msg.type], "type");
  w.u32(msg.txid, "txid");
  switch (msg.type) {
    case "register":
      w.bigU64(msg.cookie, "cookie");
      nodeId(w, msg.nodeId);
      if (w.pos < REGISTER_MIN_SIZE) w.zeros(REGISTER_MIN_SIZE - w.pos);
      break;
    case "registered":
      w.bigU64(msg.cookie, "cookie");
      w.u32(msg.intervalMs, "intervalMs");
      w.u32(msg.evictAfterMs, "evictAfterMs");
      break;
    case "own":
      w.bigU64(msg.cookie, "cookie");
      nodeId(w, msg.nodeId);
      w.str8(msg.name, "name", 1, MAX_NAME_BYTES);
      w.u64(msg.size, "size");
      w.fixed(msg.contentId, CONTENT_ID_BYTES, "contentId");
      if (msg.progress !== undefined) {
        const { have, pieces } = msg.progress;
        if (!(have >= 0 && have < pieces)) {
          throw new RangeError(
            `Cannot encode own: progress ${have}/${pieces} is not partial (0 ≤ have < pieces)`,
          );
        }
        w.u32(have, "have");
        w.u32(pieces, "pieces");
      }
      break;
    case "need":
      w.bigU64(msg.cookie, "cookie");
      nodeId(w, msg.nodeId);
      w.u8(msg.maxOwners, "maxOwners");
      {
        // Bit 7 of the want kind: an exclude list (count u8 ≥ 1, node ids) follows the target.
        const excluding = msg.exclude !== undefined && msg.exclude.length > 0 ? NEED_EXCLUDES : 0;
        if (msg.want.kind === "name") {
          w.u8(1 | excluding, "want kind");
          w.str8(msg.want.name, "name", 1, MAX_NAME_BYTES);
        } else {
          w.u8(2 | excluding, "want kind");
          w.fixed(msg.want.contentId, CONTENT_ID_BYTES, "contentId");
        }
        if (excluding) {
          if (msg.exclude!.length > MAX_NEED_EXCLUDE) {
            throw new RangeError(
              `Cannot encode need: ${
                msg.exclude!.length
              } excluded owners, at most ${MAX_NEED_EXCLUDE} allowed`,
            );
          }
          w.u8(msg.exclude!.length, "exclude count");
          for (const id of msg.exclude!) nodeId(w, id);
        }
      }
      if (msg.flags !== undefined) w.u8(msg.flags, "flags");
      break;
    case "owners":
      w.fixed(msg.contentId, CONTENT_ID_BYTES, "contentId");
      w.u64(msg.size, "size");
      w.u16(msg.alternatives, "alternatives");
      w.str8(msg.name, "name", 1, MAX_NAME_BYTES);
      if (msg.owners.length > MAX_OWNERS) {
        throw new RangeError(
          `Cannot encode owners: ${msg.owners.length} owners, at most ${MAX_OWNERS} allowed`,
        );
      }
      w.u8(msg.owners.length, "owner count");
      for (const o of msg.owners) {
        nodeId(w, o.nodeId);
        writeAddress(w, o.address, "owner address");
        w.u32(o.rate, "owner rate");
      }
      if (msg.owners.some((o) => o.have !== undefined)) {
        for (const o of msg.owners) w.u8(o.have ?? 255, "owner have");
      }
      break;
    case "update":
      w.bigU64(msg.cookie, "cookie");
      nodeId(w, msg.nodeId);
      w.u64(msg.uploaded, "uploaded");
      break;
    case "exit":
      w.bigU64(msg.cookie, "cookie");
      nodeId(w, msg.nodeId);
      break;
    case "report":
      w.bigU64(msg.cookie, "cookie");
      nodeId(w, msg.nodeId);
      w.fixed(msg.contentId, CONTENT_ID_BYTES, "contentId");
      if (msg.entries.length < 1 || msg.entries.length > MAX_REPORT_ENTRIES) {
        throw new RangeError(
          `Cannot encode report: ${msg.entries.length} entries, expected 1..${MAX_REPORT_ENTRIES}`,
        );
      }
      w.u8(msg.entries.length, "entry count");
      for (const e of msg.entries) {
        nodeId(w, e.nodeId);
        w.u64(e.bytes, "entry bytes");
      }
      break;
    case "ack":
      break;
    case "error":
      w.u16(msg.code, "code");
      w.str8(msg.text, "text", 0, MAX_ERROR_TEXT_BYTES);
      break;
    case "list": {
      w.bigU64(msg.cookie, "cookie");
      nodeId(w, msg.nodeId);
      w.u32(msg.cursor, "cursor");
      w.u8(msg.maxEntries, "maxEntries");
      const code = Object.hasOwn(LIST_MATCH_CODES, msg.match) ? LIST_MATCH_CODES[msg.match] : 0;
      if (code === 0) {
        throw new TypeError(
          `Cannot encode list: match must be substring, glob or exact, got "${msg.match}"`,
        );
      }
      w.u8(code, "match");
      w.str8(msg.pattern, "pattern", 0, MAX_PATTERN_BYTES);
      break;
    }
    case "listing":
      w.u32(msg.total, "total");
      w.u32(msg.nextCursor, "nextCursor");
      if (msg.entries.length > MAX_LIST_ENTRIES) {
        throw new RangeError(
          `Cannot encode listing: ${msg.entries.length} entries, at most ${MAX_LIST_ENTRIES} allowed`,
        );
      }
      w.u8(msg.entries.length, "entry count");
      for (const e of msg.entries) writeListingEntry(w, e);
      break;
    case "manifest_request":
      w.bigU64(msg.cookie, "cookie");
      w.fixed(msg.contentId, CONTENT_ID_BYTES, "contentId");
      w.u32(msg.offset, "offset");
      if (msg.maxDatagram < 64 || msg.maxDatagram > MAX_DATAGRAM) {
        throw new RangeError(
          `Cannot encode manifest_request: maxDatagram must be 64..${MAX_DATAGRAM}`,
        );
      }
      w.u32(msg.maxDatagram, "maxDatagram");
      break;
    case "manifest_data":
      w.fixed(msg.contentId, CONTENT_ID_BYTES, "contentId");
      if (msg.total > MAX_MANIFEST_BYTES || msg.offset + msg.data.byteLength > msg.total) {
        throw new RangeError(
          `Cannot encode manifest_data: slice ${msg.offset}+${msg.data.byteLength} exceeds total ${msg.total} (max ${MAX_MANIFEST_BYTES})`,
        );
      }
      w.u32(msg.total, "total");
      w.u32(msg.offset, "offset");
      w.raw(msg.data);
      break;
    case "block_request":
      w.bigU64(msg.cookie, "cookie");
      w.fixed(msg.contentId, CONTENT_ID_BYTES, "contentId");
      if (msg.blockSize < 1 || msg.blockSize > MAX_DATAGRAM - BLOCK_DATA_HEADER_SIZE) {
        throw new RangeError(
          `Cannot encode block_request: blockSize must be 1..${
            MAX_DATAGRAM - BLOCK_DATA_HEADER_SIZE
          }, got ${msg.blockSize}`,
        );
      }
      w.u32(msg.blockSize, "blockSize");
      if (msg.ranges.length < 1 || msg.ranges.length > MAX_RANGES) {
        throw new RangeError(
          `Cannot encode block_request: ${msg.ranges.length} ranges, expected 1..${MAX_RANGES}`,
        );
      }
      w.u8(msg.ranges.length, "range count");
      for (const r of msg.ranges) {
        w.u64(r.offset, "range offset");
        if (r.length < 1) throw new RangeError("Cannot encode block_request: a range is empty");
        w.u32(r.length, "range length");
        if (r.offset + r.length > Number.MAX_SAFE_INTEGER) {
          throw new RangeError(
            `Cannot encode block_request: range ${r.offset}+${r.length} ends past 2^53-1`,
          );
        }
      }
      break;
    case "block_data":
      w.u64(msg.offset, "offset");
      w.raw(msg.data);
      break;
    case "have":
      w.fixed(msg.contentId, CONTENT_ID_BYTES, "contentId");
      writeBits(w, msg);
      break;
    case "bitfield":
      w.bigU64(msg.cookie, "cookie");
      w.fixed(msg.contentId, CONTENT_ID_BYTES, "contentId");
      w.u8((msg.reply ? 1 : 0) | (msg.offer ? 2 : 0), "flags");
      writeBits(w, msg);
      break;
    case "sharer":
      if (msg.port === 0) {
        throw new RangeError("Cannot encode sharer: port must be 1..65535, got 0");
      }
      w.bigU64(msg.cookie, "cookie");
      w.fixed(msg.contentId, CONTENT_ID_BYTES, "contentId");
      w.u16(msg.port, "port");
      nodeId(w, msg.nodeId);
      break;
    case "probe":
    case "probe_ack": {
      const min = msg.type === "probe" ? PROBE_MIN_SIZE : PROBE_ACK_MIN_SIZE;
      if (msg.size < min || msg.size > MAX_DATAGRAM) {
        throw new RangeError(
          `Cannot encode ${msg.type}: size must be ${min}..${MAX_DATAGRAM}, got ${msg.size}`,
        );
      }
      w.u32(msg.size, "size");
      if (msg.type === "probe_ack") w.bigU64(msg.cookie, "cookie");
      w.zeros(msg.size - w.pos);
      break;
    }
    default: {
      const never: never = msg;
      throw new TypeError(
        `Cannot encode message: unknown type ${(never as { type: string }).type}`,
      );
    }
  }
  const used = w.done();
  return out ? used : used.slice();
}

/** HAVE's and BITFIELD's common tail: pieceCount, firstPiece, a u16 length and the bits. */
function writeBits(
  w: Writer,
  msg: { pieceCount: number; firstPiece: number; bits: Uint8Array },
): void {
  w.u32(msg.pieceCount, "pieceCount");
  w.u32(msg.firstPiece, "firstPiece");
  if (msg.firstPiece > msg.pieceCount) {
    throw new RangeError(
      `Cannot encode ${w.what}: firstPiece ${msg.firstPiece} is past pieceCount ${msg.pieceCount}`,
    );
  }
  if (msg.bits.byteLength > MAX_HAVE_BYTES) {
    throw new RangeError(
      `Cannot encode ${w.what}: ${msg.bits.byteLength} bitfield bytes, at most ${MAX_HAVE_BYTES}`,
    );
  }
  w.u16(msg.bits.byteLength, "bitfield length");
  w.raw(msg.bits);
}

/** Reads the tail {@link writeBits} writes. */
function readBits(r: Reader): { pieceCount: number; firstPiece: number; bits: Uint8Array } {
  const pieceCount = r.u32("pieceCount");
  const at = r.pos;
  const firstPiece = r.u32("firstPiece");
  if (firstPiece > pieceCount) {
    r.fail("bad_value", at, `firstPiece ${firstPiece} is past pieceCount ${pieceCount}`);
  }
  const lenAt = r.pos;
  const len = r.u16("bitfield length");
  if (len > MAX_HAVE_BYTES) {
    r.fail("bad_length", lenAt, `bitfield is ${len} bytes, at most ${MAX_HAVE_BYTES}`);
  }
  return { pieceCount, firstPiece, bits: r.copy(len, "bitfield") };
}

function nodeId(w: Writer, id: string): void {
  if (!isValidNodeId(id)) {
    throw new RangeError(
      `Cannot encode ${w.what}: node id "${id}" must be 1..${MAX_NODE_ID_BYTES} characters of [A-Za-z0-9._-]`,
    );
  }
  w.str8(id, "nodeId", 1, MAX_NODE_ID_BYTES);
}

/** One LISTING entry: contentId, size u64n, owners u32, name str8(1..255). */
function writeListingEntry(w: Writer, e: ListingEntry): void {
  w.fixed(e.contentId, CONTENT_ID_BYTES, "entry contentId");
  w.u64(e.size, "entry size");
  w.u32(e.owners, "entry owners");
  w.str8(e.name, "entry name", 1, MAX_NAME_BYTES);
}

function readNodeId(r: Reader): string {
  const at = r.pos;
  const id = r.str8("nodeId", 1, MAX_NODE_ID_BYTES);
  if (!NODE_ID_PATTERN.test(id)) {
    r.fail("bad_value", at, `nodeId "${id}" has characters outside [A-Za-z0-9._-]`);
  }
  return id;
}

/**
 * Reads the common header without decoding the body. Cheap: used to route datagrams.
 *
 * @param bytes the datagram
 * @returns the message type name and txid
 * @throws {WireError} for a short datagram, bad magic, version or type
 */
export function decodeHeader(bytes: Uint8Array): { type: MessageTypeName; txid: number } {
  if (bytes.byteLength > MAX_DATAGRAM) {
    throw new WireError(
      "too_large",
      0,
      `Cannot decode datagram: ${bytes.byteLength} bytes exceeds ${MAX_DATAGRAM}`,
    );
  }
  if (bytes.byteLength < HEADER_SIZE) {
    throw new WireError(
      "truncated",
      0,
      `Cannot decode datagram: ${bytes.byteLength} bytes, expected at least ${HEADER_SIZE}`,
    );
  }
  const magic = (bytes[0]! << 8) | bytes[1]!;
  if (magic !== MAGIC) {
    throw new WireError(
      "bad_magic",
      0,
      `Cannot decode datagram: magic is 0x${magic.toString(16)}, expected 0x${MAGIC.toString(16)}`,
    );
  }
  if (bytes[2] !== VERSION) {
    throw new WireError(
      "bad_version",
      2,
      `Cannot decode datagram: version ${bytes[2]}, this build speaks ${VERSION}`,
    );
  }
  const type = typeNames[bytes[3]!];
  if (type === undefined) {
    throw new WireError(
      "unknown_type",
      3,
      `Cannot decode datagram: unknown message type 0x${bytes[3]!.toString(16)}`,
    );
  }
  const txid = ((bytes[4]! << 24) | (bytes[5]! << 16) | (bytes[6]! << 8) | bytes[7]!) >>> 0;
  return { type, txid };
}

/**
 * Decodes one datagram. Total: returns a valid typed message or throws {@link WireError};
 * never reads out of bounds and never allocates by an untrusted length. `data` fields are
 * views into `bytes` (no copy); ids are copies.
 *
 * @param bytes the datagram
 * @returns the message
 * @throws {WireError} for anything malformed
 *
 * @example Handling a received datagram
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeMessage, encodeMessage, ErrorCode, WireError } from "@udpswarm/udpswarm";
 *
 * function describe(datagram: Uint8Array): string {
 *   try {
 *     const msg = decodeMessage(datagram);
 *     return msg.type === "error" ? `error ${msg.code}: ${msg.text}` : msg.type;
 *   } catch (e) {
 *     if (e instanceof WireError) return `dropped (${e.reason} at byte ${e.offset})`;
 *     throw e;
 *   }
 * }
 *
 * const refusal = encodeMessage({
 *   type: "error",
 *   txid: 3,
 *   code: ErrorCode.not_found,
 *   text: "Nobody shares x",
 * });
 * assert.equal(describe(refusal), "error 8: Nobody shares x");
 * assert.equal(describe(refusal.subarray(0, 9)), "dropped (truncated at byte 8)");
 * ```
 */
export function decodeMessage(bytes: Uint8Array): Message {
  const { type, txid } = decodeHeader(bytes);
  const r = new Reader(bytes, HEADER_SIZE, type);
  let msg: Message;
  switch (type) {
    case "register": {
      const cookie = r.bigU64("cookie");
      const id = readNodeId(r);
      if (bytes.byteLength < REGISTER_MIN_SIZE) {
        r.fail(
          "bad_length",
          0,
          `datagram is ${bytes.byteLength} bytes, REGISTER must be padded to ${REGISTER_MIN_SIZE}`,
        );
      }
      const pad = r.rest();
      for (let i = 0; i < pad.byteLength; i++) {
        if (pad[i] !== 0) {
          r.fail("bad_value", bytes.byteLength - pad.byteLength + i, "padding is not zero");
        }
      }
      msg = { type, txid, cookie, nodeId: id };
      break;
    }
    case "registered":
      msg = {
        type,
        txid,
        cookie: r.bigU64("cookie"),
        intervalMs: r.u32("intervalMs"),
        evictAfterMs: r.u32("evictAfterMs"),
      };
      break;
    case "own": {
      const own: Extract<Message, { type: "own" }> = {
        type,
        txid,
        cookie: r.bigU64("cookie"),
        nodeId: readNodeId(r),
        name: r.str8("name", 1, MAX_NAME_BYTES),
        size: r.u64("size"),
        contentId: r.copy(CONTENT_ID_BYTES, "contentId"),
      };
      if (r.remaining > 0) {
        const at = r.pos;
        const have = r.u32("have");
        const pieces = r.u32("pieces");
        if (!(have < pieces)) {
          r.fail("bad_value", at, `progress ${have}/${pieces} is not partial (0 ≤ have < pieces)`);
        }
        own.progress = { have, pieces };
      }
      msg = own;
      break;
    }
    case "need": {
      const cookie = r.bigU64("cookie");
      const id = readNodeId(r);
      const maxOwners = r.u8("maxOwners");
      const at = r.pos;
      const kindByte = r.u8("want kind");
      const kind = kindByte & ~NEED_EXCLUDES;
      let want: Extract<Message, { type: "need" }>["want"];
      if (kind === 1) {
        want = { kind: "name", name: r.str8("name", 1, MAX_NAME_BYTES) };
      } else if (kind === 2) {
        want = { kind: "content", contentId: r.copy(CONTENT_ID_BYTES, "contentId") };
      } else {
        return r.fail("bad_value", at, `want kind is ${kind}, expected 1 (name) or 2 (content id)`);
      }
      const need: Extract<Message, { type: "need" }> = {
        type,
        txid,
        cookie,
        nodeId: id,
        maxOwners,
        want,
      };
      if (kindByte & NEED_EXCLUDES) {
        // The exclude list: owners the asker found dead or failing.
        const countAt = r.pos;
        const n = r.count("exclude count", MAX_NEED_EXCLUDE);
        if (n === 0) r.fail("bad_value", countAt, "exclude count is 0");
        const exclude: string[] = [];
        for (let i = 0; i < n; i++) exclude.push(readNodeId(r));
        need.exclude = exclude;
      }
      // An optional last byte: flags (NEED_PARTIAL), after the exclude list if any.
      if (r.remaining > 0) need.flags = r.u8("flags");
      msg = need;
      break;
    }
    case "owners": {
      const contentId = r.copy(CONTENT_ID_BYTES, "contentId");
      const size = r.u64("size");
      const alternatives = r.u16("alternatives");
      const name = r.str8("name", 1, MAX_NAME_BYTES);
      const n = r.count("owner count", MAX_OWNERS);
      const owners: OwnerEntry[] = [];
      for (let i = 0; i < n; i++) {
        owners.push({
          nodeId: readNodeId(r),
          address: readAddress(r, "owner address"),
          rate: r.u32("owner rate"),
        });
      }
      if (n > 0 && r.remaining > 0) { for (const o of owners) o.have = r.u8("owner have"); }
      msg = { type, txid, contentId, size, alternatives, name, owners };
      break;
    }
    case "update":
      msg = {
        type,
        txid,
        cookie: r.bigU64("cookie"),
        nodeId: readNodeId(r),
        uploaded: r.u64("uploaded"),
      };
      break;
    case "exit":
      msg = { type, txid, cookie: r.bigU64("cookie"), nodeId: readNodeId(r) };
      break;
    case "report": {
      const cookie = r.bigU64("cookie");
      const id = readNodeId(r);
      const contentId = r.copy(CONTENT_ID_BYTES, "contentId");
      const at = r.pos;
      const n = r.count("entry count", MAX_REPORT_ENTRIES);
      if (n === 0) r.fail("bad_value", at, "entry count is 0");
      const entries = [];
      for (let i = 0; i < n; i++) {
        entries.push({ nodeId: readNodeId(r), bytes: r.u64("entry bytes") });
      }
      msg = { type, txid, cookie, nodeId: id, contentId, entries };
      break;
    }
    case "ack":
      msg = { type, txid };
      break;
    case "error":
      msg = { type, txid, code: r.u16("code"), text: r.str8("text", 0, MAX_ERROR_TEXT_BYTES) };
      break;
    case "list": {
      const cookie = r.bigU64("cookie");
      const id = readNodeId(r);
      const cursor = r.u32("cursor");
      const maxEntries = r.u8("maxEntries");
      const at = r.pos;
      const code = r.u8("match");
      const match = LIST_MATCHES[code];
      if (match === undefined) {
        return r.fail(
          "bad_value",
          at,
          `match is ${code}, expected 1 (substring), 2 (glob) or 3 (exact)`,
        );
      }
      const pattern = r.str8("pattern", 0, MAX_PATTERN_BYTES);
      msg = { type, txid, cookie, nodeId: id, cursor, maxEntries, match, pattern };
      break;
    }
    case "listing": {
      const total = r.u32("total");
      const nextCursor = r.u32("nextCursor");
      const n = r.count("entry count", MAX_LIST_ENTRIES);
      const entries: ListingEntry[] = [];
      for (let i = 0; i < n; i++) {
        entries.push({
          contentId: r.copy(CONTENT_ID_BYTES, "entry contentId"),
          size: r.u64("entry size"),
          owners: r.u32("entry owners"),
          name: r.str8("entry name", 1, MAX_NAME_BYTES),
        });
      }
      msg = { type, txid, total, nextCursor, entries };
      break;
    }
    case "manifest_request": {
      const cookie = r.bigU64("cookie");
      const contentId = r.copy(CONTENT_ID_BYTES, "contentId");
      const offset = r.u32("offset");
      const at = r.pos;
      const maxDatagram = r.u32("maxDatagram");
      if (maxDatagram < 64 || maxDatagram > MAX_DATAGRAM) {
        r.fail("bad_value", at, `maxDatagram is ${maxDatagram}, expected 64..${MAX_DATAGRAM}`);
      }
      msg = { type, txid, cookie, contentId, offset, maxDatagram };
      break;
    }
    case "manifest_data": {
      const contentId = r.copy(CONTENT_ID_BYTES, "contentId");
      const at = r.pos;
      const total = r.u32("total");
      const offset = r.u32("offset");
      const data = r.rest();
      if (total > MAX_MANIFEST_BYTES || offset + data.byteLength > total) {
        r.fail(
          "bad_value",
          at,
          `slice ${offset}+${data.byteLength} exceeds total ${total} (max ${MAX_MANIFEST_BYTES})`,
        );
      }
      msg = { type, txid, contentId, total, offset, data };
      break;
    }
    case "block_request": {
      const cookie = r.bigU64("cookie");
      const contentId = r.copy(CONTENT_ID_BYTES, "contentId");
      let at = r.pos;
      const blockSize = r.u32("blockSize");
      if (blockSize < 1 || blockSize > MAX_DATAGRAM - BLOCK_DATA_HEADER_SIZE) {
        r.fail(
          "bad_value",
          at,
          `blockSize is ${blockSize}, expected 1..${MAX_DATAGRAM - BLOCK_DATA_HEADER_SIZE}`,
        );
      }
      at = r.pos;
      const n = r.count("range count", MAX_RANGES);
      if (n === 0) r.fail("bad_value", at, "range count is 0");
      const ranges = [];
      for (let i = 0; i < n; i++) {
        const offset = r.u64("range offset");
        at = r.pos;
        const length = r.u32("range length");
        if (length === 0) r.fail("bad_value", at, "a range is empty");
        if (offset + length > Number.MAX_SAFE_INTEGER) {
          r.fail("bad_value", at, "a range ends past 2^53-1");
        }
        ranges.push({ offset, length });
      }
      msg = { type, txid, cookie, contentId, blockSize, ranges };
      break;
    }
    case "block_data": {
      const offset = r.u64("offset");
      msg = { type, txid, offset, data: r.rest() };
      break;
    }
    case "have": {
      const contentId = r.copy(CONTENT_ID_BYTES, "contentId");
      msg = { type, txid, contentId, ...readBits(r) };
      break;
    }
    case "bitfield": {
      const cookie = r.bigU64("cookie");
      const contentId = r.copy(CONTENT_ID_BYTES, "contentId");
      const flagsAt = r.pos;
      const flags = r.u8("flags");
      if (flags > 3) {
        r.fail("bad_value", flagsAt, `flags are 0x${flags.toString(16)}, expected 0..3`);
      }
      const reply = (flags & 1) !== 0, offer = (flags & 2) !== 0;
      msg = { type, txid, cookie, contentId, reply, offer, ...readBits(r) };
      break;
    }
    case "sharer": {
      const cookie = r.bigU64("cookie");
      const contentId = r.copy(CONTENT_ID_BYTES, "contentId");
      const portAt = r.pos;
      const port = r.u16("port");
      if (port === 0) r.fail("bad_value", portAt, "port is 0, expected 1..65535");
      msg = { type, txid, cookie, contentId, port, nodeId: readNodeId(r) };
      break;
    }
    case "probe":
    case "probe_ack": {
      const size = r.u32("size");
      if (size !== bytes.byteLength) {
        r.fail(
          "bad_length",
          HEADER_SIZE,
          `size field says ${size}, datagram is ${bytes.byteLength} bytes`,
        );
      }
      if (type === "probe") {
        r.rest();
        msg = { type, txid, size };
        break;
      }
      if (size < PROBE_ACK_MIN_SIZE) {
        r.fail(
          "bad_length",
          HEADER_SIZE,
          `datagram is ${size} bytes, PROBE_ACK must be at least ${PROBE_ACK_MIN_SIZE}`,
        );
      }
      const cookie = r.bigU64("cookie");
      r.rest();
      msg = { type, txid, size, cookie };
      break;
    }
    default: {
      const never: never = type;
      throw new WireError(
        "unknown_type",
        3,
        `Cannot decode datagram: unknown type ${String(never)}`,
      );
    }
  }
  r.end();
  return msg;
}
