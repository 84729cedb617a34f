import assert from "node:assert/strict";
import { deriveSeed, Prng } from "../../lib/sim/prng.ts";
import { MinHeap } from "../_harness/_min_heap.ts";

Deno.test({
  name: "Prng repeats for a seed, differs between seeds, and stays in range",
  permissions: "none",
  fn() {
    const a = new Prng(7), b = new Prng(7), c = new Prng(8);
    const xs = Array.from({ length: 1000 }, () => a.next());
    assert.deepEqual(xs, Array.from({ length: 1000 }, () => b.next()));
    assert.notDeepEqual(xs, Array.from({ length: 1000 }, () => c.next()));
    assert.ok(xs.every((x) => x >= 0 && x < 1));
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    assert.ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`);
    const d = new Prng(1);
    for (let i = 0; i < 1000; i++) {
      const k = d.below(5);
      assert.ok(Number.isInteger(k) && k >= 0 && k < 5);
    }
    assert.throws(() => new Prng(Number.NaN), RangeError);
  },
});

Deno.test({
  name: "Prng.fill() matches nextUint32() little-endian, aligned or not",
  permissions: "none",
  fn() {
    const words = new Prng(3);
    const want = new Uint8Array(23);
    const view = new DataView(want.buffer);
    for (let i = 0; i < 5; i++) view.setUint32(i * 4, words.nextUint32(), true);
    const last = words.nextUint32();
    for (let i = 0; i < 3; i++) want[20 + i] = last >>> (8 * i);
    const aligned = new Uint8Array(23);
    new Prng(3).fill(aligned);
    assert.deepEqual(aligned, want);
    const unaligned = new Uint8Array(24).subarray(1);
    new Prng(3).fill(unaligned);
    assert.deepEqual(unaligned, want);
  },
});

Deno.test({
  name: "deriveSeed() gives distinct streams for distinct stream numbers",
  permissions: "none",
  fn() {
    const seeds = new Set(Array.from({ length: 1000 }, (_, i) => deriveSeed(42, i)));
    assert.equal(seeds.size, 1000);
    assert.equal(deriveSeed(42, 3), deriveSeed(42, 3));
    assert.notEqual(deriveSeed(42, 3), deriveSeed(43, 3));
  },
});

Deno.test({
  name: "MinHeap pops by deadline, equal deadlines in insertion order",
  permissions: "none",
  fn() {
    const heap = new MinHeap<{ due: number; seq: number; id: string }>();
    const rng = new Prng(5);
    const items = Array.from(
      { length: 200 },
      (_, i) => ({ due: rng.below(20), seq: i, id: `${i}` }),
    );
    for (const it of items) heap.push(it);
    assert.equal(heap.size, 200);
    const out = [];
    for (let it = heap.pop(); it; it = heap.pop()) out.push(it);
    const sorted = [...items].sort((a, b) => a.due - b.due || a.seq - b.seq);
    assert.deepEqual(out.map((i) => i.id), sorted.map((i) => i.id));
    assert.equal(heap.peek(), undefined);
  },
});
