import assert from "node:assert/strict";
import { encodeMessage } from "../../lib/wire/codec.ts";
import { UdpEndpoint } from "../../lib/net/udp_endpoint.ts";
import { startTracker } from "../../lib/tracker/server.ts";
import { TrackerClient } from "../../lib/peer/tracker_client.ts";
import { waitUntil, withTimeout } from "../_harness/wait.ts";
import { cid } from "./_registry_harness.ts";

const FAST = { initialMs: 50, attempts: 6 };

Deno.test("startTracker() serves 50 clients that register, own, need and exit", async () => {
  await using tracker = await startTracker({ port: 0, intervalMs: 5000, maxOwners: 8 });
  const clients: TrackerClient[] = [];
  try {
    for (let i = 0; i < 50; i++) {
      clients.push(
        await TrackerClient.connect({
          tracker: tracker.localAddr,
          nodeId: `peer-${i}`,
          retry: FAST,
        }),
      );
    }
    const infos = await withTimeout(Promise.all(clients.map((c) => c.start())), 10_000, "register");
    assert.ok(infos.every((i) => i.intervalMs === 5000 && i.evictAfterMs === 7500));
    assert.equal(tracker.peerCount, 50);
    // Every client shares one file of its own and the "common" file.
    await withTimeout(
      Promise.all(clients.flatMap((c, i) => [
        c.own({ name: `own-${i}.bin`, size: 1000 + i, contentId: cid(1000 + i) }),
        c.own({ name: "common.bin", size: 1_000_000, contentId: cid(1) }),
      ])),
      10_000,
      "own",
    );
    assert.equal(tracker.counters.files, 51);
    for (let i = 0; i < 50; i++) {
      const r = await clients[i]!.need({ kind: "name", name: `own-${(i + 1) % 50}.bin` });
      assert.deepEqual(r.owners.map((o) => o.nodeId), [`peer-${(i + 1) % 50}`]);
      assert.equal(r.owners[0]!.address.port, clients[(i + 1) % 50]!.localAddr!.port);
      assert.equal(r.size, 1000 + ((i + 1) % 50));
    }
    const common = await clients[0]!.need({ kind: "content", contentId: cid(1) });
    assert.equal(common.owners.length, 8);
    assert.ok(!common.owners.some((o) => o.nodeId === "peer-0"), "never the asker");
    // An owner's own claim ranks nothing; a downloader on another host reporting verified
    // bytes does (a report from the owner's own host would not count).
    await clients[3]!.update(123_456);
    await clients[5]!.report(cid(1), [{ nodeId: "peer-4", bytes: 123_456 }]);
    let ranked = await clients[0]!.need({ kind: "name", name: "common.bin" }, 3);
    assert.ok(ranked.owners.every((o) => o.rate === 0), "no credit from UPDATE or the same host");
    const reporter = await TrackerClient.connect({
      tracker: tracker.localAddr,
      nodeId: "reporter",
      hostname: "127.0.0.2",
      retry: FAST,
    });
    try {
      await reporter.report(cid(1), [{ nodeId: "peer-3", bytes: 123_456 }]);
    } finally {
      await reporter.exit();
      await reporter.close();
    }
    ranked = await clients[0]!.need({ kind: "name", name: "common.bin" }, 3);
    assert.equal(ranked.owners[0]!.nodeId, "peer-3");
    // 123,456 bytes / τ of 60 s = 2057.6 bytes/s, decaying by e^(−Δt/τ) until the NEED is served
    // (under 1 % for Δt < 0.6 s, whatever the machine's load).
    const rate = ranked.owners[0]!.rate;
    assert.ok(rate <= 2057 && rate >= 2037, `rate ${rate}: 123,456 bytes / τ of 60 s`);
    assert.equal(tracker.counters.creditedBytes, 123_456);
    await Promise.all(clients.map((c) => c.exit()));
    assert.equal(tracker.peerCount, 0);
    assert.equal(tracker.counters.files, 0);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
});

Deno.test("a running tracker keeps answering valid clients while garbage arrives", async () => {
  const logDir = await Deno.makeTempDir({ prefix: "tracker_log_" });
  try {
    await using tracker = await startTracker({
      port: 0,
      logDir,
      limits: { requestsPerSecond: 1e6, burst: 1e6 },
    });
    await using junk = UdpEndpoint.open({ port: 0 });
    await using c = await TrackerClient.connect({ tracker: tracker.localAddr, nodeId: "good" });
    await c.start();
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 50; i++) {
        const len = rand() % 120;
        const b = new Uint8Array(len).map(() => rand() & 0xff);
        if (len > 4 && i % 3 === 0) b.set([0x55, 0x53, 0x01, 1 + (rand() % 9)], 0); // valid header
        junk.send(b, tracker.localAddr);
      }
      // An ERROR-typed datagram and a peer-protocol message: dropped too.
      junk.send(encodeMessage({ type: "error", txid: 1, code: 1, text: "x" }), tracker.localAddr);
      await c.own({ name: `f${round}`, size: 1, contentId: cid(round) });
    }
    await waitUntil(() => tracker.counters.received >= 1000, 3000, "garbage received");
    assert.ok(tracker.malformed > 500, `malformed: ${tracker.malformed}`);
    assert.ok(tracker.counters.unexpected >= 20);
    assert.equal(tracker.counters.owns, 20);
    assert.equal(tracker.counters.handlerErrors, 0);
    await tracker.close();
    const log = await Deno.readTextFile(`${logDir}/tracker.log`);
    assert.match(
      log,
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z tracker started on 127\.0\.0\.1:\d+/,
    );
    assert.match(log, /Z register good from 127\.0\.0\.1:\d+\n/);
    assert.match(log, /Z own good "f19" [0-9a-f]{64} 1 bytes\n/);
    assert.match(log, /Z malformed datagram from 127\.0\.0\.1:\d+: /);
    const malformedLines = log.split("\n").filter((l) => l.includes("Cannot decode")).length;
    assert.equal(malformedLines, 1, "logged once per source per minute");
    assert.match(log, /tracker stopped: /);
  } finally {
    await Deno.remove(logDir, { recursive: true });
  }
});

Deno.test("startTracker() logs every state change through the log callback", async () => {
  const lines: string[] = [];
  await using tracker = await startTracker({ port: 0, log: (l) => lines.push(l) });
  await using a = await TrackerClient.connect({ tracker: tracker.localAddr, nodeId: "a" });
  await using b = await TrackerClient.connect({ tracker: tracker.localAddr, nodeId: "b" });
  await a.start();
  await b.start();
  await a.own({ name: "x", size: 9, contentId: cid(9) });
  await a.update(600);
  await b.need({ kind: "name", name: "x" });
  await a.exit();
  await a.exit();
  const kinds = lines.map((l) => l.split(" ")[0]);
  assert.deepEqual(kinds, ["tracker", "register", "register", "own", "update", "need", "exit"]);
  assert.match(lines[5]!, /^need b "x" -> [0-9a-f]{64} owners \[a\]$/);
});
