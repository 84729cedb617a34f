/**
 * Scenario: the tracker process crashes (SIGKILL) mid-session and a new one starts on the same
 * port with an empty registry. The peers notice at their next heartbeat, register again and
 * re-announce their files by themselves: a NEED finds them within 2T. A download that was running
 * during the restart finishes with the exact bytes.
 *
 * The download reaches its owners through relays capped at 256 KiB/s each until the tracker is
 * back (16 MiB then takes at least 32 s, longer than the restart may take under its own
 * deadlines), so it is still running when the tracker returns on any machine; then the cap goes.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { TrackerClient } from "../../../lib/peer/tracker_client.ts";
import { type ChildProcess, sha256File } from "../../_harness/processes.ts";
import { RelayPool } from "../../_harness/relay_pool.ts";
import { delay, waitUntil, withTimeout } from "../../_harness/wait.ts";
import {
  freePort,
  makeFile,
  MiB,
  report,
  scenarioDir,
  spawnOwners,
  spawnTracker,
  startLoggedPeer,
  type TrackerProcess,
} from "./_scenario.ts";

const T_MS = 1000;
/** Per owner until the tracker is back: 2 × 256 KiB/s moves 16 MiB in no less than 32 s. */
const TRICKLE = 256 * 1024;

/**
 * Asks every 50 ms, from a client that registers with the tracker, until both files have their
 * owners back (or 4T passed).
 *
 * @returns ms after `since` at which each file was found
 */
async function untilFound(tracker: string, since: number): Promise<Map<string, number>> {
  await using asker = await TrackerClient.connect({
    tracker,
    nodeId: "asker",
    retry: { initialMs: 50, attempts: 4 },
  });
  await asker.start();
  const found = new Map<string, number>();
  const expected: Record<string, string[]> = {
    "alpha.bin": ["owner-a", "owner-b"],
    "beta.bin": ["owner-a"],
  };
  while (found.size < 2 && performance.now() - since < 4 * T_MS) {
    for (const [name, want] of Object.entries(expected)) {
      if (found.has(name)) continue;
      const owners = await asker.need({ kind: "name", name }).then(
        (r) => r.owners.map((o) => o.nodeId),
        () => [] as string[],
      );
      if (want.every((w) => owners.includes(w))) found.set(name, performance.now() - since);
    }
    if (found.size < 2) await delay(50);
  }
  await asker.exit().catch(() => {});
  return found;
}

Deno.test("peers register again by themselves after a tracker restart and a NEED finds their files within 2T", async () => {
  await using dir = await scenarioDir("udpswarm-trackerrestart-", ["src", "out"]);
  const logs = join(dir.path, "tracker-logs");
  const files = [
    await makeFile(dir.sub.src, "alpha.bin", 16 * MiB, 11),
    await makeFile(dir.sub.src, "beta.bin", 1 * MiB, 12),
  ];
  const port = freePort();
  const trackerArgs = ["--port", String(port), "--interval", `${T_MS}ms`];
  let tracker: TrackerProcess | undefined = await spawnTracker(join(logs, "first"), trackerArgs);
  let owners: ChildProcess[] = [];
  try {
    owners = await spawnOwners({
      dir: dir.path,
      tracker: tracker.address,
      ids: ["owner-a", "owner-b"],
      // owner-a shares both files, owner-b only alpha.bin
      files: (id) => id === "owner-a" ? files.map((f) => f.path) : [files[0]!.path],
      read: [dir.sub.src],
    });
    // A slow download (1452-byte datagrams through capped relays) runs across the restart.
    await using pool = new RelayPool({ seed: 3, fromTarget: { bytesPerSecond: TRICKLE } });
    const { peer, log } = await startLoggedPeer({
      tracker: tracker.address,
      nodeId: "downloader",
      dir: dir.sub.out,
      mtu: 1500,
      shareDownloads: false,
      mapOwnerAddress: pool.map,
    });
    try {
      const handle = peer.download(files[0]!.name);
      let finishedAt: number | undefined;
      const finished = handle.done.then((r) => ({ r, at: finishedAt = performance.now() }));
      await withTimeout(
        new Promise<void>((resolve) => {
          const off = handle.onProgress((p) => {
            if (p.verifiedBytes > 0) {
              off();
              resolve();
            }
          });
        }),
        20_000,
        "the download to start",
      );

      const killedAt = performance.now();
      tracker.child.kill("SIGKILL");
      await tracker.child.wait(5000);
      await tracker[Symbol.asyncDispose]();
      tracker = undefined;
      tracker = await spawnTracker(join(logs, "second"), trackerArgs);
      const restartedAt = performance.now();
      assert.equal(tracker.port, port, "same port");

      const found = await untilFound(tracker.address, restartedAt);
      const worst = Math.max(...found.values());
      assert.equal(found.size, 2, `both files found again, got ${JSON.stringify([...found])}`);
      assert.ok(worst <= 2 * T_MS, `found within 2T = ${2 * T_MS} ms, took ${worst} ms`);

      assert.equal(
        finishedAt,
        undefined,
        "the download was still running when the tracker came back",
      );
      pool.setRates({ fromTarget: { bytesPerSecond: 0 } });
      const { r, at } = await withTimeout(finished, 60_000, "the download across the restart");
      assert.equal(await sha256File(r.path), files[0]!.sha256, "the bytes are exact");
      await waitUntil(
        () => Deno.readTextFileSync(tracker!.logPath).includes("register downloader"),
        3 * T_MS,
        "the downloader to register again too",
      );
      const trackerLog = Deno.readTextFileSync(tracker.logPath);
      report("tracker_restart", {
        intervalMs: T_MS,
        foundAfterMs: Object.fromEntries([...found].map(([k, v]) => [k, Math.round(v)])),
        limitMs: 2 * T_MS,
        trackerDownMs: Math.round(restartedAt - killedAt),
        registerLinesAfterRestart: trackerLog.split("\n").filter((l) =>
          /register (owner|downloader)/.test(l)
        ).length,
        downloadMsAfterRestart: Math.round(at - restartedAt),
        downloaderLog: log.filter((l) => /tracker|regist/i.test(l)).slice(-4),
      });

      // Down for 3T this time: the peers' heartbeat cycles fail (the old tracker would have
      // evicted them by now), and they must still come back within 2T of the new start.
      tracker.child.kill("SIGKILL");
      await tracker.child.wait(5000);
      await tracker[Symbol.asyncDispose]();
      tracker = undefined;
      await delay(3 * T_MS);
      tracker = await spawnTracker(join(logs, "third"), trackerArgs);
      const backAt = performance.now();
      const foundLate = await untilFound(tracker.address, backAt);
      const worstLate = Math.max(...foundLate.values());
      assert.equal(foundLate.size, 2, `found after a 3T outage: ${JSON.stringify([...foundLate])}`);
      assert.ok(worstLate <= 2 * T_MS, `found within 2T after a 3T outage, took ${worstLate} ms`);
      report("tracker_restart", {
        outageMs: 3 * T_MS,
        foundAfterMs: Object.fromEntries([...foundLate].map(([k, v]) => [k, Math.round(v)])),
        limitMs: 2 * T_MS,
      });
    } finally {
      await peer.close();
    }
  } finally {
    await Promise.all(owners.map((o) => o.close()));
    await tracker?.[Symbol.asyncDispose]();
  }
});
