import assert from "node:assert/strict";
import { CongestionWindow } from "../../lib/peer/congestion_window.ts";

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
