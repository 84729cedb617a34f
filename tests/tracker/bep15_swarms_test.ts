import assert from "node:assert/strict";
import { Bep15Swarms } from "../../lib/tracker/bep15_swarms.ts";
import { Bep15MemoryStore } from "../../lib/tracker/store/bep15_memory_store.ts";
import { RedisStore } from "../../lib/tracker/store/redis_store.ts";
import { REDIS_SKIP_REASON, startRedis } from "../_harness/redis_server.ts";
import { announce, bep15SwarmSuite, v4 } from "./_bep15_swarm_suite.ts";

// The rules, once, against both stores.
bep15SwarmSuite("the memory store", (options) => {
  const swarms = new Bep15Swarms({ ...options, store: new Bep15MemoryStore() });
  return Promise.resolve({ swarms, [Symbol.asyncDispose]: () => Promise.resolve() });
});

bep15SwarmSuite("the Redis store", async (options) => {
  const redis = await startRedis();
  const store = await RedisStore.connect({ url: redis.url });
  const swarms = new Bep15Swarms({ ...options, store: store.bep15 });
  return {
    swarms,
    [Symbol.asyncDispose]: async () => {
      await store.close();
      await redis[Symbol.asyncDispose]();
    },
  };
}, REDIS_SKIP_REASON);

Deno.test(
  "Bep15Swarms on the memory store answers at once and knows its next expiry exactly",
  { permissions: "none" },
  async () => {
    const s = new Bep15Swarms({ intervalMs: 10_000, grace: 0.5, random: () => 0 });
    const out = new Uint8Array(1300);
    const r = s.handleAnnounce(
      {
        infoHash: new Uint8Array(20),
        family: 4,
        address: v4(1),
        port: 1,
        event: "none",
        left: 1,
        key: 0,
        numWant: -1,
      },
      0,
      out,
      20,
    );
    assert.ok(!(r instanceof Promise));
    assert.equal(s.pollTimeout(), 15_001);
    await announce(s, 5000, { infoHash: new Uint8Array(20), address: v4(2), port: 2 });
    s.handleTimeout(15_000);
    assert.equal(s.peerCount, 2);
    s.handleTimeout(15_001);
    assert.deepEqual([s.peerCount, s.swarmCount], [1, 1]);
    assert.equal(s.pollTimeout(), 20_001);
    s.handleTimeout(20_001);
    assert.equal(s.pollTimeout(), Infinity);
  },
);
