/**
 * Golden byte vectors: one or more per message type, written field by field from
 * docs/PROTOCOL.md. If one of these fails, the wire layout changed: that needs a protocol
 * version bump, not an updated vector. (The one exception so far: before any release, the peer
 * address cookie was added to MANIFEST_REQUEST, BLOCK_REQUEST and PROBE_ACK in version 1.)
 */
import assert from "node:assert/strict";
import {
  BLOCK_DATA_HEADER_SIZE,
  decodeMessage,
  encodeMessage,
  ErrorCode,
  type Message,
  MessageType,
  writeBlockDataHeader,
} from "../../lib/wire/mod.ts";

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Joins annotated hex fields ("5553 01 01", …), ignoring spaces. */
function fromHex(fields: string[]): Uint8Array {
  const s = fields.join("").replaceAll(" ", "");
  assert.equal(s.length % 2, 0, "odd number of hex digits");
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const filled = (b: number) => new Uint8Array(32).fill(b);
const rep = (byte: string, n: number) => byte.repeat(n);
const counting = Uint8Array.from({ length: 32 }, (_, i) => i);

/** A NEED by content id (the two content-id vectors differ only in their exclusions). */
const needByContent: Message = {
  type: "need",
  txid: 2,
  cookie: 0x0102030405060708n,
  nodeId: "n1",
  maxOwners: 8,
  want: { kind: "content", contentId: filled(0xff) },
};

const vectors: { name: string; message: Message; bytes: string[] }[] = [
  {
    name: "register (first contact, padded to 64 bytes)",
    message: { type: "register", txid: 0x01020304, cookie: 0n, nodeId: "alice" },
    bytes: [
      "5553 01 01 01020304", // magic "US", version 1, REGISTER, txid
      "0000000000000000", // cookie: 0 on first contact
      "05 616c696365", // nodeId "alice"
      rep("00", 64 - 22), // zero padding up to 64 bytes
    ],
  },
  {
    name: "register (heartbeat, 24-character node id)",
    message: {
      type: "register",
      txid: 0x80000000,
      cookie: 0x0123456789abcdefn,
      nodeId: "Node_24.chars-long-id.xy",
    },
    bytes: [
      "5553 01 01 80000000",
      "0123456789abcdef",
      "18 4e6f64655f32342e63686172732d6c6f6e672d69642e7879",
      rep("00", 64 - 41),
    ],
  },
  {
    name: "registered",
    message: {
      type: "registered",
      txid: 7,
      cookie: 0xfedcba9876543210n,
      intervalMs: 30_000,
      evictAfterMs: 90_000,
    },
    bytes: ["5553 01 02 00000007", "fedcba9876543210", "00007530", "00015f90"],
  },
  {
    name: "own (multi-byte name, size above 2^32)",
    message: {
      type: "own",
      txid: 0xdeadbeef,
      cookie: 0x1122334455667788n,
      nodeId: "bob",
      name: "café.txt",
      size: 2 ** 32 + 5,
      contentId: counting,
    },
    bytes: [
      "5553 01 03 deadbeef",
      "1122334455667788", // cookie
      "03 626f62", // nodeId "bob"
      "09 636166c3a92e747874", // name "café.txt": 9 bytes of UTF-8
      "0000000100000005", // size u64
      "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", // contentId
    ],
  },
  {
    name: "need (by name)",
    message: {
      type: "need",
      txid: 1,
      cookie: 0x0102030405060708n,
      nodeId: "n1",
      maxOwners: 16,
      want: { kind: "name", name: "a b" },
    },
    bytes: ["5553 01 04 00000001", "0102030405060708", "02 6e31", "10", "01", "03 612062"],
  },
  {
    name: "need (by content id)",
    message: needByContent,
    bytes: ["5553 01 04 00000002", "0102030405060708", "02 6e31", "08", "02", rep("ff", 32)],
  },
  {
    name: "need (by content id, excluding two owners)",
    message: { ...needByContent, exclude: ["x", "y2"] },
    bytes: [
      "5553 01 04 00000002",
      "0102030405060708",
      "02 6e31",
      "08",
      "82", // want kind 2 with bit 7: an exclude list follows
      rep("ff", 32),
      "02", // exclude count
      "01 78",
      "02 7932",
    ],
  },
  {
    name: "owners (IPv4, IPv6 and IPv4-mapped owners)",
    message: {
      type: "owners",
      txid: 3,
      contentId: filled(0xaa),
      size: 1_000_000,
      alternatives: 2,
      name: "x",
      owners: [
        { nodeId: "o1", address: { family: 4, host: "192.0.2.1", port: 6881 }, rate: 1000 },
        {
          nodeId: "o-2",
          address: { family: 6, host: "2001:db8::1", port: 443 },
          rate: 0xffffffff,
        },
        { nodeId: "o3", address: { family: 6, host: "::ffff:192.0.2.1", port: 0 }, rate: 0 },
      ],
    },
    bytes: [
      "5553 01 05 00000003",
      rep("aa", 32), // contentId
      "00000000000f4240", // size 1,000,000
      "0002", // alternatives
      "01 78", // name "x"
      "03", // owner count
      "02 6f31", // nodeId "o1"
      "04 c0000201 1ae1", // family 4, 192.0.2.1, port 6881
      "000003e8", // rate 1000 B/s
      "03 6f2d32", // nodeId "o-2"
      "06 20010db8000000000000000000000001 01bb", // family 6, 2001:db8::1, port 443
      "ffffffff", // rate (saturated)
      "02 6f33", // nodeId "o3"
      "06 00000000000000000000ffffc0000201 0000", // family 6, ::ffff:192.0.2.1, port 0
      "00000000", // rate 0
    ],
  },
  {
    name: "owners (nobody)",
    message: {
      type: "owners",
      txid: 4,
      contentId: filled(0),
      size: 0,
      alternatives: 0,
      name: "日本",
      owners: [],
    },
    bytes: [
      "5553 01 05 00000004",
      rep("00", 32),
      "0000000000000000",
      "0000",
      "06 e697a5e69cac",
      "00",
    ],
  },
  {
    name: "update (2^53-1 bytes)",
    message: {
      type: "update",
      txid: 4,
      cookie: 1n,
      nodeId: "u",
      uploaded: Number.MAX_SAFE_INTEGER,
    },
    bytes: ["5553 01 06 00000004", "0000000000000001", "01 75", "001fffffffffffff"],
  },
  {
    name: "exit",
    message: { type: "exit", txid: 5, cookie: 0xffffffffffffffffn, nodeId: "e" },
    bytes: ["5553 01 07 00000005", "ffffffffffffffff", "01 65"],
  },
  {
    name: "report",
    message: {
      type: "report",
      txid: 9,
      cookie: 2n,
      nodeId: "d",
      contentId: filled(0x11),
      entries: [{ nodeId: "o1", bytes: 262144 }, { nodeId: "o2", bytes: Number.MAX_SAFE_INTEGER }],
    },
    bytes: [
      "5553 01 0c 00000009",
      "0000000000000002",
      "01 64",
      rep("11", 32),
      "02", // entry count
      "02 6f31 0000000000040000",
      "02 6f32 001fffffffffffff",
    ],
  },
  {
    name: "ack",
    message: { type: "ack", txid: 0xffffffff },
    bytes: ["5553 01 08 ffffffff"],
  },
  {
    name: "error (with text)",
    message: { type: "error", txid: 6, code: ErrorCode.bad_cookie, text: "stale cookie" },
    bytes: ["5553 01 09 00000006", "0003", "0c 7374616c6520636f6f6b6965"],
  },
  {
    name: "error (empty text)",
    message: { type: "error", txid: 6, code: ErrorCode.not_found, text: "" },
    bytes: ["5553 01 09 00000006", "0008", "00"],
  },
  {
    name: "list (substring, first page)",
    message: {
      type: "list",
      txid: 7,
      cookie: 0x0102030405060708n,
      nodeId: "ab",
      cursor: 0,
      maxEntries: 0,
      match: "substring",
      pattern: "mkv",
    },
    bytes: [
      "5553 01 0a 00000007",
      "0102030405060708", // cookie u64
      "02 6162", // nodeId "ab"
      "00000000", // cursor u32
      "00", // maxEntries: as many as fit
      "01", // match: 1 substring
      "03 6d6b76", // pattern "mkv"
    ],
  },
  {
    name: "list (exact name, a later page)",
    message: {
      type: "list",
      txid: 8,
      cookie: 1n,
      nodeId: "c",
      cursor: 0x01000000,
      maxEntries: 255,
      match: "exact",
      pattern: "a.iso",
    },
    bytes: [
      "5553 01 0a 00000008",
      "0000000000000001",
      "01 63",
      "01000000", // cursor 16,777,216
      "ff", // maxEntries 255
      "03", // match: 3 exact
      "05 612e69736f",
    ],
  },
  {
    name: "list (glob, empty pattern)",
    message: {
      type: "list",
      txid: 9,
      cookie: 0n,
      nodeId: "d",
      cursor: 3,
      maxEntries: 1,
      match: "glob",
      pattern: "",
    },
    bytes: ["5553 01 0a 00000009", "0000000000000000", "01 64", "00000003", "01", "02", "00"],
  },
  {
    name: "listing (two entries, more to come)",
    message: {
      type: "listing",
      txid: 7,
      total: 5,
      nextCursor: 2,
      entries: [
        { contentId: filled(0xaa), size: 2 ** 32, owners: 3, name: "a.mkv" },
        { contentId: counting, size: 0, owners: 0xffffffff, name: "é" },
      ],
    },
    bytes: [
      "5553 01 0b 00000007",
      "00000005", // total u32
      "00000002", // nextCursor u32
      "02", // entry count
      rep("aa", 32), // contentId
      "0000000100000000", // size u64
      "00000003", // owners u32
      "05 612e6d6b76", // name "a.mkv"
      "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
      "0000000000000000",
      "ffffffff",
      "02 c3a9", // name "é"
    ],
  },
  {
    name: "listing (nothing matches)",
    message: { type: "listing", txid: 8, total: 0, nextCursor: 0, entries: [] },
    bytes: ["5553 01 0b 00000008", "00000000", "00000000", "00"],
  },
  {
    name: "manifest_request",
    message: {
      type: "manifest_request",
      txid: 0x00010000,
      cookie: 0xfedcba9876543210n,
      contentId: filled(0x11),
      offset: 1200,
      maxDatagram: 1452,
    },
    bytes: [
      "5553 01 20 00010000",
      "fedcba9876543210", // cookie u64
      rep("11", 32), // contentId
      "000004b0", // offset 1200
      "000005ac", // maxDatagram 1452
    ],
  },
  {
    name: "manifest_data",
    message: {
      type: "manifest_data",
      txid: 9,
      contentId: filled(0x22),
      total: 10,
      offset: 4,
      data: Uint8Array.of(1, 2, 3, 4),
    },
    bytes: ["5553 01 21 00000009", rep("22", 32), "0000000a", "00000004", "01020304"],
  },
  {
    name: "block_request (two ranges)",
    message: {
      type: "block_request",
      txid: 10,
      cookie: 0x0000000100000002n,
      contentId: filled(0x33),
      blockSize: 1436,
      ranges: [{ offset: 0, length: 65536 }, { offset: 2 ** 32, length: 1 }],
    },
    bytes: [
      "5553 01 22 0000000a",
      "0000000100000002", // cookie u64
      rep("33", 32), // contentId
      "0000059c", // blockSize 1436
      "02", // range count
      "0000000000000000 00010000", // offset u64, length u32
      "0000000100000000 00000001",
    ],
  },
  {
    name: "block_data",
    message: { type: "block_data", txid: 11, offset: 0x112345678, data: Uint8Array.of(0x68, 0x69) },
    bytes: ["5553 01 23 0000000b", "0000000112345678", "6869"],
  },
  {
    name: "have",
    message: {
      type: "have",
      txid: 12,
      contentId: filled(0x44),
      pieceCount: 20,
      firstPiece: 8,
      bits: Uint8Array.of(0b1010_0000, 0x0f),
    },
    bytes: ["5553 01 24 0000000c", rep("44", 32), "00000014", "00000008", "0002", "a00f"],
  },
  {
    name: "own (a partial owner: 3 of 10 pieces)",
    message: {
      type: "own",
      txid: 5,
      cookie: 1n,
      nodeId: "p",
      name: "f",
      size: 10,
      contentId: filled(0x11),
      progress: { have: 3, pieces: 10 },
    },
    bytes: [
      "5553 01 03 00000005",
      "0000000000000001",
      "01 70",
      "01 66",
      "000000000000000a",
      rep("11", 32),
      "00000003 0000000a", // have u32, pieces u32
    ],
  },
  {
    name: "need (by content id, partial owners welcome)",
    message: {
      type: "need",
      txid: 6,
      cookie: 2n,
      nodeId: "p",
      maxOwners: 8,
      want: { kind: "content", contentId: filled(0x22) },
      flags: 1,
    },
    bytes: ["5553 01 04 00000006", "0000000000000002", "01 70", "08", "02", rep("22", 32), "01"],
  },
  {
    name: "owners (with each owner's share)",
    message: {
      type: "owners",
      txid: 7,
      contentId: filled(0x33),
      size: 10,
      alternatives: 0,
      name: "f",
      owners: [
        { nodeId: "s", address: { family: 4, host: "10.0.0.1", port: 1 }, rate: 5, have: 255 },
        { nodeId: "d", address: { family: 4, host: "10.0.0.2", port: 2 }, rate: 0, have: 76 },
      ],
    },
    bytes: [
      "5553 01 05 00000007",
      rep("33", 32),
      "000000000000000a",
      "0000",
      "01 66",
      "02",
      "01 73 04 0a000001 0001 00000005",
      "01 64 04 0a000002 0002 00000000",
      "ff 4c", // shares: complete, 76/254
    ],
  },
  {
    name: "bitfield (a request: the sender's own bits and the receiver's cookie)",
    message: {
      type: "bitfield",
      txid: 15,
      cookie: 0x0102030405060708n,
      contentId: filled(0x55),
      reply: false,
      offer: false,
      pieceCount: 12,
      firstPiece: 0,
      bits: Uint8Array.of(0b1000_0001, 0b0001_0000),
    },
    bytes: [
      "5553 01 27 0000000f",
      "0102030405060708",
      rep("55", 32),
      "00", // flags: bit 0 reply, bit 1 offer
      "0000000c",
      "00000000",
      "0002",
      "8110",
    ],
  },
  {
    name: "bitfield (a seed's offer in reply)",
    message: {
      type: "bitfield",
      txid: 15,
      cookie: 0n,
      contentId: filled(0x55),
      reply: true,
      offer: true,
      pieceCount: 12,
      firstPiece: 0,
      bits: Uint8Array.of(0b0110_0000, 0),
    },
    bytes: [
      "5553 01 27 0000000f",
      "0000000000000000",
      rep("55", 32),
      "03",
      "0000000c",
      "00000000",
      "0002",
      "6000",
    ],
  },
  {
    name: "sharer (a downloader that serves on port 7000 as p1)",
    message: {
      type: "sharer",
      txid: 15,
      cookie: 0x0102030405060708n,
      contentId: filled(0x55),
      port: 7000,
      nodeId: "p1",
    },
    bytes: [
      "5553 01 29 0000000f",
      "0102030405060708",
      rep("55", 32),
      "1b58", // port
      "02 7031", // node id
    ],
  },
  {
    name: "probe (padded to 16 bytes)",
    message: { type: "probe", txid: 13, size: 16 },
    bytes: ["5553 01 25 0000000d", "00000010", "00000000"],
  },
  {
    name: "probe_ack (smallest)",
    message: { type: "probe_ack", txid: 13, size: 20, cookie: 0x8000000000000001n },
    bytes: ["5553 01 26 0000000d", "00000014", "8000000000000001"],
  },
  {
    name: "probe_ack (padded to 24 bytes)",
    message: { type: "probe_ack", txid: 14, size: 24, cookie: 0x0123456789abcdefn },
    bytes: ["5553 01 26 0000000e", "00000018", "0123456789abcdef", "00000000"],
  },
];

for (const v of vectors) {
  Deno.test({
    name: `encodeMessage() writes the golden bytes of ${v.name}`,
    permissions: "none",
    fn() {
      assert.equal(hex(encodeMessage(v.message)), hex(fromHex(v.bytes)));
    },
  });
  Deno.test({
    name: `decodeMessage() reads the golden bytes of ${v.name}`,
    permissions: "none",
    fn() {
      assert.deepEqual(decodeMessage(fromHex(v.bytes)), v.message);
    },
  });
}

Deno.test({
  name: "golden vectors cover every message type",
  permissions: "none",
  fn() {
    const covered = new Set(vectors.map((v) => v.message.type));
    assert.deepEqual([...covered].sort(), Object.keys(MessageType).sort());
  },
});

Deno.test({
  name: "writeBlockDataHeader() writes the same 16 bytes as encodeMessage()",
  permissions: "none",
  fn() {
    const buf = new Uint8Array(BLOCK_DATA_HEADER_SIZE + 2).fill(0xee);
    buf.set([0x68, 0x69], BLOCK_DATA_HEADER_SIZE);
    const n = writeBlockDataHeader(new DataView(buf.buffer), 11, 0x112345678);
    assert.equal(n, BLOCK_DATA_HEADER_SIZE);
    assert.equal(hex(buf), "55530123" + "0000000b" + "0000000112345678" + "6869");
    assert.deepEqual(decodeMessage(buf), {
      type: "block_data",
      txid: 11,
      offset: 0x112345678,
      data: Uint8Array.of(0x68, 0x69),
    });
  },
});
