import { RedisStore } from "../../../lib/tracker/store/redis_store.ts";
import { REDIS_SKIP_REASON, startRedis } from "../../_harness/redis_server.ts";
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
