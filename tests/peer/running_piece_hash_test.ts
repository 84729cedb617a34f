import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { RunningPieceHashes } from "../../lib/peer/core/running_piece_hash.ts";

const BLOCK = 1000;

/** A piece of `length` bytes and the manifest hashes with its hash at `index`. */
function piece(length: number, index = 2) {
  const data = new Uint8Array(length).map((_, i) => (i * 7 + 3) & 0xff);
  const hashes = new Uint8Array(32 * (index + 1));
  hashes.set(createHash("sha256").update(data).digest(), index * 32);
  const blockCount = Math.ceil(length / BLOCK);
  const ap = {
    index,
    length,
    buffer: new Uint8Array(4 * BLOCK),
    received: new Uint8Array(blockCount),
  };
  const arrive = (running: RunningPieceHashes, b: number, bytes = data) => {
    ap.buffer.set(bytes.subarray(b * BLOCK, Math.min(length, (b + 1) * BLOCK)), b * BLOCK);
    ap.received[b] = 1;
    running.blockArrived(ap, b);
  };
  return { data, hashes, ap, arrive };
}

Deno.test({
  name: "RunningPieceHashes: blocks in order, the short last block included, match",
  permissions: "none",
}, () => {
  const running = new RunningPieceHashes(BLOCK);
  const { hashes, ap, arrive } = piece(3500);
  for (let b = 0; b < 4; b++) arrive(running, b);
  assert.equal(running.size, 1);
  assert.equal(running.matches(ap, hashes), true);
  assert.equal(running.size, 0, "forgotten once checked");
});

Deno.test({
  name: "RunningPieceHashes: blocks out of order wait for the gap, and still match",
  permissions: "none",
}, () => {
  for (const order of [[3, 2, 1, 0], [1, 0, 3, 2], [0, 2, 3, 1], [2, 0, 1, 3]]) {
    const running = new RunningPieceHashes(BLOCK);
    const { hashes, ap, arrive } = piece(3500);
    for (const b of order) arrive(running, b);
    assert.equal(running.matches(ap, hashes), true, `order ${order}`);
  }
});

Deno.test({
  name: "RunningPieceHashes: a corrupted block fails; forget then a clean refetch matches",
  permissions: "none",
}, () => {
  const running = new RunningPieceHashes(BLOCK);
  const { data, hashes, ap, arrive } = piece(4000);
  const bad = data.slice();
  bad[2500] = bad[2500]! ^ 1;
  for (let b = 0; b < 4; b++) arrive(running, b, bad);
  assert.equal(running.matches(ap, hashes), false);
  // Refetched from scratch (the engine forgets the hash and resets the piece)
  running.forget(ap);
  ap.received.fill(0);
  arrive(running, 0, bad);
  running.forget(ap); // a failure mid-way: the hash so far is dropped
  ap.received.fill(0);
  for (let b = 0; b < 4; b++) arrive(running, b);
  assert.equal(running.matches(ap, hashes), true);
});

Deno.test({
  name: "RunningPieceHashes: an incomplete piece or a missing hash never matches",
  permissions: "none",
}, () => {
  const running = new RunningPieceHashes(BLOCK);
  const { hashes, ap, arrive } = piece(3500);
  arrive(running, 0);
  arrive(running, 2);
  arrive(running, 3);
  assert.equal(running.matches(ap, hashes), false, "block 1 never arrived");
  const other = piece(3500, 5);
  for (let b = 0; b < 4; b++) other.arrive(running, b);
  assert.equal(running.matches(other.ap, hashes), false, "no hash for piece 5");
});
