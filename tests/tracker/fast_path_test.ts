import assert from "node:assert/strict";
import fc from "fast-check";
import { decodeMessage, encodeMessage } from "../../lib/wire/codec.ts";
import type { NeedMessage, OwnersMessage, RegisterMessage } from "../../lib/wire/messages.ts";
import {
  encodeOwnerEntry,
  encodeOwners,
  encodeRegistered,
  newFastRequest,
  parseNeed,
  parseRegister,
  ReplySlab,
} from "../../lib/wire/fast_path.ts";
import { toHex } from "../../lib/wire/hex.ts";
import { messages } from "../wire/_arbitraries.ts";

const none = { permissions: "none" } as const;

function cookieOf(hi: number, lo: number): bigint {
  return (BigInt(hi) << 32n) | BigInt(lo);
}

Deno.test("parseRegister() agrees with decodeMessage() on every REGISTER", none, () => {
  fc.assert(fc.property(messages.register, (m) => {
    const bytes = encodeMessage(m);
    const out = newFastRequest();
    assert.ok(parseRegister(bytes, out));
    const ref = decodeMessage(bytes) as RegisterMessage;
    assert.equal(out.txid, ref.txid);
    assert.equal(cookieOf(out.cookieHi, out.cookieLo), ref.cookie);
    assert.equal(out.nodeId, ref.nodeId);
  }));
});

Deno.test("parseNeed() agrees with decodeMessage() or defers to it", none, () => {
  fc.assert(fc.property(messages.need, (m) => {
    const bytes = encodeMessage(m);
    const out = newFastRequest();
    const ref = decodeMessage(bytes) as NeedMessage;
    if (!parseNeed(bytes, out)) {
      // Only non-ASCII names and NEEDs with an exclude list are left to the reference codec.
      assert.ok(
        ref.exclude !== undefined ||
          (ref.want.kind === "name" && [...ref.want.name].some((ch) => ch.charCodeAt(0) > 0x7f)),
      );
      return;
    }
    assert.equal(out.txid, ref.txid);
    assert.equal(cookieOf(out.cookieHi, out.cookieLo), ref.cookie);
    assert.equal(out.nodeId, ref.nodeId);
    assert.equal(out.maxOwners, ref.maxOwners);
    if (ref.want.kind === "name") {
      assert.equal(out.wantKind, 1);
      assert.equal(out.name, ref.want.name);
      assert.equal(
        new TextDecoder().decode(bytes.subarray(out.nameStart, out.nameStart + out.nameLength)),
        ref.want.name,
      );
    } else {
      assert.equal(out.wantKind, 2);
      assert.equal(toHex(bytes, out.contentIdStart, 32), toHex(ref.want.contentId));
    }
  }));
});

Deno.test("the fast parsers never accept what decodeMessage() rejects", none, () => {
  const register = encodeMessage({ type: "register", txid: 5, cookie: 77n, nodeId: "abc" });
  const need = encodeMessage({
    type: "need",
    txid: 5,
    cookie: 77n,
    nodeId: "abc",
    maxOwners: 3,
    want: { kind: "name", name: "file.bin" },
  });
  fc.assert(
    fc.property(
      fc.constantFrom(register, need),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
      fc.integer({ min: -3, max: 3 }),
      (base, flips, resize) => {
        const b = new Uint8Array(Math.max(0, base.length + resize));
        b.set(base.subarray(0, b.length));
        for (const [at, v] of flips) if (b.length > 0) b[at % b.length] = v;
        let refOk = true;
        try {
          decodeMessage(b);
        } catch {
          refOk = false;
        }
        const out = newFastRequest();
        if (parseRegister(b, out) || parseNeed(b, out)) assert.ok(refOk, `accepted ${b}`);
      },
    ),
    { numRuns: 5000 },
  );
});

Deno.test("encodeRegistered() and encodeOwners() produce the reference codec's bytes", none, () => {
  const slab = new ReplySlab();
  fc.assert(fc.property(messages.registered, (m) => {
    const ref = encodeMessage(m);
    const c = m.cookie;
    const fast = encodeRegistered(
      slab,
      m.txid,
      Number(c >> 32n),
      Number(c & 0xffffffffn),
      m.intervalMs,
      m.evictAfterMs,
    );
    assert.deepEqual(fast, ref);
  }));
  fc.assert(fc.property(messages.owners, (m: OwnersMessage) => {
    const ref = encodeMessage(m);
    const name = new TextEncoder().encode(m.name);
    const padded = new Uint8Array(name.length + 3);
    padded.set(name, 2);
    const fast = encodeOwners(
      slab,
      m.txid,
      m.contentId,
      m.size,
      m.alternatives,
      padded,
      2,
      name.length,
      m.owners.map(encodeOwnerEntry),
      m.owners.map((o) => o.rate),
      m.owners.length,
      m.owners.some((o) => o.have !== undefined) ? m.owners.map((o) => o.have!) : undefined,
    );
    assert.deepEqual(fast, ref);
  }));
});

Deno.test("ReplySlab hands out disjoint zeroed views and wraps", none, () => {
  const slab = new ReplySlab();
  const a = slab.take(24), b = slab.take(24);
  a.fill(1);
  assert.ok(b.every((x) => x === 0));
  assert.notEqual(a.byteOffset, b.byteOffset);
  let wrapped = false;
  for (let i = 0; i < 100; i++) if (slab.take(60_000).byteOffset === 0) wrapped = true;
  assert.ok(wrapped);
});

Deno.test("ReplySlab never reuses a chunk with a send pending", none, () => {
  const slab = new ReplySlab();
  const first = slab.take(100);
  const token = slab.sending(first);
  assert.equal(token, 0);
  first.fill(0xab);
  // Go once around the ring: 4 MiB of replies, each sent and completed at once.
  let fresh = 0;
  for (let i = 0; i < 100; i++) {
    const b = slab.take(60_000);
    const t = slab.sending(b);
    if (t < 0) fresh++;
    slab.sent(t);
  }
  assert.ok(fresh > 0, "the chunk still being sent was skipped");
  assert.ok(first.every((x) => x === 0xab), "the pending reply is intact");
  assert.equal(slab.fallbacks, fresh);
  slab.sent(token);
  let reused = false;
  for (let i = 0; i < 100; i++) if (slab.take(60_000).byteOffset === 0) reused = true;
  assert.ok(reused, "once sent, the chunk is used again");
  assert.equal(slab.sending(new Uint8Array(4)), -1);
});
