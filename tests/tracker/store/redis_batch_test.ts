/**
 * RedisBatcher (group commit) with a fake `send`: what leaves together, in what order, within
 * which bounds, and how failures reach each operation. No Redis, no sockets, no timers.
 * @module
 */
import assert from "node:assert/strict";
import { type BatchArg, RedisBatcher } from "../../../lib/tracker/store/redis_batch.ts";

/** A `send` that records each batch and answers when told. */
function fakeRedis() {
  const sent: { ops: BatchArg[][]; answer: (a: unknown[]) => void; fail: (e: Error) => void }[] =
    [];
  const send = (ops: BatchArg[][]) => {
    const { promise, resolve, reject } = Promise.withResolvers<unknown[]>();
    sent.push({ ops, answer: resolve, fail: reject });
    return promise;
  };
  return { sent, send };
}

/** Lets queued microtasks (the batcher's flush) run. */
const settle = () => new Promise<void>((r) => queueMicrotask(r));

Deno.test({
  name: "RedisBatcher: operations of one turn leave together; later ones wait for the answer",
  permissions: "none",
  fn: async () => {
    const redis = fakeRedis();
    const b = new RedisBatcher({ send: redis.send });
    const first = [b.call(["touch", "a"]), b.call(["touch", "b"])];
    await settle();
    assert.equal(redis.sent.length, 1);
    assert.deepEqual(redis.sent[0]!.ops, [["touch", "a"], ["touch", "b"]]);
    // While it is in flight, more operations queue up: nothing leaves.
    const second = [b.call(["need", "c", 1]), b.call(["touch", "a"]), b.call(["exit", "a"])];
    await settle();
    assert.equal(redis.sent.length, 1);
    assert.equal(b.queued, 3);
    // The answer sends the next batch (all that waited, in order) and settles the first.
    redis.sent[0]!.answer(["ok", "ok"]);
    assert.deepEqual(await Promise.all(first), ["ok", "ok"]);
    assert.equal(redis.sent.length, 2);
    assert.deepEqual(redis.sent[1]!.ops, [["need", "c", 1], ["touch", "a"], ["exit", "a"]]);
    redis.sent[1]!.answer([["ok", 0], "ok", ["ok", 1]]);
    assert.deepEqual(await Promise.all(second), [["ok", 0], "ok", ["ok", 1]]);
    assert.deepEqual(b.counters, { batches: 2, operations: 5, refused: 0, largest: 3 });
  },
});

Deno.test({
  name: "RedisBatcher: a batch is cut at maxBatch operations and at maxBytes",
  permissions: "none",
  fn: async () => {
    const redis = fakeRedis();
    const b = new RedisBatcher({ send: redis.send, maxBatch: 2, maxBytes: 200, maxInFlight: 4 });
    const long = "x".repeat(150); // ~166 bytes with its framing; a short one ~17
    const calls = [b.call(["a"]), b.call(["b"]), b.call(["c"]), b.call([long]), b.call([long])];
    await settle();
    // Cut at 2 operations, then at 200 bytes (c + long fit, long + long do not).
    assert.deepEqual(redis.sent.map((s) => s.ops), [[["a"], ["b"]], [["c"], [long]], [[long]]]);
    assert.equal(b.inFlight, 3);
    for (const s of redis.sent) s.answer(s.ops.map(() => "ok"));
    assert.deepEqual(await Promise.all(calls), ["ok", "ok", "ok", "ok", "ok"]);
  },
});

Deno.test({
  name: "RedisBatcher: one failed answer rejects its operation; a failed batch rejects all of it",
  permissions: "none",
  fn: async () => {
    const redis = fakeRedis();
    const b = new RedisBatcher({ send: redis.send });
    const a = b.call(["touch", "a"]);
    const bad = b.call(["nope"]);
    await settle();
    const oops = new Error("unknown operation nope");
    redis.sent[0]!.answer(["ok", oops]);
    assert.equal(await a, "ok");
    await assert.rejects(bad, (e) => e === oops);
    const c = b.call(["touch", "c"]);
    const d = b.call(["touch", "d"]);
    await settle();
    const lost = new Error("connection lost");
    redis.sent[1]!.fail(lost);
    await assert.rejects(c, (e) => e === lost);
    await assert.rejects(d, (e) => e === lost);
    // Service goes on with the next operation.
    const e = b.call(["touch", "e"]);
    await settle();
    redis.sent[2]!.answer(["ok"]);
    assert.equal(await e, "ok");
  },
});

Deno.test({
  name: "RedisBatcher: past maxQueued an operation is refused at once, with the error given",
  permissions: "none",
  fn: async () => {
    const redis = fakeRedis();
    const b = new RedisBatcher({
      send: redis.send,
      maxQueued: 2,
      overloaded: (n) => new RangeError(`full: ${n}`),
    });
    const inFlight = b.call(["1"]);
    await settle();
    const waiting = [b.call(["2"]), b.call(["3"])];
    await assert.rejects(b.call(["4"]), /full: 2/);
    assert.equal(b.counters.refused, 1);
    redis.sent[0]!.answer(["ok"]);
    await inFlight;
    redis.sent[1]!.answer(["ok", "ok"]);
    assert.deepEqual(await Promise.all(waiting), ["ok", "ok"]);
  },
});
