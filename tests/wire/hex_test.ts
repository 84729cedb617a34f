import assert from "node:assert/strict";
import { fromHex, toHex } from "../../lib/wire/hex.ts";

const none = { permissions: "none" } as const;

Deno.test("toHex() converts all of the bytes or a slice", none, () => {
  const b = new Uint8Array([0x00, 0x0f, 0xa0, 0xff]);
  assert.equal(toHex(b), "000fa0ff");
  assert.equal(toHex(b, 1, 2), "0fa0");
  assert.equal(toHex(new Uint8Array(0)), "");
});

Deno.test("fromHex() reads exactly byteLength bytes, 32 by default", none, () => {
  assert.deepEqual(fromHex("0FA0ff", 3), new Uint8Array([0x0f, 0xa0, 0xff]));
  assert.equal(fromHex("0fa0", 3), null, "too short");
  assert.equal(fromHex("0fa0ff00", 3), null, "too long");
  assert.equal(fromHex("0fa0fg", 3), null, "not hex");
  const id = new Uint8Array(32).map((_, i) => i * 7);
  assert.deepEqual(fromHex(toHex(id)), id);
  assert.equal(fromHex("ab".repeat(16)), null, "16 bytes is not a content id");
});
