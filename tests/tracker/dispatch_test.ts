import assert from "node:assert/strict";
import { ErrorCode } from "../../lib/wire/messages.ts";
import { encodeMessage } from "../../lib/wire/codec.ts";
import { bigints, cid, Harness, src } from "./_registry_harness.ts";

// The Dispatcher's own rules: per-source limits, the cookie and address checks in front of
// every rule, ERROR replies sized for unproven sources, and dropping bad input. The rules
// themselves: registry_test.ts.

const none = { permissions: "none" } as const;

Deno.test(
  "Dispatcher refuses EXIT, OWN, UPDATE and REGISTER for a node id from another address",
  none,
  () => {
    const h = Harness.withPeer("victim", "f");
    h.register("attacker", src(2));
    const cookie = h.cookies.get("attacker")!; // a valid session cookie, but for src(2)
    const victimCookie = h.cookies.get("victim")!; // even the right cookie from the wrong address
    for (const c of [cookie, victimCookie, 0n]) {
      for (
        const msg of [
          { type: "exit", txid: 1, cookie: c, nodeId: "victim" },
          {
            type: "own",
            txid: 2,
            cookie: c,
            nodeId: "victim",
            name: "x",
            size: 1,
            contentId: cid(9),
          },
          { type: "update", txid: 3, cookie: c, nodeId: "victim", uploaded: 1e9 },
          {
            type: "need",
            txid: 4,
            cookie: c,
            nodeId: "victim",
            want: { kind: "name", name: "f" },
            maxOwners: 0,
          },
        ] as const
      ) {
        const r = h.send(msg, src(2));
        assert.equal(r?.type, "error", `${msg.type} with cookie ${c}`);
        if (r?.type === "error") assert.equal(r.code, ErrorCode.wrong_address);
        assert.ok(h.lastReplySize <= h.lastRequestSize, `${msg.type}: reply fits the request`);
      }
    }
    const reg = h.send({ type: "register", txid: 5, cookie, nodeId: "victim" }, src(2));
    assert.ok(reg?.type === "error" && reg.code === ErrorCode.wrong_address);
    assert.ok(h.reg.hasPeer("victim", h.now));
    assert.deepEqual(h.reg.peerInfo("victim", h.now)?.files.length, 1);
    assert.equal(h.reg.peerInfo("victim", h.now)?.rate, 0);
  },
);

Deno.test("Dispatcher refuses a wrong cookie from the right address with bad_cookie", none, () => {
  const h = Harness.withPeer("a");
  const r = h.send(
    { type: "own", txid: 1, cookie: 12345n, nodeId: "a", name: "f", size: 1, contentId: cid(1) },
    src(1),
  );
  assert.ok(r?.type === "error" && r.code === ErrorCode.bad_cookie, JSON.stringify(r, bigints));
  assert.ok(h.lastReplySize <= h.lastRequestSize);
  assert.equal(h.reg.fileCount, 0);
});

Deno.test("Dispatcher refuses a challenge cookie where a session cookie is needed", none, () => {
  const h = Harness.withPeer("a");
  const ch = h.send({ type: "register", txid: 1, cookie: 0n, nodeId: "a" }, src(1));
  assert.ok(ch?.type === "registered" && ch.evictAfterMs === 0);
  const r = h.send(
    { type: "own", txid: 2, cookie: ch.cookie, nodeId: "a", name: "f", size: 1, contentId: cid(1) },
    src(1),
  );
  assert.ok(r?.type === "error" && r.code === ErrorCode.bad_cookie);
});

Deno.test(
  "Dispatcher rate-limits a source with a token bucket, logging once per minute",
  none,
  () => {
    const h = new Harness({ limits: { requestsPerSecond: 10, burst: 5 } });
    const garbage = new Uint8Array(20);
    let replies = 0;
    for (let i = 0; i < 5; i++) h.raw(garbage, src(1));
    assert.equal(h.reg.counters.malformed, 5);
    for (let i = 0; i < 20; i++) {
      if (
        h.raw(encodeMessage({ type: "register", txid: i, cookie: 0n, nodeId: "a" }), src(1))
      ) replies++;
    }
    assert.equal(replies, 1, "one rate_limited ERROR, then silent drops");
    assert.equal(h.reg.counters.rateLimited, 20);
    const limited = h.events().filter((e) => e.type === "rate_limited");
    assert.equal(limited.length, 1);
    h.now += 100; // one token back
    const ok = h.send({ type: "register", txid: 1, cookie: 0n, nodeId: "a" }, src(1));
    assert.equal(ok?.type, "registered");
    assert.equal(
      h.send({ type: "register", txid: 1, cookie: 0n, nodeId: "b" }, src(2))?.type,
      "registered",
      "other sources are not affected",
    );
    h.advance(61_000);
    for (let i = 0; i < 20; i++) h.raw(garbage, src(1));
    assert.equal(
      h.events().filter((e) => e.type === "rate_limited").length,
      1,
      "logged again after a minute",
    );
  },
);

Deno.test(
  "Dispatcher replies to unverified sources are never larger than the request",
  none,
  () => {
    const h = Harness.withPeer("a", "a-long-file-name-that-would-not-fit-in-a-tiny-error.txt");
    let checked = 0;
    const cookies = [0n, 1n, 0xffffffffffffffffn, h.cookies.get("a")!];
    for (const cookie of cookies) {
      for (const nodeId of ["a", "b", "x".repeat(24)]) {
        for (const from of [src(1), src(2), src(3, "::1")]) {
          for (
            const msg of [
              { type: "register", txid: 1, cookie, nodeId },
              { type: "exit", txid: 1, cookie, nodeId },
              { type: "update", txid: 1, cookie, nodeId, uploaded: 5 },
              { type: "own", txid: 1, cookie, nodeId, name: "n", size: 1, contentId: cid(1) },
              {
                type: "need",
                txid: 1,
                cookie,
                nodeId,
                want: { kind: "name", name: "a" },
                maxOwners: 0,
              },
            ] as const
          ) {
            const verified = nodeId === "a" && from === src(1) && cookie === h.cookies.get("a");
            const r = h.send(msg, from);
            if (!verified && r !== undefined) {
              assert.ok(
                h.lastReplySize <= h.lastRequestSize,
                `${msg.type} ${nodeId} ${cookie}: ${h.lastReplySize} > ${h.lastRequestSize}`,
              );
              checked++;
            }
          }
        }
      }
    }
    assert.ok(checked > 100);
  },
);

Deno.test("Dispatcher drops malformed and unexpected datagrams and keeps serving", none, () => {
  const h = new Harness();
  for (let n = 0; n < 100; n++) {
    const junk = new Uint8Array(n).map((_, i) => (i * 37 + n) & 0xff);
    assert.equal(h.raw(junk, src(5)), undefined);
  }
  assert.equal(h.send({ type: "ack", txid: 1 }, src(6)), undefined);
  assert.equal(h.reg.counters.malformed, 100);
  assert.equal(h.reg.counters.unexpected, 1);
  const malformed = h.events().filter((e) => e.type === "malformed");
  assert.equal(malformed.length, 2, "once per source per minute");
  h.register("a", src(1));
  assert.equal(h.reg.peerCount, 1);
});

Deno.test("Dispatcher acknowledges EXIT of an unknown node id without any cookie", none, () => {
  const h = new Harness();
  const r = h.send({ type: "exit", txid: 5, cookie: 0n, nodeId: "ghost" }, src(1));
  assert.deepEqual(r, { type: "ack", txid: 5 });
  assert.equal(h.reg.counters.exits, 0);
  assert.equal(h.reg.counters.errors, 0);
});

Deno.test("Dispatcher.pollTimeout() includes the limiter sweep, every 10 s", none, () => {
  const h = new Harness({ intervalMs: 60_000, grace: 0 });
  const start = h.now;
  assert.equal(h.core.pollTimeout(), start + 10_000, "before the first rotation at 120 s");
  h.advance(10_000);
  assert.equal(h.core.pollTimeout(), start + 20_000);
});
