import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { manifestBound, ManifestFetch } from "../../lib/peer/core/manifest_fetch.ts";
import { MANIFEST_DATA_HEADER_SIZE } from "../../lib/wire/limits.ts";

function manifestBytes(n: number, seed = 1): { encoded: Uint8Array; id: Uint8Array } {
  const encoded = new Uint8Array(n);
  for (let i = 0; i < n; i++) encoded[i] = (i * 31 + seed) & 0xff;
  return { encoded, id: new Uint8Array(createHash("sha256").update(encoded).digest()) };
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

Deno.test({
  name:
    "ManifestFetch assembles a manifest spanning many datagrams and checks it against the content id",
  permissions: "none",
  fn() {
    const { encoded, id } = manifestBytes(40_000);
    const f = new ManifestFetch({ contentId: id, maxDatagram: 1200 });
    f.addOwner("a");
    drive(f, { a: encoded }, 1200);
    assert.deepEqual(f.result, encoded);
  },
});

Deno.test({
  name: "ManifestFetch recovers lost slices by timeout",
  permissions: "none",
  fn() {
    const { encoded, id } = manifestBytes(20_000);
    const f = new ManifestFetch({ contentId: id, maxDatagram: 1200 });
    f.addOwner("a");
    drive(f, { a: encoded }, 1200, (i) => i % 3 === 1);
    assert.deepEqual(f.result, encoded);
  },
});

Deno.test({
  name:
    "ManifestFetch rejects a manifest that does not match its content id and moves to the next owner",
  permissions: "none",
  fn() {
    const { encoded, id } = manifestBytes(5000);
    const liar = encoded.slice();
    liar[100]! ^= 1;
    const f = new ManifestFetch({ contentId: id, maxDatagram: 1200 });
    f.addOwner("liar");
    f.addOwner("honest");
    drive(f, { liar, honest: encoded }, 1200);
    assert.deepEqual(f.badOwners, ["liar"]);
    assert.deepEqual(f.result, encoded);
  },
});

Deno.test({
  name: "ManifestFetch fails when the only owner lies, and when owners stay silent",
  permissions: "none",
  fn() {
    const { encoded, id } = manifestBytes(3000);
    const liar = encoded.slice();
    liar[0]! ^= 0xff;
    const f = new ManifestFetch({ contentId: id, maxDatagram: 1200 });
    f.addOwner("liar");
    drive(f, { liar }, 1200);
    assert.equal(f.result, undefined);
    assert.equal(f.failed, true);

    const g = new ManifestFetch({ contentId: id, maxDatagram: 1200, timeoutMs: 10 });
    g.addOwner("silent");
    const t = drive(g, { silent: undefined }, 1200);
    assert.equal(g.failed, true);
    assert.ok(t > 0 && t < 1000, `gave up after ${t} ms of virtual time`);
  },
});

Deno.test({
  name: "ManifestFetch refuses a total larger than the bound for the advertised size",
  permissions: "none",
  fn() {
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
  },
});
