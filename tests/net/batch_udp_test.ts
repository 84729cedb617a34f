import assert from "node:assert/strict";
import { UdpEndpoint } from "../../lib/net/udp_endpoint.ts";
import { inFfiChild as inChild, libcPath } from "./_ffi_child.ts";

Deno.test("UdpEndpoint without an FFI grant: no GSO, no GRO, segments are left to the caller", async () => {
  const a = UdpEndpoint.open();
  const b = UdpEndpoint.open();
  try {
    assert.equal(a.useFastPath(), false);
    assert.equal(a.gso, false);
    assert.equal(a.gro, false);
    assert.equal(a.trySendSegments(new Uint8Array(3000), 1000, b.localAddr), false);
    assert.equal(a.sent, 0);
  } finally {
    await a.close();
    await b.close();
  }
});

/** A child-side collector: datagrams seen by `b`, checked for order, content and source. */
const COLLECT = `
  function collect(b, a, want, check) {
    const seen = { count: 0, wrongSource: 0, wrongBytes: 0 };
    const done = Promise.withResolvers();
    b.onDatagram((bytes, from) => {
      if (from.port !== a.localAddr.port || from.hostname !== "127.0.0.1") seen.wrongSource++;
      if (!check(bytes, seen.count)) seen.wrongBytes++;
      if (++seen.count === want) done.resolve();
    });
    return { seen, done: done.promise };
  }
  /** Runs body(a, b) for a GRO and a plain receiver b; returns { gro, plain } of its results. */
  async function bothReceivers(body) {
    const out = {};
    for (const gro of [true, false]) {
      const a = UdpEndpoint.open();
      const b = UdpEndpoint.open();
      const fast = [a.useFastPath(), b.useFastPath({ gro })];
      out[gro ? "gro" : "plain"] = { fast, ...(await body(a, b)), gro: b.gro, received: b.received };
      await a.close();
      await b.close();
    }
    return out;
  }
`;

Deno.test({
  name:
    "UdpEndpoint batched receive (recvmmsg, with and without GRO): bursts arrive whole, in order, with their source, each ended by onBatchEnd",
  ignore: Deno.build.os !== "linux" || libcPath === undefined,
  async fn() {
    const r = await inChild(`${COLLECT}
      const out = await bothReceivers(async (a, b) => {
        const N = 300;
        const size = (i) => 100 + (i % 7) * 300;
        const { seen, done } = collect(b, a, N, (bytes, i) =>
          bytes.byteLength === size(i) && bytes[0] === (i & 0xff) && bytes[bytes.length - 1] === (i & 0xff));
        // onBatchEnd: once after each burst the loop hands over
        const bursts = [];
        b.onBatchEnd(() => bursts.push(seen.count - bursts.reduce((x, y) => x + y, 0)));
        for (let i = 0; i < N; i++) {
          a.send(new Uint8Array(size(i)).fill(i & 0xff), b.localAddr);
          // Bursts of 30; the next one waits until this one is read (not a race with a loaded
          // machine: 10 unread bursts would overflow the default receive buffer)
          if (i % 30 === 29) {
            const until = Date.now() + 5000;
            while (seen.count < i + 1 && Date.now() < until) await new Promise((r) => setTimeout(r, 1));
            await new Promise((r) => setTimeout(r, 2));
          }
        }
        await timeout(done);
        await new Promise((r) => setTimeout(r, 5));
        const inBursts = bursts.reduce((x, y) => x + y, 0);
        return { ...seen, inBursts, largest: Math.max(...bursts), empty: bursts.filter((n) => n === 0).length };
      });
      console.log(JSON.stringify(out));
    `);
    for (const k of ["gro", "plain"]) {
      const v = r[k] as Record<string, unknown>;
      assert.deepEqual(v.fast, [true, true], k);
      assert.equal(v.gro, k === "gro");
      assert.equal(v.count, 300, k);
      assert.equal(v.received, 300, k);
      assert.equal(v.wrongSource, 0, k);
      assert.equal(v.wrongBytes, 0, k);
      assert.equal(v.inBursts, 300, `${k}: every datagram in a burst that ended`);
      assert.ok((v.largest as number) > 1, `${k}: bursts of ${v.largest} datagrams at most`);
      assert.ok((v.empty as number) <= 1, `${k}: ${v.empty} bursts without a datagram`);
    }
  },
});

Deno.test({
  name:
    "UdpEndpoint GSO send: the segments arrive as separate datagrams, whole and in order, to a GRO and a plain receiver",
  ignore: Deno.build.os !== "linux" || libcPath === undefined,
  async fn() {
    const r = await inChild(`${COLLECT}
      const out = await bothReceivers(async (a, b) => {
        // Rounds of 40 segments of 1452 bytes and a shorter last one, each segment numbered
        const SEG = 1452, PER = 41, ROUNDS = 20;
        const sizeOf = (k) => (k % PER === PER - 1 ? 700 : SEG);
        const { seen, done } = collect(b, a, PER * ROUNDS, (bytes, k) =>
          bytes.byteLength === sizeOf(k) && bytes[0] === (k & 0xff) && bytes[1] === (k >> 8) &&
          bytes[bytes.length - 1] === (k & 0xff));
        let gsoTaken = 0;
        for (let round = 0; round < ROUNDS; round++) {
          const buf = new Uint8Array(SEG * (PER - 1) + 700);
          for (let j = 0; j < PER; j++) {
            const k = round * PER + j;
            const seg = buf.subarray(j * SEG, Math.min(buf.length, (j + 1) * SEG));
            seg.fill(k & 0xff);
            seg[1] = k >> 8;
          }
          if (a.trySendSegments(buf, SEG, b.localAddr)) gsoTaken++;
          // The next round waits until this one is read (a loaded machine must not overflow b)
          const until = Date.now() + 5000;
          while (seen.count < (round + 1) * PER && Date.now() < until) await new Promise((r) => setTimeout(r, 1));
        }
        await timeout(done);
        // An IPv6 destination is not for this path
        const v6 = a.trySendSegments(new Uint8Array(3000), 1000, { transport: "udp", hostname: "::1", port: 9 });
        return { gso: a.gso, defaultGro: a.gro, groups: b.groGroups, gsoTaken, sent: a.sent, v6, ...seen };
      });
      console.log(JSON.stringify(out));
    `);
    for (const k of ["gro", "plain"]) {
      const v = r[k] as Record<string, unknown>;
      assert.equal(v.v6, false, "an IPv6 destination is left to the caller");
      assert.equal(v.gso, true, "this kernel supports UDP_SEGMENT");
      assert.equal(v.gro, k === "gro");
      assert.equal(v.defaultGro, false, "GRO is opt-in");
      assert.equal(v.gsoTaken, 20, k);
      if (k === "gro") {
        assert.ok((v.groups as number) > 0, "GSO sends reach a GRO socket as groups");
      } else assert.equal(v.groups, 0);
      assert.equal(v.sent, 20 * 41, k);
      assert.equal(v.count, 20 * 41, k);
      assert.equal(v.wrongSource, 0, k);
      assert.equal(v.wrongBytes, 0, k);
    }
  },
});

Deno.test({
  name: "UdpEndpoint on IPv6 with the libc grant: no fast path, no GSO; datagrams still flow",
  ignore: Deno.build.os !== "linux" || libcPath === undefined,
  async fn() {
    const r = await inChild(`
      let a, b;
      try {
        a = UdpEndpoint.open({ hostname: "::1" });
        b = UdpEndpoint.open({ hostname: "::1" });
      } catch {
        console.log(JSON.stringify({ skipped: true }));
        Deno.exit(0);
      }
      const fast = a.useFastPath();
      b.useFastPath();
      const got = Promise.withResolvers();
      b.onDatagram((bytes) => got.resolve(bytes.byteLength));
      const gso = a.trySendSegments(new Uint8Array(3000), 1000, b.localAddr);
      a.send(new Uint8Array(9), b.localAddr);
      const n = await timeout(got.promise);
      console.log(JSON.stringify({ fast, gso, n, gro: b.gro }));
      await a.close();
      await b.close();
    `);
    if (r.skipped) return;
    assert.deepEqual(r, { fast: false, gso: false, n: 9, gro: false });
  },
});

Deno.test("UdpEndpoint.onBatchEnd without an FFI grant: called after each datagram Deno's receive hands over", async () => {
  await using a = UdpEndpoint.open();
  await using b = UdpEndpoint.open();
  const log: string[] = [];
  const all = Promise.withResolvers<void>();
  b.onDatagram((bytes) => {
    log.push(`d${bytes[0]}`);
    if (log.length === 19) all.resolve();
  });
  b.onBatchEnd(() => log.push("end"));
  for (let i = 0; i < 10; i++) a.send(new Uint8Array([i]), b.localAddr);
  await all.promise;
  await new Promise((r) => setTimeout(r, 0));
  // Deno's own sends may go out in any order: each datagram, then the end of its burst
  assert.deepEqual(log.filter((_, i) => i % 2 === 1), Array(10).fill("end"));
  assert.deepEqual(
    log.filter((_, i) => i % 2 === 0).sort(),
    Array.from({ length: 10 }, (_, i) => `d${i}`).sort(),
  );
});
