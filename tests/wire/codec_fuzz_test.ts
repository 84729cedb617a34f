/**
 * Totality of `decodeMessage`: random byte strings and valid frames that were truncated,
 * extended, bit-flipped or overwritten either decode to a message the encoder reproduces
 * byte for byte, or throw a WireError with a known reason and an in-bounds offset — nothing
 * else. 100,000 seeded cases in total; a failure prints the seed and path to replay it.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  BLOCK_DATA_HEADER_SIZE,
  decodeMessage,
  encodeMessage,
  HEADER_SIZE,
  MAGIC,
  MANIFEST_DATA_HEADER_SIZE,
  MAX_DATAGRAM,
  type Message,
  MessageType,
  REGISTER_MIN_SIZE,
  VERSION,
  WireError,
  type WireErrorReason,
} from "../../lib/wire/mod.ts";
import { anyMessage, bytesUpTo, txid } from "./_arbitraries.ts";

const REASONS: ReadonlySet<WireErrorReason> = new Set<WireErrorReason>([
  "truncated",
  "too_large",
  "bad_magic",
  "bad_version",
  "unknown_type",
  "bad_length",
  "bad_utf8",
  "bad_value",
  "too_many",
  "trailing_bytes",
]);

/**
 * Decodes `bytes` and checks the totality contract: a WireError with a known reason and an
 * offset inside the datagram, or a message that the encoder turns back into the same bytes
 * (padding aside: PROBE padding is ignored, REGISTER may carry more than 64 bytes of zeros).
 */
function decodeTotal(bytes: Uint8Array): Message | WireError {
  // Plain checks on the hot path: node:assert is only called to report a failure.
  let m: Message;
  try {
    m = decodeMessage(bytes);
  } catch (e) {
    if (!(e instanceof WireError)) assert.fail(`decodeMessage() threw a non-WireError: ${e}`);
    if (!REASONS.has(e.reason)) assert.fail(`unknown reason ${e.reason}`);
    if (!Number.isInteger(e.offset) || e.offset < 0 || e.offset > bytes.byteLength) {
      assert.fail(`offset ${e.offset} outside a ${bytes.byteLength}-byte datagram`);
    }
    if (!e.message.startsWith("Cannot decode ")) assert.fail(`unexpected message ${e.message}`);
    return e;
  }
  const again = encodeMessage(m);
  let expected = bytes;
  let compared = again;
  if (m.type === "register") {
    // The decoder accepts any amount of zero padding beyond the minimum.
    expected = bytes.subarray(0, REGISTER_MIN_SIZE);
  } else if (m.type === "probe" || m.type === "probe_ack") {
    // The decoder ignores PROBE / PROBE_ACK padding; the encoder writes zeros.
    if (again.byteLength !== bytes.byteLength) assert.fail("PROBE re-encodes to another size");
    const fields = HEADER_SIZE + 4 + (m.type === "probe_ack" ? 8 : 0);
    expected = bytes.subarray(0, fields);
    compared = again.subarray(0, fields);
  }
  if (!sameBytes(compared, expected)) assert.deepEqual(compared, expected);
  return m;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

function expectError(
  got: Message | WireError,
  reason: WireErrorReason,
  offset?: number,
): void {
  if (!(got instanceof WireError)) {
    assert.fail(`expected a WireError (${reason}), decoded ${JSON.stringify(got.type)}`);
  }
  assert.equal(got.reason, reason);
  if (offset !== undefined) assert.equal(got.offset, offset);
}

const typeCodes = Object.values(MessageType);

Deno.test({
  name: "decodeMessage() is total on random byte strings",
  permissions: "none",
  fn() {
    fc.assert(
      fc.property(fc.boolean(), bytesUpTo(96), (magic, bytes) => {
        if (magic && bytes.byteLength >= 2) {
          bytes[0] = MAGIC >> 8;
          bytes[1] = MAGIC & 0xff;
        }
        decodeTotal(bytes);
      }),
      { seed: 0x5553f001, numRuns: 20_000 },
    );
  },
});

Deno.test({
  name: "decodeMessage() is total on random bodies behind a valid header",
  permissions: "none",
  fn() {
    fc.assert(
      fc.property(
        fc.constantFrom(...typeCodes),
        txid,
        bytesUpTo(400),
        (type, id, body) => {
          const bytes = new Uint8Array(HEADER_SIZE + body.byteLength);
          const view = new DataView(bytes.buffer);
          view.setUint16(0, MAGIC);
          view.setUint8(2, VERSION);
          view.setUint8(3, type);
          view.setUint32(4, id);
          bytes.set(body, HEADER_SIZE);
          const got = decodeTotal(bytes);
          if (!(got instanceof WireError)) assert.equal(got.txid, id);
        },
      ),
      { seed: 0x5553f002, numRuns: 25_000 },
    );
  },
});

/** The message without its optional tail, or undefined when it has none. */
function withoutTail(m: Message): Message | undefined {
  if (m.type === "own" && m.progress) {
    const { progress: _, ...rest } = m;
    return rest;
  }
  if (m.type === "need" && m.flags !== undefined) {
    const { flags: _, ...rest } = m;
    return rest;
  }
  if (m.type === "owners" && m.owners.some((o) => o.have !== undefined)) {
    return { ...m, owners: m.owners.map(({ have: _, ...o }) => o) };
  }
  return undefined;
}

/** Bytes of the optional tail a message could still take (0: none). */
function tailBytes(m: Message): number {
  if (m.type === "own") return m.progress ? 0 : 8;
  if (m.type === "need") return m.flags !== undefined ? 0 : 1;
  if (m.type === "owners") return m.owners.some((o) => o.have !== undefined) ? 0 : m.owners.length;
  return 0;
}

Deno.test({
  name: "decodeMessage() rejects every strict prefix of a valid frame, data frames aside",
  permissions: "none",
  fn() {
    fc.assert(
      fc.property(anyMessage, fc.nat(), (m, n) => {
        const frame = encodeMessage(m);
        const cut = n % frame.byteLength;
        const got = decodeTotal(frame.subarray(0, cut));
        if (cut < HEADER_SIZE) return expectError(got, "truncated", 0);
        switch (m.type) {
          case "block_data":
          case "manifest_data": {
            const head = m.type === "block_data"
              ? BLOCK_DATA_HEADER_SIZE
              : MANIFEST_DATA_HEADER_SIZE;
            if (cut < head) return expectError(got, "truncated");
            assert.ok(!(got instanceof WireError) && got.type === m.type);
            return assert.deepEqual(got.data, m.data.subarray(0, cut - head));
          }
          case "register":
            // A complete node id followed by too little padding is a bad length.
            return cut >= HEADER_SIZE + 8 + 1 + m.nodeId.length
              ? expectError(got, "bad_length", 0)
              : expectError(got, "truncated");
          case "probe":
          case "probe_ack":
            return cut >= HEADER_SIZE + 4
              ? expectError(got, "bad_length", HEADER_SIZE)
              : expectError(got, "truncated");
          default: {
            // A frame cut exactly where its optional tail starts is the same frame without it
            const base = withoutTail(m);
            if (base !== undefined && cut === encodeMessage(base).byteLength) {
              return assert.deepEqual(got, base);
            }
            return expectError(got, "truncated");
          }
        }
      }),
      { seed: 0x5553f003, numRuns: 12_000 },
    );
  },
});

Deno.test({
  name: "decodeMessage() rejects bytes after a complete frame, data and padding aside",
  permissions: "none",
  fn() {
    fc.assert(
      fc.property(
        anyMessage,
        fc.oneof(
          fc.uint8Array({ minLength: 1, maxLength: 32 }),
          fc.integer({ min: 1, max: 32 }).map((n) => new Uint8Array(n)),
        ),
        (m, extra) => {
          const frame = encodeMessage(m);
          const n = frame.byteLength;
          const bytes = new Uint8Array(n + extra.byteLength);
          bytes.set(frame);
          bytes.set(extra, n);
          const got = decodeTotal(bytes);
          if (bytes.byteLength > MAX_DATAGRAM) return expectError(got, "too_large", 0);
          switch (m.type) {
            case "block_data":
              assert.ok(!(got instanceof WireError) && got.type === "block_data");
              return assert.equal(got.data.byteLength, m.data.byteLength + extra.byteLength);
            case "manifest_data":
              // The slice may now run past the manifest's total length.
              return m.offset + m.data.byteLength + extra.byteLength <= m.total
                ? assert.ok(!(got instanceof WireError) && got.type === "manifest_data")
                : expectError(got, "bad_value", HEADER_SIZE + 32);
            case "register": {
              const nonZero = extra.findIndex((b) => b !== 0);
              return nonZero < 0
                ? assert.deepEqual(got, m)
                : expectError(got, "bad_value", REGISTER_MIN_SIZE + nonZero);
            }
            case "probe":
            case "probe_ack":
              return expectError(got, "bad_length", HEADER_SIZE);
            default: {
              // Without its optional tail, the first bytes after the frame are read as the tail
              const tail = tailBytes(m);
              if (tail === 0) return expectError(got, "trailing_bytes", n);
              if (extra.byteLength < tail) return expectError(got, "truncated");
              if (got instanceof WireError && got.reason === "bad_value") return; // a bad tail
              if (extra.byteLength === tail) return assert.ok(!(got instanceof WireError));
              return expectError(got, "trailing_bytes", n + tail);
            }
          }
        },
      ),
      { seed: 0x5553f004, numRuns: 8_000 },
    );
  },
});

/** Bit positions biased to the first 64 bytes, where the header and the fields live. */
const bitPosition = fc.oneof(fc.nat({ max: 64 * 8 - 1 }), fc.nat());

Deno.test({
  name: "decodeMessage() is total on bit-flipped valid frames",
  permissions: "none",
  fn() {
    fc.assert(
      fc.property(
        anyMessage,
        fc.array(bitPosition, { minLength: 1, maxLength: 4 }),
        (m, flips) => {
          const bytes = encodeMessage(m);
          for (const f of flips) {
            const bit = f % (bytes.byteLength * 8);
            bytes[bit >> 3]! ^= 0x80 >> (bit & 7);
          }
          decodeTotal(bytes);
        },
      ),
      { seed: 0x5553f005, numRuns: 22_000 },
    );
  },
});

const u8Any = fc.integer({ min: 0, max: 0xff });
/** Byte values at the edges of the codec's checks: counts, lengths, kinds, families. */
const edgeByte = fc.constantFrom(0x00, 0x01, 0x02, 0x04, 0x06, 0x10, 0x11, 0x18, 0x19, 0x7f, 0xff);

Deno.test({
  name: "decodeMessage() is total on valid frames with bytes overwritten",
  permissions: "none",
  fn() {
    fc.assert(
      fc.property(
        anyMessage,
        fc.array(fc.tuple(fc.oneof(fc.nat({ max: 63 }), fc.nat()), fc.oneof(u8Any, edgeByte)), {
          minLength: 1,
          maxLength: 3,
        }),
        (m, writes) => {
          const bytes = encodeMessage(m);
          for (const [at, value] of writes) bytes[at % bytes.byteLength] = value;
          decodeTotal(bytes);
        },
      ),
      { seed: 0x5553f006, numRuns: 13_000 },
    );
  },
});
