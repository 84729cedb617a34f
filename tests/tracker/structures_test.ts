import assert from "node:assert/strict";
import fc from "fast-check";
import { CookieJar, packAddress } from "../../lib/net/cookie_jar.ts";
import { type ExpiryNode, ExpiryQueue } from "../../lib/tracker/expiry_queue.ts";
import { type HeapItem, IndexHeap } from "../../lib/tracker/index_heap.ts";
import { RateLimiter } from "../../lib/net/rate_limiter.ts";
import { LogThrottle } from "../../lib/log/log_throttle.ts";
import { addUpload, rateAt, ZERO_RATE_KEY } from "../../lib/tracker/upload_rate.ts";
import { prng, randomBytesFrom } from "./_registry_harness.ts";

const none = { permissions: "none" } as const;

Deno.test("CookieJar binds cookies to the address, kind and epoch", none, () => {
  const jar = new CookieJar(1000, randomBytesFrom(prng(3)), 0);
  const a = packAddress("127.0.0.1", 5000)!, b = packAddress("127.0.0.1", 5001)!;
  const v6 = packAddress("::1", 5000)!;
  const s = jar.issue(a, "session"), c = jar.issue(a, "challenge");
  assert.notEqual(s, c);
  assert.equal(jar.verify(s, a), "session");
  assert.equal(jar.verify(c, a), "challenge");
  assert.equal(jar.verify(s, b), undefined);
  assert.equal(jar.verify(s, v6), undefined);
  assert.equal(jar.verify(0n, a), undefined);
  assert.equal(jar.verify(s ^ (1n << 40n), a), undefined);
  jar.rotate(1000);
  assert.equal(jar.verify(s, a), "session", "valid in the next epoch");
  const s1 = jar.issue(a, "session");
  assert.notEqual(s1, s);
  jar.rotate(2000);
  assert.equal(jar.verify(s, a), undefined, "expired two epochs later");
  assert.equal(jar.verify(s1, a), "session");
  jar.rotate(10_000); // a long pause: everything before is invalid
  assert.equal(jar.verify(s1, a), undefined);
  assert.equal(jar.nextRotation, 11_000);
  assert.equal(packAddress("not-an-ip", 1), null);
});

Deno.test("RateLimiter allows the burst, then the sustained rate, per source", none, () => {
  const rl = new RateLimiter({ ratePerSecond: 10, burst: 3, maxSources: 2 });
  assert.deepEqual([1, 2, 3, 4].map(() => rl.allow("a", 1, 0)), [true, true, true, false]);
  assert.equal(rl.allow("b", 1, 0), true, "another host has its own bucket");
  assert.equal(rl.allow("a", 1, 50), false, "half a token");
  assert.equal(rl.allow("a", 1, 100), true, "one token after 100 ms at 10/s");
  assert.equal(rl.allow("a", 1, 100), false);
  assert.equal(rl.size, 2);
  // A third source shares the overflow bucket (maxSources 2).
  assert.equal(rl.allow("a", 2, 100), true);
  assert.equal(rl.size, 2);
  rl.sweep(150);
  assert.equal(rl.size, 1, "b's bucket has refilled, a's has not");
  assert.equal(rl.allow("a", 1, 150), false, "a keeps its state after a sweep");
  rl.sweep(10_000);
  assert.equal(rl.size, 0, "refilled buckets are forgotten");
});

Deno.test("LogThrottle reports a key once per window", none, () => {
  const t = new LogThrottle(60_000);
  assert.equal(t.shouldReport("x", 0), true);
  assert.equal(t.shouldReport("x", 59_999), false);
  assert.equal(t.shouldReport("y", 1), true);
  assert.equal(t.shouldReport("x", 60_000), true);
  assert.equal(t.suppressed, 1);
});

interface Item extends ExpiryNode<Item> {
  id: number;
}

Deno.test("ExpiryQueue keeps items in last-seen order with O(1) touch and remove", none, () => {
  fc.assert(fc.property(
    fc.array(
      fc.tuple(fc.integer({ min: 0, max: 9 }), fc.boolean(), fc.integer({ min: 0, max: 5 })),
    ),
    (ops) => {
      const q = new ExpiryQueue<Item>();
      const items: Item[] = Array.from({ length: 10 }, (_, id) => ({
        id,
        lastSeen: 0,
        expPrev: undefined,
        expNext: undefined,
        queued: false,
      }));
      const model = new Map<number, number>();
      let now = 0;
      for (const [id, remove, dt] of ops) {
        now += dt;
        if (remove) {
          q.remove(items[id]!);
          model.delete(id);
        } else {
          q.touch(items[id]!, now);
          model.delete(id);
          model.set(id, now);
        }
      }
      assert.equal(q.size, model.size);
      const order: number[] = [];
      for (let it = q.popExpired(Infinity); it; it = q.popExpired(Infinity)) order.push(it.id);
      assert.deepEqual(order, [...model.keys()]);
    },
  ));
  const q = new ExpiryQueue<Item>();
  const it: Item = { id: 1, lastSeen: 0, expPrev: undefined, expNext: undefined, queued: false };
  q.touch(it, 100);
  assert.equal(q.popExpired(99), undefined);
  assert.equal(q.popExpired(100), it);
});

interface H extends HeapItem {
  v: number;
}

Deno.test("IndexHeap pops in order and removes any item", none, () => {
  fc.assert(fc.property(fc.array(fc.integer()), fc.array(fc.nat()), (values, removals) => {
    const heap = new IndexHeap<H>((a, b) => a.v < b.v);
    const items = values.map((v) => ({ v, heapIndex: -1 }));
    for (const it of items) heap.push(it);
    const removed = new Set<H>();
    for (const r of removals) {
      if (items.length === 0) break;
      const it = items[r % items.length]!;
      heap.remove(it);
      removed.add(it);
    }
    const out: number[] = [];
    for (let it = heap.pop(); it; it = heap.pop()) out.push(it.v);
    const expected = items.filter((i) => !removed.has(i)).map((i) => i.v).sort((a, b) => a - b);
    assert.deepEqual(out, expected);
  }));
});

Deno.test("upload rate converges to a steady rate and decays by e per τ when idle", none, () => {
  const tau = 60_000;
  let key = ZERO_RATE_KEY;
  assert.equal(rateAt(key, 0, tau), 0);
  // 1 MB/s reported every second for 10 τ.
  for (let t = 1000; t <= 600_000; t += 1000) key = addUpload(key, 1_000_000, t, tau);
  const r = rateAt(key, 600_000, tau);
  assert.ok(Math.abs(r - 1_000_000) / 1_000_000 < 0.01, `steady rate ${r}`);
  assert.ok(Math.abs(rateAt(key, 660_000, tau) / r - Math.exp(-1)) < 1e-9);
  assert.equal(addUpload(key, 0, 700_000, tau), key, "zero bytes change nothing");
});

Deno.test(
  "RateLimiter reuses the rows of forgotten sources and keeps each one's state",
  none,
  () => {
    const rl = new RateLimiter({ ratePerSecond: 1, burst: 2, maxSources: 10_000 });
    for (let i = 0; i < 5000; i++) {
      assert.ok(rl.allow(`10.0.${i >> 8}.${i & 255}`, 6881 + (i % 7), 0.5));
      assert.ok(rl.allow(`10.0.${i >> 8}.${i & 255}`, 6881 + (i % 7), 0.5));
    }
    assert.equal(rl.size, 5000);
    assert.equal(rl.allow("10.0.3.3", 6881 + (771 % 7), 0.5), false, "its burst is spent");
    rl.sweep(1000.5); // one token back each: not full, kept
    assert.equal(rl.size, 5000);
    rl.sweep(2000.5); // full: forgotten
    assert.equal(rl.size, 0);
    assert.ok(rl.allow("10.0.3.3", 6881 + (771 % 7), 2000.5), "a new bucket, full");
    assert.equal(rl.size, 1);
  },
);
