import assert from "node:assert/strict";
import { Bitset } from "../../lib/peer/core/bitset.ts";

Deno.test({
  name: "Bitset set()/has()/delete() keep the count",
  permissions: "none",
  fn() {
    const b = new Bitset(20);
    assert.equal(b.count, 0);
    assert.equal(b.full, false);
    assert.equal(b.set(0), true);
    assert.equal(b.set(0), false);
    assert.equal(b.set(19), true);
    assert.equal(b.set(9), true);
    assert.equal(b.count, 3);
    assert.equal(b.has(9), true);
    assert.equal(b.has(8), false);
    assert.equal(b.has(-1), false);
    assert.equal(b.has(20), false);
    assert.equal(b.has(1.5), false);
    assert.equal(b.delete(9), true);
    assert.equal(b.delete(9), false);
    assert.equal(b.count, 2);
    assert.deepEqual([...b], [0, 19]);
    b.clear();
    assert.equal(b.count, 0);
    assert.deepEqual([...b], []);
  },
});

Deno.test({
  name: "Bitset set() rejects an index outside the set",
  permissions: "none",
  fn() {
    const b = new Bitset(8);
    assert.throws(() => b.set(8), RangeError);
    assert.throws(() => b.set(-1), RangeError);
    assert.throws(() => b.delete(2.5), RangeError);
    assert.throws(() => new Bitset(-1), RangeError);
  },
});

Deno.test({
  name: "Bitset toBytes() is MSB-first like the HAVE bitfield and round-trips",
  permissions: "none",
  fn() {
    const b = new Bitset(11);
    b.set(0);
    b.set(7);
    b.set(8);
    b.set(10);
    assert.deepEqual(b.toBytes(), new Uint8Array([0b1000_0001, 0b1010_0000]));
    const c = Bitset.fromBytes(b.toBytes(), 11);
    assert.deepEqual([...c], [0, 7, 8, 10]);
    assert.equal(c.count, 4);
  },
});

Deno.test({
  name: "Bitset.fromBytes() rejects a wrong length and set padding bits",
  permissions: "none",
  fn() {
    assert.throws(() => Bitset.fromBytes(new Uint8Array(1), 11), RangeError);
    assert.throws(() => Bitset.fromBytes(new Uint8Array([0, 0b0001_0000]), 11), /padding/);
    assert.equal(Bitset.fromBytes(new Uint8Array([0xff, 0xe0]), 11).full, true);
  },
});

Deno.test({
  name: "Bitset nextSet()/nextClear() skip whole bytes and stop at the size",
  permissions: "none",
  fn() {
    const b = new Bitset(100);
    assert.equal(b.nextSet(0), -1);
    assert.equal(b.nextClear(0), 0);
    b.set(70);
    assert.equal(b.nextSet(0), 70);
    assert.equal(b.nextSet(71), -1);
    for (let i = 0; i < 100; i++) b.set(i);
    assert.equal(b.full, true);
    assert.equal(b.nextClear(0), -1);
    b.delete(99);
    assert.equal(b.nextClear(3), 99);
    const empty = new Bitset(0);
    assert.equal(empty.full, true);
    assert.equal(empty.byteLength, 0);
  },
});
