import assert from "node:assert/strict";
import fc from "fast-check";
import {
  decodeHeader,
  decodeMessage,
  encodeMessage,
  HEADER_SIZE,
  MAX_DATAGRAM,
  MAX_NAME_BYTES,
  MAX_OWNERS,
  type Message,
  type MessageTypeName,
  type OwnersMessage,
  REGISTER_MIN_SIZE,
  SAFE_DATAGRAM,
  WireError,
} from "../../lib/wire/mod.ts";
import { anyMessage, messages } from "./_arbitraries.ts";

const RUNS_PER_TYPE = 400;

for (const [i, type] of (Object.keys(messages) as MessageTypeName[]).entries()) {
  Deno.test({
    name: `decodeMessage() inverts encodeMessage() for every valid ${type}`,
    permissions: "none",
    fn() {
      fc.assert(
        fc.property(messages[type] as fc.Arbitrary<Message>, (m) => {
          const bytes = encodeMessage(m);
          assert.ok(bytes.byteLength >= HEADER_SIZE && bytes.byteLength <= MAX_DATAGRAM);
          assert.deepEqual(decodeMessage(bytes), m);
          assert.deepEqual(decodeHeader(bytes), { type, txid: m.txid });
        }),
        { seed: 0x55530100 + i, numRuns: RUNS_PER_TYPE },
      );
    },
  });
}

Deno.test({
  name: "encodeMessage() into a caller buffer writes the same bytes in place",
  permissions: "none",
  fn() {
    // A buffer with a non-zero byteOffset catches DataViews built over the whole ArrayBuffer.
    const backing = new ArrayBuffer(MAX_DATAGRAM + 7);
    const out = new Uint8Array(backing, 7);
    fc.assert(
      fc.property(anyMessage, (m) => {
        out.fill(0xaa);
        const fresh = encodeMessage(m);
        const used = encodeMessage(m, out);
        assert.equal(used.buffer, backing);
        assert.equal(used.byteOffset, 7);
        assert.deepEqual(used, fresh);
        assert.deepEqual(decodeMessage(used), m);
      }),
      { seed: 0x55530200, numRuns: 1000 },
    );
  },
});

Deno.test({
  name: "encodeMessage() fits an exact-size buffer and refuses one a byte short",
  permissions: "none",
  fn() {
    fc.assert(
      fc.property(anyMessage, (m) => {
        const n = encodeMessage(m).byteLength;
        assert.deepEqual(decodeMessage(encodeMessage(m, new Uint8Array(n))), m);
        assert.throws(
          () => encodeMessage(m, new Uint8Array(n - 1)),
          (e: unknown) =>
            e instanceof WireError && e.reason === "too_large" && e.offset === -1 &&
            e.message.startsWith(`Cannot encode ${m.type}: needs more than the ${n - 1}-byte`),
        );
      }),
      { seed: 0x55530300, numRuns: 500 },
    );
  },
});

Deno.test({
  name: "encodeMessage() without a buffer returns bytes that later encodes leave alone",
  permissions: "none",
  fn() {
    fc.assert(
      fc.property(anyMessage, anyMessage, (a, b) => {
        const first = encodeMessage(a);
        const copy = first.slice();
        encodeMessage(b);
        assert.deepEqual(first, copy);
        assert.equal(first.byteOffset, 0);
        assert.equal(first.buffer.byteLength, first.byteLength);
      }),
      { seed: 0x55530400, numRuns: 300 },
    );
  },
});

Deno.test({
  name: "encodeMessage() sizes: REGISTER is padded to 64, PROBE and PROBE_ACK to their size",
  permissions: "none",
  fn() {
    fc.assert(
      fc.property(messages.register, (m) => {
        assert.equal(encodeMessage(m).byteLength, REGISTER_MIN_SIZE);
      }),
      { seed: 0x55530500, numRuns: 200 },
    );
    fc.assert(
      fc.property(fc.oneof(messages.probe, messages.probe_ack), (m) => {
        const bytes = encodeMessage(m);
        assert.equal(bytes.byteLength, m.size);
        // PROBE_ACK carries the cookie before its padding
        const padding = HEADER_SIZE + 4 + (m.type === "probe_ack" ? 8 : 0);
        assert.ok(bytes.subarray(padding).every((b) => b === 0));
      }),
      { seed: 0x55530501, numRuns: 200 },
    );
  },
});

Deno.test({
  name: "encodeMessage() keeps the largest OWNERS reply under SAFE_DATAGRAM",
  permissions: "none",
  fn() {
    const owners: OwnersMessage = {
      type: "owners",
      txid: 0xffffffff,
      contentId: new Uint8Array(32).fill(0xff),
      name: "😀".repeat(MAX_NAME_BYTES >> 2) + "abc",
      size: Number.MAX_SAFE_INTEGER,
      alternatives: 0xffff,
      owners: Array.from({ length: MAX_OWNERS }, (_, i) => ({
        nodeId: `node-${i}`.padEnd(24, "x"),
        address: { family: 6 as const, host: `2001:db8:1:2:3:4:5:${i + 1}`, port: 65535 },
        rate: 0xffffffff,
      })),
    };
    const bytes = encodeMessage(owners);
    assert.equal(bytes.byteLength, 1075);
    assert.ok(bytes.byteLength <= SAFE_DATAGRAM);
    assert.deepEqual(decodeMessage(bytes), owners);
  },
});

Deno.test({
  name: "decodeMessage() copies ids but returns data as a view of the datagram",
  permissions: "none",
  fn() {
    const cid = new Uint8Array(32).fill(7);
    const own = encodeMessage({
      type: "own",
      txid: 1,
      cookie: 1n,
      nodeId: "a",
      name: "f",
      size: 1,
      contentId: cid,
    });
    const decoded = decodeMessage(own);
    own.fill(0, own.byteLength - 32);
    assert.deepEqual(decoded.type === "own" && decoded.contentId, cid);

    const block = encodeMessage({ type: "block_data", txid: 1, offset: 0, data: cid });
    const data = decodeMessage(block);
    block[block.byteLength - 1] = 9;
    assert.equal(data.type === "block_data" && data.data[31], 9);
  },
});
