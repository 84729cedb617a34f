import assert from "node:assert/strict";
import { startTracker } from "../../lib/tracker/server.ts";
import { TrackerClient } from "../../lib/peer/tracker_client.ts";
import {
  encodeBep15AnnounceRequest,
  encodeBep15ConnectRequest,
  encodeBep15ScrapeRequest,
} from "../../lib/wire/bep15.ts";
import { withTimeout } from "../_harness/wait.ts";
import { ask } from "./_bep15_client.ts";

const hash = (n: number) => new Uint8Array(20).fill(n);

Deno.test("startTracker() speaks BEP 15 and the native protocol on one port", async () => {
  const lines: string[] = [];
  await using tracker = await startTracker({ port: 0, log: (l) => lines.push(l) });
  const to = tracker.localAddr;
  const seeder = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const leecher = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    const c1 = await ask(seeder, to, encodeBep15ConnectRequest(1));
    const c2 = await ask(leecher, to, encodeBep15ConnectRequest(2));
    assert.ok(c1.action === "connect" && c2.action === "connect");
    assert.notEqual(c1.connectionId, c2.connectionId);

    const a1 = await ask(
      seeder,
      to,
      encodeBep15AnnounceRequest({
        connectionId: c1.connectionId,
        txid: 3,
        infoHash: hash(7),
        port: 6881,
        event: "started",
        left: 0,
      }),
    );
    assert.ok(a1.action === "announce");
    assert.deepEqual([a1.seeders, a1.leechers, a1.peers.length, a1.interval], [1, 0, 0, 30]);
    const a2 = await ask(
      leecher,
      to,
      encodeBep15AnnounceRequest({
        connectionId: c2.connectionId,
        txid: 4,
        infoHash: hash(7),
        port: 6882,
        event: "started",
        left: 100,
      }),
    );
    assert.ok(a2.action === "announce");
    assert.deepEqual(a2.peers.map((p) => `${p.address.join(".")}:${p.port}`), ["127.0.0.1:6881"]);

    // The seeder's id is refused from the leecher's socket.
    const wrong = await ask(
      leecher,
      to,
      encodeBep15ScrapeRequest(c1.connectionId, 5, [hash(7)]),
    );
    assert.equal(wrong.action, "error");
    const s = await ask(
      leecher,
      to,
      encodeBep15ScrapeRequest(c2.connectionId, 6, [hash(7), hash(8)]),
    );
    assert.deepEqual(s, {
      action: "scrape",
      txid: 6,
      entries: [{ seeders: 1, completed: 0, leechers: 1 }, {
        seeders: 0,
        completed: 0,
        leechers: 0,
      }],
    });

    // The native protocol still works on the same port.
    const client = await TrackerClient.connect({ tracker: to, nodeId: "native-1" });
    try {
      const info = await withTimeout(client.start(), 5000, "native register");
      assert.equal(info.intervalMs, 30_000);
      assert.equal(tracker.peerCount, 1);
    } finally {
      await client.close();
    }

    // Garbage that is neither protocol gets no reply and is counted as malformed.
    const malformedBefore = tracker.malformed;
    await seeder.send(new Uint8Array(16).fill(0xee), to);
    await seeder.send(encodeBep15ConnectRequest(1).subarray(0, 12), to);
    const after = await ask(seeder, to, encodeBep15ConnectRequest(9)); // still served, in order
    assert.ok(after.action === "connect" && after.txid === 9);
    assert.equal(tracker.malformed, malformedBefore + 2);

    assert.ok(
      lines.some((l) => /bep15 announce 0707\S+ from 127\.0\.0\.1:6881: joined as seeder/.test(l)),
    );
    assert.ok(lines.some((l) => /bep15 refused 127\.0\.0\.1:\d+: Connection id is stale/.test(l)));
    assert.ok(lines.some((l) => /bep15 scrape from 127\.0\.0\.1:\d+: 2 info hash\(es\)/.test(l)));
  } finally {
    seeder.close();
    leecher.close();
  }
});
