import assert from "node:assert/strict";
import { encodeMessage } from "../../lib/wire/codec.ts";
import {
  blockDataTxid,
  readBlockDataOffset,
  writeBlockDataHeader,
} from "../../lib/wire/block_data.ts";

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

Deno.test({
  name:
    "readBlockDataOffset() reads the u64 offset that encodeMessage() and writeBlockDataHeader() write",
  permissions: "none",
  fn() {
    for (
      const offset of [0, 1, 0xffffffff, 2 ** 32, 5 * 2 ** 32 + 16384, Number.MAX_SAFE_INTEGER]
    ) {
      const encoded = encodeMessage({
        type: "block_data",
        txid: 1,
        offset,
        data: new Uint8Array(2),
      });
      assert.equal(readBlockDataOffset(encoded), offset, `encodeMessage, offset ${offset}`);
      // a view into a larger, reused receive buffer, at a non-zero byteOffset
      const buffer = new Uint8Array(64).fill(0xee);
      const view = buffer.subarray(5, 5 + 18);
      writeBlockDataHeader(new DataView(buffer.buffer, 5), 0x80000001, offset);
      assert.equal(blockDataTxid(view), 0x80000001);
      assert.equal(readBlockDataOffset(view), offset, `writeBlockDataHeader, offset ${offset}`);
    }
  },
});
