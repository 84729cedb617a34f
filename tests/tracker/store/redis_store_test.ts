import assert from "node:assert/strict";
import { RedisStore, StoreUnavailable } from "../../../lib/tracker/store/redis_store.ts";
import { REDIS_SKIP_REASON, redisTest, startRedis } from "../../_harness/redis_server.ts";
import { prng } from "../_registry_harness.ts";
import { swarmStoreSuite } from "./_swarm_store_suite.ts";

swarmStoreSuite("RedisStore", async () => {
  const redis = await startRedis();
  const store = await RedisStore.connect({ url: redis.url, rateTauMs: 60_000, random: prng(7) });
  return Object.assign(store, {
    [Symbol.asyncDispose]: async () => {
      await store.close();
      await redis[Symbol.asyncDispose]();
    },
  });
}, REDIS_SKIP_REASON);

redisTest("RedisStore: unreachable at start is a clear StoreUnavailable", async () => {
  const redis = await startRedis();
  const url = redis.url;
  await redis[Symbol.asyncDispose]();
  await assert.rejects(
    RedisStore.connect({ url, connectTimeoutMs: 500 }),
    (e: unknown) => e instanceof StoreUnavailable && /Cannot reach Redis at redis:/.test(e.message),
  );
});

redisTest(
  "RedisStore: Redis lost while running fails fast, and service resumes when it is back",
  async () => {
    await using redis = await startRedis();
    const store = await RedisStore.connect({ url: redis.url });
    try {
      const from = { hostname: "127.0.0.1", port: 3000 };
      assert.equal(await store.join("a", from, 1, 10), "registered");
      await redis.stop();
      await assert.rejects(store.touch("a", from, 2), StoreUnavailable);
      await redis.restart();
      // The client reconnects by itself (at most a second apart); the data did not persist.
      let status: string | undefined;
      for (let i = 0; i < 60 && status === undefined; i++) {
        try {
          status = await store.touch("a", from, 3);
        } catch (e) {
          assert.ok(e instanceof StoreUnavailable);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      assert.equal(status, "unknown", "back, empty: the peer registers again");
      assert.equal(await store.join("a", from, 4, 10), "registered");
    } finally {
      await store.close();
    }
  },
);

redisTest(
  "RedisStore: two clients of one Redis share the swarm and the cookie secret",
  async () => {
    await using redis = await startRedis();
    const a = await RedisStore.connect({ url: redis.url });
    const b = await RedisStore.connect({ url: `${redis.url}/0` });
    try {
      const alice = { hostname: "127.0.0.1", port: 3001 };
      const bob = { hostname: "127.0.0.1", port: 3002 };
      assert.equal(await a.join("alice", alice, 1, 10), "registered");
      assert.equal((await a.own("alice", alice, 1, "f", "ab".repeat(32), 5, 10)).status, "ok");
      assert.equal(await b.join("bob", bob, 2, 10), "registered");
      const r = await b.need("bob", bob, 3, { byName: true, want: "f", k: 8 });
      assert.deepEqual([r.nodeIds.slice(0, r.count), r.ports[0]], [["alice"], 3001]);
      assert.equal(await b.touch("alice", alice, 4), "ok", "alice moves to tracker B");
      assert.deepEqual(await a.sharedSecret(), await b.sharedSecret());
    } finally {
      await a.close();
      await b.close();
    }
  },
);
