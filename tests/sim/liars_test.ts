/**
 * Issue 11, item 2, on the simulated network: fake owners that lie about their upload cannot
 * deny a file. 16 liars (8 on each of two hosts) announce the file, never answer a datagram and
 * claim 2^53−1 bytes uploaded with UPDATE every 2 s; an accomplice on a third host REPORTs
 * 2^53−1 verified bytes from each of them. One honest owner shares the file. A downloader asking
 * for 16 owners (the tracker hands out 8) must find the honest one within seconds.
 * @module
 */
import assert from "node:assert/strict";
import { SimNetwork } from "../../lib/sim/sim_network.ts";
import { SimTracker } from "../../lib/sim/sim_tracker.ts";
import { simContent, SimPeer } from "../../lib/sim/sim_peer.ts";
import { Prng } from "../../lib/sim/prng.ts";

const TRACKER = { hostname: "10.0.0.1", port: 6969 };
const LIE = Number.MAX_SAFE_INTEGER;

interface Outcome {
  /** Virtual ms from the start of the download to its verified end. */
  ms: number;
  /** NEEDs the downloader sent. */
  needs: number;
}

function attack(seed: number): Outcome {
  const net = new SimNetwork({ seed, link: { latencyMs: 2 } });
  net.addHost(TRACKER.hostname);
  const tracker = new SimTracker(net, TRACKER, { intervalMs: 2000 });
  const bytes = new Uint8Array(4 * 1024 * 1024);
  new Prng(seed).fill(bytes);
  const content = simContent("f16.bin", bytes);
  const hosts = new Set<string>();
  let port = 7000;
  const peer = (host: string, nodeId: string, extra: object = {}) => {
    if (!hosts.has(host)) net.addHost(host, { upload: 12_500 }); // 100 Mbit/s
    hosts.add(host);
    port += 100; // room for the data sockets of a download
    return new SimPeer(net, { nodeId, addr: { hostname: host, port }, tracker: TRACKER, ...extra });
  };
  for (let i = 0; i < 16; i++) {
    peer(`10.0.2.${1 + (i >> 3)}`, `liar${i}`, { deaf: true, claimUploaded: LIE }).share(content);
  }
  const accomplice = peer("10.0.3.1", "accomplice");
  const honest = peer("10.0.1.1", "honest");
  honest.share(content);
  const downloader = peer("10.0.4.1", "downloader");
  const registry = tracker.core;
  assert.ok(
    net.run(
      () => registry.peerCount === 19 && registry.peerInfo("honest", net.now)?.files.length === 1,
      { maxMs: 5000 },
    ),
  );
  // The accomplice credits every liar with all it may, every second, for a minute.
  const credit = () =>
    accomplice.session.report(
      content.contentId,
      Array.from({ length: 16 }, (_, i) => ({ nodeId: `liar${i}`, bytes: LIE })),
      net.now,
    );
  for (let t = 0; t < 60_000; t += 1000) net.at(net.now + t, credit);
  net.run(() => false, { maxMs: net.now + 3000 }); // the lies are in: every liar ranks first
  const before = registry.counters.needs;
  const t0 = net.now;
  const d = downloader.download("f16.bin", { maxOwners: 16, reference: bytes });
  net.run(() => d.finishedAt !== undefined, { maxMs: net.now + 60_000 });
  assert.equal(d.error, undefined, `the download failed: ${d.error}`);
  assert.equal(d.mismatchedPieces, 0);
  assert.deepEqual(d.result?.owners.map((o) => o.nodeId), ["honest"]);
  return { ms: d.finishedAt! - t0, needs: registry.counters.needs - before };
}

Deno.test({
  name: "simulation: one honest owner among 16 lying fake owners is found within seconds",
  permissions: "none",
  fn() {
    const runs = [1, 2, 3, 4, 5, 6, 7, 8].map(attack);
    const worst = Math.max(...runs.map((r) => r.ms));
    console.log(
      `[sim] 16 liars + 1 honest owner, 4 MiB: done after ${
        runs.map((r) => (r.ms / 1000).toFixed(2)).join(", ")
      } s virtual (${runs.map((r) => r.needs).join(", ")} NEEDs)`,
    );
    assert.ok(worst < 10_000, `found within 10 s: worst ${worst.toFixed(0)} ms`);
  },
});
