import assert from "node:assert/strict";
import { FairShare, prefixOf } from "../../lib/peer/core/fair_share.ts";
import { UploadRules } from "../../lib/peer/core/upload_rules.ts";
import { contentIdOf, encodeManifest } from "../../lib/peer/manifest.ts";
import { decodeMessage } from "../../lib/wire/codec.ts";

const none = { permissions: "none" } as const;
const MiB = 1024 * 1024;

Deno.test("prefixOf() groups IPv4 by /24 and IPv6 by /48", none, () => {
  assert.equal(prefixOf("198.51.100.7"), "198.51.100/24");
  assert.equal(prefixOf("::ffff:198.51.100.9"), "198.51.100/24");
  assert.equal(prefixOf("2001:db8:1:2::5"), "2001:db8:1::/48");
  assert.equal(prefixOf("not-an-ip"), "not-an-ip");
});

Deno.test("FairShare gives a lone host everything and holds it to what others leave", none, () => {
  const fair = new FairShare({ windowMs: 100, minCapacity: 1 });
  let t = 0, alone = 0;
  for (; t < 1000; t += 10) if (fair.admit("192.0.2.1", 4 * MiB, t)) alone += 4 * MiB;
  assert.equal(alone, 100 * 4 * MiB, "never idles the uploader");
  // An honest host asks 2 MiB every 10 ms: all of it goes through; the heavy one gets the rest
  let heavy = 0, honest = 0, honestAsked = 0;
  for (; t < 3000; t += 10) {
    honestAsked += 2 * MiB;
    if (fair.admit("198.51.100.7", 2 * MiB, t)) honest += 2 * MiB;
    for (let i = 0; i < 10; i++) if (fair.admit("192.0.2.1", 4 * MiB, t)) heavy += 4 * MiB;
  }
  assert.equal(honest, honestAsked, "every honest request admitted");
  const capacity = 40 * MiB; // per window, learned while the heavy host was alone
  const windows = 20;
  assert.ok(heavy <= windows * (capacity - 20 * MiB) + 8 * 4 * MiB, `heavy ${heavy / MiB} MiB`);
  assert.ok(heavy >= windows * (capacity - 20 * MiB) * 0.8, "the rest is used: work-conserving");
  assert.ok(fair.refused > 0);
});

Deno.test(
  "UploadRules: 1,000 ports of one host asking 4 MiB each do not starve an honest requester",
  none,
  () => {
    const size = 64 * MiB;
    const manifest = { size, pieceSize: 4 * MiB, pieceHashes: new Uint8Array(32 * 16) };
    const encoded = encodeManifest(manifest);
    // The uploader can send 400 MB/s in all (a total bucket stands for its link or CPU)
    const rules = new UploadRules({
      randomBytes: (n) => new Uint8Array(n).fill(1),
      totalRate: 400e6,
      totalBurst: 8 * MiB,
    });
    rules.share({ path: "f", manifest, encoded });
    const honestErrors: string[] = [];
    const request = (from: Deno.NetAddr, offset: number, length: number, now: number) => {
      const plan = rules.handleRequest(
        {
          type: "block_request",
          txid: 1,
          cookie: rules.cookieFor(from, now),
          contentId: contentIdOf(encoded),
          blockSize: 32768,
          ranges: [{ offset, length }],
        },
        from,
        now,
      );
      let bytes = 0;
      if (plan) {
        while (plan.next()) bytes += plan.length;
        for (let i = 0; i < 1024; i++) rules.handleSendSettled(); // loopback: sends settle at once
      }
      for (let t = rules.pollTransmit(); t; t = rules.pollTransmit()) {
        const m = decodeMessage(t.bytes);
        if (t.to.hostname === "198.51.100.7" && m.type === "error") honestErrors.push(m.text);
      }
      return bytes;
    };
    const attackers = Array.from({ length: 1000 }, (_, i) => ({
      transport: "udp" as const,
      hostname: "203.0.113.66",
      port: 10_000 + i,
    }));
    const honest = { transport: "udp" as const, hostname: "198.51.100.7", port: 4000 };
    let attackBytes = 0, honestBytes = 0, honestAsked = 0;
    for (let t = 0; t < 2000; t += 5) {
      // Each tick: 50 attacker ports ask 4 MiB (10,000 requests/s), the honest one 256 KiB
      for (let k = 0; k < 50; k++) {
        const a = attackers[(t / 5 * 50 + k) % attackers.length]!;
        attackBytes += request(a, 0, 4 * MiB, t);
      }
      if (t >= 500) {
        honestAsked += 256 * 1024;
        honestBytes += request(honest, (t * 256 * 1024) % size, 256 * 1024, t);
      }
    }
    // The flood is held back by the fair share; the honest requester never is (what it misses
    // is the link's own limit, the total bucket, which the flood reaches first in a window)
    assert.ok(!honestErrors.some((t) => t.startsWith("fair share")), honestErrors.join("; "));
    assert.ok(honestBytes >= 0.85 * honestAsked, `honest got ${honestBytes} of ${honestAsked}`);
    assert.ok(rules.stats.fairShareRefusals > 0, "the flood was held back");
    assert.ok(attackBytes > 0);
  },
);
