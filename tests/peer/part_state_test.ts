import assert from "node:assert/strict";
import { Bitset } from "../../lib/peer/core/bitset.ts";
import {
  decodePartState,
  encodePartState,
  maxPartStateBytes,
  PART_STATE_HEADER_SIZE,
} from "../../lib/peer/part_state.ts";

const opts = { permissions: "none" } as const;

function sample(): Uint8Array {
  const verified = new Bitset(11);
  for (const i of [0, 3, 10]) verified.set(i);
  return encodePartState({
    contentId: Uint8Array.from({ length: 32 }, (_, i) => i),
    size: 5 * 2 ** 32 + 7, // beyond 32 bits
    pieceSize: 2 ** 24,
    verified,
  });
}

Deno.test({
  name: "encodePartState() and decodePartState() round-trip a state beyond 4 GiB",
  ...opts,
  fn() {
    const bytes = sample();
    assert.equal(bytes.byteLength, PART_STATE_HEADER_SIZE + 2 + 32);
    assert.ok(bytes.byteLength <= maxPartStateBytes(11));
    const state = decodePartState(bytes)!;
    assert.equal(
      state.contentIdHex,
      "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
    );
    assert.equal(state.size, 5 * 2 ** 32 + 7);
    assert.equal(state.pieceSize, 2 ** 24);
    assert.equal(state.pieceCount, 11);
    assert.deepEqual([...Bitset.fromBytes(state.bits, 11)], [0, 3, 10]);
  },
});

Deno.test({
  name: "decodePartState() rejects a wrong magic, a wrong length and a flipped bit",
  ...opts,
  fn() {
    const good = sample();
    const magic = good.slice();
    magic[0] = magic[0]! ^ 1;
    assert.equal(decodePartState(magic), undefined);
    assert.equal(decodePartState(good.subarray(0, good.byteLength - 1)), undefined);
    assert.equal(decodePartState(good.subarray(0, 40)), undefined);
    for (const at of [10, 40, PART_STATE_HEADER_SIZE, good.byteLength - 1]) {
      const torn = good.slice();
      torn[at] = torn[at]! ^ 0x10;
      assert.equal(decodePartState(torn), undefined, `bit flipped at ${at}`);
    }
  },
});
