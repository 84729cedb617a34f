/**
 * SeedAvailability: how many requesters hold each piece, from their BITFIELD requests and the
 * pieces on their way to them.
 * @module
 */
import assert from "node:assert/strict";
import { PENDING_MS, SeedAvailability } from "../../lib/peer/core/seed_availability.ts";

const none = () => new Uint8Array(2); // 16 pieces
const bitsOf = (...pieces: number[]) => {
  const b = none();
  for (const p of pieces) b[p >> 3]! |= 0x80 >> (p & 7);
  return b;
};

Deno.test("SeedAvailability: a request's bits replace its requester's map", {
  permissions: "none",
}, () => {
  const a = new SeedAvailability(16);
  a.noteBits("a", 0, bitsOf(0, 1, 2), 0);
  a.noteBits("b", 0, bitsOf(1, 2, 15), 0);
  assert.deepEqual([0, 1, 2, 3, 15].map((p) => a.holders(p)), [1, 2, 2, 0, 1]);
  a.noteBits("a", 0, bitsOf(0, 1, 2, 3), 10);
  assert.equal(a.holders(3), 1);
  assert.ok(a.has("a", 3) && !a.has("b", 3));
});

Deno.test("SeedAvailability: a piece on its way counts until a request shows it or PENDING_MS", {
  permissions: "none",
}, () => {
  const a = new SeedAvailability(16);
  a.add("a", 5, 0);
  a.add("a", 6, 0);
  assert.equal(a.holders(5), 1);
  a.noteBits("a", 0, bitsOf(6), PENDING_MS - 1);
  assert.equal(a.holders(5), 1, "still on its way");
  assert.equal(a.holders(6), 1, "verified");
  a.noteBits("a", 0, none(), PENDING_MS);
  assert.equal(a.holders(5), 0, "never came: no longer counts");
  assert.equal(a.holders(6), 0, "a request without it is believed once it is not pending");
});

Deno.test("SeedAvailability: the requesters heard from longest ago are forgotten first", {
  permissions: "none",
}, () => {
  // 8 Mi pieces: 1 MiB per map, so only 16 maps fit
  const a = new SeedAvailability(8 * 1024 * 1024);
  for (let i = 0; i < 17; i++) a.add(`r${i}`, 0, 0);
  assert.equal(a.holders(0), 16);
  assert.ok(!a.has("r0", 0) && a.has("r16", 0));
});
