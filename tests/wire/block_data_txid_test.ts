import assert from "node:assert/strict";
import { blockDataTxid, encodeMessage } from "../../lib/wire/codec.ts";

Deno.test({
  name: "blockDataTxid() reads the txid of a BLOCK_DATA datagram and refuses everything else",
  permissions: "none",
  fn() {
    const block = encodeMessage({
      type: "block_data",
      txid: 0xfedcba98,
      offset: 5 * 2 ** 32,
      data: new Uint8Array(3),
    });
    assert.equal(blockDataTxid(block), 0xfedcba98);
    assert.equal(blockDataTxid(block.subarray(0, 15)), -1, "shorter than the header");
    for (const [i, v] of [[0, 0], [1, 0], [2, 9]] as const) {
      const bad = block.slice();
      bad[i] = v;
      assert.equal(blockDataTxid(bad), -1, `byte ${i} changed`);
    }
    assert.equal(blockDataTxid(encodeMessage({ type: "ack", txid: 7 })), -1, "another type");
  },
});
