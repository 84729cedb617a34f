import assert from "node:assert/strict";
import {
  LOST_MEMORY,
  MAX_LOSS_THRESHOLD,
  type Outstanding,
  OwnerState,
} from "../../lib/peer/core/owner_state.ts";

const opts = { permissions: "none" } as const;

/** An owner; with `rttMs`, one RTT sample of that many ms taken. */
function owner(now = 0, rttMs?: number): OwnerState {
  const o = new OwnerState("a", {
    blockSize: 1024,
    maxInFlight: 64 * 1024,
    minRtoMs: 15,
    lossThreshold: 3,
    targetDelayMs: 5,
    stallMs: 4000,
  }, now);
  if (rttMs !== undefined) o.rtt.sample(rttMs);
  return o;
}

function request(o: OwnerState, id: number, sentAt: number, length = 1024): Outstanding {
  const out: Outstanding = {
    seq: o.seq++,
    sentAt,
    piece: 0,
    block: id,
    length,
    retransmitted: false,
    acked: o.acked,
    ackedAt: sentAt,
  };
  o.outstanding.set(id, out);
  o.inFlight += length;
  return out;
}

Deno.test(
  "OwnerState probes about 8 times per stall period before its first RTT sample",
  opts,
  () => {
    const o = owner(100);
    assert.equal(o.rtt.rto, 250, "initial RTO: min(250, stallMs / 8)");
    for (let i = 0; i < 6; i++) o.rtt.backoff();
    assert.equal(o.rtt.rto, 500, "backoff stops at stallMs / 8");
    assert.equal(o.stallDeadline(4000), 4100, "stallMs after the last progress");
    assert.ok(o.usable);
    o.paused = true;
    assert.equal(o.usable, false);
  },
);

Deno.test(
  "OwnerState.rtoDeadline() counts from the oldest request or the latest answer, whichever is later",
  opts,
  () => {
    const o = owner(0, 40);
    const first = request(o, 1, 10);
    assert.equal(o.rtoDeadline(first), 10 + o.rtt.rto);
    o.lastAck = 50;
    assert.equal(o.rtoDeadline(first), 50 + o.rtt.rto, "restarted by an answer");
  },
);

Deno.test(
  "OwnerState.lossDeadline() allows the RACK RTT plus a reordering window of a quarter min RTT",
  opts,
  () => {
    const o = owner(0, 40);
    o.rackRtt = 40;
    const out = request(o, 1, 100);
    assert.equal(o.reorderWindow, 10);
    assert.equal(o.lossDeadline(out), 150);
    o.reorderMult = 3;
    assert.equal(o.reorderWindow, 30);
  },
);

Deno.test("OwnerState.forget() takes a request out of flight once", opts, () => {
  const o = owner();
  request(o, 1, 0, 1000);
  request(o, 2, 0, 500);
  assert.equal(o.forget(1), 1000);
  assert.equal(o.forget(1), 0, "already gone");
  assert.equal(o.inFlight, 500);
  assert.deepEqual([...o.outstanding.keys()], [2]);
});

Deno.test(
  "OwnerState widens its reordering tolerance when many losses are spurious, at most once per RTT",
  opts,
  () => {
    const o = owner(0, 20);
    for (let id = 0; id < 8; id++) o.noteLost(id, 0);
    o.noteSpurious(100);
    assert.deepEqual([o.reorderMult, o.lossThreshold], [1, 3], "1 in 8 is not a quarter");
    o.noteSpurious(100);
    assert.deepEqual([o.reorderMult, o.lossThreshold], [2, 6], "2 in 8 is");
    o.noteSpurious(110);
    assert.deepEqual([o.reorderMult, o.lossThreshold], [2, 6], "not again within an RTT");
    for (let t = 200; o.lossThreshold < MAX_LOSS_THRESHOLD; t += 100) o.noteSpurious(t);
    o.noteSpurious(10_000);
    assert.equal(o.lossThreshold, MAX_LOSS_THRESHOLD, "capped");
  },
);

Deno.test(
  "OwnerState narrows its tolerance again after 64 losses with few spurious, and remembers the latest",
  opts,
  () => {
    const o = owner();
    o.reorderMult = 4;
    o.lossThreshold = 24;
    for (let id = 0; id < 64; id++) o.noteLost(id, 0);
    assert.deepEqual([o.reorderMult, o.lossThreshold, o.declared], [3, 12, 32]);
    for (let id = 64; id < 64 + LOST_MEMORY + 10; id++) o.noteLost(id, 0);
    assert.equal(o.lost.size, LOST_MEMORY);
    assert.ok(!o.lost.has(0) && o.lost.has(64 + LOST_MEMORY + 9), "the oldest are forgotten");
    assert.equal(o.lossThreshold, 3, "never below the configured threshold");
    assert.equal(o.reorderMult, 1);
  },
);
