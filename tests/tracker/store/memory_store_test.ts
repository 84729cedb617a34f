import assert from "node:assert/strict";
import { MemoryStore } from "../../../lib/tracker/store/memory_store.ts";
import { prng } from "../_registry_harness.ts";
import { swarmStoreSuite } from "./_swarm_store_suite.ts";

swarmStoreSuite("MemoryStore", () => {
  const store = new MemoryStore({ rateTauMs: 60_000, random: prng(7) });
  return Promise.resolve(Object.assign(store, { [Symbol.asyncDispose]: () => store.close() }));
});

Deno.test("MemoryStore gives tables back as peers leave and stays consistent", () => {
  const s = new MemoryStore({ random: prng(3) });
  const from = (i: number) => ({ hostname: "10.0.0.1", port: 1000 + i });
  const key = (n: number) => n.toString(16).padStart(64, "0");
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 3000; i++) {
      const now = round * 10;
      s.join(`p${i}`, from(i), now, 1e6);
      for (let f = 0; f < 3; f++) {
        s.own(`p${i}`, from(i), now, `n${(i + f) % 500}`, key(i * 3 + f), 7, 8);
      }
    }
    for (let i = 0; i < 1500; i++) assert.equal(s.touch(`p${i}`, from(i), round * 10 + 5), "ok");
    const full = s.columnBytes;
    // The second half expires (eviction shrinks the tables while it runs), then all but the
    // first ten exit. Rows are not moved: the survivors hold the lowest rows here, so the
    // tables can shrink (survivors in the highest rows would keep them at their size).
    assert.equal(s.expire(round * 10, 1e6).length, 1500);
    for (let i = 10; i < 1500; i++) assert.equal(s.exit(`p${i}`, from(i)).status, "ok");
    assert.deepEqual(s.counts(), { peers: 10, files: 30 });
    const r = s.need("p0", from(0), round * 10 + 5, { byName: false, want: key(5 * 3), k: 8 });
    assert.deepEqual(r.nodeIds.slice(0, r.count), ["p5"]);
    assert.ok(s.columnBytes < full / 8, `tables shrank: ${s.columnBytes} of ${full}`);
    for (let i = 0; i < 10; i++) s.exit(`p${i}`, from(i));
    assert.deepEqual(s.counts(), { peers: 0, files: 0 });
  }
});

Deno.test("MemoryStore: NEEDs for a content with hundreds of owners (random draws) stay right", () => {
  // Past SAMPLE_FROM owners a content's NEEDs draw from dense arrays instead of walking every
  // owner. A random run of joins, progress, completions and exits checks every answer against
  // what the store must hold: distinct owners, never the asker nor an excluded one, complete
  // ones only where partial owners are not taken, and a complete owner in every partial answer
  // while one exists.
  const random = prng(11);
  const s = new MemoryStore({ random });
  const hex = "cd".repeat(32);
  const from = (i: number) => ({ hostname: `10.1.${i >> 8}.${i & 255}`, port: 6881 });
  const have = new Map<number, number>(); // peer → share byte (255 complete)
  const join = (i: number, share: number, now: number) => {
    assert.equal(s.join(`p${i}`, from(i), now, 1e6), "registered");
    assert.equal(
      s.own(`p${i}`, from(i), now, "big.iso", hex, 1 << 30, 10, undefined, share).status,
      "ok",
    );
    have.set(i, share);
  };
  let next = 0;
  for (; next < 300; next++) join(next, next % 50 === 0 ? 255 : 10, 0);
  for (let step = 1; step <= 3000; step++) {
    const alive = [...have.keys()];
    const r = random();
    if (r < 0.15 && alive.length > 0) {
      const i = alive[Math.floor(random() * alive.length)]!;
      assert.equal(s.exit(`p${i}`, from(i)).status, "ok");
      have.delete(i);
    } else if (r < 0.3) {
      join(next++, random() < 0.1 ? 255 : 20, step);
    } else if (r < 0.4 && alive.length > 0) {
      const i = alive[Math.floor(random() * alive.length)]!;
      const share = random() < 0.3 ? 255 : Math.min(254, have.get(i)! + 10);
      if (have.get(i) !== 255) {
        s.own(`p${i}`, from(i), step, "big.iso", hex, 1 << 30, 10, undefined, share);
        have.set(i, share);
      }
    } else if (alive.length > 1) {
      const asker = alive[Math.floor(random() * alive.length)]!;
      const exclude = alive.filter(() => random() < 0.02).slice(0, 4).map((i) => `p${i}`);
      const partial = random() < 0.7;
      const res = s.need(`p${asker}`, from(asker), step, {
        byName: false,
        want: hex,
        k: 8,
        mix: 2,
        partial,
        exclude,
      });
      const got = res.nodeIds.slice(0, res.count).map((id) => Number(id.slice(1)));
      assert.equal(new Set(got).size, got.length, `step ${step}: duplicates ${got}`);
      for (const g of got) {
        assert.ok(have.has(g), `step ${step}: p${g} left`);
        assert.notEqual(g, asker, `step ${step}: the asker itself`);
        assert.ok(!exclude.includes(`p${g}`), `step ${step}: an excluded owner`);
        if (!partial) assert.equal(have.get(g), 255, `step ${step}: a partial owner`);
      }
      const eligible = alive.filter((i) => i !== asker && !exclude.includes(`p${i}`));
      const complete = eligible.filter((i) => have.get(i) === 255);
      const expected = Math.min(8, partial ? eligible.length : complete.length);
      // Draws may come up short only where few of many owners qualify; never empty-handed.
      if (expected > 0) assert.ok(got.length > 0, `step ${step}: nobody of ${expected}`);
      if (!partial) assert.equal(got.length, expected, `step ${step}: complete-only count`);
      if (partial && complete.length > 0) {
        assert.ok(got.some((g) => have.get(g) === 255), `step ${step}: no complete owner`);
      }
    }
  }
  assert.ok(have.size > 100, `the run kept a large swarm (${have.size})`);
});
