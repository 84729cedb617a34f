/**
 * DownloadEngine's options for a swarm's small windows, in virtual time: `minBatchBlocks` (each
 * BLOCK_REQUEST asks for several blocks, not one, so requests cost the downloader's upload less)
 * and `initialWindowBlocks` (an owner's first requests ask for that many blocks: a swarming download
 * starts at 1, so the nine requesters an uploader serves at once do not overflow its queue
 * together).
 * @module
 */
import assert from "node:assert/strict";
import { DownloadEngine, type DownloadEngineOptions } from "../../lib/peer/core/download_engine.ts";
import { manifestOf } from "./_fixtures.ts";

const KiB = 1024;
const PIECE = 64 * KiB;
const BLOCK = 1 * KiB;

/** An engine for `data` with one owner "a", started at 0. */
function startedEngine(data: Uint8Array, options: Partial<DownloadEngineOptions>): DownloadEngine {
  const engine = new DownloadEngine({
    manifest: manifestOf(data, PIECE),
    blockSize: BLOCK,
    maxInFlight: 8 * BLOCK,
    ...options,
  });
  engine.addOwner("a", 0);
  engine.start(0);
  return engine;
}

/** Blocks per request over a whole download from one owner with an 8-block window. */
function blocksPerRequest(minBatchBlocks?: number): number {
  const data = Uint8Array.from({ length: 8 * PIECE }, (_, i) => (i * 7) & 0xff);
  const engine = startedEngine(data, minBatchBlocks === undefined ? {} : { minBatchBlocks });
  let requests = 0, blocks = 0, now = 0;
  // The owner answers each request's blocks in order, 4 per ms; a few are lost (the path is not
  // clean, as a swarm's drop-tail queues make it: the engine then asks an eighth of a window)
  const queue: number[] = [];
  const lost = new Set([3, 40, 100, 200, 300].map((b) => b * BLOCK));
  for (let i = 0; i < 100_000 && !engine.done; i++) {
    for (let t = engine.pollTransmit(now); t; t = engine.pollTransmit(now)) {
      requests++;
      for (const r of t.ranges) {
        for (let o = r.offset; o < r.offset + r.length; o += BLOCK) {
          queue.push(o);
          blocks++;
        }
      }
    }
    now += 1;
    for (let k = 0; k < 4 && queue.length > 0; k++) {
      const o = queue.shift()!;
      if (lost.has(o)) {
        lost.delete(o);
        continue;
      }
      engine.handleBlock("a", o, data.subarray(o, o + BLOCK), now);
    }
  }
  assert.ok(engine.done, "every piece verified");
  return blocks / requests;
}

Deno.test("DownloadEngine: minBatchBlocks asks for several blocks per request in a small window", {
  permissions: "none",
}, () => {
  const one = blocksPerRequest();
  const four = blocksPerRequest(4);
  // Measured: 2.76 without, 5.39 with
  assert.ok(four >= 4, `${four.toFixed(2)} blocks per request with minBatchBlocks 4`);
  assert.ok(one < 3, `${one.toFixed(2)} blocks per request without`);
});

/** Blocks asked of a new owner before any answer, and whether the download then completes. */
function firstAsk(initialWindowBlocks?: number): { first: number; done: boolean } {
  const data = Uint8Array.from({ length: 4 * PIECE }, (_, i) => (i * 13) & 0xff);
  const engine = startedEngine(data, {
    maxInFlight: 64 * BLOCK,
    ...(initialWindowBlocks === undefined ? {} : { initialWindowBlocks }),
  });
  let now = 0, first = -1;
  const queue: number[] = [];
  for (let i = 0; i < 10_000 && !engine.done; i++) {
    let asked = 0;
    for (let t = engine.pollTransmit(now); t; t = engine.pollTransmit(now)) {
      for (const r of t.ranges) {
        for (let o = r.offset; o < r.offset + r.length; o += BLOCK) {
          queue.push(o);
          asked++;
        }
      }
    }
    if (first < 0) first = asked;
    now += 1;
    // The owner answers 2 blocks per ms, 1 ms away
    for (let k = 0; k < 2 && queue.length > 0; k++) {
      const o = queue.shift()!;
      engine.handleBlock("a", o, data.subarray(o, o + BLOCK), now);
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
