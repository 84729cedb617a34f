/**
 * The server driver on the store path, with real sockets and a private redis-server: two
 * trackers on one Redis serve one swarm; a Redis restart drops requests (logged once) and the
 * service resumes by itself. Skipped where redis-server is missing.
 * @module
 */
import assert from "node:assert/strict";
import { startTracker } from "../../lib/tracker/server.ts";
import { RedisStore } from "../../lib/tracker/store/redis_store.ts";
import { StoreUnavailable } from "../../lib/tracker/store/store_unavailable.ts";
import { TrackerClient } from "../../lib/peer/tracker_client.ts";
import { redisTest, startRedis } from "../_harness/redis_server.ts";
import { withTimeout } from "../_harness/wait.ts";
import { cid } from "./_registry_harness.ts";

const FAST = { initialMs: 50, attempts: 6 };

async function redisTracker(url: string, lines: string[] = []) {
  const store = await RedisStore.connect({ url });
  const secret = await store.sharedSecret();
  return await startTracker({
    port: 0,
    intervalMs: 5000,
    store,
    storeSecret: secret,
    log: (l) => lines.push(l),
  });
}

/** An owner registered at tracker `a` and an asker at tracker `b`, both started. */
async function ownerAndAsker(a: { localAddr: Deno.NetAddr }, b: { localAddr: Deno.NetAddr }) {
  const owner = await TrackerClient.connect({ tracker: a.localAddr, nodeId: "owner", retry: FAST });
  const asker = await TrackerClient.connect({ tracker: b.localAddr, nodeId: "asker", retry: FAST });
  await withTimeout(Promise.all([owner.start(), asker.start()]), 10_000, "register");
  return { owner, asker };
}

redisTest("startTracker({ redis }): two trackers on one Redis serve one swarm", async () => {
  await using redis = await startRedis();
  // The public way (the tracker connects and closes the store itself) and the internal one.
  await using a = await startTracker({ port: 0, intervalMs: 5000, redis: { url: redis.url } });
  await using b = await redisTracker(redis.url);
  const { owner, asker } = await ownerAndAsker(a, b);
  await using _o = owner;
  await using _a = asker;
  await withTimeout(
    owner.own({ name: "song.ogg", size: 1234, contentId: cid(7) }),
    10_000,
    "own",
  );
  const r = await withTimeout(asker.need({ kind: "name", name: "song.ogg" }), 10_000, "need");
  assert.deepEqual(r.owners.map((o) => [o.nodeId, o.address.port]), [
    ["owner", owner.localAddr!.port],
  ]);
  assert.equal(r.size, 1234);
  const listing = await withTimeout(
    asker.list({ match: "substring", pattern: "song", cursor: 0, maxEntries: 0 }),
    10_000,
    "list",
  );
  assert.deepEqual(listing.entries.map((e) => [e.name, e.owners]), [["song.ogg", 1]]);
  // OWN went through A only and NEED through B only (a retransmission under load may count twice).
  assert.ok(a.counters.owns >= 1 && b.counters.owns === 0, "OWN at A");
  assert.ok(b.counters.needs >= 1 && a.counters.needs === 0, "NEED at B");
});

redisTest(
  "startTracker({ store }): Redis restarted mid-session: dropped, logged once, resumes",
  async () => {
    await using redis = await startRedis();
    const lines: string[] = [];
    await using t = await redisTracker(redis.url, lines);
    await using c = await TrackerClient.connect({
      tracker: t.localAddr,
      nodeId: "p",
      retry: { initialMs: 50, attempts: 2 },
    });
    await withTimeout(c.start(), 10_000, "register");
    await redis.stop();
    for (let i = 0; i < 3; i++) {
      await assert.rejects(c.need({ kind: "name", name: "x" }));
    }
    assert.equal(lines.filter((l) => l.startsWith("store down")).length, 1, lines.join("\n"));
    assert.ok(t.counters.storeErrors >= 3);
    await redis.restart();
    // The restarted Redis is empty: the peer is unknown there and registers again.
    let answer = "";
    for (let i = 0; i < 100 && !/not registered|Nobody shares/.test(answer); i++) {
      try {
        await c.need({ kind: "name", name: "x" });
      } catch (e) {
        answer = String(e);
      }
    }
    assert.match(answer, /not registered|Nobody shares/);
    assert.equal(lines.filter((l) => l.startsWith("store up")).length, 1, lines.join("\n"));
  },
);

redisTest(
  "startTracker({ redis }): separate prefixes are separate swarms; Redis down fails at start",
  async () => {
    await using redis = await startRedis();
    await using a = await startTracker({ port: 0, redis: { url: redis.url, prefix: "{a}" } });
    await using b = await startTracker({ port: 0, redis: { url: redis.url, prefix: "{b}" } });
    const { owner, asker } = await ownerAndAsker(a, b);
    await using _o = owner;
    await using _a = asker;
    await withTimeout(owner.own({ name: "x.iso", size: 10, contentId: cid(1) }), 10_000, "own");
    await assert.rejects(
      withTimeout(asker.need({ kind: "name", name: "x.iso" }), 10_000, "need"),
      /Nobody shares "x.iso"/,
    );
    const url = redis.url;
    await redis.stop();
    await assert.rejects(
      startTracker({ port: 0, redis: { url, connectTimeoutMs: 500 } }),
      (e: unknown) => e instanceof StoreUnavailable && /Cannot reach Redis/.test(e.message),
    );
  },
);
