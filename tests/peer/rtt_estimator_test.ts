import assert from "node:assert/strict";
import { RttEstimator, type RttEstimatorOptions } from "../../lib/peer/core/rtt_estimator.ts";

const opts = { permissions: "none" } as const;

/** The RTOs after each of `n` backoffs of an estimator with one 10 ms sample (RTO 30). */
function backoffSeries(
  options: RttEstimatorOptions,
  n: number,
): { seen: number[]; rtt: RttEstimator } {
  const rtt = new RttEstimator(options);
  rtt.sample(10);
  const seen: number[] = [];
  for (let i = 0; i < n; i++) {
    rtt.backoff();
    seen.push(rtt.rto);
  }
  return { seen, rtt };
}

/** An estimator with one 10 ms sample, backed off twice (RTO floor 1 ms). */
function backedOffTwice(): RttEstimator {
  const rtt = new RttEstimator({ minRtoMs: 1 });
  rtt.sample(10);
  rtt.backoff();
  rtt.backoff();
  return rtt;
}

Deno.test("RttEstimator uses the initial RTO before the first sample", opts, () => {
  const rtt = new RttEstimator();
  assert.equal(rtt.hasSample, false);
  assert.equal(rtt.rto, 250);
  assert.equal(new RttEstimator({ initialRtoMs: 1000 }).rto, 1000);
});

Deno.test("RttEstimator.sample() sets SRTT = R and RTTVAR = R/2 on the first sample", opts, () => {
  const rtt = new RttEstimator({ minRtoMs: 1 });
  rtt.sample(40);
  assert.equal(rtt.hasSample, true);
  assert.equal(rtt.srtt, 40);
  assert.equal(rtt.rttvar, 20);
  assert.equal(rtt.latest, 40);
  // RFC 6298 (2.2): RTO = SRTT + max(G, 4·RTTVAR)
  assert.equal(rtt.rto, 40 + 4 * 20);
});

Deno.test("RttEstimator.sample() updates RTTVAR before SRTT (alpha 1/8, beta 1/4)", opts, () => {
  const rtt = new RttEstimator({ minRtoMs: 1 });
  rtt.sample(40);
  rtt.sample(80);
  // RTTVAR uses the old SRTT: 3/4·20 + 1/4·|40 − 80| = 25; SRTT = 7/8·40 + 1/8·80 = 45
  assert.equal(rtt.rttvar, 25);
  assert.equal(rtt.srtt, 45);
  assert.equal(rtt.rto, 45 + 100);
});

Deno.test("RttEstimator converges on a steady RTT and keeps a 1 ms granularity floor", opts, () => {
  const rtt = new RttEstimator({ minRtoMs: 1 });
  for (let i = 0; i < 200; i++) rtt.sample(30);
  assert.ok(Math.abs(rtt.srtt - 30) < 1e-9);
  assert.ok(rtt.rttvar < 1e-9);
  assert.equal(rtt.rto, 31);
});

Deno.test("RttEstimator clamps the RTO to [minRtoMs, maxRtoMs]", opts, () => {
  const fast = new RttEstimator({ minRtoMs: 15 });
  fast.sample(0.2);
  assert.equal(fast.rto, 15);
  const slow = new RttEstimator({ maxRtoMs: 4000 });
  slow.sample(3000);
  assert.equal(slow.rto, 4000);
});

Deno.test("RttEstimator.sample() treats a negative sample as 0", opts, () => {
  const rtt = new RttEstimator({ minRtoMs: 1 });
  rtt.sample(-5);
  assert.equal(rtt.srtt, 0);
  assert.equal(rtt.rto, 1);
});

Deno.test("RttEstimator.backoff() doubles the RTO up to 64× and maxRtoMs", opts, () => {
  const { seen, rtt } = backoffSeries({ minRtoMs: 1, maxRtoMs: 1_000_000 }, 8);
  assert.deepEqual(seen, [60, 120, 240, 480, 960, 1920, 1920, 1920]);
  assert.equal(rtt.backoffFactor, 64);
  const capped = new RttEstimator({ maxRtoMs: 4000 });
  for (let i = 0; i < 10; i++) capped.backoff();
  assert.equal(capped.rto, 4000);
});

Deno.test("RttEstimator.backoff() applies before the first sample too", opts, () => {
  const rtt = new RttEstimator();
  rtt.backoff();
  assert.equal(rtt.rto, 500);
});

Deno.test("RttEstimator keeps the backoff until a valid sample (Karn)", opts, () => {
  const rtt = backedOffTwice();
  // Answers to retransmitted requests give no sample, so nothing resets the factor
  assert.equal(rtt.backoffFactor, 4);
  assert.equal(rtt.rto, 120);
  rtt.sample(10);
  assert.equal(rtt.backoffFactor, 1);
  assert.ok(rtt.rto < 30);
});

Deno.test("RttEstimator tracks the minimum RTT", opts, () => {
  const rtt = new RttEstimator();
  assert.equal(rtt.minRtt, Infinity);
  assert.equal(rtt.queueDelay, 0);
  for (const r of [30, 25, 40, 26]) rtt.sample(r);
  assert.equal(rtt.minRtt, 25);
});

Deno.test(
  "RttEstimator.queueDelay filters jitter with the minimum of the last 8 samples",
  opts,
  () => {
    const rtt = new RttEstimator();
    for (let i = 0; i < 8; i++) rtt.sample(20);
    // One late sample is jitter, not a queue
    rtt.sample(35);
    assert.equal(rtt.queueDelay, 0);
    // Eight in a row are a queue
    for (let i = 0; i < 7; i++) rtt.sample(26 + i);
    assert.equal(rtt.queueDelay, 6);
  },
);

Deno.test("RttEstimator.resetBackoff() ends the backoff without a sample", opts, () => {
  const rtt = backedOffTwice();
  rtt.resetBackoff();
  assert.equal(rtt.backoffFactor, 1);
  assert.equal(rtt.rto, 30);
  assert.equal(rtt.srtt, 10);
});

Deno.test(
  "RttEstimator stops backing off at maxBackoffRtoMs, but not below the base RTO",
  opts,
  () => {
    const { seen } = backoffSeries({ minRtoMs: 1, maxBackoffRtoMs: 100 }, 4);
    assert.deepEqual(seen, [60, 100, 100, 100]);
    const far = new RttEstimator({ minRtoMs: 1, maxBackoffRtoMs: 100 });
    far.sample(200); // RTO 600: above the backoff cap, so backoff adds nothing
    far.backoff();
    assert.equal(far.rto, 600);
  },
);

Deno.test("RttEstimator.baseRto ignores the backoff", opts, () => {
  const rtt = new RttEstimator({ minRtoMs: 1 });
  assert.equal(rtt.baseRto, 250);
  rtt.sample(10);
  rtt.backoff();
  assert.equal(rtt.baseRto, 30);
  assert.equal(rtt.rto, 60);
});
