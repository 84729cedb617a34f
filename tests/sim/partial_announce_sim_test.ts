/**
 * Downloaders find each other before any of them has a piece (PartialAnnounce's `early`): on the
 * simulated network, each download announces "nothing yet" as soon as its part opens, so a
 * NEED_PARTIAL names the other downloaders and they are owners in use when the first piece is
 * verified anywhere. Virtual time, deterministic.
 * @module
 */
import assert from "node:assert/strict";
import { SimNetwork } from "../../lib/sim/sim_network.ts";
import { SimTracker } from "../../lib/sim/sim_tracker.ts";
import { SimPeer } from "../../lib/sim/sim_peer.ts";
import { swarmFile } from "../../lib/sim/swarm_scenario.ts";

const none = { permissions: "none" } as const;
const TRACKER = { hostname: "10.0.0.1", port: 6969 };

/** Other downloaders each download uses (on average) when the first piece anywhere is verified. */
function peersKnownAtFirstPiece(announceEarly: boolean): number {
  const net = new SimNetwork({ seed: 7, link: { latencyMs: 2 } });
  net.addHost(TRACKER.hostname);
  const tracker = new SimTracker(net, TRACKER, { intervalMs: 5000, maxOwners: 16 });
  net.addHost("10.0.1.1", { upload: 5000 });
  const seed = new SimPeer(net, {
    nodeId: "seed",
    addr: { hostname: "10.0.1.1", port: 7000 },
    tracker: TRACKER,
  });
  const peers = Array.from({ length: 12 }, (_, i) => {
    net.addHost(`10.0.2.${i}`, { upload: 5000 });
    return new SimPeer(net, {
      nodeId: `p${i}`,
      addr: { hostname: `10.0.2.${i}`, port: 7000 },
      tracker: TRACKER,
      announceEarly,
    });
  });
  const file = swarmFile(16 * 1024 * 1024, 7);
  seed.share(file);
  net.run(() => tracker.core.fileCount === 1, { maxMs: 5000 });
  const downloads = peers.map((p) => p.download(file.contentIdHex, { reference: file.bytes }));
  const any = () => downloads.some((d) => d.have?.includes(1) === true);
  assert.ok(net.run(any, { maxMs: net.now + 10_000 }), "a piece was verified");
  // Progress reports come every 250 ms: read the next ones
  net.run(() => false, { maxMs: net.now + 260 });
  let known = 0;
  for (const d of downloads) {
    known += (d.core.progress?.owners ?? []).filter((o) => o.startsWith("p")).length;
  }
  return known / downloads.length;
}

Deno.test(
  "swarm: downloaders use each other as owners by the time the first piece is verified",
  none,
  () => {
    const early = peersKnownAtFirstPiece(true);
    const late = peersKnownAtFirstPiece(false);
    // Measured: 9.3 early, 2.0 late (those that saw a piece's announcement in the 260 ms after)
    assert.ok(early >= 6, `each download used ${early.toFixed(1)} other downloaders`);
    assert.ok(late <= early / 2, `late: ${late.toFixed(1)}, early: ${early.toFixed(1)}`);
  },
);
