import assert from "node:assert/strict";
import { type Bep15AnnounceInput, Bep15Swarms } from "../../lib/tracker/bep15_swarms.ts";
import { decodeBep15Reply, encodeBep15Announce } from "../../lib/wire/bep15.ts";

const opts = { permissions: "none" } as const;
const hash = (n: number) => new Uint8Array(20).fill(n);
const v4 = (last: number) => new Uint8Array([10, 0, 0, last]);
const v6 = (last: number) => {
  const a = new Uint8Array(16);
  a[0] = 0x20;
  a[1] = 0x01;
  a[15] = last;
  return a;
};

function announce(
  s: Bep15Swarms,
  now: number,
  f: Partial<Bep15AnnounceInput> & { address: Uint8Array; port: number },
) {
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
  const r = { ...s.handleAnnounce(input, now, out, 20) };
  // Decode the peers with the reply codec: header + what was written.
  const reply = out.slice(0, 20 + r.bytes);
  reply.set(encodeBep15Announce(0, 0, 0, 0, []).subarray(0, 20));
  const d = decodeBep15Reply(reply, input.family);
  assert.ok(d.action === "announce");
  const peers = d.peers.map((p) => `${p.address.join(".")}:${p.port}`);
  return { ...r, peers };
}

function scrape(s: Bep15Swarms, now: number, h: Uint8Array) {
  const out = new Uint8Array(12);
  s.handleScrape(h, now, out, 0);
  const v = new DataView(out.buffer);
  return { seeders: v.getUint32(0), completed: v.getUint32(4), leechers: v.getUint32(8) };
}

Deno.test(
  "Bep15Swarms.handleAnnounce() counts seeders and leechers from left and never returns the requester",
  opts,
  () => {
    const s = new Bep15Swarms({ random: () => 0 });
    assert.deepEqual(announce(s, 0, { address: v4(1), port: 1000, left: 0 }).peers, []);
    const b = announce(s, 1, { address: v4(2), port: 2000 });
    assert.deepEqual([b.seeders, b.leechers, b.peers], [1, 1, ["10.0.0.1:1000"]]);
    const a = announce(s, 2, { address: v4(1), port: 1000, left: 0 });
    assert.deepEqual([a.seeders, a.leechers, a.peers], [1, 1, ["10.0.0.2:2000"]]);
    // Same address, another port: another peer (two clients behind one NAT).
    const c = announce(s, 3, { address: v4(1), port: 1001 });
    assert.deepEqual(c.peers.sort(), ["10.0.0.1:1000", "10.0.0.2:2000"]);
    assert.equal(s.peerCount, 3);
    // A leecher that finishes becomes a seeder without a duplicate entry.
    const d = announce(s, 4, { address: v4(2), port: 2000, left: 0, event: "completed" });
    assert.deepEqual([d.seeders, d.leechers], [2, 1]);
    assert.deepEqual(scrape(s, 4, hash(1)), { seeders: 2, completed: 1, leechers: 1 });
    // completed again from the same entry does not count twice.
    announce(s, 5, { address: v4(2), port: 2000, left: 0, event: "completed" });
    assert.equal(scrape(s, 5, hash(1)).completed, 1);
    assert.equal(s.peerCount, 3);
  },
);

Deno.test("Bep15Swarms.handleAnnounce() removes a stopped peer at once", opts, () => {
  const s = new Bep15Swarms({ random: () => 0 });
  announce(s, 0, { address: v4(1), port: 1 });
  announce(s, 0, { address: v4(2), port: 2, left: 0 });
  const r = announce(s, 1, { address: v4(1), port: 1, event: "stopped" });
  assert.deepEqual([r.seeders, r.leechers, r.peers], [1, 0, []]);
  assert.equal(s.peerCount, 1);
  announce(s, 2, { address: v4(2), port: 2, event: "stopped" });
  assert.equal(s.peerCount, 0);
  assert.equal(s.swarmCount, 0);
  // stopped from an unknown peer changes nothing.
  announce(s, 3, { address: v4(3), port: 3, event: "stopped" });
  assert.equal(s.peerCount, 0);
  const events = [];
  for (let e = s.pollEvent(); e; e = s.pollEvent()) events.push(e.type);
  assert.deepEqual(events, ["bep15_join", "bep15_join", "bep15_stopped", "bep15_stopped"]);
});

Deno.test(
  "Bep15Swarms expires a silent peer after interval × (1 + grace), and not before",
  opts,
  () => {
    const s = new Bep15Swarms({ intervalMs: 10_000, grace: 0.5, random: () => 0 });
    assert.equal(s.intervalSeconds, 10);
    announce(s, 0, { address: v4(1), port: 1 });
    announce(s, 5000, { address: v4(2), port: 2 });
    assert.equal(s.pollTimeout(), 15_001);
    s.handleTimeout(15_000);
    assert.equal(s.peerCount, 2);
    s.handleTimeout(15_001);
    assert.equal(s.peerCount, 1);
    // A re-announce postpones expiry.
    announce(s, 19_000, { address: v4(2), port: 2 });
    s.handleTimeout(20_001);
    assert.equal(s.peerCount, 1);
    assert.equal(s.pollTimeout(), 34_001);
    // Expiry also happens lazily on the next announce, before the counts are taken.
    const r = announce(s, 40_000, { address: v4(3), port: 3 });
    assert.deepEqual([r.leechers, r.peers], [1, []]);
    assert.equal(s.counters.expiries, 2);
    assert.equal(s.pollTimeout(), 55_001);
  },
);

Deno.test("Bep15Swarms returns peers of the requester's family only", opts, () => {
  const s = new Bep15Swarms({ random: () => 0 });
  announce(s, 0, { address: v4(1), port: 1 });
  announce(s, 0, { address: v6(1), port: 1 });
  announce(s, 0, { address: v6(2), port: 2 });
  const a = announce(s, 0, { address: v4(2), port: 2 });
  assert.deepEqual([a.leechers, a.peers], [4, ["10.0.0.1:1"]]);
  const b = announce(s, 0, { address: v6(3), port: 3 });
  assert.equal(b.bytes, 2 * 18);
  assert.equal(b.peers.length, 2);
});

Deno.test(
  "Bep15Swarms applies num_want: -1 is the default, 0 is none, large is capped",
  opts,
  () => {
    const s = new Bep15Swarms({ random: () => 0, defaultNumWant: 5, maxNumWant: 40 });
    for (let i = 1; i <= 60; i++) announce(s, 0, { address: v4(i), port: 1 });
    assert.equal(announce(s, 0, { address: v4(200), port: 1 }).peers.length, 5);
    assert.equal(announce(s, 0, { address: v4(200), port: 1, numWant: 0 }).peers.length, 0);
    assert.equal(announce(s, 0, { address: v4(200), port: 1, numWant: 7 }).peers.length, 7);
    assert.equal(announce(s, 0, { address: v4(200), port: 1, numWant: 1000 }).peers.length, 40);
    const big = new Bep15Swarms({ random: () => 0 });
    for (let i = 1; i <= 250; i++) {
      big.handleAnnounce(
        {
          infoHash: hash(1),
          family: 6,
          address: v6(i),
          port: 1,
          event: "none",
          left: 1,
          key: 0,
          numWant: 0,
        },
        0,
        new Uint8Array(1300),
        20,
      );
    }
    assert.equal(announce(big, 0, { address: v6(251), port: 1, numWant: 1000 }).peers.length, 66);
  },
);

Deno.test(
  "Bep15Swarms returns a window of distinct peers that wraps and skips the requester",
  opts,
  () => {
    let r = 0;
    const s = new Bep15Swarms({ random: () => r });
    for (let i = 1; i <= 10; i++) announce(s, 0, { address: v4(i), port: 1 });
    for (const start of [0, 0.35, 0.95]) {
      r = start;
      for (const me of [1, 5, 10]) {
        const got = announce(s, 0, { address: v4(me), port: 1, numWant: 9 }).peers;
        assert.equal(new Set(got).size, 9);
        assert.ok(!got.includes(`10.0.0.${me}:1`));
      }
    }
    r = 0.5; // start at slot 5, want 3, the requester sits at slot 6
    assert.deepEqual(announce(s, 0, { address: v4(7), port: 1, numWant: 3 }).peers, [
      "10.0.0.6:1",
      "10.0.0.8:1",
      "10.0.0.9:1",
    ]);
  },
);

Deno.test(
  "Bep15Swarms keeps info hashes apart and answers scrape for unknown ones with zeros",
  opts,
  () => {
    const s = new Bep15Swarms({ random: () => 0 });
    announce(s, 0, { infoHash: hash(1), address: v4(1), port: 1 });
    announce(s, 0, { infoHash: hash(2), address: v4(2), port: 1, left: 0 });
    assert.deepEqual(announce(s, 0, { infoHash: hash(2), address: v4(3), port: 1 }).peers, [
      "10.0.0.2:1",
    ]);
    assert.deepEqual(scrape(s, 0, hash(1)), { seeders: 0, completed: 0, leechers: 1 });
    assert.deepEqual(scrape(s, 0, hash(3)), { seeders: 0, completed: 0, leechers: 0 });
    assert.equal(s.swarmCount, 2);
  },
);

Deno.test(
  "Bep15Swarms answers but does not store past the swarm and tracker caps, or port 0",
  opts,
  () => {
    const s = new Bep15Swarms({ random: () => 0, maxPeersPerSwarm: 3, maxPeers: 4 });
    for (let i = 1; i <= 4; i++) announce(s, 0, { address: v4(i), port: 1 });
    assert.equal(s.peerCount, 3);
    const full = announce(s, 0, { address: v4(9), port: 1 });
    assert.deepEqual([full.leechers, full.peers.length], [3, 3]);
    announce(s, 0, { infoHash: hash(2), address: v4(1), port: 1 });
    assert.equal(s.peerCount, 4);
    announce(s, 0, { infoHash: hash(3), address: v4(1), port: 1 });
    assert.equal(s.peerCount, 4);
    assert.equal(s.counters.full, 3);
    announce(s, 0, { infoHash: hash(2), address: v4(2), port: 0, event: "started" });
    assert.equal(s.peerCount, 4);
    // Stored peers keep refreshing while the tracker is full.
    announce(s, 10, { address: v4(1), port: 1, left: 0 });
    assert.equal(scrape(s, 10, hash(1)).seeders, 1);
  },
);

Deno.test(
  "Bep15Swarms stays consistent under a random mix of announces, stops and expiries",
  opts,
  () => {
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const s = new Bep15Swarms({ intervalMs: 1000, grace: 0, random: rand });
    const model = new Map<string, { seeding: boolean; last: number }>();
    let now = 0;
    for (let i = 0; i < 5000; i++) {
      now += Math.floor(rand() * 10);
      for (const [k, p] of model) if (now - p.last > 1000) model.delete(k);
      const h = Math.floor(rand() * 3), a = 1 + Math.floor(rand() * 20);
      const event = rand() < 0.1 ? "stopped" : "none";
      const left = rand() < 0.3 ? 0 : 1;
      const r = announce(s, now, {
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
      assert.equal(s.peerCount, model.size);
    }
  },
);
