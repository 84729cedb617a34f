import assert from "node:assert/strict";
import { TokenBucket } from "../../lib/net/token_bucket.ts";

const none = { permissions: "none" } as const;

Deno.test("TokenBucket.take() allows the burst, then the sustained rate", none, () => {
  const b = new TokenBucket({ ratePerSecond: 10, burst: 3, now: 0 });
  assert.deepEqual([1, 2, 3, 4].map(() => b.take(1, 0)), [true, true, true, false]);
  assert.equal(b.take(1, 50), false, "half a token");
  assert.equal(b.take(1, 100), true, "one token after 100 ms at 10/s");
  assert.equal(b.take(1, 100), false);
  assert.equal(b.take(1, 10_000), true);
  assert.equal(b.tokens, 2, "refilled to the burst, no further");
});

Deno.test("TokenBucket starts full at its first use when created at -Infinity", none, () => {
  const b = new TokenBucket({ ratePerSecond: 1, burst: 5 });
  b.spend(5);
  assert.equal(b.waitFor(1, 1000), 0, "the first use refills it whole");
  assert.equal(b.tokens, 5);
});

Deno.test(
  "TokenBucket.waitFor() tells ms until the cost is held; spend() may go below zero",
  none,
  () => {
    const b = new TokenBucket({ ratePerSecond: 1000, burst: 2000, now: 0 });
    assert.equal(b.waitFor(2000, 0), 0);
    b.spend(2000);
    assert.equal(b.waitFor(500, 0), 500);
    assert.equal(b.waitFor(500, 200), 300, "200 tokens came in 200 ms");
    b.spend(1000);
    assert.equal(b.tokens, -800);
    assert.equal(b.waitFor(1, 1000), 1, "800 ms paid the debt back to 0");
    assert.equal(b.tokens, 0);
  },
);

Deno.test("TokenBucket with an infinite rate is always full", none, () => {
  const b = new TokenBucket({ ratePerSecond: Infinity, burst: 100, now: 0 });
  b.spend(100);
  assert.equal(b.waitFor(100, 0), 0);
  assert.equal(b.tokens, 100);
});

Deno.test("TokenBucket.fullAt() looks ahead without changing the bucket", none, () => {
  const b = new TokenBucket({ ratePerSecond: 10, burst: 3, now: 0 });
  assert.equal(b.fullAt(0), true);
  assert.equal(b.take(2, 0), true);
  assert.equal(b.fullAt(100), false);
  assert.equal(b.fullAt(200), true);
  assert.equal(b.tokens, 1);
  assert.equal(b.at, 0);
});
