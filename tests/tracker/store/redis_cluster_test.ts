/**
 * The Redis store on a Redis Cluster: started at a node that does not own the swarm's slot, it
 * follows the `MOVED` reply to the node that does (where the script is then loaded), and every
 * rule of the store suite holds there; two prefixes are two swarms.
 * @module
 */
import assert from "node:assert/strict";
import { RedisStore } from "../../../lib/tracker/store/redis_store.ts";
import { parseMoved, RespClient, RespReplyError } from "../../../lib/tracker/store/resp_client.ts";
import { REDIS_SKIP_REASON, redisTest, startRedisCluster } from "../../_harness/redis_server.ts";
import { prng } from "../_registry_harness.ts";
import { swarmStoreSuite } from "./_swarm_store_suite.ts";

Deno.test("parseMoved: reads the node of a MOVED reply, nothing else", () => {
  const moved = (text: string) => parseMoved(new RespReplyError(text));
  assert.deepEqual(moved("MOVED 3999 127.0.0.1:6381"), { hostname: "127.0.0.1", port: 6381 });
  assert.deepEqual(moved("MOVED 1 ::1:7000"), { hostname: "::1", port: 7000 });
  assert.deepEqual(moved("MOVED 1 :7000"), { hostname: "", port: 7000 });
  assert.equal(moved("ASK 3999 127.0.0.1:6381"), undefined);
  assert.equal(moved("MOVED 3999 127.0.0.1:0"), undefined);
  assert.equal(moved("ERR MOVED 1 a:1"), undefined);
  assert.equal(parseMoved(new Error("MOVED 3999 127.0.0.1:6381")), undefined);
});

// One cluster for the whole suite (forming one takes seconds); each store gets a swarm (a
// prefix) of its own. The last test of this file stops it.
let shared: ReturnType<typeof startRedisCluster> | undefined;
let swarms = 0;

swarmStoreSuite("RedisStore on a Cluster, started at the node without the slot", async () => {
  shared ??= startRedisCluster();
  const cluster = await shared;
  const store = await RedisStore.connect({
    url: cluster.empty.url,
    prefix: `{suite${++swarms}}`,
    rateTauMs: 60_000,
    random: prng(7),
  });
  return Object.assign(store, { [Symbol.asyncDispose]: () => store.close() });
}, REDIS_SKIP_REASON);

redisTest(
  "RedisStore on a Cluster: the data lands on the slot's owner; prefixes are swarms",
  async () => {
    await using cluster = await startRedisCluster();
    const a = await RedisStore.connect({ url: cluster.empty.url, prefix: "{eu}" });
    const b = await RedisStore.connect({ url: cluster.owner.url, prefix: "{us}" });
    const owner = await RespClient.connect({ hostname: "127.0.0.1", port: cluster.owner.port });
    const empty = await RespClient.connect({ hostname: "127.0.0.1", port: cluster.empty.port });
    try {
      const from = { hostname: "127.0.0.1", port: 3000 };
      const secretA = await a.sharedSecret();
      assert.equal(await a.join("p1", from, 1, 10), "registered");
      assert.equal(await b.join("p2", from, 1, 10), "registered");
      // One swarm per prefix: p1 is known in {eu} only, p2 in {us} only.
      assert.equal(await a.touch("p2", from, 2), "unknown");
      assert.equal(await b.touch("p1", from, 2), "unknown");
      assert.notEqual(await a.touch("p1", from, 2), "unknown");
      // Everything lives on the slot's owner; the node the store was started at holds nothing.
      assert.equal(await empty.command(["DBSIZE"]), 0);
      const hex = await owner.command(["GET", "{eu}:secret"]);
      assert.equal(hex, Array.from(secretA, (x) => x.toString(16).padStart(2, "0")).join(""));
      // What the redirect saved: asked at the empty node, a keyed command is MOVED.
      await assert.rejects(
        empty.command(["GET", "{eu}:secret"]),
        (e: unknown) => parseMoved(e)?.port === cluster.owner.port,
      );
    } finally {
      await Promise.all([a.close(), b.close(), owner.close(), empty.close()]);
    }
  },
);

redisTest("RedisStore on a Cluster: (stops the suite's cluster)", async () => {
  if (shared !== undefined) await (await shared)[Symbol.asyncDispose]();
});
