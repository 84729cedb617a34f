import assert from "node:assert/strict";
import { PROGRESS_MS, ProgressMeter } from "../../lib/peer/core/progress_meter.ts";

const none = { permissions: "none" } as const;

Deno.test("ProgressMeter.tick() is due every 250 ms; a late timer skips ticks", none, () => {
  const meter = new ProgressMeter();
  assert.equal(meter.dueAt, undefined);
  assert.equal(meter.tick(1000), false, "not started");
  meter.start(100);
  assert.equal(meter.dueAt, 100 + PROGRESS_MS);
  assert.equal(meter.tick(349), false);
  assert.equal(meter.tick(350), true);
  assert.equal(meter.dueAt, 600);
  assert.equal(meter.tick(620), true, "a little late: the schedule holds");
  assert.equal(meter.dueAt, 850);
  assert.equal(meter.tick(2000), true, "very late: the next is a whole interval away");
  assert.equal(meter.dueAt, 2250);
  meter.stop();
  assert.equal(meter.dueAt, undefined);
  assert.equal(meter.tick(5000), false);
});

Deno.test(
  "ProgressMeter.sample() smooths the rate 70/30 and keeps it when no time passed",
  none,
  () => {
    const meter = new ProgressMeter();
    meter.start(0);
    assert.equal(meter.sample(0), 0);
    meter.count(1000);
    meter.count(1500);
    assert.equal(meter.sample(250), 10_000, "the first interval as is");
    meter.count(5000);
    assert.equal(meter.sample(500), 0.7 * 10_000 + 0.3 * 20_000);
    const r = meter.rate;
    meter.count(123);
    assert.equal(meter.sample(500), r, "no time passed: bytes wait for the next sample");
    assert.equal(meter.sample(750), 0.7 * r + 0.3 * (123 / 0.25));
  },
);
