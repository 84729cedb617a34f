import assert from "node:assert/strict";
import { CongestionWindow } from "../../lib/peer/core/congestion_window.ts";

const opts = { permissions: "none" } as const;
const B = 1000;

Deno.test("CongestionWindow starts at 4 blocks, within its bounds", opts, () => {
  assert.equal(new CongestionWindow({ blockSize: B }).cwnd, 4 * B);
  assert.equal(new CongestionWindow({ blockSize: B, initial: 10 * B }).cwnd, 10 * B);
  assert.equal(new CongestionWindow({ blockSize: B, max: 2 * B }).cwnd, 2 * B);
  assert.equal(new CongestionWindow({ blockSize: B, initial: 1, min: 3 * B }).cwnd, 3 * B);
  assert.equal(new CongestionWindow({ blockSize: B }).ssthresh, Infinity);
});

Deno.test("CongestionWindow.onAck() doubles the window per round trip in slow start", opts, () => {
  const cc = new CongestionWindow({ blockSize: B, max: 1 << 30 });
  for (let round = 0; round < 5; round++) {
    const window = cc.cwnd;
    for (let acked = 0; acked < window; acked += B) cc.onAck(B);
    assert.equal(cc.cwnd, 2 * window);
  }
  assert.equal(cc.cwnd, 128 * B);
});

Deno.test("CongestionWindow.onAck() grows about one block per window after a loss", opts, () => {
  const cc = new CongestionWindow({ blockSize: B, initial: 40 * B, max: 1 << 30 });
  cc.onLoss(0, 1);
  assert.equal(cc.cwnd, 20 * B);
  assert.equal(cc.ssthresh, 20 * B);
  for (let round = 0; round < 10; round++) {
    const window = cc.cwnd;
    for (let acked = 0; acked < window; acked += B) cc.onAck(B);
    const grew = cc.cwnd - window;
    assert.ok(grew > 0.9 * B && grew <= 1.05 * B, `round ${round}: grew ${grew}`);
  }
});

Deno.test("CongestionWindow.onLoss() halves once per recovery period", opts, () => {
  const cc = new CongestionWindow({ blockSize: B, initial: 64 * B });
  cc.onLoss(100, 150); // a request sent at 100 was lost, noticed at 150
  assert.equal(cc.cwnd, 32 * B);
  // More losses from the same flight (sent before recovery began) do not reduce again
  cc.onLoss(101, 155);
  cc.onLoss(149, 160);
  cc.onLoss(150, 161);
  assert.equal(cc.cwnd, 32 * B);
  // A request sent after recovery began was lost: a new congestion event
  cc.onLoss(151, 200);
  assert.equal(cc.cwnd, 16 * B);
  assert.equal(cc.ssthresh, 16 * B);
});

Deno.test("CongestionWindow.onTimeout() collapses to the minimum and halves ssthresh", opts, () => {
  const cc = new CongestionWindow({ blockSize: B, initial: 64 * B });
  cc.onTimeout(500);
  assert.equal(cc.cwnd, B);
  assert.equal(cc.ssthresh, 32 * B);
  // Losses of requests sent before the timeout belong to the same event
  cc.onLoss(400, 510);
  assert.equal(cc.cwnd, B);
  // Slow start back up to ssthresh, then additive increase
  for (let i = 0; i < 31; i++) cc.onAck(B);
  assert.equal(cc.cwnd, 32 * B);
  cc.onAck(B);
  assert.ok(cc.cwnd > 32 * B && cc.cwnd < 33 * B);
});

Deno.test("CongestionWindow never leaves [min, max]", opts, () => {
  const cc = new CongestionWindow({ blockSize: B, min: 2 * B, max: 16 * B });
  for (let i = 0; i < 1000; i++) cc.onAck(B);
  assert.equal(cc.cwnd, 16 * B);
  for (let t = 0; t < 20; t++) cc.onLoss(2 * t + 1, 2 * t + 2);
  assert.equal(cc.cwnd, 2 * B);
  assert.equal(cc.ssthresh, 2 * B);
  cc.onTimeout(100);
  cc.onTimeout(200);
  assert.equal(cc.cwnd, 2 * B);
  assert.equal(cc.ssthresh, 2 * B);
});

// ---- delay-aware behaviour: samples with a minimum RTT of 20 ms, so the target queue is 5 ms ----

const at = (queueMs: number) => ({ queueMs, minRttMs: 20 });

Deno.test(
  "CongestionWindow aims at the larger of targetDelayMs and a quarter of the RTT",
  opts,
  () => {
    const cc = new CongestionWindow({ blockSize: B });
    assert.equal(cc.targetMs, 5);
    cc.onAck(B, { queueMs: 0, minRttMs: 100 });
    assert.equal(cc.targetMs, 25);
    const lan = new CongestionWindow({ blockSize: B, targetDelayMs: 2 });
    lan.onAck(B, { queueMs: 0, minRttMs: 0.2 });
    assert.equal(lan.targetMs, 2);
  },
);

Deno.test(
  "CongestionWindow.onAck() leaves slow start once the queue reaches half the target",
  opts,
  () => {
    const cc = new CongestionWindow({ blockSize: B, max: 1 << 30 });
    for (let i = 0; i < 20; i++) cc.onAck(B, at(1));
    assert.equal(cc.cwnd, 24 * B);
    assert.equal(cc.ssthresh, Infinity);
    // A 10 ms queue: out of slow start, scaled back towards the 5 ms target
    cc.onAck(B, at(10));
    assert.equal(cc.ssthresh, cc.cwnd);
    assert.ok(Math.abs(cc.cwnd - 24 * B * (20 + 5) / (20 + 10)) < 1e-6, `${cc.cwnd}`);
  },
);

Deno.test(
  "CongestionWindow.onAck() grows below the target queue and shrinks above it",
  opts,
  () => {
    const cc = new CongestionWindow({ blockSize: B, initial: 40 * B, max: 1 << 30 });
    cc.onLoss(0, 1); // out of slow start: 20 blocks
    const round = (queueMs: number): number => {
      const before = cc.cwnd;
      for (let acked = 0; acked < before; acked += B) cc.onAck(B, at(queueMs));
      return (cc.cwnd - before) / B;
    };
    const below = round(2.5); // half the target: about half a block per window
    assert.ok(below > 0.4 && below < 0.6, `grew ${below} blocks`);
    assert.ok(Math.abs(round(5)) < 1e-9, "at the target it holds");
    const above = round(10); // twice the target: about a block less per window
    assert.ok(above < -0.9 && above > -1.1, `shrank ${above} blocks`);
  },
);

Deno.test("CongestionWindow.onLoss() lets a random loss (no queue) pass", opts, () => {
  const cc = new CongestionWindow({ blockSize: B, initial: 32 * B });
  cc.onAck(B, at(1));
  const before = cc.cwnd;
  assert.equal(cc.onLoss(100, 150), false);
  assert.equal(cc.cwnd, before);
  assert.equal(cc.randomLosses, 1);
});

Deno.test("CongestionWindow.onLoss() halves when the queue is twice the target", opts, () => {
  const cc = new CongestionWindow({ blockSize: B, initial: 32 * B });
  cc.onAck(B, at(11));
  const before = cc.cwnd;
  assert.equal(cc.onLoss(100, 150), true);
  assert.equal(cc.cwnd, before / 2);
  assert.equal(cc.onLoss(120, 160), false, "once per recovery period");
});

Deno.test("CongestionWindow.onTimeout() halves only with a queue unless persistent", opts, () => {
  const quiet = new CongestionWindow({ blockSize: B, initial: 32 * B });
  quiet.onAck(B, at(0));
  const before = quiet.cwnd;
  quiet.onTimeout(100, false);
  assert.equal(quiet.cwnd, before, "a tail loss on an empty path");
  const queued = new CongestionWindow({ blockSize: B, initial: 32 * B });
  queued.onAck(B, at(12));
  const q = queued.cwnd;
  queued.onTimeout(100, false);
  assert.equal(queued.cwnd, q / 2);
  queued.onTimeout(300, true);
  assert.equal(queued.cwnd, B);
});

Deno.test(
  "CongestionWindow resumes a gentle slow start on an empty path above ssthresh",
  opts,
  () => {
    const cc = new CongestionWindow({ blockSize: B, initial: 8 * B, max: 1 << 30 });
    cc.onTimeout(0, true); // collapse: 1 block, ssthresh 4
    for (let i = 0; i < 3; i++) cc.onAck(B, at(0));
    assert.equal(cc.cwnd, 4 * B);
    // Above ssthresh with no queue: a quarter of slow start's rate
    cc.onAck(B, at(0));
    assert.equal(cc.cwnd, 4.25 * B);
    // With a queue of 2 ms (between a quarter and half the target) it is additive again
    cc.onAck(B, at(2));
    assert.ok(cc.cwnd - 4.25 * B < 0.2 * B);
  },
);

Deno.test(
  "CongestionWindow caps the window at twice the delivered bandwidth-delay product",
  opts,
  () => {
    const cc = new CongestionWindow({ blockSize: B, initial: 200 * B, max: 1 << 30 });
    assert.equal(cc.cap, 1 << 30);
    // 1000 bytes per ms over a 20 ms path: a BDP of 20 blocks, a cap of 42
    cc.onAck(B, { queueMs: 0, minRttMs: 20, rate: 1000, now: 0 });
    assert.equal(cc.cap, 42 * B);
    assert.equal(cc.cwnd, 42 * B);
    // The largest recent rate counts; a lower one within the window does not lower the cap
    cc.onAck(B, { queueMs: 0, minRttMs: 20, rate: 500, now: 50 });
    assert.equal(cc.cap, 42 * B);
    // After the window (the larger of 100 ms and 10 RTTs) a new sample replaces it
    cc.onAck(B, { queueMs: 0, minRttMs: 20, rate: 500, now: 300 });
    assert.equal(cc.cap, 22 * B);
  },
);
