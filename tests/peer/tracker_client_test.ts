import assert from "node:assert/strict";
import { ErrorCode } from "../../lib/wire/messages.ts";
import { UdpEndpoint } from "../../lib/net/udp_endpoint.ts";
import { startTracker } from "../../lib/tracker/server.ts";
import { TrackerClient } from "../../lib/peer/tracker_client.ts";
import { TrackerError, TrackerErrorCode } from "../../lib/tracker/tracker_error.ts";
import { waitUntil } from "../_harness/wait.ts";
import { cid } from "../tracker/_registry_harness.ts";

const FAST = { initialMs: 50, attempts: 6 };

Deno.test("TrackerClient.need() rejects with not_found and a readable message", async () => {
  await using tracker = await startTracker({ port: 0 });
  await using c = await TrackerClient.connect({ tracker: tracker.localAddr, nodeId: "alone" });
  await c.start();
  const e = await c.need({ kind: "name", name: "nothing.txt" }).catch((e) => e);
  assert.ok(e instanceof TrackerError);
  assert.equal(e.code, ErrorCode.not_found);
  assert.equal(e.reason, "not_found");
  assert.match(e.message, /Nobody shares "nothing.txt"/);
});

Deno.test("TrackerClient rejects with timeout when no tracker answers", async () => {
  await using silent = UdpEndpoint.open({ port: 0 }); // a bound port that never answers
  await using c = await TrackerClient.connect({
    tracker: silent.localAddr,
    nodeId: "lonely",
    retry: { initialMs: 20, attempts: 3 },
  });
  const t0 = performance.now();
  const e = await c.start().catch((e) => e);
  assert.ok(e instanceof TrackerError, String(e));
  assert.equal(e.code, TrackerErrorCode.timeout);
  assert.match(e.message, /did not answer REGISTER \(3 attempts/);
  assert.equal(silent.received, 6, "the first send plus two retransmissions, each twice");
  assert.ok(performance.now() - t0 >= 20 + 40);
});

Deno.test("TrackerClient refuses a node id registered from another address", async () => {
  await using tracker = await startTracker({ port: 0 });
  await using a = await TrackerClient.connect({ tracker: tracker.localAddr, nodeId: "same" });
  await using b = await TrackerClient.connect({ tracker: tracker.localAddr, nodeId: "same" });
  await a.start();
  const e = await b.start().catch((e) => e);
  assert.ok(e instanceof TrackerError);
  assert.equal(e.code, ErrorCode.wrong_address);
  assert.match(e.message, /registered from another address/);
  // b has proven only its own address: the ERROR never names the registered one.
  assert.doesNotMatch(e.message, /127\.0\.0\.1/);
});

Deno.test("TrackerClient heartbeats survive lost datagrams without eviction", async () => {
  await using tracker = await startTracker({ port: 0, intervalMs: 400, grace: 0.5 });
  await using endpoint = UdpEndpoint.open({ port: 0 });
  let sent = 0;
  // Drop every other REGISTER after the handshake: each heartbeat's first datagram is lost.
  const client = new TrackerClient({
    tracker: tracker.localAddr,
    nodeId: "lossy",
    send: (bytes, to) => {
      if (bytes[3] === 0x01 && sent++ >= 2 && sent % 2 === 1) return;
      endpoint.send(bytes, to);
    },
  });
  endpoint.onDatagram((b, f) => client.handleDatagram(b, f));
  try {
    await client.start();
    await client.own({ name: "f", size: 1, contentId: cid(1) });
    const evictionsBefore = tracker.counters.evictions;
    await waitUntil(() => tracker.counters.heartbeats >= 5, 10_000, "5 heartbeats");
    assert.equal(tracker.counters.evictions, evictionsBefore, "never evicted");
    assert.equal(client.reregistrations, 0);
    assert.ok(client.retransmits >= 4, `retransmitted lost heartbeats: ${client.retransmits}`);
    assert.equal(client.missedHeartbeats, 0);
    assert.equal(tracker.peerCount, 1);
  } finally {
    await client.close();
  }
});

Deno.test("a restarted tracker sees its peers registered again, with their files, within 2T", async () => {
  const T = 1000;
  const first = await startTracker({ port: 0, intervalMs: T, grace: 0.5 });
  const port = first.localAddr.port;
  const clients: TrackerClient[] = [];
  try {
    for (let i = 0; i < 5; i++) {
      const c = await TrackerClient.connect({
        tracker: first.localAddr,
        nodeId: `r${i}`,
        retry: FAST,
      });
      clients.push(c);
      await c.start();
      await c.own({ name: `file-${i}`, size: 10, contentId: cid(i) });
    }
    assert.equal(first.peerCount, 5);
    await first.close();
    const restartedAt = performance.now();
    await using second = await startTracker({ port, intervalMs: T, grace: 0.5 });
    await waitUntil(
      () => second.peerCount === 5 && second.counters.files === 5,
      2 * T,
      "peers and files back within 2T",
      { describe: () => `${second.peerCount} peers, ${second.counters.files} files` },
    );
    assert.ok(performance.now() - restartedAt <= 2 * T + 100);
    const r = await clients[0]!.need({ kind: "name", name: "file-4" });
    assert.deepEqual(r.owners.map((o) => o.nodeId), ["r4"]);
    assert.ok(clients.every((c) => c.reregistrations === 1));
  } finally {
    await first.close();
    await Promise.all(clients.map((c) => c.close()));
  }
});

Deno.test("TrackerClient re-registers and re-OWNs after an eviction, then retries the request", async () => {
  await using tracker = await startTracker({ port: 0, intervalMs: 100, grace: 0 });
  await using endpoint = UdpEndpoint.open({ port: 0 });
  let mute = false;
  const client = new TrackerClient({
    tracker: tracker.localAddr,
    nodeId: "sleepy",
    send: (bytes, to) => {
      if (!mute) endpoint.send(bytes, to);
    },
    retry: FAST,
  });
  endpoint.onDatagram((b, f) => client.handleDatagram(b, f));
  await using other = await TrackerClient.connect({ tracker: tracker.localAddr, nodeId: "asker" });
  try {
    await client.start();
    await client.own({ name: "kept", size: 3, contentId: cid(7) });
    mute = true; // the peer goes silent (suspended laptop): evicted after 100 ms
    await waitUntil(() => tracker.counters.evictions === 1, 3000, "eviction");
    mute = false;
    await client.update(10); // unknown_node → register, re-OWN, retry
    await other.start();
    const r = await other.need({ kind: "name", name: "kept" });
    assert.deepEqual(r.owners.map((o) => o.nodeId), ["sleepy"]);
    assert.ok(client.reregistrations >= 1);
  } finally {
    await client.close();
  }
});
