import assert from "node:assert/strict";
import { randomNodeId } from "../../lib/peer/node_id.ts";
import { isValidNodeId } from "../../lib/wire/codec.ts";

const pure = { permissions: "none" } as const;

Deno.test("randomNodeId() is p and 8 hex digits of the injected bytes", pure, () => {
  assert.equal(randomNodeId((b) => b.fill(0xab)), "pabababab");
  assert.equal(randomNodeId((b) => b.fill(0)), "p00000000");
});

Deno.test("randomNodeId() gives valid, distinct ids from crypto randomness", pure, () => {
  const ids = new Set(Array.from({ length: 64 }, () => randomNodeId()));
  assert.equal(ids.size, 64);
  for (const id of ids) {
    assert.match(id, /^p[0-9a-f]{8}$/);
    assert.ok(isValidNodeId(id));
  }
});
