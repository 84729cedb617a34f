/**
 * The BEP 15 swarm rules (lib/tracker/bep15_swarms.ts) run against every {@link Bep15Store}:
 * the memory store and the Redis store (bep15_swarms_test.ts runs both). Times are virtual and
 * passed in, so the rules are checked the same way on both.
 * @module
 */
import assert from "node:assert/strict";
import {
  type Bep15AnnounceInput,
  Bep15Swarms,
  type Bep15SwarmsOptions,
} from "../../lib/tracker/bep15_swarms.ts";
import { decodeBep15Reply, encodeBep15Announce } from "../../lib/wire/bep15.ts";

/** Makes the rules over a fresh, empty store, and disposes of the store. */
export type Bep15SwarmsFactory = (
  options: Bep15SwarmsOptions,
) => Promise<{ swarms: Bep15Swarms } & AsyncDisposable>;

/** An info hash of 20 equal bytes. */
export const hash = (n: number): Uint8Array => new Uint8Array(20).fill(n);
/** The IPv4 address 10.0.0.`last`. */
export const v4 = (last: number): Uint8Array => new Uint8Array([10, 0, 0, last]);
/** The IPv6 address 2001::`last`. */
export const v6 = (last: number): Uint8Array => {
  const a = new Uint8Array(16);
  a[0] = 0x20;
  a[1] = 0x01;
  a[15] = last;
  return a;
};

/** An announce through the rules; the peers returned as `a.b.c.d:port` (or a count for IPv6). */
export async function announce(
  s: Bep15Swarms,
  now: number,
  f: Partial<Bep15AnnounceInput> & { address: Uint8Array; port: number },
): Promise<{ seeders: number; leechers: number; bytes: number; peers: string[] }> {
  const out = new Uint8Array(1300);
  const input: Bep15AnnounceInput = {
    infoHash: hash(1),
    family: f.address.byteLength === 4 ? 4 : 6,
    event: "none",
    left: 100,
    key: 0,
    numWant: -1,
    ...f,
  };
  const r = { ...await s.handleAnnounce(input, now, out, 20) };
  // Decode the peers with the reply codec: header + what was written.
  const reply = out.slice(0, 20 + r.bytes);
  reply.set(encodeBep15Announce(0, 0, 0, 0, []).subarray(0, 20));
  const d = decodeBep15Reply(reply, input.family);
  assert.ok(d.action === "announce");
  const peers = d.peers.map((p) => `${p.address.join(".")}:${p.port}`);
  return { seeders: r.seeders, leechers: r.leechers, bytes: r.bytes, peers };
}

/** A scrape of one info hash through the rules. */
export async function scrape(s: Bep15Swarms, now: number, h: Uint8Array) {
  const out = new Uint8Array(12);
  await s.handleScrape(h, 1, now, out, 0);
  const v = new DataView(out.buffer);
  return { seeders: v.getUint32(0), completed: v.getUint32(4), leechers: v.getUint32(8) };
}

/**
 * Registers the rule tests for one store.
 *
 * @param label the store's name in test names
 * @param make the factory
 * @param ignore a reason to skip (no redis-server), or undefined
 */
export function bep15SwarmSuite(label: string, make: Bep15SwarmsFactory, ignore?: string): void {
  const test = (
    name: string,
    options: Bep15SwarmsOptions,
    fn: (s: Bep15Swarms) => Promise<void>,
  ) =>
    Deno.test({
      name: `Bep15Swarms on ${label}: ${name}`,
      ignore: ignore !== undefined,
      sanitizeOps: false,
      sanitizeResources: false,
      fn: async () => {
        await using w = await make(options);
        await fn(w.swarms);
      },
    });

  test(
    "counts seeders and leechers from left and never returns the requester",
    { random: () => 0 },
    async (s) => {
      assert.deepEqual((await announce(s, 0, { address: v4(1), port: 1000, left: 0 })).peers, []);
      const b = await announce(s, 1, { address: v4(2), port: 2000 });
      assert.deepEqual([b.seeders, b.leechers, b.peers], [1, 1, ["10.0.0.1:1000"]]);
      const a = await announce(s, 2, { address: v4(1), port: 1000, left: 0 });
      assert.deepEqual([a.seeders, a.leechers, a.peers], [1, 1, ["10.0.0.2:2000"]]);
      // Same address, another port: another peer (two clients behind one NAT).
      const c = await announce(s, 3, { address: v4(1), port: 1001 });
      assert.deepEqual(c.peers.sort(), ["10.0.0.1:1000", "10.0.0.2:2000"]);
      assert.deepEqual(await s.counts(), { peers: 3, swarms: 1 });
      // A leecher that finishes becomes a seeder without a duplicate entry.
      const d = await announce(s, 4, { address: v4(2), port: 2000, left: 0, event: "completed" });
      assert.deepEqual([d.seeders, d.leechers], [2, 1]);
      assert.deepEqual(await scrape(s, 4, hash(1)), { seeders: 2, completed: 1, leechers: 1 });
      // completed again from the same entry does not count twice.
      await announce(s, 5, { address: v4(2), port: 2000, left: 0, event: "completed" });
      assert.equal((await scrape(s, 5, hash(1))).completed, 1);
      // A seeder that starts over is a leecher again.
      const e = await announce(s, 6, { address: v4(1), port: 1000, left: 5 });
      assert.deepEqual([e.seeders, e.leechers], [1, 2]);
      assert.deepEqual(await s.counts(), { peers: 3, swarms: 1 });
      assert.equal(s.counters.completions, 1);
    },
  );

  test("removes a stopped peer at once", { random: () => 0 }, async (s) => {
    await announce(s, 0, { address: v4(1), port: 1 });
    await announce(s, 0, { address: v4(2), port: 2, left: 0 });
    const r = await announce(s, 1, { address: v4(1), port: 1, event: "stopped" });
    assert.deepEqual([r.seeders, r.leechers, r.peers], [1, 0, []]);
    assert.deepEqual(await s.counts(), { peers: 1, swarms: 1 });
    await announce(s, 2, { address: v4(2), port: 2, event: "stopped" });
    assert.deepEqual(await s.counts(), { peers: 0, swarms: 0 });
    // stopped from an unknown peer changes nothing.
    await announce(s, 3, { address: v4(3), port: 3, event: "stopped" });
    assert.deepEqual(await s.counts(), { peers: 0, swarms: 0 });
    const events = [];
    for (let e = s.pollEvent(); e; e = s.pollEvent()) events.push(e.type);
    assert.deepEqual(events, ["bep15_join", "bep15_join", "bep15_stopped", "bep15_stopped"]);
  });

  test(
    "expires a silent peer after interval × (1 + grace), not before, with its download count",
    { intervalMs: 10_000, grace: 0.5, random: () => 0 },
    async (s) => {
      assert.equal(s.intervalSeconds, 10);
      await announce(s, 0, { address: v4(1), port: 1, event: "completed", left: 0 });
      await announce(s, 5000, { address: v4(2), port: 2, infoHash: hash(2) });
      // Expiry runs lazily before every request: at exactly 15 s the first is still there.
      assert.deepEqual(await scrape(s, 15_000, hash(1)), {
        seeders: 1,
        completed: 1,
        leechers: 0,
      });
      assert.deepEqual(await scrape(s, 15_001, hash(1)), {
        seeders: 0,
        completed: 0,
        leechers: 0,
      });
      assert.deepEqual(await s.counts(), { peers: 1, swarms: 1 });
      // A re-announce postpones expiry.
      await announce(s, 19_000, { address: v4(2), port: 2, infoHash: hash(2) });
      assert.equal((await scrape(s, 20_001, hash(2))).leechers, 1);
      // Before an announce, so the counts leave the expired peer out.
      const r = await announce(s, 40_000, { address: v4(3), port: 3, infoHash: hash(2) });
      assert.deepEqual([r.leechers, r.peers], [1, []]);
      assert.equal(s.counters.expiries, 2);
      const expired = [];
      for (let e = s.pollEvent(); e; e = s.pollEvent()) {
        if (e.type === "bep15_expired") expired.push(`${e.peer} ${e.silentMs}`);
      }
      assert.deepEqual(expired, ["10.0.0.1:1 15001", "10.0.0.2:2 21000"]);
    },
  );

  test(
    "handleTimeout() expires silent peers without a request",
    { intervalMs: 1000, grace: 0, random: () => 0 },
    async (s) => {
      await announce(s, 0, { address: v4(1), port: 1 });
      await announce(s, 1500, { address: v4(2), port: 2 });
      await s.handleTimeout(2000);
      assert.deepEqual(await s.counts(), { peers: 1, swarms: 1 });
      await s.handleTimeout(5000);
      assert.deepEqual(await s.counts(), { peers: 0, swarms: 0 });
      assert.equal(s.counters.expiries, 2);
    },
  );

  test("returns peers of the requester's family only", { random: () => 0 }, async (s) => {
    await announce(s, 0, { address: v4(1), port: 1 });
    await announce(s, 0, { address: v6(1), port: 1 });
    await announce(s, 0, { address: v6(2), port: 2 });
    const a = await announce(s, 0, { address: v4(2), port: 2 });
    assert.deepEqual([a.leechers, a.peers], [4, ["10.0.0.1:1"]]);
    const b = await announce(s, 0, { address: v6(3), port: 3 });
    assert.equal(b.bytes, 2 * 18);
    assert.equal(b.peers.length, 2);
  });

  test(
    "applies num_want: -1 is the default, 0 is none, large is capped",
    { random: () => 0, defaultNumWant: 5, maxNumWant: 40 },
    async (s) => {
      for (let i = 1; i <= 60; i++) await announce(s, 0, { address: v4(i), port: 1 });
      assert.equal((await announce(s, 0, { address: v4(200), port: 1 })).peers.length, 5);
      const none = await announce(s, 0, { address: v4(200), port: 1, numWant: 0 });
      assert.equal(none.peers.length, 0);
      const seven = await announce(s, 0, { address: v4(200), port: 1, numWant: 7 });
      assert.equal(seven.peers.length, 7);
      const many = await announce(s, 0, { address: v4(200), port: 1, numWant: 1000 });
      assert.equal(many.peers.length, 40);
    },
  );

  test("caps an IPv6 reply at 66 peers", { random: () => 0 }, async (s) => {
    for (let i = 1; i <= 70; i++) {
      await announce(s, 0, { address: v6(i), port: 1, numWant: 0 });
    }
    const r = await announce(s, 0, { address: v6(251), port: 1, numWant: 1000 });
    assert.equal(r.bytes, 66 * 18);
  });

  let r = 0;
  test(
    "returns a window of distinct peers that wraps and skips the requester",
    { random: () => r },
    async (s) => {
      for (let i = 1; i <= 10; i++) await announce(s, 0, { address: v4(i), port: 1 });
      for (const start of [0, 0.35, 0.95]) {
        r = start;
        for (const me of [1, 5, 10]) {
          const got = (await announce(s, 0, { address: v4(me), port: 1, numWant: 9 })).peers;
          assert.equal(new Set(got).size, 9);
          assert.ok(!got.includes(`10.0.0.${me}:1`));
        }
      }
      r = 0.5; // start at place 5, want 3, the requester sits at place 6
      assert.deepEqual((await announce(s, 0, { address: v4(7), port: 1, numWant: 3 })).peers, [
        "10.0.0.6:1",
        "10.0.0.8:1",
        "10.0.0.9:1",
      ]);
    },
  );

  test(
    "keeps info hashes apart and answers scrape for unknown ones with zeros",
    { random: () => 0 },
    async (s) => {
      await announce(s, 0, { infoHash: hash(1), address: v4(1), port: 1 });
      await announce(s, 0, { infoHash: hash(2), address: v4(2), port: 1, left: 0 });
      const r = await announce(s, 0, { infoHash: hash(2), address: v4(3), port: 1 });
      assert.deepEqual(r.peers, ["10.0.0.2:1"]);
      assert.deepEqual(await scrape(s, 0, hash(1)), { seeders: 0, completed: 0, leechers: 1 });
      assert.deepEqual(await scrape(s, 0, hash(3)), { seeders: 0, completed: 0, leechers: 0 });
      // Several hashes in one scrape, in order.
      const out = new Uint8Array(36);
      await s.handleScrape(new Uint8Array([...hash(2), ...hash(3), ...hash(1)]), 3, 0, out, 0);
      const v = new DataView(out.buffer);
      assert.deepEqual(
        Array.from({ length: 9 }, (_, i) => v.getUint32(4 * i)),
        [1, 0, 1, 0, 0, 0, 0, 0, 1],
      );
      assert.deepEqual(await s.counts(), { peers: 3, swarms: 2 });
    },
  );

  test(
    "answers but does not store past the swarm and tracker caps, or port 0",
    { random: () => 0, maxPeersPerSwarm: 3, maxPeers: 4 },
    async (s) => {
      for (let i = 1; i <= 4; i++) await announce(s, 0, { address: v4(i), port: 1 });
      assert.equal((await s.counts()).peers, 3);
      const full = await announce(s, 0, { address: v4(9), port: 1 });
      assert.deepEqual([full.leechers, full.peers.length], [3, 3]);
      await announce(s, 0, { infoHash: hash(2), address: v4(1), port: 1 });
      assert.equal((await s.counts()).peers, 4);
      await announce(s, 0, { infoHash: hash(3), address: v4(1), port: 1 });
      assert.equal((await s.counts()).peers, 4);
      assert.equal(s.counters.full, 3);
      await announce(s, 0, { infoHash: hash(2), address: v4(2), port: 0, event: "started" });
      assert.equal((await s.counts()).peers, 4);
      // Stored peers keep refreshing while the tracker is full.
      await announce(s, 10, { address: v4(1), port: 1, left: 0 });
      assert.equal((await scrape(s, 10, hash(1))).seeders, 1);
      const full2 = [];
      for (let e = s.pollEvent(); e; e = s.pollEvent()) {
        if (e.type === "bep15_full") full2.push(e.limit);
      }
      assert.deepEqual(full2, ["swarm", "tracker"]); // one line per swarm and cap a minute
    },
  );

  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  test(
    "stays consistent under a random mix of announces, stops and expiries",
    { intervalMs: 1000, grace: 0, random: rand },
    async (s) => {
      seed = 7;
      const model = new Map<string, { seeding: boolean; last: number }>();
      let now = 0;
      for (let i = 0; i < 2000; i++) {
        now += Math.floor(rand() * 10);
        for (const [k, p] of model) if (now - p.last > 1000) model.delete(k);
        const h = Math.floor(rand() * 3), a = 1 + Math.floor(rand() * 20);
        const event = rand() < 0.1 ? "stopped" : "none";
        const left = rand() < 0.3 ? 0 : 1;
        const r = await announce(s, now, {
          infoHash: hash(h),
          address: v4(a),
          port: 1,
          event,
          left,
          numWant: 50,
        });
        const k = `${h}|${a}`;
        if (event === "stopped") model.delete(k);
        else model.set(k, { seeding: left === 0, last: now });
        const inSwarm = [...model].filter(([key]) => key.startsWith(`${h}|`));
        const seeders = inSwarm.filter(([, p]) => p.seeding).length;
        assert.deepEqual([r.seeders, r.leechers], [seeders, inSwarm.length - seeders], `step ${i}`);
        assert.equal(r.peers.length, event === "stopped" ? 0 : inSwarm.length - 1);
        assert.equal(new Set(r.peers).size, r.peers.length);
      }
      assert.equal((await s.counts()).peers, model.size);
    },
  );
}
