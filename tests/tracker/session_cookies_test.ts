import assert from "node:assert/strict";
import { SessionCookies } from "../../lib/tracker/session_cookies.ts";

const none = { permissions: "none" } as const;

Deno.test("SessionCookies holds the cookie of a source for its epoch only", none, () => {
  const s = new SessionCookies();
  assert.equal(s.get("10.0.0.1", 7000, 3), undefined, "nothing before the first set");
  s.set("10.0.0.1", 7000, 3, 0xdeadbeef, 42);
  assert.deepEqual([...s.get("10.0.0.1", 7000, 3)!], [0xdeadbeef, 42]);
  assert.ok(s.holds("10.0.0.1", 7000, 3, 0xdeadbeef, 42));
  assert.ok(!s.holds("10.0.0.1", 7000, 3, 0xdeadbeef, 43), "another cookie");
  assert.ok(!s.holds("10.0.0.1", 7000, 4, 0xdeadbeef, 42), "another epoch");
  assert.ok(!s.holds("10.0.0.1", 7001, 3, 0xdeadbeef, 42), "another port");
  assert.ok(!s.holds("10.0.0.2", 7000, 3, 0xdeadbeef, 42), "another address");
});

Deno.test("SessionCookies forgets, never confuses, sources that share a slot", none, () => {
  const s = new SessionCookies(4);
  const cookie = (i: number) => [i * 7919 >>> 0, i] as const;
  for (let i = 0; i < 64; i++) s.set(`10.0.0.${i}`, 6881, 1, ...cookie(i));
  let held = 0;
  for (let i = 0; i < 64; i++) {
    const c = s.get(`10.0.0.${i}`, 6881, 1);
    if (c === undefined) continue;
    held++;
    assert.deepEqual([...c], [...cookie(i)], "a cached cookie is the source's own");
    for (let j = 0; j < 64; j++) {
      if (j !== i) assert.ok(!s.holds(`10.0.0.${j}`, 6881, 1, ...cookie(i)));
    }
  }
  assert.ok(held >= 1 && held <= 4, `${held} held in 4 slots`);
});
