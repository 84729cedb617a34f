/**
 * Scenario: 100,000 random and mutated datagrams each are fired at a running tracker process and
 * a running owner process while a real `peer.ts get` transfer goes on. Both keep serving, the
 * transfer ends with the exact bytes, and their resident memory stays bounded (sampled from
 * /proc before, during and after).
 *
 * The transfer under garbage does not race the garbage: it reaches the owner through a relay
 * capped at 512 KiB/s (32 MiB would take over a minute) until the first round of garbage has been
 * fired in full, so the two overlap on any machine; then the cap goes.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { TrackerClient } from "../../../lib/peer/tracker_client.ts";
import { type ChildProcess, sha256File, spawnDeno } from "../../_harness/processes.ts";
import { startRelay } from "../../_harness/relay.ts";
import { mapOwnersThrough, RelayPool } from "../../_harness/relay_pool.ts";
import { delay } from "../../_harness/wait.ts";
import {
  jsonEvents,
  makeFile,
  MiB,
  report,
  ROOT,
  rssKiB,
  scenarioDir,
  spawnGet,
  spawnOwner,
  spawnTracker,
} from "./_scenario.ts";

const SIZE = 32 * MiB;
const PER_TARGET = 100_000;
/** Datagrams per second over both targets. */
const RATE = 40_000;
/** The owner → downloader capacity while the first round of garbage is fired. */
const TRICKLE = 512 * 1024;
const FIRE_TS = join(ROOT, "tests", "faults", "scenarios", "_garbage.ts");

interface Fired {
  sent: number;
  bytes: number;
  errors: number;
  ms: number;
  replies: number;
  replyBytes: number;
  kinds: Record<string, number>;
}

/** Fires `perTarget` garbage datagrams at each target from a child process. */
function fireProcess(seed: number, perTarget: number, contentId: string, targets: string[]) {
  return spawnDeno({
    entrypoint: FIRE_TS,
    name: `garbage-${seed}`,
    permissions: ["--allow-net=127.0.0.1"],
    args: [
      String(seed),
      String(perTarget),
      String(RATE),
      contentId,
      String(SIZE),
      "garbage.bin",
      "owner,asker,downloader-1",
      targets.join(","),
    ],
  });
}

Deno.test("tracker and peer keep serving under 100,000 garbage datagrams each during a transfer", async () => {
  await using dir = await scenarioDir("udpswarm-garbage-", ["src", "out"]);
  const { src, out } = dir.sub;
  const file = await makeFile(src, "garbage.bin", SIZE, 99);
  // High per-source and per-address rate limits, so the garbage reaches the parser instead of
  // the limiters (and the real peers, on the same address, are not limited with it).
  await using tracker = await spawnTracker(join(dir.path, "tracker-logs"), [
    "--interval",
    "2s",
    "--rate",
    "1000000",
    "--burst",
    "1000000",
    "--address-rate",
    "1000000",
    "--prefix-rate",
    "1000000",
  ]);
  const owner = await spawnOwner({
    dir: join(dir.path, "owner"),
    tracker: tracker.address,
    id: "owner",
    files: [file.path],
    read: [src],
  });
  const children: ChildProcess[] = [owner.child];
  try {
    await using asker = await TrackerClient.connect({
      tracker: tracker.address,
      nodeId: "asker",
      retry: { initialMs: 100, attempts: 5 },
    });
    await asker.start();
    const who = await asker.need({ kind: "name", name: file.name });
    const o = who.owners[0]!.address;
    const targets = [tracker.address, `${o.host}:${o.port}`];

    const get = (n: number, trackerAddr = tracker.address) =>
      spawnGet({
        dir: dir.path,
        out: join(out, String(n)),
        tracker: trackerAddr,
        id: `downloader-${n}`,
        query: file.name,
      });
    // Warm-up transfer, so the owner's buffers exist before the baseline is taken.
    {
      await using warm = get(0);
      assert.equal((await warm.wait(60_000)).code, 0, warm.output());
    }
    await delay(300);
    const pids = { tracker: tracker.child.pid, owner: owner.child.pid };
    const rss = () => ({ tracker: rssKiB(pids.tracker) ?? NaN, owner: rssKiB(pids.owner) ?? NaN });
    const baseline = rss();
    const peak = { ...baseline };
    const sample = () => {
      const now = rss();
      peak.tracker = Math.max(peak.tracker, now.tracker);
      peak.owner = Math.max(peak.owner, now.owner);
    };

    // Round 1 with a transfer running through it, round 2 alone: memory after round 2 must not
    // have kept growing.
    const half = PER_TARGET / 2;
    const fired: Fired[] = [];
    let firedWhenDone = -1;
    let firedAtStart = -1;
    let transfer: ChildProcess | undefined;
    await using pool = new RelayPool({ seed: 99, fromTarget: { bytesPerSecond: TRICKLE } });
    await using front = startRelay({
      target: { transport: "udp", hostname: "127.0.0.1", port: tracker.port },
      seed: 98,
      transform: mapOwnersThrough(pool),
    });
    let runningWhenFired = false;
    {
      await using round1 = fireProcess(1, half, owner.contentIds[0]!, targets);
      await round1.waitForLine(/^fired 5000$/, 20_000);
      transfer = get(1, `127.0.0.1:${front.address.port}`);
      children.push(transfer);
      const count = () => {
        const m = round1.lines.findLast((l) => /^fired \d+$/.test(l.text));
        return m ? Number(m.text.slice(6)) : 0;
      };
      firedAtStart = count();
      transfer.status.then(() => firedWhenDone = count());
      const { match } = await round1.waitForLine(/^\{.*\}$/, 60_000);
      runningWhenFired = transfer.exitStatus === undefined;
      pool.setRates({ fromTarget: { bytesPerSecond: 0 } });
      fired.push(JSON.parse(match[0]));
      sample();
    }
    const afterRound1 = rss();
    const status = await transfer.wait(60_000);
    {
      await using round2 = fireProcess(2, half, owner.contentIds[0]!, targets);
      const sampler = setInterval(sample, 50);
      try {
        const { match } = await round2.waitForLine(/^\{.*\}$/, 60_000);
        fired.push(JSON.parse(match[0]));
      } finally {
        clearInterval(sampler);
      }
    }
    await delay(300);
    const after = rss();

    assert.equal(status.code, 0, transfer.output());
    const done = jsonEvents(transfer).find((e) => e.event === "done");
    assert.ok(done, transfer.output());
    // The transfer overlapped the garbage: it started while garbage was being fired, and was
    // still running (capped) when the whole first round had been fired.
    assert.ok(runningWhenFired, "the transfer was still running when round 1 ended");
    assert.ok(
      firedAtStart >= 5000 && firedAtStart < half * 2 && firedWhenDone === half * 2,
      `the transfer overlapped the garbage (started at ${firedAtStart}, ended at ${firedWhenDone} fired)`,
    );
    assert.equal(await sha256File(join(out, "1", file.name)), file.sha256, "the bytes are exact");

    // Both still serve: the tracker answers a NEED, the owner serves another download.
    assert.equal(tracker.child.exitStatus, undefined, "tracker alive");
    assert.equal(owner.child.exitStatus, undefined, "owner alive");
    const again = await asker.need({ kind: "name", name: file.name });
    assert.ok(again.owners.some((x) => x.nodeId === "owner"), "the owner is still listed");
    {
      await using last = get(2);
      assert.equal((await last.wait(60_000)).code, 0, last.output());
    }
    assert.equal(await sha256File(join(out, "2", file.name)), file.sha256);

    // Memory: bounded growth over the baseline, and little between the two rounds.
    const growth = {
      tracker: after.tracker - baseline.tracker,
      owner: after.owner - baseline.owner,
    };
    const round2Growth = {
      tracker: after.tracker - afterRound1.tracker,
      owner: after.owner - afterRound1.owner,
    };
    tracker.child.kill("SIGTERM");
    await tracker.child.wait(10_000);
    const stopLine = tracker.child.output("stdout").split("\n").find((l) => /stopped/.test(l));
    report("garbage", {
      datagramsPerTarget: PER_TARGET,
      sent: fired.reduce((s, f) => s + f.sent, 0),
      bytesSent: fired.reduce((s, f) => s + f.bytes, 0),
      fireMs: fired.reduce((s, f) => s + f.ms, 0),
      kinds: fired[0]!.kinds,
      repliesToGarbage: fired.reduce((s, f) => s + f.replies, 0),
      replyBytesToGarbage: fired.reduce((s, f) => s + f.replyBytes, 0),
      firedBeforeTransferDone: firedWhenDone,
      transferMs: done.elapsedMs,
      rssKiB: { baseline, afterRound1, after, peak },
      growthKiB: growth,
      round2GrowthKiB: round2Growth,
      trackerStop: stopLine,
    });
    assert.match(stopLine ?? "", /[1-9]\d* malformed datagrams/);
    assert.ok(peak.tracker < 256 * 1024, `tracker peak RSS ${peak.tracker} KiB < 256 MiB`);
    assert.ok(peak.owner < 384 * 1024, `owner peak RSS ${peak.owner} KiB < 384 MiB`);
    assert.ok(growth.tracker < 48 * 1024, `tracker grew ${growth.tracker} KiB`);
    assert.ok(growth.owner < 96 * 1024, `owner grew ${growth.owner} KiB`);
    assert.ok(round2Growth.tracker < 24 * 1024, `tracker grew ${round2Growth.tracker} KiB`);
    assert.ok(round2Growth.owner < 48 * 1024, `owner grew ${round2Growth.owner} KiB`);
  } finally {
    await Promise.all(children.map((c) => c.close()));
  }
});
