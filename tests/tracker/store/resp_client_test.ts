/**
 * RespClient against a private redis-server: replies of every RESP2 type, pipelining in order,
 * an error reply that rejects only its command, replies larger than the read buffer, UTF-8,
 * a database number, and the connection lost and regained.
 * @module
 */
import assert from "node:assert/strict";
import { RespClient } from "../../../lib/tracker/store/resp_client.ts";
import { redisTest, startRedis } from "../../_harness/redis_server.ts";

redisTest("RespClient: replies of each type, pipelined, in order", async () => {
  await using redis = await startRedis();
  const c = await RespClient.connect({ hostname: "127.0.0.1", port: redis.port });
  try {
    const name = "naïve ☃ 名前";
    const big = "x".repeat(300_000); // past the 64 KiB read buffer
    const replies = await Promise.all([
      c.command(["SET", "k", name]),
      c.command(["GET", "k"]),
      c.command(["GET", "missing"]),
      c.command(["INCRBY", "n", "-5"]),
      c.command(["RPUSH", "l", "a", "", "c"]),
      c.command(["LRANGE", "l", "0", "-1"]),
      c.command(["SET", "big", big]),
      c.command(["STRLEN", "big"]),
      c.command(["GET", "big"]),
      c.command(["EVAL", "return {1, 'two', {3}}", "0"]),
    ]);
    assert.deepEqual(replies.slice(0, 8), ["OK", name, null, -5, 3, ["a", "", "c"], "OK", 300_000]);
    assert.equal(replies[8], big);
    assert.deepEqual(replies[9], [1, "two", [3]]);
    // An error reply rejects its command only; the next ones are answered.
    const bad = c.command(["NOSUCHCOMMAND"]);
    const after = c.command(["GET", "k"]);
    await assert.rejects(
      bad,
      (e: Error) => e.name === "ReplyError" && /unknown command/i.test(e.message),
    );
    assert.equal(await after, name);
  } finally {
    await c.close();
  }
});

redisTest("RespClient: selects its database", async () => {
  await using redis = await startRedis();
  const c3 = await RespClient.connect({ hostname: "127.0.0.1", port: redis.port, db: 3 });
  const c0 = await RespClient.connect({ hostname: "127.0.0.1", port: redis.port });
  try {
    await c3.command(["SET", "where", "three"]);
    assert.equal(await c0.command(["GET", "where"]), null);
    assert.equal(await c3.command(["GET", "where"]), "three");
  } finally {
    await c3.close();
    await c0.close();
  }
});

redisTest("RespClient: lost connection rejects at once, then reconnects by itself", async () => {
  await using redis = await startRedis();
  const c = await RespClient.connect({ hostname: "127.0.0.1", port: redis.port });
  try {
    assert.equal(await c.command(["PING"]), "PONG");
    await redis.stop();
    await assert.rejects(c.command(["PING"]), (e: Error) => e.name === "ConnectionError");
    assert.equal(c.connected, false);
    await assert.rejects(c.command(["PING"]), /down/);
    await redis.restart();
    const deadline = Date.now() + 5000;
    while (!c.connected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(await c.command(["PING"]), "PONG");
  } finally {
    await c.close();
  }
  await assert.rejects(c.command(["PING"]), /closed/);
});

redisTest("RespClient: nobody listening fails fast with a ConnectionError", async () => {
  await using redis = await startRedis();
  await redis.stop();
  await assert.rejects(
    RespClient.connect({ hostname: "127.0.0.1", port: redis.port, connectTimeoutMs: 1000 }),
    (e: Error) => e.name === "ConnectionError",
  );
});
