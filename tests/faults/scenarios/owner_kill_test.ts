/**
 * Scenario: three owners are real `peer.ts share` processes; one is killed with SIGKILL while the
 * download runs (so it sends no EXIT and the tracker still lists it). The download completes from
 * the other two with the exact bytes.
 *
 * The test does not race the transfer: every owner is reached through a relay that pauses after a
 * byte budget (the three budgets add up to less than the file), and the kill happens while the
 * victim's relay holds its traffic, so the victim is always killed mid-transfer, after it served
 * data, however fast or slow the machine is.
 * @module
 */
import assert from "node:assert/strict";
import { sha256File } from "../../_harness/processes.ts";
import { RelayPool } from "../../_harness/relay_pool.ts";
import { withTimeout } from "../../_harness/wait.ts";
import { mbps, MiB, report, spawnOwners, startLoggedPeer, startScenario } from "./_scenario.ts";

const SIZE = 64 * MiB;
/** The victim serves this much, then its relay holds its traffic while it is killed. */
const VICTIM_BUDGET = 4 * MiB;
/** Each survivor pauses after this much until the kill, so 4 + 2 × 24 < 64 MiB arrive before. */
const SURVIVOR_BUDGET = 24 * MiB;

Deno.test("download completes from the other owners when one is killed with SIGKILL mid-transfer", async () => {
  await using s = await startScenario({
    prefix: "udpswarm-ownerkill-",
    dirs: ["src", "out"],
    file: { in: "src", name: "victim.bin", size: SIZE, seed: 41 },
  });
  const { dir, file } = s;
  const owners = await spawnOwners({
    dir: dir.path,
    tracker: s.address,
    ids: ["owner-a", "owner-b", "owner-c"],
    files: () => [file.path],
    read: [dir.sub.src],
  });
  const victim = owners[1]!;
  const victimHeld = Promise.withResolvers<void>();
  await using pool = new RelayPool({
    seed: 41,
    onRelay: (relay, nodeId) => {
      if (nodeId === "owner-b") relay.pauseAfter(VICTIM_BUDGET).then(victimHeld.resolve);
      else void relay.pauseAfter(SURVIVOR_BUDGET);
    },
  });
  try {
    const { peer, log } = await startLoggedPeer({
      tracker: s.address,
      nodeId: "downloader",
      dir: dir.sub.out,
      shareDownloads: false,
      mapOwnerAddress: pool.map,
    });
    try {
      const t0 = performance.now();
      const handle = peer.download(file.name);
      await withTimeout(victimHeld.promise, 60_000, "the victim to serve its budget");
      // Everything holds still while the victim dies: nothing reaches the downloader.
      pool.pause();
      const victimRelay = pool.relaysOf("owner-b")[0]!;
      const victimServed = victimRelay.stats.fromTarget.bytesOut;
      victim.kill("SIGKILL");
      const status = await victim.wait(5000);
      const killedAt = performance.now();
      const verifiedAtKill = handle.progress?.verifiedBytes ?? 0;
      pool.resume();
      const result = await withTimeout(handle.done, 60_000, "download after an owner was killed");
      const t1 = performance.now();
      assert.equal(status.signal, "SIGKILL");
      assert.ok(victimServed >= VICTIM_BUDGET, `the victim served ${victimServed} bytes first`);
      assert.ok(verifiedAtKill < SIZE, "killed mid-transfer");
      assert.equal(await sha256File(result.path), file.sha256, "the bytes are exact");
      const byOwner = Object.fromEntries(result.owners.map((o) => [o.nodeId, o.bytes]));
      const fromVictim = byOwner["owner-b"] ?? 0;
      // The two survivors delivered the rest, the victim at most what it sent before it died.
      assert.ok((byOwner["owner-a"] ?? 0) + (byOwner["owner-c"] ?? 0) >= SIZE - fromVictim);
      // Its share is what it sent before the kill: what it had served, plus what its relay held.
      const victimSent = victimRelay.stats.fromTarget.bytesOut;
      assert.ok(fromVictim <= victimSent, `the victim delivered ${fromVictim} of ${victimSent}`);
      assert.ok(fromVictim < SIZE / 3, `the victim's share was cut short: ${fromVictim}`);
      report("owner_kill", {
        sizeMiB: SIZE / MiB,
        killedAtVerifiedPct: Math.round((verifiedAtKill / SIZE) * 100),
        victimServedBytes: victimServed,
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
