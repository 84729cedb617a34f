import assert from "node:assert/strict";
import { UdpEndpoint } from "../../lib/net/udp_endpoint.ts";
import { type Relay, type RelayOptions, startRelay } from "../_harness/relay.ts";
import { delay, waitUntil } from "../_harness/wait.ts";

/** A UDP socket that keeps copies of what it receives and can echo it back. */
class Node implements AsyncDisposable {
  readonly endpoint = UdpEndpoint.open();
  readonly received: Uint8Array[] = [];
  readonly sources = new Set<string>();
  readonly echo: boolean;

  constructor(echo: boolean) {
    this.echo = echo;
    this.endpoint.onDatagram((bytes, from) => {
      this.received.push(bytes.slice());
      this.sources.add(`${from.hostname}:${from.port}`);
      if (echo) this.endpoint.send(bytes.slice(), from);
    });
  }

  get addr(): Deno.NetAddr {
    return this.endpoint.localAddr;
  }

  /** Sequence numbers of the datagrams received, in arrival order. */
  seqs(): number[] {
    return this.received.filter((b) => b.length >= 4).map((b) =>
      new DataView(b.buffer, b.byteOffset).getUint32(0)
    );
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.endpoint.close();
  }
}

function datagram(seq: number, size = 64): Uint8Array {
  const b = new Uint8Array(size);
  new DataView(b.buffer).setUint32(0, seq);
  for (let i = 4; i < size; i++) b[i] = (seq + i) & 0xff;
  return b;
}

/**
 * Sends `count` numbered datagrams from `client` through `relay` to `target`, in batches small
 * enough for the loopback receive buffers (208 KiB), and waits until each batch has gone all the
 * way: to the target and, when it echoes, back to the client.
 */
async function pump(
  client: Node,
  relay: Relay,
  target: Node,
  count: number,
  size = 64,
  batch = 25,
) {
  const base = relay.stats.toTarget.received;
  const s = relay.stats;
  const flowed = (sent: number) =>
    s.toTarget.received - base >= sent && relay.pending === 0 &&
    target.received.length === s.toTarget.forwarded &&
    (!target.echo || (s.fromTarget.received === target.received.length &&
      client.received.length === s.fromTarget.forwarded));
  for (let sent = 0; sent < count;) {
    const n = Math.min(batch, count - sent);
    for (let i = 0; i < n; i++) client.endpoint.send(datagram(sent + i, size), relay.address);
    sent += n;
    await waitUntil(() => flowed(sent), 3000, "datagrams flow through the relay", {
      describe: () =>
        `sent ${sent}, target got ${target.received.length}, client got ${client.received.length}, ` +
        JSON.stringify(relay.stats),
    });
  }
}

async function settle(relay: Relay, condition: () => boolean, what: string) {
  await waitUntil(() => relay.pending === 0 && condition(), 3000, what, {
    describe: () => JSON.stringify(relay.stats),
  });
}

function relayFor(target: Node, options: Omit<RelayOptions, "target">): Relay {
  return startRelay({ target: target.addr, ...options });
}

Deno.test("startRelay() forwards both ways and keeps order when rates are 0", async () => {
  await using echo = new Node(true);
  await using client = new Node(false);
  await using relay = relayFor(echo, { seed: 1 });
  await pump(client, relay, echo, 200, 1000);
  await settle(relay, () => client.received.length === 200, "echoes come back");
  assert.deepEqual(echo.seqs(), [...Array(200).keys()]);
  assert.deepEqual(client.seqs(), [...Array(200).keys()]);
  assert.deepEqual(client.received[7], datagram(7, 1000));
  // The target sees the relay's upstream socket, the client sees the relay's own address.
  assert.equal(echo.sources.size, 1);
  assert.deepEqual([...client.sources], [`127.0.0.1:${relay.address.port}`]);
  const s = relay.stats;
  assert.equal(s.toTarget.forwarded, 200);
  assert.equal(s.fromTarget.forwarded, 200);
  assert.equal(s.toTarget.bytesIn, 200_000);
  assert.equal(s.fromTarget.bytesOut, 200_000);
  assert.equal(s.clients, 1);
});

Deno.test("startRelay() gives each client its own upstream socket, like a NAT", async () => {
  await using echo = new Node(true);
  await using relay = relayFor(echo, { seed: 2 });
  const clients = [new Node(false), new Node(false), new Node(false)];
  try {
    for (const [i, c] of clients.entries()) {
      for (let k = 0; k < 5; k++) c.endpoint.send(datagram(i * 100 + k), relay.address);
    }
    await settle(relay, () => clients.every((c) => c.received.length === 5), "echoes");
    for (const [i, c] of clients.entries()) {
      assert.deepEqual(c.seqs().sort((a, b) => a - b), [0, 1, 2, 3, 4].map((k) => i * 100 + k));
    }
    assert.equal(echo.sources.size, 3);
    assert.equal(relay.stats.clients, 3);
  } finally {
    for (const c of clients) await c.endpoint.close();
  }
});

Deno.test("startRelay() drops close to the loss rate, per direction", async () => {
  await using echo = new Node(true);
  await using client = new Node(false);
  await using relay = relayFor(echo, { seed: 3, lossToTarget: 0.2, lossFromTarget: 0.1 });
  const n = 3000;
  await pump(client, relay, echo, n);
  const s = relay.stats;
  await settle(relay, () => client.received.length === s.fromTarget.forwarded, "echoes");
  // 4 standard deviations: sqrt(3000 * 0.2 * 0.8) = 22.
  assert.ok(Math.abs(s.toTarget.dropped - 0.2 * n) < 88, `dropped ${s.toTarget.dropped} of ${n}`);
  assert.equal(echo.received.length, n - s.toTarget.dropped);
  const back = echo.received.length;
  assert.equal(s.fromTarget.received, back);
  assert.ok(Math.abs(s.fromTarget.dropped - 0.1 * back) < 4 * Math.sqrt(back * 0.09));
  assert.equal(client.received.length, back - s.fromTarget.dropped);
});

Deno.test("startRelay() gives the same drop pattern for the same seed", async () => {
  async function delivered(seed: number): Promise<number[]> {
    await using echo = new Node(false);
    await using client = new Node(false);
    await using relay = relayFor(echo, { seed, loss: 0.3 });
    await pump(client, relay, echo, 500);
    await settle(relay, () => echo.received.length === relay.stats.toTarget.forwarded, "arrive");
    return echo.seqs();
  }
  const a = await delivered(42);
  const b = await delivered(42);
  const c = await delivered(43);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.ok(a.length > 250 && a.length < 450, `${a.length} of 500 delivered`);
});

Deno.test("startRelay() duplicates datagrams", async () => {
  await using echo = new Node(false);
  await using client = new Node(false);
  await using relay = relayFor(echo, { seed: 4, duplicate: 0.25 });
  await pump(client, relay, echo, 400);
  const s = relay.stats.toTarget;
  await settle(relay, () => echo.received.length === s.forwarded, "arrive");
  assert.ok(s.duplicated > 60 && s.duplicated < 140, `duplicated ${s.duplicated} of 400`);
  assert.equal(s.forwarded, 400 + s.duplicated);
  const seqs = echo.seqs();
  assert.equal(new Set(seqs).size, 400);
  assert.equal(seqs.length - 400, s.duplicated);
});

Deno.test("startRelay() reorders: held datagrams arrive after later ones", async () => {
  await using echo = new Node(false);
  await using client = new Node(false);
  await using relay = relayFor(echo, { seed: 5, reorder: 0.1, reorderDepth: 3 });
  await pump(client, relay, echo, 500);
  const s = relay.stats.toTarget;
  await settle(relay, () => echo.received.length === 500, "arrive");
  const seqs = echo.seqs();
  assert.deepEqual([...seqs].sort((a, b) => a - b), [...Array(500).keys()]);
  let inversions = 0;
  for (let i = 1; i < seqs.length; i++) if (seqs[i]! < seqs[i - 1]!) inversions++;
  assert.ok(s.reordered > 25, `reordered ${s.reordered}`);
  assert.ok(inversions > 0 && inversions <= s.reordered, `${inversions} inversions`);
});

Deno.test("startRelay() releases a held datagram after reorderHoldMs when nothing follows", async () => {
  await using echo = new Node(false);
  await using client = new Node(false);
  await using relay = relayFor(echo, { seed: 6, reorder: 1, reorderHoldMs: 10 });
  client.endpoint.send(datagram(1), relay.address);
  await settle(relay, () => echo.received.length === 1, "held datagram arrives");
  assert.equal(relay.stats.toTarget.reordered, 1);
});

Deno.test("startRelay() truncates datagrams to a shorter length", async () => {
  await using echo = new Node(false);
  await using client = new Node(false);
  await using relay = relayFor(echo, { seed: 7, truncate: 0.5 });
  await pump(client, relay, echo, 200, 500);
  const s = relay.stats.toTarget;
  await settle(relay, () => echo.received.length === 200, "arrive");
  const short = echo.received.filter((b) => b.length < 500);
  assert.equal(short.length, s.truncated);
  assert.ok(s.truncated > 60 && s.truncated < 140, `truncated ${s.truncated}`);
  assert.equal(s.bytesOut, echo.received.reduce((n, b) => n + b.length, 0));
  // A truncated datagram is a prefix of the original.
  for (const b of short.filter((b) => b.length >= 4)) {
    const seq = new DataView(b.buffer).getUint32(0);
    assert.deepEqual(b, datagram(seq, 500).subarray(0, b.length));
  }
});

Deno.test("startRelay() corrupts by flipping 1 to 3 bits", async () => {
  await using echo = new Node(false);
  await using client = new Node(false);
  await using relay = relayFor(echo, { seed: 8, corrupt: 1 });
  const n = 100;
  for (let i = 0; i < n; i++) client.endpoint.send(datagram(i, 256), relay.address);
  await settle(relay, () => echo.received.length === n, "arrive");
  assert.equal(relay.stats.toTarget.corrupted, n);
  // Sequence numbers may be corrupted too, so match by position: loopback keeps order.
  let flipped = 0;
  for (const [i, b] of echo.received.entries()) {
    const want = datagram(i, 256);
    assert.equal(b.length, 256);
    let bits = 0;
    for (let k = 0; k < 256; k++) {
      for (let x = b[k]! ^ want[k]!; x; x &= x - 1) bits++;
    }
    assert.ok(bits >= 1 && bits <= 3, `datagram ${i}: ${bits} bits differ`);
    flipped += bits;
  }
  assert.ok(flipped > n);
});

Deno.test("startRelay() delays datagrams by delayMs plus jitter", async () => {
  await using echo = new Node(true);
  await using client = new Node(false);
  await using relay = relayFor(echo, { seed: 9, delayMs: 25, jitterMs: 10 });
  const t0 = performance.now();
  for (let i = 0; i < 10; i++) client.endpoint.send(datagram(i), relay.address);
  await waitUntil(() => relay.stats.toTarget.received === 10, 2000, "relay receives");
  assert.ok(relay.pending > 0, "datagrams wait in the delay queue");
  await settle(relay, () => client.received.length === 10, "echoes");
  // Two relayed legs of at least 25 ms each.
  assert.ok(performance.now() - t0 >= 50, `round trip took ${performance.now() - t0} ms`);
  assert.deepEqual(client.seqs().sort((a, b) => a - b), [...Array(10).keys()]);
});

Deno.test("Relay.setRates() changes rates while running and validates them", async () => {
  await using echo = new Node(false);
  await using client = new Node(false);
  await using relay = relayFor(echo, { seed: 10, toTarget: { loss: 0.5 } });
  assert.equal(relay.rates().toTarget.loss, 0.5);
  assert.equal(relay.rates().fromTarget.loss, 0);
  relay.setRates({ loss: 1 });
  assert.equal(relay.rates().toTarget.loss, 1, "a common rate replaces an older override");
  await pump(client, relay, echo, 50);
  assert.equal(relay.stats.toTarget.dropped, 50);
  relay.setRates({ loss: 0 });
  await pump(client, relay, echo, 50);
  await settle(relay, () => echo.received.length === 50, "arrive after the blackhole");
  relay.setRates({ fromTarget: { delayMs: 5 } });
  assert.equal(relay.rates().fromTarget.delayMs, 5);
  assert.equal(relay.rates().toTarget.delayMs, 0);
  assert.throws(() => relay.setRates({ loss: 1.5 }), RangeError);
  assert.throws(() => relay.setRates({ toTarget: { delayMs: -1 } }), RangeError);
  assert.throws(() => startRelay({ target: echo.addr, seed: Number.NaN }), RangeError);
});

Deno.test("Relay.close() stops forwarding and leaks no timer or socket", async () => {
  const echo = new Node(true);
  const client = new Node(false);
  const relay = relayFor(echo, { seed: 11, delayMs: 10_000, reorder: 0.5, reorderHoldMs: 10_000 });
  try {
    for (let i = 0; i < 20; i++) client.endpoint.send(datagram(i), relay.address);
    await waitUntil(() => relay.stats.toTarget.received === 20, 2000, "relay receives");
    assert.equal(relay.pending, 20);
    const address = relay.address;
    await relay.close();
    await relay.close(); // idempotent
    assert.equal(relay.pending, 0);
    client.endpoint.send(datagram(99), address);
    await delay(20);
    assert.equal(echo.received.length, 0);
  } finally {
    await relay.close();
    await echo.endpoint.close();
    await client.endpoint.close();
  }
});

Deno.test("startRelay() forgets the oldest client beyond maxClients", async () => {
  await using echo = new Node(true);
  await using relay = relayFor(echo, { seed: 12, maxClients: 2 });
  const clients = [new Node(false), new Node(false), new Node(false)];
  try {
    for (const c of clients) {
      c.endpoint.send(datagram(1), relay.address);
      await settle(relay, () => c.received.length === 1, "echo");
    }
    assert.equal(relay.stats.clients, 3);
    assert.equal(relay.stats.evictedClients, 1);
  } finally {
    for (const c of clients) await c.endpoint.close();
  }
});

Deno.test("Relay.pauseAfter() holds both ways after a byte count, resume() sends what it held", async () => {
  await using echo = new Node(true);
  await using client = new Node(false);
  await using relay = relayFor(echo, { seed: 5 });
  const paused = relay.pauseAfter(10 * 100);
  await pump(client, relay, echo, 10, 100);
  await settle(relay, () => client.received.length === 10, "ten echoes come back");
  await paused;
  assert.ok(relay.paused);
  for (let i = 10; i < 15; i++) client.endpoint.send(datagram(i, 100), relay.address);
  await waitUntil(() => relay.pending === 5, 3000, "five datagrams held");
  assert.equal(echo.received.length, 10, "nothing reaches the target while paused");
  relay.resume();
  assert.equal(relay.paused, false);
  await settle(relay, () => client.received.length === 15, "the held datagrams go through");
  assert.deepEqual(client.seqs(), [...Array(15).keys()]);
});

Deno.test("startRelay() with bytesPerSecond queues datagrams behind the link capacity", async () => {
  await using target = new Node(false);
  await using client = new Node(false);
  // 10 datagrams of 1000 bytes at 50,000 bytes/s take at least 180 ms after the first.
  await using relay = relayFor(target, { seed: 6, toTarget: { bytesPerSecond: 50_000 } });
  const t0 = performance.now();
  for (let i = 0; i < 10; i++) client.endpoint.send(datagram(i, 1000), relay.address);
  await settle(relay, () => target.received.length === 10, "all ten arrive");
  assert.ok(performance.now() - t0 >= 180, `took ${performance.now() - t0} ms`);
  // (Sends issued in one tick may leave the client in any order; the relay keeps its own order.)
  assert.deepEqual(target.seqs().sort((a, b) => a - b), [...Array(10).keys()]);
  assert.equal(relay.rates().toTarget.bytesPerSecond, 50_000);
  assert.equal(relay.rates().fromTarget.bytesPerSecond, 0);
});
