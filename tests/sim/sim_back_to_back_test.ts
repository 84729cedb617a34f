/**
 * Back-to-back downloads from the same seeds, with the real cores on the simulated network: a
 * downloader fetches an 8 MiB file from 3 seeds and exits; 650 ms later another fetches it. The
 * second must take about as long as the first: the seeds super-seed only while two or more
 * downloaders fetch at once, and a downloader that finished (and said so) or went quiet is not
 * one of them. Before this rule the first downloader counted for 10 s after its last BITFIELD
 * request, so each seed offered the second one 2 pieces per round trip of offers (~9 s for 8 MiB:
 * the start-up stall seen in `scripts/bench_compare.ts --size-mib 8 --variant x:.:3`).
 * @module
 */
import assert from "node:assert/strict";
import { SimNetwork } from "../../lib/sim/sim_network.ts";
import { SimTracker } from "../../lib/sim/sim_tracker.ts";
import { simContent, SimPeer } from "../../lib/sim/sim_peer.ts";
import { ASKER_IDLE_MS } from "../../lib/peer/core/swarm_rules.ts";

const MiB = 1024 * 1024;
const TRACKER = { hostname: "10.0.0.1", port: 6969 };

/** Virtual ms of two downloads, one after the other (`gapMs` between), from `owners` seeds. */
function backToBack(
  owners: number,
  opts: { gapMs: number; loss?: number; crashFirst?: boolean; seed?: number },
): number[] {
  const net = new SimNetwork({
    seed: opts.seed ?? 1,
    link: { latencyMs: 0.5, jitterMs: 0.1, loss: opts.loss ?? 0 },
  });
  net.addHost(TRACKER.hostname);
  const tracker = new SimTracker(net, TRACKER, { intervalMs: 30_000 });
  const peer = (n: number, upload?: number) => {
    const hostname = `10.0.1.${n}`;
    net.addHost(hostname, upload === undefined ? {} : { upload });
    return new SimPeer(net, { nodeId: `p${n}`, addr: { hostname, port: 7000 }, tracker: TRACKER });
  };
  const bytes = new Uint8Array(8 * MiB).map((_, i) => (i * 13 + 5) & 255);
  const content = simContent("small.bin", bytes);
  for (let n = 1; n <= owners; n++) peer(n, 100_000).share(content); // 100 MB/s each
  assert.ok(net.run(() => tracker.core.fileCount === 1 && tracker.core.peerCount === owners, {
    maxMs: net.now + 20_000,
  }));
  const times: number[] = [];
  for (const n of [20, 21]) {
    const p = peer(n);
    const t0 = net.now;
    const d = p.download("small.bin");
    assert.ok(net.run(() => d.finishedAt !== undefined, { maxMs: net.now + 60_000 }));
    assert.equal(d.error, undefined, String(d.error));
    assert.ok(d.file && d.file.every((b, i) => b === bytes[i]), "the exact bytes");
    times.push(d.finishedAt! - t0);
    // The `get` command: done, tells the tracker and leaves (or dies without a word)
    if (opts.crashFirst) p.crash();
    else {
      p.exit();
      net.run(() => false, { maxMs: net.now + 5 });
      p.crash();
    }
    net.run(() => false, { maxMs: net.now + opts.gapMs });
  }
  return times;
}

Deno.test({
  name: "simulation: a second download right after another from the same 3 seeds is not slowed",
  permissions: "none",
  fn() {
    const [first, second] = backToBack(3, { gapMs: 650 });
    console.log(
      `[sim] back to back from 3 seeds: ${first?.toFixed(0)} ms, then ${second?.toFixed(0)} ms`,
    );
    assert.ok(first! < 500, `first: ${first} ms`);
    assert.ok(second! < Math.max(500, 3 * first!), `second: ${second} ms, first ${first} ms`);
  },
});

Deno.test({
  name: "simulation: a second download right after another from 1 seed is not slowed",
  permissions: "none",
  fn() {
    const [first, second] = backToBack(1, { gapMs: 650 });
    assert.ok(second! < Math.max(500, 3 * first!), `second: ${second} ms, first ${first} ms`);
  },
});

Deno.test({
  name:
    "simulation: a downloader that died without a word stops counting for super-seeding after ASKER_IDLE_MS",
  permissions: "none",
  fn() {
    const [first, second] = backToBack(3, { gapMs: 650, crashFirst: true });
    // No farewell: the seeds offer pieces until the first downloader has been quiet for
    // ASKER_IDLE_MS (2 s; 10 s before), then serve everything
    assert.ok(second! < ASKER_IDLE_MS + 500, `second: ${second} ms, first ${first} ms`);
  },
});

Deno.test({
  name: "simulation: back-to-back downloads at 5 % loss: the farewell or the idle limit",
  permissions: "none",
  fn() {
    for (const seed of [1, 2, 3, 4]) {
      const [first, second] = backToBack(3, { gapMs: 650, loss: 0.05, seed });
      assert.ok(second! < ASKER_IDLE_MS + 500, `seed ${seed}: second ${second} ms, first ${first}`);
    }
  },
});
