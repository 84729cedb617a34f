/**
 * A swarm's start-up at a crowded seed (simulator, virtual time): a crowd of downloaders starting
 * at once asks one seed for the manifest together, and its replies wait in the seed's queue
 * longer than three round trips. A crowded owner answers a requester's slice at most once per
 * 100 ms (manifest_repeats.ts), so the seed sends each downloader its manifest about once instead
 * of 2–5 times (docs/TRANSFER.md, _Swarm figures_, fifth pass).
 * @module
 */
import assert from "node:assert/strict";
import { simContent } from "../../lib/sim/sim_peer.ts";
import { MiB, none, randomBytes, SimWorld } from "./_world.ts";

const CROWD = 40;

/** The seed's manifest bytes sent over the encoded manifest's size, once every part is open. */
function manifestCopies(): number {
  const w = new SimWorld(3);
  // 16 KiB pieces: a 32 KiB manifest, two datagrams, so the crowd's replies queue at the seed
  const content = simContent("crowd.bin", randomBytes(16 * MiB, 5), 16 * 1024);
  const seed = w.peer(1, 5000);
  seed.share(content);
  const peers = Array.from({ length: CROWD }, (_, i) => w.peer(2 + i, 5000));
  w.settle(1);
  const downloads = peers.map((p) => p.download(content.contentIdHex));
  const ok = w.net.run(() => downloads.every((d) => d.core.progress !== undefined), {
    maxMs: w.net.now + 5000,
  });
  assert.ok(ok, "every download got its manifest and started");
  return seed.rules.stats.manifestBytesSent / content.encoded.byteLength;
}

Deno.test("swarm start-up: a crowd's manifests leave a seed about once each", none, () => {
  // Measured: 0.59 copies per downloader with the 8,952-byte datagrams hosts that are not
  // loopback get (datagram_cap.ts: 4 slices per manifest) and the crowd from the 10th requester
  // on; 1.52 when the first 36 requesters made the crowd (1.25 with 32 KiB datagrams); 2.36
  // before the rule
  const copies = manifestCopies();
  assert.ok(copies <= 1.0 * CROWD, `${(copies / CROWD).toFixed(2)} copies per downloader`);
});
