/**
 * Scenario: three owners are real `peer.ts share` processes; one is killed with SIGKILL while the
 * download runs (so it sends no EXIT and the tracker still lists it). The download completes from
 * the other two with the exact bytes.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startTracker } from "../../../lib/tracker/server.ts";
import { type ChildProcess, sha256File, tempDir } from "../../_harness/processes.ts";
import { withTimeout } from "../../_harness/wait.ts";
import { makeFile, mbps, MiB, report, spawnOwner, startLoggedPeer } from "./_scenario.ts";

const SIZE = 64 * MiB;

Deno.test("download completes from the other owners when one is killed with SIGKILL mid-transfer", async () => {
  await using dir = await tempDir("udpswarm-ownerkill-");
  const src = join(dir.path, "src");
  const out = join(dir.path, "out");
  await Deno.mkdir(src);
  await Deno.mkdir(out);
  const file = await makeFile(src, "victim.bin", SIZE, 41);
  await using tracker = await startTracker({ port: 0, intervalMs: 2000 });
  const trackerAddr = `127.0.0.1:${tracker.localAddr.port}`;
  const owners: ChildProcess[] = [];
  try {
    const ids = ["owner-a", "owner-b", "owner-c"];
    const started = await Promise.all(ids.map(async (id) => {
      const home = join(dir.path, id);
      await Deno.mkdir(home);
      return await spawnOwner({
        dir: home,
        tracker: trackerAddr,
        id,
        files: [file.path],
        read: [src],
      });
    }));
    for (const s of started) owners.push(s.child);
    const { peer, log } = await startLoggedPeer({
      tracker: trackerAddr,
      nodeId: "downloader",
      dir: out,
      shareDownloads: false,
    });
    try {
      const handle = peer.download(file.name);
      const victim = owners[1]!;
      let killedAt: number | undefined;
      let verifiedAtKill = 0;
      handle.onProgress((p) => {
        // Kill once the transfer is well under way and the victim has been asked for its range.
        if (killedAt === undefined && p.verifiedBytes >= SIZE * 0.15) {
          victim.kill("SIGKILL");
          killedAt = performance.now();
          verifiedAtKill = p.verifiedBytes;
        }
      });
      const t0 = performance.now();
      const result = await withTimeout(handle.done, 60_000, "download after an owner was killed");
      const t1 = performance.now();
      assert.ok(killedAt !== undefined, "the owner was killed before the download finished");
      assert.ok(verifiedAtKill < SIZE, "killed mid-transfer");
      const status = await victim.wait(5000);
      assert.equal(status.signal, "SIGKILL");
      assert.equal(await sha256File(result.path), file.sha256, "the bytes are exact");
      const byOwner = Object.fromEntries(result.owners.map((o) => [o.nodeId, o.bytes]));
      const fromVictim = byOwner["owner-b"] ?? 0;
      // The two survivors delivered the rest, the victim at most what it sent before it died.
      assert.ok((byOwner["owner-a"] ?? 0) + (byOwner["owner-c"] ?? 0) >= SIZE - fromVictim);
      assert.ok(fromVictim < SIZE / 3, `the victim's share was cut short: ${fromVictim}`);
      report("owner_kill", {
        sizeMiB: SIZE / MiB,
        killedAtVerifiedPct: Math.round((verifiedAtKill / SIZE) * 100),
        msAfterKill: Math.round(t1 - killedAt),
        totalMs: Math.round(t1 - t0),
        goodputMBps: mbps(SIZE, t1 - t0),
        bytesByOwner: byOwner,
        retransmits: result.retransmits,
        receivedBytes: result.receivedBytes,
        victimLog: log.filter((l) => l.includes("owner-b")),
      });
    } finally {
      await peer.close();
    }
  } finally {
    await Promise.all(owners.map((o) => o.close()));
  }
});
