/** Encoders refuse values that do not fit the wire format, with a clear error. */
import assert from "node:assert/strict";
import {
  encodeMessage,
  type ListMessage,
  MAX_DATAGRAM,
  type Message,
  type OwnMessage,
  WireError,
  writeBlockDataHeader,
} from "../../lib/wire/mod.ts";
import { blockRequest, cid, have, manifestRequest, need, owner, owners } from "./_messages.ts";

const own: OwnMessage = {
  type: "own",
  txid: 1,
  cookie: 1n,
  nodeId: "alice",
  name: "file.bin",
  size: 10,
  contentId: cid,
};

const list: ListMessage = {
  type: "list",
  txid: 1,
  cookie: 1n,
  nodeId: "a",
  cursor: 0,
  maxEntries: 0,
  match: "substring",
  pattern: "",
};
const entry = { contentId: cid, size: 1, owners: 1, name: "x" };

/** Casts a deliberately malformed message past the type checker. */
const bad = (m: unknown) => m as Message;

const cases: {
  what: string;
  msg: Message;
  error: typeof RangeError | typeof TypeError;
  message: RegExp;
}[] = [
  {
    what: "a LIST with an unknown match kind",
    msg: bad({ ...list, match: "regex" }),
    error: TypeError,
    message: /^Cannot encode list: match must be substring, glob or exact, got "regex"$/,
  },
  {
    what: "a LIST with a 256-byte pattern",
    msg: { ...list, pattern: "p".repeat(256) },
    error: RangeError,
    message: /^Cannot encode list: pattern is 256 bytes of UTF-8, expected 0\.\.255$/,
  },
  {
    what: "a LIST asking for 256 entries",
    msg: { ...list, maxEntries: 256 },
    error: RangeError,
    message: /maxEntries must be an integer in 0\.\.255, got 256/,
  },
  {
    what: "a LISTING with 33 entries",
    msg: { type: "listing", txid: 1, total: 33, nextCursor: 0, entries: Array(33).fill(entry) },
    error: RangeError,
    message: /^Cannot encode listing: 33 entries, at most 32 allowed$/,
  },
  {
    what: "a LISTING entry with an empty name",
    msg: { type: "listing", txid: 1, total: 1, nextCursor: 0, entries: [{ ...entry, name: "" }] },
    error: RangeError,
    message: /entry name is 0 bytes of UTF-8, expected 1\.\.255/,
  },
  {
    what: "a 256-byte name",
    msg: { ...own, name: "n".repeat(256) },
    error: RangeError,
    message: /^Cannot encode own: name is 256 bytes of UTF-8, expected 1\.\.255$/,
  },
  {
    what: "a name of 128 two-byte characters (counted in bytes, not characters)",
    msg: { ...own, name: "é".repeat(128) },
    error: RangeError,
    message: /^Cannot encode own: name is 256 bytes of UTF-8, expected 1\.\.255$/,
  },
  {
    what: "an empty name",
    msg: { ...own, name: "" },
    error: RangeError,
    message: /name is 0 bytes of UTF-8, expected 1\.\.255/,
  },
  {
    what: "a NEED for an empty name",
    msg: { ...need, want: { kind: "name", name: "" } },
    error: RangeError,
    message: /^Cannot encode need: name is 0 bytes of UTF-8/,
  },
  {
    what: "a name with a lone surrogate (TextEncoder would turn it into U+FFFD)",
    msg: { ...own, name: "abc\ud800" },
    error: TypeError,
    message: /^Cannot encode own: name must be a well-formed Unicode string$/,
  },
  {
    what: "a name that is not a string",
    msg: bad({ ...own, name: 42 }),
    error: TypeError,
    message: /name must be a well-formed Unicode string/,
  },
  {
    what: "a node id with '/'",
    msg: { ...own, nodeId: "a/b" },
    error: RangeError,
    message: /^Cannot encode own: node id "a\/b" must be 1\.\.24 characters of \[A-Za-z0-9\._-\]$/,
  },
  {
    what: "a 25-character node id",
    msg: { ...own, nodeId: "x".repeat(25) },
    error: RangeError,
    message: /node id "x{25}" must be 1\.\.24 characters/,
  },
  {
    what: "an empty node id",
    msg: { type: "exit", txid: 1, cookie: 1n, nodeId: "" },
    error: RangeError,
    message: /^Cannot encode exit: node id "" must be/,
  },
  {
    what: "a non-ASCII node id",
    msg: { type: "update", txid: 1, cookie: 1n, nodeId: "café", uploaded: 0 },
    error: RangeError,
    message: /^Cannot encode update: node id "café" must be/,
  },
  {
    what: "an owner's bad node id",
    msg: { ...owners, owners: [{ ...owner, nodeId: "has space" }] },
    error: RangeError,
    message: /^Cannot encode owners: node id "has space"/,
  },
  {
    what: "17 owners",
    msg: { ...owners, owners: Array.from({ length: 17 }, () => owner) },
    error: RangeError,
    message: /^Cannot encode owners: 17 owners, at most 16 allowed$/,
  },
  {
    what: "a 31-byte content id",
    msg: { ...own, contentId: new Uint8Array(31) },
    error: RangeError,
    message: /^Cannot encode own: contentId must be 32 bytes$/,
  },
  {
    what: "a 33-byte content id in a NEED",
    msg: { ...need, want: { kind: "content", contentId: new Uint8Array(33) } },
    error: RangeError,
    message: /^Cannot encode need: contentId must be 32 bytes$/,
  },
  {
    what: "a content id that is a plain array",
    msg: bad({ ...have, contentId: Array.from(cid) }),
    error: RangeError,
    message: /^Cannot encode have: contentId must be 32 bytes$/,
  },
  {
    what: "a negative txid",
    msg: { type: "ack", txid: -1 },
    error: RangeError,
    message: /^Cannot encode ack: txid must be an integer in 0\.\.4294967295, got -1$/,
  },
  {
    what: "a txid of 2^32",
    msg: { type: "ack", txid: 2 ** 32 },
    error: RangeError,
    message: /txid must be an integer in 0\.\.4294967295, got 4294967296/,
  },
  {
    what: "a fractional txid",
    msg: { type: "ack", txid: 1.5 },
    error: RangeError,
    message: /txid must be an integer in 0\.\.4294967295, got 1\.5/,
  },
  {
    what: "a size of 2^53",
    msg: { ...own, size: 2 ** 53 },
    error: RangeError,
    message:
      /^Cannot encode own: size must be an integer in 0\.\.9007199254740991, got 9007199254740992$/,
  },
  {
    what: "a negative size",
    msg: { ...owners, size: -1 },
    error: RangeError,
    message: /size must be an integer in 0\.\.9007199254740991, got -1/,
  },
  {
    what: "a NaN upload count",
    msg: { type: "update", txid: 1, cookie: 1n, nodeId: "a", uploaded: NaN },
    error: RangeError,
    message: /uploaded must be an integer in 0\.\.9007199254740991, got NaN/,
  },
  {
    what: "a cookie of 2^64",
    msg: { type: "exit", txid: 1, cookie: 2n ** 64n, nodeId: "a" },
    error: RangeError,
    message: /^Cannot encode exit: cookie must be a 64-bit unsigned bigint$/,
  },
  {
    what: "a negative cookie",
    msg: { type: "register", txid: 1, cookie: -1n, nodeId: "a" },
    error: RangeError,
    message: /cookie must be a 64-bit unsigned bigint/,
  },
  {
    what: "a cookie that is a number",
    msg: bad({ type: "registered", txid: 1, cookie: 5, intervalMs: 1, evictAfterMs: 1 }),
    error: RangeError,
    message: /^Cannot encode registered: cookie must be a 64-bit unsigned bigint$/,
  },
  {
    what: "an interval of 2^32 ms",
    msg: { type: "registered", txid: 1, cookie: 1n, intervalMs: 2 ** 32, evictAfterMs: 1 },
    error: RangeError,
    message: /intervalMs must be an integer in 0\.\.4294967295/,
  },
  {
    what: "65536 alternatives",
    msg: { ...owners, alternatives: 65536 },
    error: RangeError,
    message: /alternatives must be an integer in 0\.\.65535, got 65536/,
  },
  {
    what: "a maxOwners of 256",
    msg: { ...need, want: { kind: "name", name: "x" }, maxOwners: 256 },
    error: RangeError,
    message: /maxOwners must be an integer in 0\.\.255, got 256/,
  },
  {
    what: "an owner port of 65536",
    msg: { ...owners, owners: [{ ...owner, address: { ...owner.address, port: 65536 } }] },
    error: RangeError,
    message: /owner address port must be an integer in 0\.\.65535, got 65536/,
  },
  {
    what: "an owner rate of 2^32",
    msg: { ...owners, owners: [{ ...owner, rate: 2 ** 32 }] },
    error: RangeError,
    message: /owner rate must be an integer in 0\.\.4294967295/,
  },
  {
    what: "address family 5",
    msg: bad({
      ...owners,
      owners: [{ ...owner, address: { family: 5, host: "1.2.3.4", port: 1 } }],
    }),
    error: RangeError,
    message: /^Cannot encode owners: owner address family must be 4 or 6$/,
  },
  {
    what: "family 4 with a non-IPv4 host",
    msg: { ...owners, owners: [{ ...owner, address: { family: 4, host: "1.2.3", port: 1 } }] },
    error: TypeError,
    message: /^Cannot encode owners: owner address host "1\.2\.3" is not IPv4$/,
  },
  {
    what: "family 6 with an IPv4 host",
    msg: { ...owners, owners: [{ ...owner, address: { family: 6, host: "1.2.3.4", port: 1 } }] },
    error: TypeError,
    message: /owner address host "1\.2\.3\.4" is not IPv6/,
  },
  {
    what: "family 4 with a host name",
    msg: { ...owners, owners: [{ ...owner, address: { family: 4, host: "localhost", port: 1 } }] },
    error: TypeError,
    message: /host "localhost" is not IPv4/,
  },
  {
    what: "a 201-byte ERROR text",
    msg: { type: "error", txid: 1, code: 1, text: "t".repeat(201) },
    error: RangeError,
    message: /^Cannot encode error: text is 201 bytes of UTF-8, expected 0\.\.200$/,
  },
  {
    what: "an ERROR code of 65536",
    msg: { type: "error", txid: 1, code: 65536, text: "" },
    error: RangeError,
    message: /code must be an integer in 0\.\.65535/,
  },
  {
    what: "a maxDatagram of 63",
    msg: { ...manifestRequest, maxDatagram: 63 },
    error: RangeError,
    message: /^Cannot encode manifest_request: maxDatagram must be 64\.\.65507$/,
  },
  {
    what: "a maxDatagram of 65508",
    msg: { ...manifestRequest, maxDatagram: 65508 },
    error: RangeError,
    message: /maxDatagram must be 64\.\.65507/,
  },
  {
    what: "a manifest over 64 MiB",
    msg: {
      type: "manifest_data",
      txid: 1,
      contentId: cid,
      total: 64 * 1024 * 1024 + 1,
      offset: 0,
      data: new Uint8Array(1),
    },
    error: RangeError,
    message: /^Cannot encode manifest_data: slice 0\+1 exceeds total 67108865 \(max 67108864\)$/,
  },
  {
    what: "a manifest slice past the total",
    msg: {
      type: "manifest_data",
      txid: 1,
      contentId: cid,
      total: 10,
      offset: 8,
      data: new Uint8Array(3),
    },
    error: RangeError,
    message: /slice 8\+3 exceeds total 10/,
  },
  {
    what: "a blockSize of 0",
    msg: { ...blockRequest, blockSize: 0 },
    error: RangeError,
    message: /^Cannot encode block_request: blockSize must be 1\.\.65491, got 0$/,
  },
  {
    what: "a blockSize that makes BLOCK_DATA exceed 65507 bytes",
    msg: { ...blockRequest, blockSize: 65492 },
    error: RangeError,
    message: /blockSize must be 1\.\.65491, got 65492/,
  },
  {
    what: "no ranges",
    msg: { ...blockRequest, ranges: [] },
    error: RangeError,
    message: /^Cannot encode block_request: 0 ranges, expected 1\.\.64$/,
  },
  {
    what: "65 ranges",
    msg: { ...blockRequest, ranges: Array.from({ length: 65 }, () => ({ offset: 0, length: 1 })) },
    error: RangeError,
    message: /65 ranges, expected 1\.\.64/,
  },
  {
    what: "an empty range",
    msg: { ...blockRequest, ranges: [{ offset: 0, length: 0 }] },
    error: RangeError,
    message: /^Cannot encode block_request: a range is empty$/,
  },
  {
    what: "a range longer than 2^32-1",
    msg: { ...blockRequest, ranges: [{ offset: 0, length: 2 ** 32 }] },
    error: RangeError,
    message: /range length must be an integer in 0\.\.4294967295/,
  },
  {
    what: "a range ending past 2^53-1 (the decoder would reject it)",
    msg: { ...blockRequest, ranges: [{ offset: Number.MAX_SAFE_INTEGER, length: 1 }] },
    error: RangeError,
    message: /^Cannot encode block_request: range 9007199254740991\+1 ends past 2\^53-1$/,
  },
  {
    what: "a 1025-byte bitfield",
    msg: { ...have, bits: new Uint8Array(1025) },
    error: RangeError,
    message: /^Cannot encode have: 1025 bitfield bytes, at most 1024$/,
  },
  {
    what: "a firstPiece past pieceCount (the decoder would reject it)",
    msg: { ...have, pieceCount: 8, firstPiece: 9 },
    error: RangeError,
    message: /^Cannot encode have: firstPiece 9 is past pieceCount 8$/,
  },
  {
    what: "a probe of 11 bytes",
    msg: { type: "probe", txid: 1, size: 11 },
    error: RangeError,
    message: /^Cannot encode probe: size must be 12\.\.65507, got 11$/,
  },
  {
    what: "a probe_ack over 65507 bytes",
    msg: { type: "probe_ack", txid: 1, size: 65508, cookie: 1n },
    error: RangeError,
    message: /^Cannot encode probe_ack: size must be 20\.\.65507, got 65508$/,
  },
  {
    what: "a probe_ack of 19 bytes (no room for the cookie)",
    msg: { type: "probe_ack", txid: 1, size: 19, cookie: 1n },
    error: RangeError,
    message: /^Cannot encode probe_ack: size must be 20\.\.65507, got 19$/,
  },
  {
    what: "a block_request cookie of 2^64",
    msg: { ...blockRequest, cookie: 2n ** 64n },
    error: RangeError,
    message: /cookie/,
  },
  {
    what: "an unknown type",
    msg: bad({ type: "bogus", txid: 1 }),
    error: TypeError,
    message: /^Cannot encode message: unknown type "bogus"$/,
  },
  {
    what: "a type named like an Object.prototype member",
    msg: bad({ type: "constructor", txid: 1 }),
    error: TypeError,
    message: /^Cannot encode message: unknown type "constructor"$/,
  },
];

for (const c of cases) {
  Deno.test({
    name: `encodeMessage() refuses ${c.what}`,
    permissions: "none",
    fn() {
      assert.throws(() => encodeMessage(c.msg), (e: unknown) => {
        assert.ok(e instanceof c.error, `expected ${c.error.name}, got ${e}`);
        assert.match(e.message, c.message);
        return true;
      });
    },
  });
}

Deno.test({
  name: "encodeMessage() refuses a frame larger than 65507 bytes with a WireError",
  permissions: "none",
  fn() {
    const data = new Uint8Array(MAX_DATAGRAM - 16 + 1);
    assert.throws(
      () => encodeMessage({ type: "block_data", txid: 1, offset: 0, data }),
      (e: unknown) =>
        e instanceof WireError && e.reason === "too_large" && e.offset === -1 &&
        /^Cannot encode block_data: needs more than the 65507-byte buffer$/.test(e.message),
    );
    // One byte less fits exactly.
    const ok = encodeMessage({ type: "block_data", txid: 1, offset: 0, data: data.subarray(1) });
    assert.equal(ok.byteLength, MAX_DATAGRAM);
  },
});

Deno.test({
  name: "writeBlockDataHeader() refuses a txid or offset that would wrap",
  permissions: "none",
  fn() {
    const view = new DataView(new ArrayBuffer(16));
    for (const txid of [-1, 2 ** 32, 0.5, NaN]) {
      assert.throws(
        () => writeBlockDataHeader(view, txid, 0),
        (e: unknown) =>
          e instanceof RangeError &&
          e.message ===
            `Cannot encode block_data: txid must be an integer in 0..4294967295, got ${txid}`,
      );
    }
    for (const offset of [-1, 2 ** 53, 1.5, Infinity]) {
      assert.throws(
        () => writeBlockDataHeader(view, 1, offset),
        (e: unknown) =>
          e instanceof RangeError &&
          e.message ===
            `Cannot encode block_data: offset must be an integer in 0..9007199254740991, got ${offset}`,
      );
    }
    assert.equal(writeBlockDataHeader(view, 0xffffffff, Number.MAX_SAFE_INTEGER), 16);
  },
});
