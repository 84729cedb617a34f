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

function engineFor(pieces: number): { engine: DownloadEngine; data: Uint8Array } {
  const data = Uint8Array.from({ length: pieces * PIECE }, (_, i) => (i * 31) & 0xff);
  const engine = new DownloadEngine({
    manifest: manifestOf(data, PIECE),
    blockSize: BLOCK,
    maxInFlight: 16 * BLOCK,
  });
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
    engine.addOwner("a", 0);
    engine.addOwner("b", 0);
    engine.start(0);
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
