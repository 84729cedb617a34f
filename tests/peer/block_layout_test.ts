import assert from "node:assert/strict";
import { BlockLayout, DEFAULT_MAX_BLOCK } from "../../lib/peer/core/block_layout.ts";
import { BLOCK_DATA_HEADER_SIZE, MAX_DATAGRAM, SAFE_DATAGRAM } from "../../lib/wire/limits.ts";

const opts = { permissions: "none" } as const;
const KiB = 1024;
const GiB = 1024 ** 3;

Deno.test("BlockLayout.blockSizeFor() evens out the blocks of a piece", opts, () => {
  for (const pieceSize of [1, 1000, 1184, 1185, 65536, 256 * KiB, 1000 * 1000, 4 * 1024 * KiB]) {
    for (const maxDatagram of [SAFE_DATAGRAM, 1452, 9000, MAX_DATAGRAM]) {
      const cap = Math.min(DEFAULT_MAX_BLOCK, maxDatagram - BLOCK_DATA_HEADER_SIZE);
      const size = BlockLayout.blockSizeFor(pieceSize, maxDatagram);
      const what = `piece ${pieceSize}, datagram ${maxDatagram}`;
      assert.ok(size >= 1 && size <= cap, `${what}: block ${size} exceeds ${cap}`);
      assert.ok(size + BLOCK_DATA_HEADER_SIZE <= maxDatagram, `${what}: datagram too big`);
      const layout = new BlockLayout(pieceSize, pieceSize, size);
      // As few blocks as the cap allows, and the last one is not a runt.
      assert.equal(layout.blockCount(0), Math.ceil(pieceSize / cap), what);
      const last = layout.blockLength(0, layout.blockCount(0) - 1);
      assert.ok(last > size - layout.blockCount(0), `${what}: last block ${last} of ${size}`);
    }
  }
});

Deno.test("BlockLayout.blockSizeFor() uses 1184 data bytes for a 1200-byte path", opts, () => {
  assert.equal(BlockLayout.blockSizeFor(1184 * 10, SAFE_DATAGRAM), 1184);
  // 256 KiB needs 222 blocks of at most 1184 bytes; evened out they are 1181 bytes.
  assert.equal(BlockLayout.blockSizeFor(256 * KiB, SAFE_DATAGRAM), 1181);
});

Deno.test("BlockLayout.blockSizeFor() honours maxBlock and tiny datagrams", opts, () => {
  assert.equal(BlockLayout.blockSizeFor(1 << 20, MAX_DATAGRAM), DEFAULT_MAX_BLOCK);
  assert.equal(BlockLayout.blockSizeFor(1 << 20, MAX_DATAGRAM, 4096), 4096);
  assert.equal(BlockLayout.blockSizeFor(100, BLOCK_DATA_HEADER_SIZE), 1);
  assert.equal(BlockLayout.blockSizeFor(100, 0), 1);
});

Deno.test("BlockLayout rejects a non-positive piece or block size", opts, () => {
  assert.throws(() => new BlockLayout(10, 0, 1), RangeError);
  assert.throws(() => new BlockLayout(10, 1, 0), RangeError);
  assert.throws(() => new BlockLayout(10, 1, NaN), RangeError);
  assert.throws(
    () => new BlockLayout(10, -4, 1),
    /piece size -4 and block size 1 must be positive/,
  );
});

Deno.test("BlockLayout clamps the block size to the piece size", opts, () => {
  const layout = new BlockLayout(1000, 100, 4096);
  assert.equal(layout.blockSize, 100);
  assert.equal(layout.blocksPerPiece, 1);
  assert.equal(layout.locate(300, 100), 3);
});

Deno.test("BlockLayout makes the last piece and its last block shorter", opts, () => {
  // 10 000 bytes, pieces of 4096, blocks of 1000: pieces 4096, 4096, 1808.
  const layout = new BlockLayout(10_000, 4096, 1000);
  assert.equal(layout.pieceCount, 3);
  assert.equal(layout.blocksPerPiece, 5);
  assert.deepEqual([0, 1, 2].map((p) => layout.pieceLength(p)), [4096, 4096, 1808]);
  assert.deepEqual([0, 1, 2].map((p) => layout.blockCount(p)), [5, 5, 2]);
  assert.equal(layout.blockLength(0, 4), 96);
  assert.equal(layout.blockLength(2, 0), 1000);
  assert.equal(layout.blockLength(2, 1), 808);
  assert.equal(layout.pieceOffset(2), 8192);
  assert.equal(layout.blockStart(1), 1000);
  assert.equal(layout.locate(8192 + 1000, 808), 2 * 5 + 1);
});

Deno.test("BlockLayout handles 0-byte and 1-byte files", opts, () => {
  const empty = new BlockLayout(0, 4096, 1000);
  assert.equal(empty.pieceCount, 0);
  assert.equal(empty.locate(0, 0), -1);
  const one = new BlockLayout(1, 4096, 1000);
  assert.equal(one.pieceCount, 1);
  assert.equal(one.pieceLength(0), 1);
  assert.equal(one.blockCount(0), 1);
  assert.equal(one.locate(0, 1), 0);
  assert.equal(one.locate(0, 1000), -1);
});

Deno.test("BlockLayout.locate() finds every block and only whole blocks", opts, () => {
  const layout = new BlockLayout(10_000, 4096, 1000);
  const seen = new Set<number>();
  for (let p = 0; p < layout.pieceCount; p++) {
    for (let b = 0; b < layout.blockCount(p); b++) {
      const id = layout.locate(
        layout.pieceOffset(p) + layout.blockStart(b),
        layout.blockLength(p, b),
      );
      assert.equal(id, p * layout.blocksPerPiece + b);
      seen.add(id);
    }
  }
  assert.equal(seen.size, 5 + 5 + 2);
});

Deno.test("BlockLayout.locate() rejects misaligned offsets", opts, () => {
  const layout = new BlockLayout(10_000, 4096, 1000);
  assert.equal(layout.locate(1, 1000), -1);
  assert.equal(layout.locate(999, 1000), -1);
  assert.equal(layout.locate(4096 + 500, 1000), -1);
  assert.equal(layout.locate(4000, 1000), -1, "a block never crosses a piece boundary");
  assert.equal(layout.locate(0.5, 1000), -1);
});

Deno.test("BlockLayout.locate() rejects a wrong length", opts, () => {
  const layout = new BlockLayout(10_000, 4096, 1000);
  assert.equal(layout.locate(0, 999), -1);
  assert.equal(layout.locate(0, 1001), -1);
  assert.equal(layout.locate(0, 0), -1);
  assert.equal(layout.locate(4000, 1000), -1, "the last block of a piece is 96 bytes");
  assert.equal(layout.locate(4000, 96), 4);
  assert.equal(layout.locate(9192, 1000), -1, "the last block of the file is 808 bytes");
});

Deno.test("BlockLayout.locate() rejects data outside the file", opts, () => {
  const layout = new BlockLayout(10_000, 4096, 1000);
  assert.equal(layout.locate(-1000, 1000), -1);
  assert.equal(layout.locate(10_000, 1), -1);
  assert.equal(layout.locate(12_288, 1000), -1);
  assert.equal(layout.locate(2 ** 53, 1000), -1);
  assert.equal(layout.locate(NaN, 1000), -1);
  assert.equal(layout.locate(Infinity, 1000), -1);
});

Deno.test("BlockLayout addresses offsets beyond 4 GiB exactly", opts, () => {
  // 5 GiB + 123 bytes in 1 MiB pieces: the last piece is 123 bytes, at 5 GiB.
  const size = 5 * GiB + 123;
  const layout = new BlockLayout(size, 1 << 20, BlockLayout.blockSizeFor(1 << 20, 1452));
  assert.equal(layout.pieceCount, 5 * 1024 + 1);
  const last = layout.pieceCount - 1;
  assert.equal(layout.pieceOffset(last), 5 * GiB);
  assert.equal(layout.pieceLength(last), 123);
  assert.equal(layout.blockCount(last), 1);
  assert.equal(layout.locate(5 * GiB, 123), last * layout.blocksPerPiece);
  assert.equal(layout.locate(5 * GiB + 1, 122), -1);
  // A block past 2^32 is found by its exact offset; the same offset 4 GiB lower is another block.
  const p = 4 * 1024 + 7;
  const offset = layout.pieceOffset(p) + layout.blockStart(3);
  assert.ok(offset > 2 ** 32);
  assert.equal(layout.locate(offset, layout.blockSize), p * layout.blocksPerPiece + 3);
  assert.equal(layout.locate(offset + 2 ** 32, layout.blockSize), -1, "past the end of the file");
  assert.equal(
    layout.locate(offset - 2 ** 32, layout.blockSize),
    (p - 4096) * layout.blocksPerPiece + 3,
  );
});
