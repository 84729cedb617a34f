import assert from "node:assert/strict";
import {
  RequestCancelledError,
  RequestTable,
  RequestTimeoutError,
} from "../../lib/net/request_table.ts";

const TO: Deno.NetAddr = { transport: "udp", hostname: "127.0.0.1", port: 9 };
const none = { permissions: "none" } as const;

function table(policy = {}) {
  const sends: { txid: number; at: number }[] = [];
  const t0 = performance.now();
  const t = new RequestTable<string>({
    send: (bytes) =>
      sends.push({ txid: new DataView(bytes.buffer).getUint32(0), at: performance.now() - t0 }),
    policy,
    random: () => 0.5, // no jitter
  });
  const enc = (txid: number) => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, txid);
    return b;
  };
  return { t, sends, enc };
}

Deno.test(
  "RequestTable resolves a request by its txid and ignores stray replies",
  none,
  async () => {
    const { t, sends, enc } = table();
    const p = t.request(enc, TO);
    assert.equal(sends.length, 1);
    assert.equal(t.resolve(sends[0]!.txid + 1, "stray"), false);
    assert.equal(t.resolve(sends[0]!.txid, "ok"), true);
    assert.equal(await p, "ok");
    assert.equal(t.resolve(sends[0]!.txid, "late"), false);
    assert.equal(t.size, 0);
  },
);

Deno.test(
  "RequestTable retransmits with exponential backoff and then times out",
  none,
  async () => {
    const { t, sends, enc } = table({ initialMs: 20, factor: 2, attempts: 4, maxDelayMs: 1000 });
    const e = await t.request(enc, TO).catch((e) => e);
    assert.ok(e instanceof RequestTimeoutError);
    assert.equal(e.attempts, 4);
    assert.equal(sends.length, 4);
    assert.ok(sends.every((s) => s.txid === sends[0]!.txid), "same txid on every retransmission");
    const gaps = sends.slice(1).map((s, i) => s.at - sends[i]!.at);
    // 20, 40, 80 ms (timers fire late, never early)
    assert.ok(gaps[0]! >= 19 && gaps[1]! >= 39 && gaps[2]! >= 79, `gaps ${gaps}`);
    assert.ok(gaps[1]! > gaps[0]! && gaps[2]! > gaps[1]!);
    assert.ok(e.elapsedMs >= 20 + 40 + 80 + 160 - 2, `waited ${e.elapsedMs}`);
    assert.equal(t.retransmits, 3);
  },
);

Deno.test("RequestTable caps each wait at maxDelayMs and the total at totalMs", none, async () => {
  const { t, sends, enc } = table({
    initialMs: 10,
    factor: 10,
    attempts: 100,
    maxDelayMs: 30,
    totalMs: 150,
  });
  const t0 = performance.now();
  await assert.rejects(t.request(enc, TO), RequestTimeoutError);
  const elapsed = performance.now() - t0;
  assert.ok(elapsed >= 145 && elapsed < 2000, `elapsed ${elapsed}`);
  const gaps = sends.slice(1).map((s, i) => s.at - sends[i]!.at);
  assert.ok(gaps.slice(1).every((g) => g >= 29), `gaps ${gaps}`);
  assert.ok(gaps.length >= 3, "several retransmissions within totalMs");
});

Deno.test(
  "RequestTable cancelAll() rejects outstanding requests and clears timers",
  none,
  async () => {
    const { t, enc } = table();
    const a = t.request(enc, TO), b = t.request(enc, TO);
    t.cancelAll();
    await assert.rejects(a, RequestCancelledError);
    await assert.rejects(b, RequestCancelledError);
    assert.equal(t.size, 0);
  },
);

Deno.test("RequestTable gives concurrent requests distinct non-zero txids", none, () => {
  const { t, sends, enc } = table();
  const ps = Array.from({ length: 100 }, () => t.request(enc, TO));
  assert.equal(new Set(sends.map((s) => s.txid)).size, 100);
  assert.ok(sends.every((s) => s.txid !== 0));
  t.cancelAll();
  return Promise.allSettled(ps).then(() => {});
});
