/**
 * {@link DownloadEngine.expectedSlot}: the driver reads a block's payload straight into the slot
 * of the block the owner answers next; a block read there that was not the one expected (swapped
 * answers, a duplicate, an unasked block) must still end up where it belongs and spoil nothing.
 */
import assert from "node:assert/strict";
import { DownloadEngine } from "../../lib/peer/core/download_engine.ts";
import { drainEvents } from "../_harness/drain.ts";
import { manifestOf } from "./_fixtures.ts";

const KiB = 1024;
const PIECE = 16 * KiB;
const BLOCK = 4 * KiB;

/** An engine over a file of `pieces` pieces and a tail, with owner "a", started. */
function setup(pieces: number): { engine: DownloadEngine; data: Uint8Array } {
  const data = Uint8Array.from({ length: pieces * PIECE + 1000 }, (_, i) => (i * 31 + 7) & 0xff);
  const engine = new DownloadEngine({
    manifest: manifestOf(data, PIECE),
    blockSize: BLOCK,
    maxInFlight: 16 * BLOCK,
  });
  engine.addOwner("a", 0);
  engine.start(0);
  return { engine, data };
}

/** The blocks the engine asks "a" for now, as [offset, length] in request order. */
function requests(engine: DownloadEngine, now: number): [number, number][] {
  const out: [number, number][] = [];
  for (let t = engine.pollTransmit(now); t; t = engine.pollTransmit(now)) {
    for (const r of t.ranges) {
      for (let o = r.offset; o < r.offset + r.length; o += BLOCK) {
        out.push([o, Math.min(BLOCK, r.offset + r.length - o)]);
      }
    }
  }
  return out;
}

/** Pieces verified so far, each checked against the file as it is polled (as a driver writes it). */
let verified = 0;

/** Polls the events and checks each verified piece's bytes now (its buffer is reused later). */
function pollPieces(engine: DownloadEngine, data: Uint8Array): void {
  for (const e of drainEvents(engine)) {
    assert.notEqual(e.kind, "bad_piece", "no piece failed");
    if (e.kind !== "piece") continue;
    assert.deepEqual(e.data, data.subarray(e.offset, e.offset + e.data.byteLength));
    verified++;
  }
}

/** What the driver does: the payload lands in the expected slot, whichever block it is. */
function receiveInto(
  engine: DownloadEngine,
  data: Uint8Array,
  block: [number, number],
  now: number,
) {
  const [offset, length] = block;
  const slot = engine.expectedSlot("a");
  assert.ok(slot !== undefined, "a slot is expected while requests are outstanding");
  if (length > slot.byteLength) {
    // Longer than the slot: the endpoint makes it contiguous in its receive buffer instead
    engine.handleBlock("a", offset, data.slice(offset, offset + length), now);
  } else {
    slot.set(data.subarray(offset, offset + length));
    engine.handleBlock("a", offset, slot.subarray(0, length), now);
  }
  pollPieces(engine, data);
}

/** Every piece was verified with the file's bytes. */
function assertPieces(engine: DownloadEngine, data: Uint8Array): void {
  pollPieces(engine, data);
  assert.equal(verified, engine.layout.pieceCount);
  verified = 0;
}

Deno.test({
  name: "DownloadEngine.expectedSlot(): answers in request order land in place, copied nowhere",
  permissions: "none",
  fn() {
    const { engine, data } = setup(6);
    assert.equal(engine.expectedSlot("nobody"), undefined);
    let now = 1;
    for (let round = 0; round < 100 && !engine.done; round++, now++) {
      for (const block of requests(engine, now)) {
        const slot = engine.expectedSlot("a")!;
        assert.equal(slot.byteLength, block[1], "the slot is the expected block's length");
        receiveInto(engine, data, block, now);
      }
    }
    assert.ok(engine.done);
    assert.equal(engine.expectedSlot("a"), undefined, "nothing expected once done");
    assertPieces(engine, data);
    assert.equal(engine.stats.duplicateBlocks, 0);
  },
});

Deno.test({
  name:
    "DownloadEngine.expectedSlot(): swapped answers, duplicates and unasked blocks read into the slot spoil nothing",
  permissions: "none",
  fn() {
    const { engine, data } = setup(6);
    let now = 1;
    for (let round = 0; round < 100 && !engine.done; round++, now++) {
      const asked = requests(engine, now);
      // Pairs answered the wrong way round: the second block lands in the first one's slot
      for (let i = 0; i + 1 < asked.length; i += 2) {
        const before = engine.expectedSlot("a")!;
        receiveInto(engine, data, asked[i + 1]!, now);
        const after = engine.expectedSlot("a")!;
        assert.equal(after.byteOffset, before.byteOffset, "the first block is still expected");
        assert.equal(after.buffer, before.buffer);
        // A duplicate of the block just taken, and a block never asked for, into the same slot
        receiveInto(engine, data, asked[i + 1]!, now);
        const never = engine.layout.pieceCount * PIECE - PIECE;
        if (!asked.some(([o]) => o === never)) {
          receiveInto(engine, data, [never + BLOCK, BLOCK], now);
        }
        receiveInto(engine, data, asked[i]!, now);
      }
      if (asked.length % 2 === 1) receiveInto(engine, data, asked[asked.length - 1]!, now);
    }
    assert.ok(engine.done);
    assertPieces(engine, data);
    assert.ok(engine.stats.duplicateBlocks > 0, "the duplicates were seen as such");
  },
});
