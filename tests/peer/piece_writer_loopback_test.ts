/**
 * The optional piece-writer Worker (`verifyInWorker: true`) on real sockets: pieces are hashed
 * and written on another thread, the file comes out exact, and a changed owner's bad pieces are
 * still caught there.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startPeer } from "../../lib/peer/peer.ts";
import { randomFile, sha256File } from "../_harness/processes.ts";
import { withTimeout } from "../_harness/wait.ts";
import { loopbackSwarm } from "../_harness/loopback_swarm.ts";

const MiB = 1024 * 1024;

Deno.test("startPeer({ verifyInWorker: true }) downloads exact bytes and catches bad pieces on the Worker", async () => {
  await using dir = await loopbackSwarm("udpswarm-writer-", ["honest", "liar", "out"]);
  const { address: at, dirs: [honestDir, liarDir, outDir] } = dir;
  const size = 12 * MiB + 12345;
  await randomFile(join(honestDir, "w.bin"), size, 7);
  await Deno.copyFile(join(honestDir, "w.bin"), join(liarDir, "w.bin"));
  const expected = await sha256File(join(honestDir, "w.bin"));

  await using honest = await startPeer({ tracker: at, nodeId: "honest", dir: honestDir });
  await using liar = await startPeer({ tracker: at, nodeId: "liar", dir: liarDir });
  await honest.share("w.bin");
  await liar.share("w.bin");
  // The liar's copy changes after sharing: same size, other bytes in every piece it serves.
  const f = await Deno.open(join(liarDir, "w.bin"), { write: true });
  for (let off = 0; off < size; off += 256 * 1024) {
    await f.seek(off + 100, Deno.SeekMode.Start);
    await f.write(new Uint8Array([1, 2, 3, 4]));
  }
  f.close();

  await using getter = await startPeer({
    tracker: at,
    nodeId: "getter",
    dir: outDir,
    outDir,
    verifyInWorker: true,
    shareDownloads: false,
  });
  const result = await withTimeout(
    getter.download("w.bin").done,
    60_000,
    "download via the Worker",
  );
  assert.equal(await sha256File(result.path), expected, "exact bytes");
  assert.ok(result.badPieces >= 1, `the Worker reported bad pieces (${result.badPieces})`);
  const fromHonest = result.owners.find((o) => o.nodeId === "honest")?.bytes ?? 0;
  assert.ok(fromHonest > size / 2, `most bytes came from the honest owner (${fromHonest})`);
  const leftovers = [];
  for await (const e of Deno.readDir(outDir)) if (e.name.includes(".part")) leftovers.push(e.name);
  assert.deepEqual(leftovers, [], "no part files left");
});
