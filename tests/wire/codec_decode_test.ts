/** decodeMessage() rejects each kind of malformed datagram with the right reason and offset. */
import assert from "node:assert/strict";
import {
  decodeHeader,
  decodeMessage,
  encodeMessage,
  MAX_DATAGRAM,
  type Message,
  WireError,
  type WireErrorReason,
} from "../../lib/wire/mod.ts";

const cid = new Uint8Array(32).fill(1);

/** The encoding of `m` with `bytes` written at `at` (the frame grows if needed). */
function patch(m: Message, at: number, bytes: number[]): Uint8Array {
  const frame = encodeMessage(m);
  const out = new Uint8Array(Math.max(frame.byteLength, at + bytes.length));
  out.set(frame);
  out.set(bytes, at);
  return out;
}

function header(type: number, rest: number[] = []): Uint8Array {
  return Uint8Array.of(0x55, 0x53, 0x01, type, 0, 0, 0, 1, ...rest);
}

const own: Message = {
  type: "own",
  txid: 1,
  cookie: 1n,
  nodeId: "ab",
  name: "xy",
  size: 1,
  contentId: cid,
};
// OWN layout: header 0..7, cookie 8..15, nodeId len 16, "ab" 17..18, name len 19, "xy" 20..21,
// size 22..29, contentId 30..61.
const need: Message = {
  type: "need",
  txid: 1,
  cookie: 1n,
  nodeId: "ab",
  maxOwners: 4,
  want: { kind: "name", name: "x" },
};
// NEED: nodeId 16..18, maxOwners 19, want kind 20, name 21..
const owners: Message = {
  type: "owners",
  txid: 1,
  contentId: cid,
  size: 1,
  alternatives: 0,
  name: "x",
  owners: [{ nodeId: "o", address: { family: 4, host: "1.2.3.4", port: 1 }, rate: 1 }],
};
// OWNERS: contentId 8..39, size 40..47, alternatives 48..49, name 50..51, count 52,
// owner nodeId 53..54, family 55.
const blockRequest: Message = {
  type: "block_request",
  txid: 1,
  cookie: 7n,
  contentId: cid,
  blockSize: 100,
  ranges: [{ offset: 0, length: 1 }],
};
// BLOCK_REQUEST: cookie 8..15, contentId 16..47, blockSize 48..51, count 52, range offset
// 53..60, length 61..64.
const have: Message = {
  type: "have",
  txid: 1,
  contentId: cid,
  pieceCount: 16,
  firstPiece: 0,
  bits: Uint8Array.of(0xff, 0xff),
};
// HAVE: pieceCount 40..43, firstPiece 44..47, bitfield length 48..49, bits 50..
const list: Message = {
  type: "list",
  txid: 1,
  cookie: 1n,
  nodeId: "ab",
  cursor: 0,
  maxEntries: 0,
  match: "glob",
  pattern: "x",
};
// LIST: nodeId 16..18, cursor 19..22, maxEntries 23, match 24, pattern length 25, pattern 26.
const listing: Message = {
  type: "listing",
  txid: 1,
  total: 1,
  nextCursor: 0,
  entries: [{ contentId: cid, size: 1, owners: 1, name: "x" }],
};
// LISTING: total 8..11, nextCursor 12..15, count 16, contentId 17..48, size 49..56,
// owners 57..60, name length 61, name 62.

const cases: { what: string; bytes: Uint8Array; reason: WireErrorReason; offset: number }[] = [
  { what: "an empty datagram", bytes: new Uint8Array(0), reason: "truncated", offset: 0 },
  { what: "a 7-byte header", bytes: header(1).subarray(0, 7), reason: "truncated", offset: 0 },
  {
    what: "a datagram over 65507 bytes (before looking at the magic)",
    bytes: new Uint8Array(MAX_DATAGRAM + 1),
    reason: "too_large",
    offset: 0,
  },
  {
    what: "a bad magic",
    bytes: Uint8Array.of(0x55, 0x54, 1, 8, 0, 0, 0, 0),
    reason: "bad_magic",
    offset: 0,
  },
  {
    what: "version 0",
    bytes: Uint8Array.of(0x55, 0x53, 0, 8, 0, 0, 0, 0),
    reason: "bad_version",
    offset: 2,
  },
  {
    what: "version 2",
    bytes: Uint8Array.of(0x55, 0x53, 2, 8, 0, 0, 0, 0),
    reason: "bad_version",
    offset: 2,
  },
  { what: "type 0x00", bytes: header(0x00), reason: "unknown_type", offset: 3 },
  { what: "type 0x0e", bytes: header(0x0e), reason: "unknown_type", offset: 3 },
  { what: "type 0x1f", bytes: header(0x1f), reason: "unknown_type", offset: 3 },
  { what: "type 0x28", bytes: header(0x28), reason: "unknown_type", offset: 3 },
  { what: "type 0xff", bytes: header(0xff), reason: "unknown_type", offset: 3 },
  { what: "a LIST with match 0", bytes: patch(list, 24, [0]), reason: "bad_value", offset: 24 },
  { what: "a LIST with match 4", bytes: patch(list, 24, [4]), reason: "bad_value", offset: 24 },
  {
    what: "a LIST cut inside its cursor",
    bytes: encodeMessage(list).subarray(0, 21),
    reason: "truncated",
    offset: 19,
  },
  {
    what: "a LIST whose pattern is not UTF-8",
    bytes: patch(list, 26, [0xff]),
    reason: "bad_utf8",
    offset: 26,
  },
  {
    what: "a LIST with a byte after the pattern",
    bytes: patch(list, 27, [0]),
    reason: "trailing_bytes",
    offset: 27,
  },
  {
    what: "a LISTING with 33 entries",
    bytes: patch(listing, 16, [33]),
    reason: "too_many",
    offset: 16,
  },
  {
    what: "a LISTING entry with a size over 2^53-1",
    bytes: patch(listing, 49, [0x00, 0x20]),
    reason: "bad_value",
    offset: 49,
  },
  {
    what: "a LISTING entry with an empty name",
    bytes: patch(listing, 61, [0]),
    reason: "bad_length",
    offset: 61,
  },
  {
    what: "a LISTING that promises more entries than it carries",
    bytes: patch(listing, 16, [2]),
    reason: "truncated",
    offset: 63,
  },
  {
    what: "an ACK with a trailing byte",
    bytes: header(0x08, [0]),
    reason: "trailing_bytes",
    offset: 8,
  },
  {
    what: "a REGISTER without padding",
    bytes: header(0x01, [0, 0, 0, 0, 0, 0, 0, 0, 1, 0x61]),
    reason: "bad_length",
    offset: 0,
  },
  {
    what: "a REGISTER padded to 63 bytes",
    bytes: encodeMessage({ type: "register", txid: 1, cookie: 0n, nodeId: "a" }).subarray(0, 63),
    reason: "bad_length",
    offset: 0,
  },
  {
    what: "a REGISTER with a non-zero padding byte",
    bytes: patch({ type: "register", txid: 1, cookie: 0n, nodeId: "a" }, 40, [1]),
    reason: "bad_value",
    offset: 40,
  },
  {
    what: "a REGISTER with an empty node id",
    bytes: patch({ type: "register", txid: 1, cookie: 0n, nodeId: "a" }, 16, [0]),
    reason: "bad_length",
    offset: 16,
  },
  {
    what: "a REGISTER with a 25-byte node id",
    bytes: patch({ type: "register", txid: 1, cookie: 0n, nodeId: "a" }, 16, [
      25,
      ...Array(25).fill(0x61),
    ]),
    reason: "bad_length",
    offset: 16,
  },
  {
    what: "a REGISTER with '/' in the node id",
    bytes: patch({ type: "register", txid: 1, cookie: 0n, nodeId: "aaa" }, 18, [0x2f]),
    reason: "bad_value",
    offset: 16,
  },
  {
    what: "an OWN with an empty name",
    bytes: patch(own, 19, [0]),
    reason: "bad_length",
    offset: 19,
  },
  {
    what: "an OWN whose name runs past the end",
    bytes: patch(own, 19, [200]),
    reason: "truncated",
    offset: 20,
  },
  {
    what: "an OWN name with a stray continuation byte",
    bytes: patch(own, 20, [0x80]),
    reason: "bad_utf8",
    offset: 20,
  },
  {
    what: "an OWN name with an overlong NUL (C0 80)",
    bytes: patch(own, 20, [0xc0, 0x80]),
    reason: "bad_utf8",
    offset: 20,
  },
  {
    what: "an OWN name with an encoded surrogate (ED A0 80)",
    bytes: patch({ ...own, name: "xyz" } as Message, 20, [0xed, 0xa0, 0x80]),
    reason: "bad_utf8",
    offset: 20,
  },
  {
    what: "an OWN size of 2^53",
    bytes: patch(own, 22, [0, 0x20, 0, 0, 0, 0, 0, 0]),
    reason: "bad_value",
    offset: 22,
  },
  {
    what: "an OWN size with the top bit set",
    bytes: patch(own, 22, [0x80, 0, 0, 0, 0, 0, 0, 0]),
    reason: "bad_value",
    offset: 22,
  },
  {
    what: "an OWN one byte short of its content id",
    bytes: encodeMessage(own).subarray(0, 61),
    reason: "truncated",
    offset: 30,
  },
  { what: "a NEED want kind 0", bytes: patch(need, 20, [0]), reason: "bad_value", offset: 20 },
  { what: "a NEED want kind 3", bytes: patch(need, 20, [3]), reason: "bad_value", offset: 20 },
  { what: "OWNERS with 17 owners", bytes: patch(owners, 52, [17]), reason: "too_many", offset: 52 },
  {
    what: "OWNERS claiming 2 owners but carrying 1",
    bytes: patch(owners, 52, [2]),
    reason: "truncated",
    offset: 66,
  },
  {
    what: "OWNERS with address family 5",
    bytes: patch(owners, 55, [5]),
    reason: "bad_value",
    offset: 55,
  },
  {
    what: "an ERROR text of 201 bytes",
    bytes: header(0x09, [0, 1, 201, ...Array(201).fill(0x61)]),
    reason: "bad_length",
    offset: 10,
  },
  {
    what: "a MANIFEST_REQUEST maxDatagram of 63",
    bytes: patch(
      { type: "manifest_request", txid: 1, cookie: 1n, contentId: cid, offset: 0, maxDatagram: 64 },
      52,
      [
        0,
        0,
        0,
        63,
      ],
    ),
    reason: "bad_value",
    offset: 52,
  },
  {
    what: "a MANIFEST_REQUEST maxDatagram of 65508",
    bytes: patch(
      { type: "manifest_request", txid: 1, cookie: 1n, contentId: cid, offset: 0, maxDatagram: 64 },
      52,
      [0, 0, 0xff, 0xe4],
    ),
    reason: "bad_value",
    offset: 52,
  },
  {
    what: "MANIFEST_DATA with a total over 64 MiB",
    bytes: patch(
      {
        type: "manifest_data",
        txid: 1,
        contentId: cid,
        total: 1,
        offset: 0,
        data: new Uint8Array(0),
      },
      40,
      [0x04, 0, 0, 1],
    ),
    reason: "bad_value",
    offset: 40,
  },
  {
    what: "MANIFEST_DATA running past its total",
    bytes: patch(
      {
        type: "manifest_data",
        txid: 1,
        contentId: cid,
        total: 4,
        offset: 2,
        data: new Uint8Array(2),
      },
      48,
      [0, 0, 0],
    ),
    reason: "bad_value",
    offset: 40,
  },
  {
    what: "a BLOCK_REQUEST blockSize of 0",
    bytes: patch(blockRequest, 48, [0, 0, 0, 0]),
    reason: "bad_value",
    offset: 48,
  },
  {
    what: "a BLOCK_REQUEST blockSize of 65492",
    bytes: patch(blockRequest, 48, [0, 0, 0xff, 0xd4]),
    reason: "bad_value",
    offset: 48,
  },
  {
    what: "a BLOCK_REQUEST with 0 ranges",
    bytes: patch(blockRequest, 52, [0]),
    reason: "bad_value",
    offset: 52,
  },
  {
    what: "a BLOCK_REQUEST with 65 ranges",
    bytes: patch(blockRequest, 52, [65]),
    reason: "too_many",
    offset: 52,
  },
  {
    what: "a BLOCK_REQUEST with an empty range",
    bytes: patch(blockRequest, 61, [0, 0, 0, 0]),
    reason: "bad_value",
    offset: 61,
  },
  {
    what: "a BLOCK_REQUEST range ending past 2^53-1",
    bytes: patch(blockRequest, 53, [0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
    reason: "bad_value",
    offset: 61,
  },
  {
    what: "HAVE with firstPiece past pieceCount",
    bytes: patch(have, 44, [0, 0, 0, 17]),
    reason: "bad_value",
    offset: 44,
  },
  {
    what: "HAVE with a 1025-byte bitfield",
    bytes: patch(have, 48, [0x04, 0x01]),
    reason: "bad_length",
    offset: 48,
  },
  {
    what: "HAVE with a bitfield shorter than declared",
    bytes: patch(have, 48, [0, 3]),
    reason: "truncated",
    offset: 50,
  },
  {
    what: "a PROBE whose size field disagrees with its length",
    bytes: patch({ type: "probe", txid: 1, size: 20 }, 8, [0, 0, 0, 21]),
    reason: "bad_length",
    offset: 8,
  },
  {
    what: "a PROBE without a size field",
    bytes: header(0x25, [0, 0]),
    reason: "truncated",
    offset: 8,
  },
  {
    what: "a PROBE_ACK of 19 bytes (no room for the cookie)",
    bytes: header(0x26, [0, 0, 0, 19, 1, 2, 3, 4, 5, 6, 7]),
    reason: "bad_length",
    offset: 8,
  },
  {
    what: "a PROBE_ACK whose size field disagrees with its length",
    bytes: patch({ type: "probe_ack", txid: 1, size: 24, cookie: 9n }, 8, [0, 0, 0, 25]),
    reason: "bad_length",
    offset: 8,
  },
];

for (const c of cases) {
  Deno.test({
    name: `decodeMessage() rejects ${c.what}`,
    permissions: "none",
    fn() {
      assert.throws(() => decodeMessage(c.bytes), (e: unknown) => {
        assert.ok(e instanceof WireError, `expected a WireError, got ${e}`);
        assert.equal(e.name, "WireError");
        assert.equal(e.reason, c.reason, e.message);
        assert.equal(e.offset, c.offset, e.message);
        assert.match(e.message, /^Cannot decode /);
        return true;
      });
    },
  });
}

Deno.test({
  name: "decodeMessage() explains what it expected and what it got",
  permissions: "none",
  fn() {
    const cases: [Uint8Array, string][] = [
      [new Uint8Array(3), "Cannot decode datagram: 3 bytes, expected at least 8"],
      [
        Uint8Array.of(0x55, 0x54, 1, 8, 0, 0, 0, 0),
        "Cannot decode datagram: magic is 0x5554, expected 0x5553",
      ],
      [header(0x30), "Cannot decode datagram: unknown message type 0x30"],
      [
        encodeMessage(own).subarray(0, 40),
        "Cannot decode own: contentId needs 32 bytes at offset 30, datagram is 40 bytes",
      ],
      [
        patch(own, 17, [0x20]),
        'Cannot decode own: nodeId " b" has characters outside [A-Za-z0-9._-]',
      ],
      [patch(owners, 52, [17]), "Cannot decode owners: owner count is 17, at most 16 allowed"],
      [header(0x08, [1, 2]), "Cannot decode ack: 2 unexpected bytes after offset 8"],
    ];
    for (const [bytes, message] of cases) {
      assert.throws(() => decodeMessage(bytes), { name: "WireError", message });
    }
  },
});

Deno.test({
  name: "decodeMessage() accepts the largest datagram and extra REGISTER padding",
  permissions: "none",
  fn() {
    const big = new Uint8Array(MAX_DATAGRAM);
    big.set(header(0x23, [0, 0, 0, 0, 0, 0, 0, 9]));
    const m = decodeMessage(big);
    assert.equal(m.type === "block_data" && m.data.byteLength, MAX_DATAGRAM - 16);
    const reg = { type: "register", txid: 1, cookie: 5n, nodeId: "a" } as const;
    assert.deepEqual(decodeMessage(patch(reg, 99, [0])), reg);
  },
});

Deno.test({
  name: "decodeHeader() routes a datagram without decoding its body",
  permissions: "none",
  fn() {
    assert.deepEqual(decodeHeader(Uint8Array.of(0x55, 0x53, 1, 0x22, 0xff, 0xff, 0xff, 0xfe, 9)), {
      type: "block_request",
      txid: 0xfffffffe,
    });
    assert.throws(() => decodeHeader(new Uint8Array(MAX_DATAGRAM + 1)), { reason: "too_large" });
  },
});
