import assert from "node:assert/strict";
import {
  DEFAULT_RETRY,
  RequestRetry,
  type Retrying,
  retrying,
} from "../../lib/peer/core/request_retry.ts";

const none = { permissions: "none" } as const;

const bytes = (b: number) => new Uint8Array([b]);

/** Sends `req` and returns the deadlines of every send until it times out, on a clock that jumps to each deadline. */
function deadlines(table: RequestRetry, req: Retrying): number[] {
  table.send(req, table.nextTxid(), bytes(1), 0);
  const out: number[] = [];
  let expired = false;
  while (!expired) {
    const at = table.pollTimeout();
    out.push(at);
    table.handleTimeout(at, () => expired = true);
  }
  return out;
}

Deno.test(
  "RequestRetry backs off 250, 500, 1000, 2000 ms over 5 sends by default (no jitter at 0.5)",
  none,
  () => {
    const table = new RequestRetry({ random: () => 0.5 });
    const req = retrying(DEFAULT_RETRY);
    assert.deepEqual(deadlines(table, req), [250, 750, 1750, 3750, 7750]);
    assert.equal(req.attempts, 5);
    assert.equal(req.txid, 0, "out of the table");
    assert.equal(table.retransmits, 4);
    let sent = 0;
    while (table.pollTransmit()) sent++;
    assert.equal(sent, 5);
  },
);

Deno.test("RequestRetry caps each wait at maxDelayMs and the whole at totalMs", none, () => {
  const table = new RequestRetry({ random: () => 0.5 });
  const capped = retrying({
    initialMs: 100,
    factor: 10,
    maxDelayMs: 300,
    attempts: 4,
    totalMs: Infinity,
  });
  assert.deepEqual(deadlines(table, capped), [100, 400, 700, 1000]);
  const total = retrying({
    initialMs: 100,
    factor: 2,
    maxDelayMs: 1000,
    attempts: 99,
    totalMs: 500,
  });
  assert.deepEqual(deadlines(table, total), [100, 300, 500]);
});

Deno.test("RequestRetry jitters each wait by ±10 %", none, () => {
  for (const [r, first] of [[0, 225], [0.999999, 275]] as const) {
    const table = new RequestRetry({ random: () => r });
    table.send(retrying(DEFAULT_RETRY), table.nextTxid(), bytes(1), 0);
    assert.ok(Math.abs(table.pollTimeout() - first) < 0.01, `${table.pollTimeout()}`);
  }
});

Deno.test("RequestRetry.nextTxid() skips 0 and ids in flight; take() answers once", none, () => {
  // random 1 - ε makes the first id 0xfffffff0; wrap around past 0
  const table = new RequestRetry({ random: () => (0xffffffff - 0x10) / 0xfffffff0 });
  const ids: number[] = [];
  for (let i = 0; i < 20; i++) {
    const txid = table.nextTxid();
    ids.push(txid);
    table.send(retrying(DEFAULT_RETRY), txid, bytes(i), 0);
  }
  assert.ok(!ids.includes(0));
  assert.equal(new Set(ids).size, 20);
  const req = table.take(ids[3]!);
  assert.ok(req);
  assert.equal(req.txid, 0);
  assert.equal(table.take(ids[3]!), undefined, "a duplicate reply is ignored");
  assert.equal(table.take(12345), undefined);
});

Deno.test("RequestRetry.delete() and clear() stop sends and time-outs", none, () => {
  const table = new RequestRetry({ random: () => 0.5 });
  const a = retrying(DEFAULT_RETRY);
  const b = retrying(DEFAULT_RETRY);
  table.send(a, table.nextTxid(), bytes(1), 0);
  table.send(b, table.nextTxid(), bytes(2), 10);
  table.delete(a);
  assert.equal(table.pollTimeout(), 260);
  assert.deepEqual([...table.values()], [b]);
  table.clear();
  assert.equal(table.pollTimeout(), Infinity);
  table.handleTimeout(1e9, () => assert.fail("nothing is in flight"));
});
