import assert from "node:assert/strict";
import { CookieProbe, type CookieProbeEvent } from "../../lib/peer/core/cookie_probe.ts";
import { drainEvents } from "../_harness/drain.ts";

function events(p: CookieProbe): CookieProbeEvent[] {
  return drainEvents(p);
}

Deno.test({
  name: "CookieProbe probes every new owner once and reports each cookie",
  permissions: "none",
  fn() {
    const p = new CookieProbe();
    assert.equal(p.size, 1200);
    p.add("a", 0);
    p.add("b", 0);
    p.add("a", 0); // already probing: nothing more
    assert.equal(p.probing, 2);
    assert.equal(p.waiting, 2);
    assert.deepEqual(p.pollTransmit(0), ["a", "b"]);
    assert.deepEqual(p.pollTransmit(1), [], "one PROBE per owner until it times out");
    assert.equal(p.cookie("a"), undefined);
    p.handleAck("a", 7n, 3);
    p.handleAck("a", 7n, 4); // a duplicate ACK: no second event
    assert.deepEqual(events(p), [{ kind: "ready", owner: "a", renewed: false }]);
    assert.equal(p.cookie("a"), 7n);
    assert.ok(p.has("a") && !p.has("b"));
    assert.equal(p.ready, 1);
    assert.equal(p.probing, 1);
    p.handleAck("stranger", 9n, 5); // not an owner we probe: ignored
    p.handleAck("b", 0n, 5); // a peer without cookies: ignored
    assert.equal(p.cookie("b"), undefined);
    assert.deepEqual(events(p), []);
    p.add("a", 6); // has a cookie: left alone
    assert.deepEqual(p.pollTransmit(6), []);
  },
});

Deno.test({
  name: "CookieProbe retries with a doubling timeout, then reports the owner unreachable",
  permissions: "none",
  fn() {
    const p = new CookieProbe({ timeoutMs: 100, attempts: 3 });
    p.add("dead", 0);
    const sent: number[] = [];
    let now = 0;
    for (let i = 0; i < 10 && p.probing > 0; i++) {
      if (p.pollTransmit(now).length > 0) sent.push(now);
      assert.equal(p.waiting, sent.length === 1 ? 1 : 0, "waiting only on the first PROBE");
      now = p.pollTimeout() ?? now;
      p.handleTimeout(now);
    }
    assert.deepEqual(sent, [0, 100, 300], "PROBEs at 0, +100, +200");
    assert.equal(now, 700, "unreachable after the third PROBE's 400 ms");
    // The wait is capped: 250, 500, 1000, 1000, … with the defaults
    const d = new CookieProbe();
    d.add("x", 0);
    const at: number[] = [];
    for (let t = 0; d.probing > 0; t = d.pollTimeout() ?? t) {
      if (d.pollTransmit(t).length > 0) at.push(t);
      d.handleTimeout(t);
    }
    assert.deepEqual(at, [0, 250, 750, 1750, 2750, 3750]);
    assert.deepEqual(events(p), [
      { kind: "unreachable", owner: "dead", renewal: false, attempts: 3 },
    ]);
    assert.equal(p.pollTimeout(), undefined);
    assert.ok(!p.busy);
    p.add("dead", 800); // asked again later (the tracker still lists it): a new round
    assert.deepEqual(p.pollTransmit(800), ["dead"]);
  },
});

Deno.test({
  name: "CookieProbe.renew() probes a refused owner again, once, and not right after a new cookie",
  permissions: "none",
  fn() {
    const p = new CookieProbe({ renewHoldoffMs: 1000 });
    p.add("a", 0);
    p.pollTransmit(0);
    p.handleAck("a", 1n, 10);
    events(p);
    assert.equal(p.renew("a", 500), false, "refusals of requests sent with an older cookie");
    assert.equal(p.renew("a", 1010), true);
    assert.equal(p.renew("a", 1011), false, "already renewing");
    assert.equal(p.cookie("a"), 1n, "the old cookie stays in use meanwhile");
    assert.equal(p.waiting, 0, "a renewal does not hold up a start");
    assert.deepEqual(p.pollTransmit(1011), ["a"]);
    p.handleAck("a", 2n, 1020);
    assert.deepEqual(events(p), [{ kind: "ready", owner: "a", renewed: true }]);
    assert.equal(p.cookie("a"), 2n);
    assert.equal(p.renew("nobody", 5000), false);
    // A renewal nobody answers: unreachable, and the cookie is forgotten
    assert.equal(p.renew("a", 5000), true);
    for (let now = 5000; p.probing > 0; now = p.pollTimeout()!) {
      p.pollTransmit(now);
      p.handleTimeout(now);
    }
    assert.deepEqual(events(p), [
      { kind: "unreachable", owner: "a", renewal: true, attempts: 6 },
    ]);
    assert.equal(p.cookie("a"), undefined);
  },
});

Deno.test({
  name: "CookieProbe.forget() drops an owner that moved; its new address is probed afresh",
  permissions: "none",
  fn() {
    const p = new CookieProbe({ size: 576 });
    assert.equal(p.size, 576);
    p.add("a", 0);
    p.pollTransmit(0);
    p.handleAck("a", 5n, 1);
    p.forget("a");
    assert.equal(p.cookie("a"), undefined);
    p.add("a", 2);
    assert.deepEqual(p.pollTransmit(2), ["a"]);
    assert.throws(() => new CookieProbe({ size: 19 }), RangeError);
    assert.throws(() => new CookieProbe({ attempts: 0 }), RangeError);
  },
});
