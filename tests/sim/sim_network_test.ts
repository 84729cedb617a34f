import assert from "node:assert/strict";
import { type SimAddr, SimNetwork, UDP_IP_OVERHEAD } from "../../lib/sim/sim_network.ts";

const A: SimAddr = { hostname: "10.0.0.1", port: 1000 };
const B: SimAddr = { hostname: "10.0.0.2", port: 2000 };

function pair(options: ConstructorParameters<typeof SimNetwork>[0], upload = Infinity) {
  const net = new SimNetwork(options);
  net.addHost(A.hostname, { upload, queueBytes: 1 << 30 });
  net.addHost(B.hostname);
  const got: { bytes: Uint8Array; at: number; from: Deno.NetAddr }[] = [];
  const a = net.bind(A, () => {});
  net.bind(B, (bytes, from, now) => got.push({ bytes, at: now, from }));
  return { net, a, got };
}

Deno.test({
  name: "SimNetwork delivers a copy after the latency, from the sender's address",
  permissions: "none",
  fn() {
    const { net, a, got } = pair({ seed: 1, link: { latencyMs: 7 } });
    const bytes = new Uint8Array([1, 2, 3]);
    a.send(bytes, B);
    bytes[0] = 9; // the sender reuses its buffer: the datagram in flight is unaffected
    assert.equal(net.run(() => got.length === 1, { maxMs: 100 }), true);
    assert.deepEqual([...got[0]!.bytes], [1, 2, 3]);
    assert.equal(got[0]!.at, 7);
    assert.deepEqual(got[0]!.from, { transport: "udp", ...A });
  },
});

Deno.test({
  name: "SimNetwork serializes a host's upload at its rate, counting UDP/IP headers",
  permissions: "none",
  fn() {
    const size = 1000 - UDP_IP_OVERHEAD;
    const { net, a, got } = pair({ seed: 1, link: { latencyMs: 0 } }, 100); // 100 bytes/ms
    for (let i = 0; i < 10; i++) a.send(new Uint8Array(size), B);
    net.run(() => got.length === 10, { maxMs: 1000 });
    assert.deepEqual(got.map((g) => g.at), [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    assert.equal(net.hostStats(A.hostname).sentWireBytes, 10_000);
  },
});

Deno.test({
  name: "SimNetwork drops what exceeds the upload queue (drop-tail)",
  permissions: "none",
  fn() {
    const net = new SimNetwork({ seed: 1 });
    net.addHost(A.hostname, { upload: 1, queueBytes: 3000 });
    net.addHost(B.hostname);
    const a = net.bind(A, () => {});
    let n = 0;
    net.bind(B, () => n++);
    for (let i = 0; i < 10; i++) a.send(new Uint8Array(1000 - UDP_IP_OVERHEAD), B);
    net.run(() => false, { maxMs: 1e6 });
    assert.equal(n, 3);
    assert.equal(net.hostStats(A.hostname).queueDrops, 7);
  },
});

Deno.test({
  name: "SimNetwork fragments large datagrams: a fragment lost at the queue loses the datagram, " +
    "and the fragments that got in still take the link",
  permissions: "none",
  fn() {
    const net = new SimNetwork({ seed: 1 });
    // 1 byte/ms, 10,000 bytes of queue, 1500-byte packets: a 3,972-byte datagram is 3 fragments
    // (1480 + 1480 + 1020 bytes of IP payload, each with a 20-byte IP header: 4,040 wire bytes)
    net.addHost(A.hostname, { upload: 1, queueBytes: 10_000, fragmentMtu: 1500 });
    net.addHost(B.hostname);
    const a = net.bind(A, () => {});
    const got: number[] = [];
    net.bind(B, (bytes) => got.push(bytes.byteLength));
    a.send(new Uint8Array(3972), B); // 4,040 queued
    a.send(new Uint8Array(3972), B); // 8,080 queued
    a.send(new Uint8Array(3972), B); // its first fragment fits (9,580), the other two not: lost
    a.send(new Uint8Array(392), B); // unfragmented, 420 bytes: fits exactly (10,000)
    net.run(() => false, { maxMs: 1e6 });
    assert.deepEqual(got, [3972, 3972, 392]);
    const stats = net.hostStats(A.hostname);
    assert.equal(stats.queueDrops, 1);
    assert.equal(stats.wastedWireBytes, 1500);
    assert.equal(stats.sentWireBytes, 4040 * 2 + 1500 + 420);
    // The wasted fragment delayed the last datagram as if it had been delivered (1 ms latency)
    assert.equal(net.now, 1 + 10_000);
  },
});

Deno.test({
  name: "SimNetwork without fragmentMtu queues a large datagram whole (the default)",
  permissions: "none",
  fn() {
    const net = new SimNetwork({ seed: 1 });
    net.addHost(A.hostname, { upload: 1, queueBytes: 10_000 });
    net.addHost(B.hostname);
    const a = net.bind(A, () => {});
    let n = 0;
    net.bind(B, () => n++);
    for (let i = 0; i < 3; i++) a.send(new Uint8Array(3972), B); // 4,000 wire bytes each
    net.run(() => false, { maxMs: 1e6 });
    assert.equal(n, 2);
    assert.equal(net.hostStats(A.hostname).wastedWireBytes, 0);
  },
});

Deno.test({
  name: "SimNetwork loss, duplication and MTU are seeded and counted",
  permissions: "none",
  fn() {
    const run = (seed: number) => {
      const { net, a, got } = pair({ seed, link: { loss: 0.2, duplicate: 0.1, mtu: 500 } });
      for (let i = 0; i < 1000; i++) a.send(new Uint8Array(i % 2 === 0 ? 100 : 600), B);
      net.run(() => false, { maxMs: 1e6 });
      return { got: got.length, stats: { ...net.stats } };
    };
    const r = run(42);
    assert.deepEqual(run(42), r, "same seed, same run");
    assert.equal(r.stats.mtuDrops, 500);
    assert.ok(r.stats.lost > 60 && r.stats.lost < 140, `lost ${r.stats.lost} of 500`);
    assert.equal(r.got, 500 - r.stats.lost + r.stats.duplicated);
    assert.ok(r.stats.duplicated > 10);
  },
});

Deno.test({
  name: "SimNetwork timers fire once at the last armed deadline; run stops at maxMs",
  permissions: "none",
  fn() {
    const net = new SimNetwork({ seed: 1 });
    const fired: number[] = [];
    const t = net.timer((now) => fired.push(now));
    t.arm(50);
    t.arm(20); // replaces 50
    net.run(() => false, { maxMs: 1000 });
    assert.deepEqual(fired, [20]);
    t.arm(2000);
    assert.equal(net.run(() => false, { maxMs: 1000 }), false);
    assert.deepEqual(fired, [20]);
    t.cancel();
    assert.equal(net.step(), true); // the stale event is consumed without firing
    assert.deepEqual(fired, [20]);
  },
});
