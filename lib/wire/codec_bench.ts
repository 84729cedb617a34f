/**
 * Codec benchmarks (`deno bench lib/wire/codec_bench.ts`): the hot peer frame (BLOCK_DATA, at
 * the loopback size of 32 KiB and the Ethernet size of 1436 data bytes) and the largest
 * tracker reply (OWNERS with 16 IPv6 owners, 24-character ids and a 255-byte name).
 */
import {
  BLOCK_DATA_HEADER_SIZE,
  decodeMessage,
  encodeMessage,
  MAX_DATAGRAM,
  MAX_NAME_BYTES,
  MAX_OWNERS,
  type Message,
  type OwnersMessage,
  writeBlockDataHeader,
} from "./mod.ts";

const TXID = 0x9e3779b9;
const OFFSET = 5 * 2 ** 32 + 16384; // past 4 GiB, so both halves of the u64 are non-zero

/** Keeps results alive so the work cannot be optimized away. */
let sink = 0;
function consume(m: Message): void {
  if (m.type !== "block_data" && m.type !== "owners") throw new Error(`decoded ${m.type}`);
  sink = (sink + m.txid) | 0;
}

for (const size of [32 * 1024, 1436]) {
  const group = `block_data, ${size} data bytes`;
  const data = Uint8Array.from({ length: size }, (_, i) => (i * 131) & 0xff);
  const message = { type: "block_data", txid: TXID, offset: OFFSET, data } as const;

  const out = new Uint8Array(MAX_DATAGRAM);
  Deno.bench({
    name: `encodeMessage(into a reused buffer) + decodeMessage, ${size} B`,
    group,
    baseline: true,
    fn() {
      consume(decodeMessage(encodeMessage(message, out)));
    },
  });

  // The uploader's zero-copy path: file bytes are read straight into buf[16..].
  const buf = new Uint8Array(BLOCK_DATA_HEADER_SIZE + size);
  buf.set(data, BLOCK_DATA_HEADER_SIZE);
  const view = new DataView(buf.buffer);
  Deno.bench({
    name: `writeBlockDataHeader + decodeMessage, ${size} B`,
    group,
    fn() {
      writeBlockDataHeader(view, TXID, OFFSET);
      consume(decodeMessage(buf));
    },
  });
}

const owners: OwnersMessage = {
  type: "owners",
  txid: TXID,
  contentId: Uint8Array.from({ length: 32 }, (_, i) => i * 7),
  size: OFFSET,
  alternatives: 3,
  // 255 bytes: 63 four-byte characters and 3 ASCII ones.
  name: "😀".repeat(MAX_NAME_BYTES >> 2) + "abc",
  owners: Array.from({ length: MAX_OWNERS }, (_, i) => ({
    nodeId: `owner-${String(i).padStart(2, "0")}-`.padEnd(24, "x"),
    address: { family: 6 as const, host: `2001:db8:${i + 1}:ab::${(i + 1) * 17}`, port: 40000 + i },
    rate: 1_000_000 * (i + 1),
  })),
};
const ownersOut = new Uint8Array(MAX_DATAGRAM);
const ownersBytes = encodeMessage(owners);

Deno.bench({
  name: "encodeMessage(into a reused buffer) + decodeMessage, OWNERS x16",
  group: "owners (NEED reply), 16 IPv6 owners",
  baseline: true,
  fn() {
    consume(decodeMessage(encodeMessage(owners, ownersOut)));
  },
});

Deno.bench({
  name: "encodeMessage(into a reused buffer), OWNERS x16",
  group: "owners (NEED reply), 16 IPv6 owners",
  fn() {
    sink = (sink + encodeMessage(owners, ownersOut).byteLength) | 0;
  },
});

Deno.bench({
  name: "decodeMessage, OWNERS x16",
  group: "owners (NEED reply), 16 IPv6 owners",
  fn() {
    consume(decodeMessage(ownersBytes));
  },
});
