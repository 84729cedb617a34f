import assert from "node:assert/strict";
import { IdStamps, RecentIds } from "../../lib/peer/core/recent_ids.ts";

Deno.test({
  name: "RecentIds keeps the newest max distinct ids; a re-add makes an id the newest",
  permissions: "none",
  fn() {
    const r = new RecentIds(3);
    for (const id of [1, 2, 3]) r.add(id);
    assert.deepEqual([1, 2, 3].map((id) => r.has(id)), [true, true, true]);
    r.add(1); // 1 is now the newest: 2 is the oldest
    r.add(4);
    assert.deepEqual([1, 2, 3, 4].map((id) => r.has(id)), [true, false, true, true]);
    assert.equal(r.size, 3);
    // Many refreshes of one id never push out the others beyond what max allows
    for (let i = 0; i < 100; i++) r.add(4);
    assert.equal(r.size, 3);
    assert.ok(r.has(4));
    assert.throws(() => new RecentIds(0), RangeError);
  },
});

Deno.test({
  name: "RecentIds matches a reference model over a long random sequence",
  permissions: "none",
  fn() {
    const max = 64;
    const r = new RecentIds(max);
    const model: number[] = []; // oldest first
    let seed = 7;
    for (let i = 0; i < 20_000; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const id = seed % 200;
      r.add(id);
      const at = model.indexOf(id);
      if (at >= 0) model.splice(at, 1);
      model.push(id);
      // The ring keeps at least the newest max/2 distinct ids even under heavy refreshing, and
      // never more than max; with few refreshes it keeps exactly the newest max
      if (model.length > max) model.shift();
      for (const m of model.slice(-max / 2)) assert.ok(r.has(m), `${m} at step ${i}`);
      assert.ok(r.size <= max);
      for (let x = 0; x < 200; x++) if (r.has(x)) assert.ok(model.includes(x), `${x} kept`);
    }
  },
});

Deno.test({
  name: "IdStamps matches a Map over a long random sequence of sets and deletes (colliding ids)",
  permissions: "none",
  fn() {
    const max = 40;
    const t = new IdStamps(max);
    const model = new Map<number, number>();
    let seed = 11;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    // Ids that share low bits, large ids and ids beyond 2^32 all probe the same short table
    const ids = Array.from(
      { length: 120 },
      (_, i) => i % 3 === 0 ? i * 128 : i % 3 === 1 ? i : 2 ** 33 + i * 64,
    );
    for (let step = 0; step < 50_000; step++) {
      const id = ids[next() % ids.length]!;
      if (model.size < max && next() % 3 !== 0) {
        t.set(id, step);
        model.set(id, step);
      } else {
        t.delete(id);
        model.delete(id);
      }
      assert.equal(t.size, model.size);
      if (step % 97 === 0) {
        for (const x of ids) assert.equal(t.get(x), model.get(x), `${x} at step ${step}`);
      }
    }
    for (const x of ids) assert.equal(t.has(x), model.has(x));
  },
});

Deno.test({
  name: "RecentIds at a power-of-two max (the engine's 4096) keeps the newest max",
  permissions: "none",
  fn() {
    const r = new RecentIds(4096);
    for (let id = 0; id < 20_000; id++) r.add(id * 7);
    assert.equal(r.size, 4096);
    assert.ok(r.has(19_999 * 7) && r.has((20_000 - 4096) * 7) && !r.has((20_000 - 4097) * 7));
    const t = new IdStamps(3);
    for (const id of [1, 2, 3]) t.set(id, id);
    assert.throws(() => {
      for (let id = 4; id < 100; id++) t.set(id, id);
    }, RangeError);
  },
});
