/**
 * The uploader's upload cap (`uploadRate`, `--max-upload`) on a virtual clock: requests beyond
 * it wait and go out paced (never ERROR busy for a requester within its share), requesters are
 * served in fair order, a requester that queues too much gets busy, and lifting the cap lets
 * everything go.
 * @module
 */
import assert from "node:assert/strict";
import { decodeMessage } from "../../lib/wire/codec.ts";
import { ErrorCode } from "../../lib/wire/messages.ts";
import { contentIdOf, encodeManifest } from "../../lib/peer/manifest.ts";
import { UploadRules } from "../../lib/peer/core/upload_rules.ts";
import { blockRequest } from "./_upload_requests.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const A: Deno.NetAddr = { transport: "udp", hostname: "192.0.2.1", port: 40000 };
const B: Deno.NetAddr = { transport: "udp", hostname: "192.0.2.2", port: 40000 };

/** Rules capped at `rate` sharing an 8 MiB content in 1 MiB pieces. */
function capped(rate: number) {
  const manifest = { size: 8 * MiB, pieceSize: MiB, pieceHashes: new Uint8Array(8 * 32) };
  const encoded = encodeManifest(manifest);
  let k = 0;
  const rules = new UploadRules({
    randomBytes: (n) => new Uint8Array(n).map(() => k++),
    uploadRate: rate,
  });
  rules.share({ path: "c", manifest, encoded });
  const c = { contentId: contentIdOf(encoded) };
  /** Asks for 64 KiB at `offset` as `from` (txid = offset / 64 KiB); true when sent at once. */
  const ask = (from: Deno.NetAddr, offset: number, now: number, length = 64 * KiB) => {
    const msg = {
      ...blockRequest(c, [{ offset, length }], 16 * KiB, offset / (64 * KiB)),
      cookie: rules.cookieFor(from, 0),
    };
    const plan = rules.handleRequest(msg, from, now);
    if (!plan) return false;
    while (plan.next());
    return true;
  };
  /** Releases what is due at `now`: the [host, txid] of each plan. */
  const release = (now: number) => {
    const out: [string, number][] = [];
    for (let p = rules.pollPlan(now); p; p = rules.pollPlan(now)) {
      out.push([p.to.hostname, p.txid]);
      while (p.next());
    }
    return out;
  };
  return { rules, ask, release };
}

Deno.test("UploadRules uploadRate: requests beyond the cap wait, then go out paced and fairly", {
  permissions: "none",
}, () => {
  // 256 KiB/s: a 64 KiB burst, then one 64 KiB request every 250 ms
  const { rules, ask, release } = capped(256 * KiB);
  assert.equal(ask(A, 0, 0), true, "the burst goes at once");
  for (let i = 1; i < 4; i++) assert.equal(ask(A, i * 64 * KiB, 0), false);
  assert.equal(ask(B, 0, 1), false);
  assert.equal(rules.pollTransmit(), undefined, "no ERROR busy: they wait");
  assert.equal(rules.queuedRequests, 4);
  assert.equal(rules.pollTimeout(), 250, "when 64 KiB are back");
  assert.deepEqual(release(249), []);
  const order: [string, number][] = [];
  for (let now = 250; rules.queuedRequests > 0; now = rules.pollTimeout()!) {
    order.push(...release(now));
  }
  // B's one request goes first (A had the burst), not after A's three (fair queuing by bytes)
  const b = ["192.0.2.2", 0];
  assert.deepEqual(order, [b, ["192.0.2.1", 1], ["192.0.2.1", 2], ["192.0.2.1", 3]]);
  assert.equal(rules.stats.bytesSent, 5 * 64 * KiB);
  assert.equal(rules.stats.errors.busy, 0);
});

Deno.test(
  "UploadRules uploadRate: a requester with more than a request's worth waiting gets busy",
  {
    permissions: "none",
  },
  () => {
    const { rules, ask } = capped(256 * KiB);
    assert.equal(ask(A, 0, 0), true);
    // maxRequestBytes (4 MiB) may wait per requester: 64 requests of 64 KiB
    for (let i = 0; i < 64; i++) assert.equal(ask(A, (i % 64) * 64 * KiB, 0), false);
    assert.equal(rules.pollTransmit(), undefined);
    assert.equal(ask(A, 0, 0), false);
    const t = rules.pollTransmit()!;
    const msg = decodeMessage(t.bytes);
    assert.ok(msg.type === "error" && msg.code === ErrorCode.busy);
    assert.match(msg.text, /^upload cap: 4194304 bytes queued, retry in 16000 ms$/);
    // Another requester still waits its turn rather than being refused
    assert.equal(ask(B, 0, 0), false);
    assert.equal(rules.pollTransmit(), undefined);
  },
);

Deno.test("UploadRules.setUploadRate(): lifting the cap lets every waiting request go", {
  permissions: "none",
}, () => {
  const { rules, ask, release } = capped(256 * KiB);
  ask(A, 0, 0);
  ask(A, 64 * KiB, 0);
  ask(B, 0, 0);
  assert.equal(rules.queuedRequests, 2);
  rules.setUploadRate(Infinity, 10);
  assert.equal(rules.uploadRate, Infinity);
  assert.equal(rules.pollTimeout(), -Infinity, "due now");
  assert.deepEqual(release(10), [["192.0.2.2", 0], ["192.0.2.1", 1]]);
  assert.equal(rules.pollTimeout(), undefined);
  assert.equal(ask(A, 0, 11), true, "no cap: at once");
  assert.throws(() => rules.setUploadRate(0, 12), RangeError);
});
