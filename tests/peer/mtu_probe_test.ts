import assert from "node:assert/strict";
import { MtuProbe, PROBE_SIZES } from "../../lib/peer/core/mtu_probe.ts";

/** A probe of `roundMs` rounds that has sent its first round at 0. */
function sentFirstRound(roundMs: number): MtuProbe {
  const p = new MtuProbe({ roundMs });
  p.pollTransmit(0);
  return p;
}

/** The probe has finished with `size` as its result. */
function assertFound(p: MtuProbe, size: number): void {
  assert.equal(p.done, true);
  assert.equal(p.result, size);
}

Deno.test("MtuProbe settles on the largest size at once when it is acknowledged", {
  permissions: "none",
}, () => {
  const p = new MtuProbe();
  const sent = p.pollTransmit(0);
  assert.deepEqual(sent, [...PROBE_SIZES]);
  p.handleAck(1472, 1);
  assert.equal(p.done, false);
  p.handleAck(PROBE_SIZES[0], 2);
  assert.equal(p.done, true);
  assert.equal(p.result, PROBE_SIZES[0]);
});

Deno.test(
  "MtuProbe times its rounds by the round trip of a smaller size once one is acknowledged",
  { permissions: "none" },
  () => {
    const p = sentFirstRound(100);
    p.handleAck(1452, 5);
    p.handleAck(8952, 6);
    assert.equal(p.pollTimeout(), 10, "two round trips of the first ACK, not the blind 100 ms");
    p.handleTimeout(10);
    assert.equal(p.done, false, "a second, longer round asks again for the larger sizes");
    assert.deepEqual(p.pollTransmit(10), [32784, 16400]);
    assert.equal(p.pollTimeout(), 30);
    p.handleTimeout(30);
    assert.deepEqual(p.pollTransmit(30), [32784, 16400], "up to 4 rounds once timed by RTT");
    p.handleTimeout(70);
    assert.deepEqual(p.pollTransmit(70), [32784, 16400]);
    assert.equal(p.pollTimeout(), 150);
    p.handleTimeout(150);
    assertFound(p, 8952);
  },
);

Deno.test("MtuProbe sends the largest size in copies", { permissions: "none" }, () => {
  const p = new MtuProbe({ copies: 2 });
  assert.deepEqual(p.pollTransmit(0), [32784, 32784, 16400, 8952, 1472, 1452]);
  p.handleAck(32784, 1);
  assertFound(p, 32784);
});

Deno.test("MtuProbe retries once, then falls back to 1200 bytes when nothing comes back", {
  permissions: "none",
}, () => {
  const p = new MtuProbe({ roundMs: 50, rounds: 2 });
  assert.equal(p.pollTransmit(0).length, PROBE_SIZES.length);
  assert.deepEqual(p.pollTransmit(10), [], "no second round while one runs");
  p.handleTimeout(50);
  assert.equal(p.done, false);
  assert.equal(p.pollTransmit(50).length, PROBE_SIZES.length);
  p.handleTimeout(149);
  assert.equal(p.done, false, "the second round waits twice as long");
  p.handleTimeout(150);
  assertFound(p, 1200);
  assert.equal(p.pollTimeout(), undefined);
});

Deno.test("MtuProbe honours a --mtu cap and ignores acks of sizes it never sent", {
  permissions: "none",
}, () => {
  const p = new MtuProbe({ max: 1452 });
  assert.deepEqual(p.pollTransmit(0), [1452]);
  p.handleAck(32784, 1);
  assert.equal(p.result, 1200);
  p.handleAck(1452, 2);
  assertFound(p, 1452);
});

Deno.test(
  "MtuProbe keeps waiting for a late answer to the largest probe after a small one came back",
  { permissions: "none" },
  () => {
    const p = sentFirstRound(150);
    p.handleAck(1452, 2);
    p.handleTimeout(150);
    assert.equal(p.done, false);
    p.pollTransmit(150);
    p.handleAck(32784, 400);
    assertFound(p, 32784);
  },
);

Deno.test(
  "MtuProbe with a cap at or under 1200 bytes does not probe",
  { permissions: "none" },
  () => {
    const p = new MtuProbe({ max: 1200 });
    assert.equal(p.done, true);
    assert.deepEqual(p.pollTransmit(0), []);
    assert.equal(p.result, 1200);
  },
);

Deno.test(
  "MtuProbe.handleRefused() settles on the size the same round acknowledges, with no more rounds",
  { permissions: "none" },
  () => {
    const p = sentFirstRound(150);
    p.handleRefused(3); // the owner answers no large probes now
    assert.equal(p.done, false, "waits for the smaller sizes' acks of this round");
    p.handleAck(1452, 4);
    assertFound(p, 1452);
    const q = sentFirstRound(150);
    q.handleAck(1472, 4);
    q.handleRefused(5);
    assertFound(q, 1472);
    const r = sentFirstRound(150);
    r.handleRefused(5);
    r.handleTimeout(r.pollTimeout()!);
    assertFound(r, 1200); // nothing acknowledged: the safe size, no second round
  },
);
