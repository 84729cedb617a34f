/**
 * Focused unit tests of {@link DownloadEngine} calls the simulation (tests/peer/sim/) does not
 * drive: pausing an owner while the driver renews its address cookie.
 */
import assert from "node:assert/strict";
import { DownloadEngine } from "../../lib/peer/core/download_engine.ts";
import { drainEvents } from "../_harness/drain.ts";
import { manifestOf } from "./_fixtures.ts";

const KiB = 1024;
const PIECE = 16 * KiB;
const BLOCK = 4 * KiB;

/** An engine of `pieces` pieces, started at 0 with owners "a" and "b". */
function engineFor(pieces: number): { engine: DownloadEngine; data: Uint8Array } {
  const data = Uint8Array.from({ length: pieces * PIECE }, (_, i) => (i * 31) & 0xff);
  const engine = new DownloadEngine({
    manifest: manifestOf(data, PIECE),
    blockSize: BLOCK,
    maxInFlight: 16 * BLOCK,
  });
  engine.addOwner("a", 0);
  engine.addOwner("b", 0);
  engine.start(0);
  return { engine, data };
}

/** Every request the engine wants to send now, by owner: [offset, length] pairs. */
function drain(engine: DownloadEngine, now: number): Map<string, [number, number][]> {
  const out = new Map<string, [number, number][]>();
  for (let t = engine.pollTransmit(now); t; t = engine.pollTransmit(now)) {
    const list = out.get(t.owner) ?? [];
    for (const r of t.ranges) list.push([r.offset, r.length]);
    out.set(t.owner, list);
  }
  return out;
}

Deno.test({
  name: "DownloadEngine.pauseOwner() stops requests to an owner without dropping it",
  permissions: "none",
  fn() {
    const { engine, data } = engineFor(64);
    const first = drain(engine, 0);
    assert.ok(first.get("a")!.length > 0 && first.get("b")!.length > 0);

    // "a" refused its cookie: paused; what it had outstanding goes to "b"
    engine.pauseOwner("a", 1);
    assert.ok(engine.isPaused("a"));
    assert.deepEqual(engine.liveOwners, ["a", "b"], "still a live owner");
    const serve = (owner: string, requests: [number, number][], now: number) => {
      for (const [off, len] of requests) {
        for (let o = off; o < off + len; o += BLOCK) {
          engine.handleBlock(owner, o, data.subarray(o, o + BLOCK), now);
        }
      }
    };
    let now = 2;
    serve("b", first.get("b")!, now);
    for (let i = 0; i < 4 && !engine.done; i++) {
      const sent = drain(engine, ++now);
      assert.equal(sent.get("a"), undefined, "nothing goes to a paused owner");
      serve("b", sent.get("b") ?? [], now);
    }
    // The new cookie arrived: "a" is asked again
    engine.resumeOwner("a", now);
    assert.ok(!engine.isPaused("a"));
    for (let i = 0; i < 1000 && !engine.done; i++) {
      const sent = drain(engine, ++now);
      for (const [owner, requests] of sent) serve(owner, requests, now);
    }
    assert.ok(engine.done, "every piece verified");
    assert.ok(engine.deliveredByOwner.get("a")! > 0, "the resumed owner delivered again");
    const dropped = drainEvents(engine).filter((e) => e.kind === "owner_dropped");
    assert.deepEqual(dropped, [], "no owner was dropped");
  },
});

Deno.test({
  name:
    "DownloadEngine.handleBlock() uses a block only from the owner it was asked of, and bans a sprayer",
  permissions: "none",
  fn() {
    const { engine, data } = engineFor(64);
    const asked = drain(engine, 0);
    const [offset, length] = asked.get("a")![0]!;
    // b sends a block outstanding at a, with wrong bytes: ignored, counted against b
    engine.handleBlock("b", offset, new Uint8Array(BLOCK).fill(0xee), 1);
    assert.equal(engine.stats.unaskedBlocks, 1);
    assert.equal(engine.stats.receivedBytes, 0, "not taken as data");
    // a's real answer still fills the piece
    for (let at = offset; at < offset + length; at += BLOCK) {
      engine.handleBlock("a", at, data.subarray(at, at + BLOCK), 2);
    }
    assert.equal(engine.stats.receivedBytes, length);
    // a duplicate of an answered block from a is not unasked (the network duplicates)
    engine.handleBlock("a", offset, data.subarray(offset, offset + BLOCK), 3);
    assert.equal(engine.stats.unaskedBlocks, 1);
    // b keeps spraying blocks it was never asked for: banned after 64, like a liar
    const bOffsets = new Set((asked.get("b") ?? []).map(([o]) => o));
    let sprayed = 0;
    for (let at = 0; sprayed < 64 && at < data.length; at += BLOCK) {
      if (bOffsets.has(at)) continue;
      engine.handleBlock("b", at, new Uint8Array(BLOCK), 4);
      sprayed++;
    }
    assert.ok(engine.isBanned("b"));
    const dropped = drainEvents(engine).find((e) => e.kind === "owner_dropped");
    assert.deepEqual(dropped, {
      kind: "owner_dropped",
      owner: "b",
      reason: "sent 65 blocks it was not asked for",
    });
    assert.equal(engine.stats.badPieces, 0, "no piece was spoiled");
  },
});
