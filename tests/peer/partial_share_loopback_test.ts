/**
 * Swarming over real UDP sockets on loopback (in-process tracker and peers, real `.part` files):
 * a downloader serves the pieces it has verified to another downloader while it is still
 * downloading. The seed's upload is capped, so the first download is slow and the second one
 * starts while it runs; nothing races a free-running transfer.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startPeer } from "../../lib/peer/peer.ts";
import type { PeerOptions } from "../../lib/peer/api.ts";
import { randomFile, sha256File } from "../_harness/processes.ts";
import { waitUntil, withTimeout } from "../_harness/wait.ts";
import { loopbackSwarm } from "../_harness/loopback_swarm.ts";

const MiB = 1024 * 1024;

function peer(tracker: string, nodeId: string, dir: string, extra: PeerOptions = {}) {
  return startPeer({ tracker, nodeId, dir, outDir: dir, cacheDir: join(dir, ".cache"), ...extra });
}

Deno.test("startPeer() serves verified pieces of a .part file while it still downloads", async () => {
  await using tmp = await loopbackSwarm("udpswarm-partial-", ["seed", "a", "b"]);
  const [dSeed, dA, dB] = tmp.dirs;
  const size = 8 * MiB;
  await randomFile(join(dSeed, "f.bin"), size, 12);
  const want = await sha256File(join(dSeed, "f.bin"));

  // The seed sends 1 MiB/s: A alone would need 8 s, so A is mid-download for seconds
  await using seed = await peer(tmp.address, "seed", dSeed, { maxUploadRate: MiB });
  await using a = await peer(tmp.address, "a", dA);
  await using b = await peer(tmp.address, "b", dB);
  await seed.share("f.bin");

  const ha = a.download("f.bin");
  let aVerified = 0;
  ha.onProgress((p) => aVerified = p.verifiedBytes);
  await waitUntil(() => aVerified >= MiB, 20_000, "A verified its first MiB");

  const hb = b.download("f.bin");
  // A uploads pieces of its .part to B before its own download ends
  await waitUntil(
    () => (a.stats?.uploadedBytes ?? 0) > 0,
    20_000,
    "A served B from its .part file",
  );
  const aDoneEarly = await Promise.race([ha.done.then(() => true), Promise.resolve(false)]);
  assert.equal(aDoneEarly, false, "A was still downloading when it served B");
  assert.ok(aVerified < size, `A had ${aVerified} of ${size} bytes`);

  const [ra, rb] = await withTimeout(Promise.all([ha.done, hb.done]), 60_000, "both downloads");
  assert.equal(await sha256File(ra.path), want);
  assert.equal(await sha256File(rb.path), want);
  const fromA = rb.owners.find((o) => o.nodeId === "a")?.bytes ?? 0;
  assert.ok(fromA > 0, `B got verified bytes from A: ${JSON.stringify(rb.owners)}`);
});
