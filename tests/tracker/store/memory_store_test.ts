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
