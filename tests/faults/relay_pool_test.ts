import assert from "node:assert/strict";
import { UdpEndpoint } from "../../lib/net/udp_endpoint.ts";
import { fromNetAddr, toNetAddr } from "../../lib/net/host_port.ts";
import { RelayPool } from "../_harness/relay_pool.ts";
import { waitUntil } from "../_harness/wait.ts";

Deno.test("RelayPool.map() puts one relay in front of each owner and sums their stats", async () => {
  await using a = UdpEndpoint.open();
  await using b = UdpEndpoint.open();
  await using client = UdpEndpoint.open();
  let gotA = 0, gotB = 0, replies = 0;
  a.onDatagram((bytes, from) => {
    gotA++;
    a.send(bytes.slice(), from);
  });
  b.onDatagram(() => gotB++);
  client.onDatagram(() => replies++);
  await using pool = new RelayPool({ seed: 1 });
  const viaA = pool.map(a.address, "owner-a");
  assert.deepEqual(pool.map(a.address, "owner-a"), viaA, "the same owner keeps its relay");
  const viaB = pool.map(b.address, "owner-b");
  assert.notEqual(viaA.port, viaB.port);
  assert.notEqual(viaA.port, a.address.port);
  assert.deepEqual(pool.relaysOf("owner-a")[0]!.target, toNetAddr(a.address));

  pool.setRates({ lossToTarget: 1 });
  client.send(new Uint8Array(10), toNetAddr(viaB));
  await waitUntil(() => pool.totals().toTarget.dropped === 1, 2000, "dropped");
  pool.setRates({ lossToTarget: 0 });
  for (let i = 0; i < 3; i++) client.send(new Uint8Array(10), toNetAddr(viaA));
  client.send(new Uint8Array(10), toNetAddr(viaB));
  await waitUntil(() => replies === 3 && gotB === 1, 2000, "arrive");
  assert.equal(gotA, 3);
  const t = pool.totals();
  assert.equal(t.toTarget.received, 5);
  assert.equal(t.toTarget.forwarded, 4);
  assert.equal(t.fromTarget.forwarded, 3);
  assert.equal(t.clients, 2);

  // A relay started after setRates() gets the rates in force.
  const c = fromNetAddr({ transport: "udp", hostname: "127.0.0.1", port: 9 });
  pool.setRates({ delayMs: 3 });
  pool.map(c, "owner-c");
  assert.equal(pool.relaysOf("owner-c")[0]!.rates().toTarget.delayMs, 3);
  await pool.close();
  assert.throws(() => pool.map(a.address, "owner-d"), /closed/);
});
