import assert from "node:assert/strict";
import {
  DEFAULT_RECEIVE_BUFFER,
  inFlightBudget,
  MAX_DATAGRAMS_IN_FLIGHT,
  truesizeOf,
} from "../../lib/peer/core/receive_budget.ts";

Deno.test({
  name: "inFlightBudget() keeps a burst inside the socket buffer with one datagram of slack",
  permissions: "none",
  fn() {
    for (const block of [1180, 1436, 8936, 16384, 32768, 52429, 65491]) {
      const budget = inFlightBudget(block);
      const datagrams = Math.ceil(budget / block);
      assert.ok(datagrams >= 2, `${block}: at least two blocks in flight`);
      const charged = (datagrams + 1) * truesizeOf(block + 16);
      assert.ok(
        datagrams === 2 || charged <= DEFAULT_RECEIVE_BUFFER,
        `${block}: ${datagrams} + 1 datagrams are charged ${charged} bytes`,
      );
    }
  },
});

Deno.test({
  name: "inFlightBudget() favours 32 KiB blocks over 52 KiB ones (the buffer holds 6 vs 3)",
  permissions: "none",
  fn() {
    assert.equal(inFlightBudget(32768), 5 * 32768);
    assert.equal(inFlightBudget(52429), 2 * 52429);
    assert.ok(inFlightBudget(32768) > inFlightBudget(52429));
  },
});

Deno.test({
  name: "truesizeOf() grows with the datagram and never undercounts its length",
  permissions: "none",
  fn() {
    let last = 0;
    for (let size = 64; size <= 65507; size += 97) {
      const t = truesizeOf(size);
      assert.ok(t >= size, `${size} charged ${t}`);
      assert.ok(t >= last);
      last = t;
    }
  },
});

Deno.test({
  name:
    "inFlightBudget() follows a raised buffer, holding small datagrams to MAX_DATAGRAMS_IN_FLIGHT",
  permissions: "none",
  fn() {
    const raised = 8 * 1024 * 1024; // 4 MiB asked, doubled by the kernel
    // 32 KiB blocks: far more than the default's 5, under the datagram cap
    const big = inFlightBudget(32768, 16, raised) / 32768;
    assert.ok(big > 5 && big <= MAX_DATAGRAMS_IN_FLIGHT, `${big} blocks of 32 KiB`);
    // 1452-byte datagrams: the buffer would hold thousands; the cap holds them to 128 (less slack)
    const small = inFlightBudget(1436, 16, raised) / 1436;
    assert.ok(small <= MAX_DATAGRAMS_IN_FLIGHT && small >= MAX_DATAGRAMS_IN_FLIGHT * 7 / 8);
    // The default buffer is unchanged by the cap
    assert.equal(inFlightBudget(1436), inFlightBudget(1436, 16, DEFAULT_RECEIVE_BUFFER));
    assert.ok(inFlightBudget(1436) / 1436 < MAX_DATAGRAMS_IN_FLIGHT);
  },
});
