/**
 * Scenario: 20 % of the datagrams between some peers and the tracker are lost, both ways (a
 * seeded relay in front of the tracker for each peer's tracker traffic), with a short heartbeat
 * interval. Over several intervals no live peer is evicted: the tracker log has no evict line for
 * them, and a NEED keeps returning them.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startTracker } from "../../../lib/tracker/server.ts";
import { TrackerClient } from "../../../lib/peer/tracker_client.ts";
import type { Peer } from "../../../lib/peer/api.ts";
import { tempDir } from "../../_harness/processes.ts";
import { type Relay, startRelay } from "../../_harness/relay.ts";
import { delay } from "../../_harness/wait.ts";
import { makeFile, report, startLoggedPeer } from "./_scenario.ts";

const T_MS = 1000;
const GRACE = 0.5;
const INTERVALS = 8;
const PEERS = 4;
const LOSS = 0.2;

Deno.test("no live peer is evicted at 20 % loss to and from the tracker", async () => {
  await using dir = await tempDir("udpswarm-trackerloss-");
  const logDir = join(dir.path, "tracker-logs");
  const tracker = await startTracker({ port: 0, intervalMs: T_MS, grace: GRACE, logDir });
  const relays: Relay[] = [];
  const peers: { peer: Peer; log: string[]; file: string }[] = [];
  const sampler = { stop: false, done: Promise.resolve() };
  try {
    // Register and announce through the lossy relays too, all peers at once.
    for (let i = 0; i < PEERS; i++) {
      relays.push(startRelay({ target: tracker.localAddr, seed: 9100 + i, loss: LOSS }));
    }
    await Promise.all(relays.map(async (relay, i) => {
      const home = join(dir.path, `peer-${i}`);
      await Deno.mkdir(home);
      const f = await makeFile(home, `lossy-tracker-${i}.bin`, 65536, i);
      const { peer, log } = await startLoggedPeer({
        tracker: `127.0.0.1:${relay.address.port}`,
        nodeId: `peer-${i}`,
        dir: home,
      });
      peers.push({ peer, log, file: f.name });
      await peer.share(f.name);
    }));
    // The tracker hears a peer whenever its relay forwards a datagram: sample the longest silence
    // (a figure for the margin; the eviction itself is what the assertions check).
    const lastHeard = relays.map(() => performance.now());
    const forwarded = relays.map((r) => r.stats.toTarget.forwarded);
    const longest = relays.map(() => 0);
    sampler.done = (async () => {
      while (!sampler.stop) {
        const now = performance.now();
        for (const [i, r] of relays.entries()) {
          if (r.stats.toTarget.forwarded !== forwarded[i]) {
            forwarded[i] = r.stats.toTarget.forwarded;
            lastHeard[i] = now;
          }
          longest[i] = Math.max(longest[i]!, now - lastHeard[i]!);
        }
        await delay(5);
      }
    })();

    await using observer = await TrackerClient.connect({
      tracker: tracker.localAddr,
      nodeId: "observer",
      retry: { initialMs: 50, attempts: 5 },
    });
    await observer.start();
    let needs = 0;
    const started = performance.now();
    while (performance.now() - started < INTERVALS * T_MS) {
      for (const p of peers) {
        const r = await observer.need({ kind: "name", name: p.file });
        assert.deepEqual(r.owners.map((o) => o.nodeId), [p.peer.nodeId], `NEED ${p.file}`);
        needs++;
      }
      await delay(T_MS / 2);
    }
    sampler.stop = true;
    await sampler.done;

    // Leave (the measurement is over, so EXIT goes through without loss), then stop the tracker so
    // its log is flushed.
    for (const r of relays) r.setRates({ loss: 0 });
    await Promise.all(peers.map((p) => p.peer.close()));
    await tracker.close();
    const log = Deno.readTextFileSync(join(logDir, "tracker.log"));
    const evictions = log.split("\n").filter((l) => / evict /.test(l));
    assert.deepEqual(evictions, [], "no evict line");
    assert.equal(tracker.counters.evictions, 0);
    const evictAfter = T_MS * (1 + GRACE);
    const lostTo = relays.reduce((s, r) => s + r.stats.toTarget.dropped, 0);
    const lostFrom = relays.reduce((s, r) => s + r.stats.fromTarget.dropped, 0);
    const sent = relays.reduce((s, r) => s + r.stats.toTarget.received, 0);
    const failedCycles = peers.reduce(
      (s, p) => s + p.log.filter((l) => /heartbeat.*(did not answer|failed)/.test(l)).length,
      0,
    );
    report("tracker_loss", {
      peers: PEERS,
      intervalMs: T_MS,
      evictAfterMs: evictAfter,
      runMs: Math.round(performance.now() - started),
      datagramsToTracker: sent,
      lostToTracker: lostTo,
      lostFromTracker: lostFrom,
      failedHeartbeatCycles: failedCycles,
      longestSilenceMs: longest.map(Math.round),
      needsAnswered: needs,
      evictLines: evictions.length,
    });
  } finally {
    sampler.stop = true;
    await sampler.done;
    for (const p of peers) await p.peer.close();
    for (const r of relays) await r.close();
    await tracker.close();
  }
});
