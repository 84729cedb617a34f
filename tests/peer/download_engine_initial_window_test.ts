/**
 * DownloadEngine's `initialWindowBlocks`: each owner's first requests ask for that many blocks
 * (4 by default; a swarming download starts at 1, so the nine requesters an uploader serves at
 * once do not overflow its queue together), and the window grows from there. Virtual time.
 * @module
 */
import assert from "node:assert/strict";
import { DownloadEngine } from "../../lib/peer/core/download_engine.ts";
import { manifestOf } from "./_fixtures.ts";

const KiB = 1024;
const PIECE = 16 * KiB;
const BLOCK = 1 * KiB;
const DATA = Uint8Array.from({ length: 4 * PIECE }, (_, i) => (i * 13) & 0xff);

/** Blocks asked of a new owner before any answer, and the download run to its end. */
function firstAsk(initialWindowBlocks?: number): { first: number; done: boolean } {
  const engine = new DownloadEngine({
    manifest: manifestOf(DATA, PIECE),
    blockSize: BLOCK,
    maxInFlight: 64 * BLOCK,
    ...(initialWindowBlocks === undefined ? {} : { initialWindowBlocks }),
  });
  engine.addOwner("a", 0);
  engine.start(0);
  let now = 0, first = -1;
  const queue: number[] = [];
  for (let i = 0; i < 10_000 && !engine.done; i++) {
    let asked = 0;
    for (let t = engine.pollTransmit(now); t; t = engine.pollTransmit(now)) {
      for (const r of t.ranges) {
        for (let o = r.offset; o < r.offset + r.length; o += BLOCK) queue.push(o), asked++;
      }
    }
    if (first < 0) first = asked;
    now += 1;
    // The owner answers 2 blocks per ms, 1 ms away
    for (let k = 0; k < 2 && queue.length > 0; k++) {
      const o = queue.shift()!;
      engine.handleBlock("a", o, DATA.subarray(o, o + BLOCK), now);
    }
  }
  return { first, done: engine.done };
}

Deno.test("DownloadEngine: an owner's first requests ask for initialWindowBlocks blocks", {
  permissions: "none",
}, () => {
  assert.deepEqual(firstAsk(), { first: 4, done: true });
  assert.deepEqual(firstAsk(1), { first: 1, done: true });
  assert.deepEqual(firstAsk(2), { first: 2, done: true });
});
