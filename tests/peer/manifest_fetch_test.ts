import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  BUSY_PATIENCE_MS,
  manifestBound,
  ManifestFetch,
} from "../../lib/peer/core/manifest_fetch.ts";
import { MANIFEST_DATA_HEADER_SIZE } from "../../lib/wire/limits.ts";

function manifestBytes(n: number, seed = 1): { encoded: Uint8Array; id: Uint8Array } {
  const encoded = new Uint8Array(n);
  for (let i = 0; i < n; i++) encoded[i] = (i * 31 + seed) & 0xff;
  return { encoded, id: new Uint8Array(createHash("sha256").update(encoded).digest()) };
}

/** A fetch of content `id` over 1200-byte datagrams from `owners`, in order. */
function fetchFrom(id: Uint8Array, ...owners: string[]): ManifestFetch {
  const f = new ManifestFetch({ contentId: id, maxDatagram: 1200 });
  for (const o of owners) f.addOwner(o);
  return f;
}

/** A copy of `bytes` with byte `at` XORed with `mask`. */
function corrupt(bytes: Uint8Array, at: number, mask: number): Uint8Array {
  const out = bytes.slice();
  out[at] = out[at]! ^ mask;
  return out;
}

/** Serves every transmit from `owners[owner]` (undefined = silent) until done or `steps` run out. */
function drive(
  f: ManifestFetch,
  owners: Record<string, Uint8Array | undefined>,
  maxDatagram: number,
  drop: (i: number) => boolean = () => false,
): number {
  let now = 0;
  let i = 0;
  for (let step = 0; step < 1000 && !f.result && !f.failed; step++) {
    const tx = f.pollTransmit(now);
    for (const t of tx) {
      const src = owners[t.owner];
      if (!src || drop(i++)) continue;
      const len = Math.min(maxDatagram - MANIFEST_DATA_HEADER_SIZE, src.byteLength - t.offset);
      f.handleData(t.owner, src.byteLength, t.offset, src.subarray(t.offset, t.offset + len), now);
    }
    if (tx.length === 0 || f.pollTimeout() !== undefined) {
      const to = f.pollTimeout();
      if (to === undefined) break;
      now = to;
      f.handleTimeout(now);
    }
  }
  return now;
}

Deno.test(
  "ManifestFetch assembles a manifest spanning many datagrams and checks it against the content id",
  { permissions: "none" },
  () => {
    const { encoded, id } = manifestBytes(40_000);
    const f = fetchFrom(id, "a");
    drive(f, { a: encoded }, 1200);
    assert.deepEqual(f.result, encoded);
  },
);

Deno.test("ManifestFetch recovers lost slices by timeout", { permissions: "none" }, () => {
  const { encoded, id } = manifestBytes(20_000);
  const f = fetchFrom(id, "a");
  drive(f, { a: encoded }, 1200, (i) => i % 3 === 1);
  assert.deepEqual(f.result, encoded);
});

Deno.test(
  "ManifestFetch rejects a manifest that does not match its content id and moves to the next owner",
  { permissions: "none" },
  () => {
    const { encoded, id } = manifestBytes(5000);
    const liar = corrupt(encoded, 100, 1);
    const f = fetchFrom(id, "liar", "honest");
    drive(f, { liar, honest: encoded }, 1200);
    assert.deepEqual(f.badOwners, ["liar"]);
    assert.deepEqual(f.result, encoded);
  },
);

Deno.test("ManifestFetch fails when the only owner lies, and when owners stay silent", {
  permissions: "none",
}, () => {
  const { encoded, id } = manifestBytes(3000);
  const liar = corrupt(encoded, 0, 0xff);
  const f = fetchFrom(id, "liar");
  drive(f, { liar }, 1200);
  assert.equal(f.result, undefined);
  assert.equal(f.failed, true);

  const g = new ManifestFetch({ contentId: id, maxDatagram: 1200, timeoutMs: 10 });
  g.addOwner("silent");
  const t = drive(g, { silent: undefined }, 1200);
  assert.equal(g.failed, true);
  assert.ok(t > 0 && t < 1000, `gave up after ${t} ms of virtual time`);
});

Deno.test("ManifestFetch refuses a total larger than the bound for the advertised size", {
  permissions: "none",
}, () => {
  const { id } = manifestBytes(100);
  const bound = manifestBound(1 << 20);
  assert.equal(bound, 64 + 32 * 64);
  const f = new ManifestFetch({ contentId: id, maxDatagram: 1200, maxBytes: bound });
  f.addOwner("a");
  f.addOwner("b");
  f.pollTransmit(0);
  f.handleData("a", 50_000_000, 0, new Uint8Array(10), 0);
  assert.deepEqual(f.badOwners, ["a"]);
  assert.equal(f.currentOwner, "b");
});

Deno.test("ManifestFetch moves on from a busy owner without giving it up", {
  permissions: "none",
}, () => {
  const { encoded, id } = manifestBytes(3000);
  const f = fetchFrom(id, "seed");
  // The seed (the only owner) is busy: it stays current and is asked again after the timeout
  assert.deepEqual(f.pollTransmit(0).map((t) => t.owner), ["seed"]);
  f.handleBusy("seed", 1);
  assert.equal(f.currentOwner, "seed");
  assert.equal(f.failed, false);
  f.handleTimeout(f.pollTimeout()!);
  assert.deepEqual(f.pollTransmit(300).map((t) => t.owner), ["seed"]);
  // A partial owner appears; the seed's next busy answer moves the fetch to it
  f.addOwner("p1");
  f.handleBusy("seed", 310);
  assert.equal(f.currentOwner, "p1");
  // A late busy from the seed (no longer asked) changes nothing
  f.handleBusy("seed", 311);
  assert.equal(f.currentOwner, "p1");
  drive(f, { p1: encoded }, 1200);
  assert.deepEqual(f.result, encoded);
  assert.deepEqual(f.badOwners, []);
});

Deno.test("ManifestFetch goes round the owners on busy, and gives up one only busy for 10 s", {
  permissions: "none",
}, () => {
  const { id } = manifestBytes(3000);
  const f = fetchFrom(id, "a", "b");
  f.pollTransmit(0);
  f.handleBusy("a", 0);
  assert.equal(f.currentOwner, "b");
  f.pollTransmit(0);
  f.handleBusy("b", 1);
  assert.equal(f.currentOwner, "a", "a was busy, not given up: asked again");
  // An only owner that answers busy and nothing else is alive for BUSY_PATIENCE_MS, then dropped
  const g = fetchFrom(id, "seed");
  let now = 0;
  for (; now < 20_000 && !g.failed; now += 50) {
    g.pollTransmit(now);
    g.handleBusy("seed", now);
    const to = g.pollTimeout();
    if (to !== undefined && to <= now + 50) g.handleTimeout(now + 50);
  }
  assert.ok(g.failed, "given up");
  assert.ok(now >= BUSY_PATIENCE_MS, `given up at ${now} ms`);
  assert.ok(now < BUSY_PATIENCE_MS + 5000, `given up at ${now} ms`);
});
