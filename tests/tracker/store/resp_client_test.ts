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

Deno.test("RespClient: a Redis that stops answering costs commandTimeoutMs, then it reconnects", async () => {
  // A fake Redis: the first connection reads commands and never answers (a stalled server whose
  // TCP connection stays up); later connections answer every command with +PONG.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const served = (async () => {
    let n = 0;
    for await (const conn of listener) {
      conns.push(conn);
      const answer = n++ > 0;
      (async () => {
        const buf = new Uint8Array(4096);
        try {
          for (;;) {
            const got = await conn.read(buf);
            if (got === null) break;
            if (!answer) continue;
            const commands = new TextDecoder().decode(buf.subarray(0, got)).split("*").length - 1;
            await conn.write(new TextEncoder().encode("+PONG\r\n".repeat(commands)));
          }
        } catch {
          // closed by the client or by the test
        }
      })();
    }
  })();
  const c = await RespClient.connect({
    hostname: "127.0.0.1",
    port: listener.addr.port,
    commandTimeoutMs: 150,
  });
  try {
    const t0 = performance.now();
    const first = c.command(["PING"]);
    const second = c.command(["PING"]);
    for (const p of [first, second]) {
      await assert.rejects(
        p,
        (e: Error) => e.name === "ConnectionError" && /no reply within 150 ms/.test(e.message),
      );
    }
    const waited = performance.now() - t0;
    assert.ok(waited >= 140, `rejected after ${waited} ms, before the timeout`);
    // Commands asked for while it is down fail at once (no offline queue)…
    await assert.rejects(c.command(["PING"]), (e: Error) => /reconnecting/.test(e.message));
    // …and it reconnects by itself, to a connection that answers.
    const deadline = Date.now() + 5000;
    while (!c.connected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(c.connected, "did not reconnect within 5 s");
    assert.equal(await c.command(["PING"]), "PONG");
    // Answered commands leave no timer behind that could drop a healthy connection later.
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(c.connected);
    assert.equal(await c.command(["PING"]), "PONG");
  } finally {
    await c.close();
    listener.close();
    for (const conn of conns) {
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
    await served.catch(() => {});
  }
});
