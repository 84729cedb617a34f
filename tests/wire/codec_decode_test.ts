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
import { blockRequest, cid, have, manifestRequest, need, owners } from "./_messages.ts";

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

const register: Message = { type: "register", txid: 1, cookie: 0n, nodeId: "a" };
// MANIFEST_DATA: total 40..43, offset 44..47, data 48..
const manifestData = (total: number, offset: number, data: number): Message => ({
  type: "manifest_data",
  txid: 1,
  contentId: cid,
  total,
  offset,
  data: new Uint8Array(data),
});
const probe: Message = { type: "probe", txid: 1, size: 20 };
const probeAck: Message = { type: "probe_ack", txid: 1, size: 24, cookie: 9n };

/** Each malformed datagram: what it is → its bytes, the reason and the offset reported. */
const cases: Record<string, [Uint8Array, WireErrorReason, number]> = {
  "an empty datagram": [new Uint8Array(0), "truncated", 0],
  "a 7-byte header": [header(1).subarray(0, 7), "truncated", 0],
  "a datagram over 65507 bytes (before looking at the magic)": [
    new Uint8Array(MAX_DATAGRAM + 1),
    "too_large",
    0,
  ],
  "a bad magic": [Uint8Array.of(0x55, 0x54, 1, 8, 0, 0, 0, 0), "bad_magic", 0],
  "version 0": [Uint8Array.of(0x55, 0x53, 0, 8, 0, 0, 0, 0), "bad_version", 2],
  "version 2": [Uint8Array.of(0x55, 0x53, 2, 8, 0, 0, 0, 0), "bad_version", 2],
  "type 0x00": [header(0x00), "unknown_type", 3],
  "type 0x0e": [header(0x0e), "unknown_type", 3],
  "type 0x1f": [header(0x1f), "unknown_type", 3],
  "type 0x28": [header(0x28), "unknown_type", 3],
  "type 0xff": [header(0xff), "unknown_type", 3],
  "a LIST with match 0": [patch(list, 24, [0]), "bad_value", 24],
  "a LIST with match 4": [patch(list, 24, [4]), "bad_value", 24],
  "a LIST cut inside its cursor": [encodeMessage(list).subarray(0, 21), "truncated", 19],
  "a LIST whose pattern is not UTF-8": [patch(list, 26, [0xff]), "bad_utf8", 26],
  "a LIST with a byte after the pattern": [patch(list, 27, [0]), "trailing_bytes", 27],
  "a LISTING with 33 entries": [patch(listing, 16, [33]), "too_many", 16],
  "a LISTING entry with a size over 2^53-1": [patch(listing, 49, [0x00, 0x20]), "bad_value", 49],
  "a LISTING entry with an empty name": [patch(listing, 61, [0]), "bad_length", 61],
  "a LISTING that promises more entries than it carries": [
    patch(listing, 16, [2]),
    "truncated",
    63,
  ],
  "an ACK with a trailing byte": [header(0x08, [0]), "trailing_bytes", 8],
  "a REGISTER without padding": [header(0x01, [0, 0, 0, 0, 0, 0, 0, 0, 1, 0x61]), "bad_length", 0],
  "a REGISTER padded to 63 bytes": [encodeMessage(register).subarray(0, 63), "bad_length", 0],
  "a REGISTER with a non-zero padding byte": [patch(register, 40, [1]), "bad_value", 40],
  "a REGISTER with an empty node id": [patch(register, 16, [0]), "bad_length", 16],
  "a REGISTER with a 25-byte node id": [
    patch(register, 16, [
      25,
      ...Array(25).fill(0x61),
    ]),
    "bad_length",
    16,
  ],
  "a REGISTER with '/' in the node id": [
    patch({ ...register, nodeId: "aaa" } as Message, 18, [0x2f]),
    "bad_value",
    16,
  ],
  "an OWN with an empty name": [patch(own, 19, [0]), "bad_length", 19],
  "an OWN whose name runs past the end": [patch(own, 19, [200]), "truncated", 20],
  "an OWN name with a stray continuation byte": [patch(own, 20, [0x80]), "bad_utf8", 20],
  "an OWN name with an overlong NUL (C0 80)": [patch(own, 20, [0xc0, 0x80]), "bad_utf8", 20],
  "an OWN name with an encoded surrogate (ED A0 80)": [
    patch({ ...own, name: "xyz" } as Message, 20, [0xed, 0xa0, 0x80]),
    "bad_utf8",
    20,
  ],
  "an OWN size of 2^53": [patch(own, 22, [0, 0x20, 0, 0, 0, 0, 0, 0]), "bad_value", 22],
  "an OWN size with the top bit set": [
    patch(own, 22, [0x80, 0, 0, 0, 0, 0, 0, 0]),
    "bad_value",
    22,
  ],
  "an OWN one byte short of its content id": [encodeMessage(own).subarray(0, 61), "truncated", 30],
  "a NEED want kind 0": [patch(need, 20, [0]), "bad_value", 20],
  "a NEED want kind 3": [patch(need, 20, [3]), "bad_value", 20],
  "OWNERS with 17 owners": [patch(owners, 52, [17]), "too_many", 52],
  "OWNERS claiming 2 owners but carrying 1": [patch(owners, 52, [2]), "truncated", 66],
  "OWNERS with address family 5": [patch(owners, 55, [5]), "bad_value", 55],
  "an ERROR text of 201 bytes": [
    header(0x09, [0, 1, 201, ...Array(201).fill(0x61)]),
    "bad_length",
    10,
  ],
  "a MANIFEST_REQUEST maxDatagram of 63": [
    patch(manifestRequest, 52, [0, 0, 0, 63]),
    "bad_value",
    52,
  ],
  "a MANIFEST_REQUEST maxDatagram of 65508": [
    patch(manifestRequest, 52, [0, 0, 0xff, 0xe4]),
    "bad_value",
    52,
  ],
  "MANIFEST_DATA with a total over 64 MiB": [
    patch(manifestData(1, 0, 0), 40, [0x04, 0, 0, 1]),
    "bad_value",
    40,
  ],
  "MANIFEST_DATA running past its total": [
    patch(manifestData(4, 2, 2), 48, [0, 0, 0]),
    "bad_value",
    40,
  ],
  "a BLOCK_REQUEST blockSize of 0": [patch(blockRequest, 48, [0, 0, 0, 0]), "bad_value", 48],
  "a BLOCK_REQUEST blockSize of 65492": [
    patch(blockRequest, 48, [0, 0, 0xff, 0xd4]),
    "bad_value",
    48,
  ],
  "a BLOCK_REQUEST with 0 ranges": [patch(blockRequest, 52, [0]), "bad_value", 52],
  "a BLOCK_REQUEST with 65 ranges": [patch(blockRequest, 52, [65]), "too_many", 52],
  "a BLOCK_REQUEST with an empty range": [patch(blockRequest, 61, [0, 0, 0, 0]), "bad_value", 61],
  "a BLOCK_REQUEST range ending past 2^53-1": [
    patch(blockRequest, 53, [0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
    "bad_value",
    61,
  ],
  "HAVE with firstPiece past pieceCount": [patch(have, 44, [0, 0, 0, 17]), "bad_value", 44],
  "HAVE with a 1025-byte bitfield": [patch(have, 48, [0x04, 0x01]), "bad_length", 48],
  "HAVE with a bitfield shorter than declared": [patch(have, 48, [0, 3]), "truncated", 50],
  "a PROBE whose size field disagrees with its length": [
    patch(probe, 8, [0, 0, 0, 21]),
    "bad_length",
    8,
  ],
  "a PROBE without a size field": [header(0x25, [0, 0]), "truncated", 8],
  "a PROBE_ACK of 19 bytes (no room for the cookie)": [
    header(0x26, [0, 0, 0, 19, 1, 2, 3, 4, 5, 6, 7]),
    "bad_length",
    8,
  ],
  "a PROBE_ACK whose size field disagrees with its length": [
    patch(probeAck, 8, [0, 0, 0, 25]),
    "bad_length",
    8,
  ],
};

for (const [what, [bytes, reason, offset]] of Object.entries(cases)) {
  Deno.test({
    name: `decodeMessage() rejects ${what}`,
    permissions: "none",
    fn() {
      assert.throws(() => decodeMessage(bytes), (e: unknown) => {
        assert.ok(e instanceof WireError, `expected a WireError, got ${e}`);
        assert.equal(e.name, "WireError");
        assert.equal(e.reason, reason, e.message);
        assert.equal(e.offset, offset, e.message);
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
